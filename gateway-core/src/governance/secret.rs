//! A virtual key's secret value: `sk-sy-` and 32 random bytes (hex), shown once at creation and
//! kept only as its SHA-256. Lookups hash what a client presents and compare hashes, so the
//! value itself is never stored, logged or compared byte by byte.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const VALUE_PREFIX: &str = "sk-sy-";

/// A stored value's hash.
pub type ValueHash = [u8; 32];

/// A new value for a key.
pub fn new_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let mut value = String::with_capacity(VALUE_PREFIX.len() + 64);
    value.push_str(VALUE_PREFIX);
    for byte in bytes {
        value.push(char::from(HEX[usize::from(byte >> 4)]));
        value.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    value
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn hash(value: &str) -> ValueHash {
    Sha256::digest(value.as_bytes()).into()
}

pub fn to_hex(hash: &ValueHash) -> String {
    hash.iter().flat_map(|b| [char::from(HEX[usize::from(b >> 4)]), char::from(HEX[usize::from(b & 0xf)])]).collect()
}

pub fn from_hex(text: &str) -> Option<ValueHash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// What the API shows of a value after creation: its prefix and last four characters.
pub fn hint(value: &str) -> String {
    let tail = value.get(value.len().saturating_sub(4)..).unwrap_or("");
    format!("{VALUE_PREFIX}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_long_random_and_kept_as_hashes() {
        let a = new_value();
        let b = new_value();
        assert!(a.starts_with("sk-sy-") && a.len() == 70 && a != b);
        let h = hash(&a);
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_ne!(hash(&b), h);
        assert_eq!(hint(&a), format!("sk-sy-…{}", &a[66..]));
        assert_eq!(from_hex("zz"), None);
    }
}
