//! Secrets and references to them. A key in the config is a literal, an environment reference
//! (`env.OPENAI_API_KEY`, as Bifrost writes it) or a secret-store reference (`secret.openai`,
//! resolved through the OS keychain). `Secret` never prints its contents.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A value that must never reach a log, an error message or a response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (an upstream request header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, as the admin API shows a key.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 8 {
            return "****".to_owned();
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("****{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

/// Where a key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Literal(Secret),
    /// `env.NAME`
    Env(String),
    /// `secret.NAME` (or `keychain.NAME`): an entry of the secret store.
    Store(String),
}

impl KeyRef {
    pub fn parse(text: &str) -> KeyRef {
        if let Some(name) = text.strip_prefix("env.") {
            KeyRef::Env(name.to_owned())
        } else if let Some(name) = text.strip_prefix("secret.").or_else(|| text.strip_prefix("keychain.")) {
            KeyRef::Store(name.to_owned())
        } else {
            KeyRef::Literal(Secret::new(text))
        }
    }

    /// How the reference is shown by the admin API: never the literal itself.
    pub fn describe(&self) -> String {
        match self {
            KeyRef::Literal(secret) => secret.masked(),
            KeyRef::Env(name) => format!("env.{name}"),
            KeyRef::Store(name) => format!("secret.{name}"),
        }
    }
}

impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("a key must not be empty"));
        }
        Ok(KeyRef::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("sk-very-secret-1234");
        assert_eq!(format!("{secret:?}"), "*****");
        assert_eq!(format!("{secret}"), "*****");
        assert_eq!(secret.masked(), "****1234");
        assert_eq!(Secret::new("short").masked(), "****");
        let key = KeyRef::parse("sk-very-secret-1234");
        assert!(!format!("{key:?}").contains("very"));
    }

    #[test]
    fn references() {
        assert_eq!(KeyRef::parse("env.OPENAI_API_KEY"), KeyRef::Env("OPENAI_API_KEY".into()));
        assert_eq!(KeyRef::parse("secret.openai"), KeyRef::Store("openai".into()));
        assert_eq!(KeyRef::parse("keychain.openai"), KeyRef::Store("openai".into()));
    }
}
