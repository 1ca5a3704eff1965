//! The operating system's secret store: the login Keychain on macOS, the kernel keyring
//! (keyutils) on Linux. Entries live under one service name, one account per secret.

use keyring::Entry;

use super::{SecretError, SecretStore};
use crate::config::Secret;

pub const SERVICE: &str = "dev.switchyard.Switchyard";

pub struct OsSecretStore {
    service: String,
}

impl Default for OsSecretStore {
    fn default() -> Self {
        OsSecretStore { service: SERVICE.to_owned() }
    }
}

impl OsSecretStore {
    /// A store under another service name (tests use their own, so they never touch real keys).
    pub fn with_service(service: impl Into<String>) -> OsSecretStore {
        OsSecretStore { service: service.into() }
    }

    fn entry(&self, name: &str) -> Result<Entry, SecretError> {
        Entry::new(&self.service, name).map_err(|err| SecretError::Backend(err.to_string()))
    }
}

impl SecretStore for OsSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(SecretError::Backend(err.to_string())),
        }
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        self.entry(name)?.set_password(value.expose()).map_err(|err| SecretError::Backend(err.to_string()))
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(SecretError::Backend(err.to_string())),
        }
    }

    fn backend_name(&self) -> &'static str {
        if cfg!(target_os = "macos") { "macOS Keychain" } else { "Linux kernel keyring" }
    }
}
