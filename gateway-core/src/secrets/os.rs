//! The operating system's secret store: the login Keychain on macOS; on Linux the desktop's
//! Secret Service (GNOME Keyring, KWallet) over D-Bus, or the kernel keyring (keyutils) where no
//! Secret Service answers (a server, a headless session). Entries live under one service name,
//! one account per secret.
//!
//! On Linux the backend is chosen once, at first use: `SWITCHYARD_SECRET_STORE=secret-service`
//! or `=kernel-keyring` forces one; otherwise a Secret Service that answers within two seconds
//! on the session bus wins.

#[cfg(target_os = "linux")]
use std::sync::OnceLock;

use keyring::Entry;

use super::{SecretError, SecretStore};
use crate::config::Secret;

pub const SERVICE: &str = "dev.switchyard.Switchyard";

pub struct OsSecretStore {
    service: String,
    #[cfg(target_os = "linux")]
    backend: OnceLock<linux::Backend>,
}

impl Default for OsSecretStore {
    fn default() -> Self {
        OsSecretStore::with_service(SERVICE)
    }
}

impl OsSecretStore {
    /// A store under another service name (tests use their own, so they never touch real keys).
    pub fn with_service(service: impl Into<String>) -> OsSecretStore {
        OsSecretStore {
            service: service.into(),
            #[cfg(target_os = "linux")]
            backend: OnceLock::new(),
        }
    }

    #[cfg(target_os = "linux")]
    fn backend(&self) -> linux::Backend {
        *self.backend.get_or_init(|| linux::Backend::choose(&self.service))
    }

    #[cfg(target_os = "linux")]
    fn entry(&self, name: &str) -> Result<Entry, SecretError> {
        self.backend().entry(&self.service, name).map_err(|err| SecretError::Backend(err.to_string()))
    }

    #[cfg(not(target_os = "linux"))]
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

    #[cfg(target_os = "linux")]
    fn backend_name(&self) -> &'static str {
        self.backend().name()
    }

    #[cfg(not(target_os = "linux"))]
    fn backend_name(&self) -> &'static str {
        if cfg!(target_os = "macos") { "macOS Keychain" } else { "the OS credential store" }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::mpsc;
    use std::time::Duration;

    use keyring::Entry;
    use keyring::keyutils::KeyutilsCredential;
    use keyring::secret_service::SsCredential;

    /// How long the Secret Service may take to answer the first call (D-Bus activation of a
    /// keyring daemon included) before the kernel keyring is used instead.
    const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Backend {
        SecretService,
        KernelKeyring,
    }

    impl Backend {
        pub fn choose(service: &str) -> Backend {
            match std::env::var("SWITCHYARD_SECRET_STORE").as_deref() {
                Ok("secret-service") => Backend::SecretService,
                Ok("kernel-keyring") => Backend::KernelKeyring,
                Ok(other) => {
                    tracing::warn!(
                        value = other,
                        "SWITCHYARD_SECRET_STORE is secret-service or kernel-keyring; ignored"
                    );
                    Self::probe(service)
                }
                Err(_) => Self::probe(service),
            }
        }

        fn probe(service: &str) -> Backend {
            let backend = if secret_service_answers(service) { Backend::SecretService } else { Backend::KernelKeyring };
            tracing::info!(store = backend.name(), "secret store");
            backend
        }

        pub fn name(self) -> &'static str {
            match self {
                Backend::SecretService => "Secret Service",
                Backend::KernelKeyring => "Linux kernel keyring",
            }
        }

        pub fn entry(self, service: &str, name: &str) -> keyring::Result<Entry> {
            Ok(match self {
                Backend::SecretService => {
                    Entry::new_with_credential(Box::new(SsCredential::new_with_target(None, service, name)?))
                }
                Backend::KernelKeyring => {
                    Entry::new_with_credential(Box::new(KeyutilsCredential::new_with_target(None, service, name)?))
                }
            })
        }
    }

    /// A lookup that finds nothing is an answer; no session bus, no service or a timeout is not.
    /// The lookup runs on its own thread so a stuck bus cannot hold the caller.
    fn secret_service_answers(service: &str) -> bool {
        let runtime_bus =
            std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists());
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !runtime_bus {
            return false;
        }
        let (answer, answered) = mpsc::channel();
        let service = service.to_owned();
        let spawned = std::thread::Builder::new().name("secret-service-probe".into()).spawn(move || {
            let result = Backend::SecretService.entry(&service, "switchyard-probe").and_then(|e| e.get_password());
            let _ = answer.send(matches!(result, Ok(_) | Err(keyring::Error::NoEntry)));
        });
        spawned.is_ok() && answered.recv_timeout(PROBE_TIMEOUT).unwrap_or(false)
    }
}
