//! The secret store: where provider keys live. Config files and SQLite hold references only.
//! The OS-backed store (macOS Keychain, Linux Secret Service or kernel keyring) implements the
//! same trait; environment references and an in-memory store serve start-up and tests.

mod blocking;
#[cfg(any(target_os = "macos", target_os = "linux"))]
mod os;

use std::collections::HashMap;
use std::sync::RwLock;

pub use blocking::{STORE_TIMEOUT, call, call_within, delete, prefetch, set};

use crate::config::{EnvLookup, KeyRef, Secret};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("secret `{0}` is not in the secret store")]
    NotFound(String),
    #[error("the secret store failed: {0}")]
    Backend(String),
    /// A store that waits for the user (a locked keychain's password prompt) or a daemon that
    /// does not answer; the call may still finish later, on its own thread.
    #[error(
        "the secret store did not answer within {}s (is the keychain locked and asking for its password?)", .after.as_secs()
    )]
    Timeout { after: std::time::Duration },
}

pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError>;
    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError>;
    fn delete(&self, name: &str) -> Result<(), SecretError>;
    /// A short label for logs and the admin API ("memory", "macOS Keychain", …).
    fn backend_name(&self) -> &'static str;
}

#[cfg(any(target_os = "macos", target_os = "linux"))]
pub use os::{OsSecretStore, SERVICE};

/// Keys held in memory: tests, and a gateway run with no OS store.
#[derive(Default)]
pub struct MemorySecretStore {
    entries: RwLock<HashMap<String, Secret>>,
}

impl SecretStore for MemorySecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        let entries = self.entries.read().map_err(|_| SecretError::Backend("lock poisoned".into()))?;
        Ok(entries.get(name).cloned())
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        let mut entries = self.entries.write().map_err(|_| SecretError::Backend("lock poisoned".into()))?;
        entries.insert(name.to_owned(), value.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        let mut entries = self.entries.write().map_err(|_| SecretError::Backend("lock poisoned".into()))?;
        entries.remove(name);
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

/// Turns a reference into the key it names.
pub fn resolve(key: &KeyRef, env: &EnvLookup, store: &dyn SecretStore) -> Result<Secret, SecretError> {
    match key {
        KeyRef::Literal(secret) => Ok(secret.clone()),
        KeyRef::Env(name) => env(name).map(Secret::new).ok_or_else(|| SecretError::EnvMissing(name.clone())),
        KeyRef::Store(name) => store.get(name)?.ok_or_else(|| SecretError::NotFound(name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_each_kind() {
        let store = MemorySecretStore::default();
        store.set("openai", &Secret::new("from-store")).unwrap();
        let env = |name: &str| (name == "K").then(|| "from-env".to_owned());
        assert_eq!(resolve(&KeyRef::parse("env.K"), &env, &store).unwrap().expose(), "from-env");
        assert_eq!(resolve(&KeyRef::parse("secret.openai"), &env, &store).unwrap().expose(), "from-store");
        assert_eq!(resolve(&KeyRef::parse("lit"), &env, &store).unwrap().expose(), "lit");
        assert!(matches!(resolve(&KeyRef::parse("env.NOPE"), &env, &store), Err(SecretError::EnvMissing(_))));
        assert!(matches!(resolve(&KeyRef::parse("secret.nope"), &env, &store), Err(SecretError::NotFound(_))));
        store.delete("openai").unwrap();
        assert!(store.get("openai").unwrap().is_none());
    }
}
