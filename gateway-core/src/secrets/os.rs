//! The operating system's secret store: the login Keychain on macOS; on Linux the desktop's
//! Secret Service (GNOME Keyring, KWallet) over D-Bus, or the kernel keyring (keyutils) where no
//! Secret Service answers (a server, a headless session). Entries live under one service name,
//! one account per secret.
//!
//! On Linux the backend is chosen once, at first use: `SWITCHYARD_SECRET_STORE=secret-service`
//! or `=kernel-keyring` forces one; otherwise the choice remembered in `secret-store` in the
//! config dir (the gateway's own store; `with_service` stores remember nothing); otherwise a
//! Secret Service that answers within two seconds on the session bus wins, and that choice is
//! remembered. Remembering matters: at login the Secret Service can be slow to answer, and a
//! fallback to the kernel keyring (whose keys vanish at reboot or logout) would silently lose
//! the keys saved there, or hide those in the login keyring. A remembered store that fails
//! reports errors (loudly, in the log) rather than falling back.

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
    /// Where the Linux backend chosen first is remembered.
    #[cfg(target_os = "linux")]
    choice_file: Option<std::path::PathBuf>,
}

impl Default for OsSecretStore {
    /// The gateway's store. On Linux the backend is chosen here, at start-up, so no request
    /// waits for the probe.
    fn default() -> Self {
        let store = OsSecretStore::with_service(SERVICE);
        #[cfg(target_os = "linux")]
        {
            let file = crate::config::default_config_dir().map(|dir| dir.join(linux::CHOICE_FILE));
            let store = OsSecretStore { choice_file: file, ..store };
            let _ = store.backend();
            store
        }
        #[cfg(not(target_os = "linux"))]
        {
            store
        }
    }
}

impl OsSecretStore {
    /// A store under another service name (tests use their own, so they never touch real keys).
    pub fn with_service(service: impl Into<String>) -> OsSecretStore {
        OsSecretStore {
            service: service.into(),
            #[cfg(target_os = "linux")]
            backend: OnceLock::new(),
            #[cfg(target_os = "linux")]
            choice_file: None,
        }
    }

    /// Remembers the Linux backend chosen first in `file` (and uses the one named there).
    #[cfg(target_os = "linux")]
    pub fn remembering_choice_in(self, file: impl Into<std::path::PathBuf>) -> OsSecretStore {
        OsSecretStore { choice_file: Some(file.into()), ..self }
    }

    #[cfg(target_os = "linux")]
    fn backend(&self) -> linux::Backend {
        *self.backend.get_or_init(|| linux::Backend::choose(&self.service, self.choice_file.as_deref()))
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

impl OsSecretStore {
    /// A store error, logged loudly: a key that cannot be read or saved is a provider that
    /// stops working, and the log is where the user finds out why.
    fn failed(&self, action: &str, name: &str, err: &keyring::Error) -> SecretError {
        tracing::error!(store = self.backend_name(), secret = name, action, error = %err, "SECRET STORE ERROR");
        SecretError::Backend(format!("{} ({action} `{name}`): {err}", self.backend_name()))
    }
}

impl SecretStore for OsSecretStore {
    fn get(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(self.failed("read", name, &err)),
        }
    }

    fn set(&self, name: &str, value: &Secret) -> Result<(), SecretError> {
        self.entry(name)?.set_password(value.expose()).map_err(|err| self.failed("save", name, &err))
    }

    fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(self.failed("delete", name, &err)),
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
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    use keyring::Entry;
    use keyring::keyutils::KeyutilsCredential;
    use keyring::secret_service::SsCredential;

    /// How long the Secret Service may take to answer the first call (D-Bus activation of a
    /// keyring daemon included) before the kernel keyring is used instead.
    const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

    /// The file (in the config dir) naming the backend chosen first.
    pub const CHOICE_FILE: &str = "secret-store";

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Backend {
        SecretService,
        KernelKeyring,
    }

    impl Backend {
        pub fn choose(service: &str, choice_file: Option<&Path>) -> Backend {
            let forced = std::env::var("SWITCHYARD_SECRET_STORE").ok();
            Self::choose_with(forced.as_deref(), choice_file, || Self::probe(service))
        }

        /// The environment's choice, else the remembered one, else `probe`'s (then remembered).
        pub fn choose_with(
            forced: Option<&str>,
            choice_file: Option<&Path>,
            probe: impl FnOnce() -> Backend,
        ) -> Backend {
            if let Some(value) = forced {
                match Backend::parse(value) {
                    Some(backend) => return backend,
                    None => {
                        tracing::warn!(value, "SWITCHYARD_SECRET_STORE is secret-service or kernel-keyring; ignored")
                    }
                }
            }
            let Some(file) = choice_file else { return probe() };
            match std::fs::read_to_string(file) {
                Ok(text) => match Backend::parse(text.trim()) {
                    Some(backend) => {
                        tracing::info!(store = backend.name(), remembered_in = %file.display(), "secret store");
                        return backend;
                    }
                    None => {
                        // Not overwritten: the user may have meant something by it.
                        tracing::error!(
                            file = %file.display(),
                            "the remembered secret store is neither secret-service nor kernel-keyring; probing"
                        );
                        return probe();
                    }
                },
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    tracing::error!(file = %file.display(), error = %err, "cannot read the remembered secret store; probing");
                    return probe();
                }
                Err(_) => {}
            }
            let backend = probe();
            let saved =
                file.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(file, backend.id()));
            match saved {
                Ok(()) => {
                    tracing::info!(store = backend.name(), remembered_in = %file.display(), "secret store chosen")
                }
                Err(err) => tracing::error!(file = %file.display(), error = %err, "cannot remember the secret store"),
            }
            if backend == Backend::KernelKeyring {
                tracing::warn!(
                    "provider keys go to the kernel keyring: they last until reboot or logout (no Secret Service answered)"
                );
            }
            backend
        }

        fn parse(value: &str) -> Option<Backend> {
            match value {
                "secret-service" => Some(Backend::SecretService),
                "kernel-keyring" => Some(Backend::KernelKeyring),
                _ => None,
            }
        }

        /// The name in `SWITCHYARD_SECRET_STORE` and the choice file.
        fn id(self) -> &'static str {
            match self {
                Backend::SecretService => "secret-service",
                Backend::KernelKeyring => "kernel-keyring",
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

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_first_choice_is_remembered_and_used_later() {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("config").join(CHOICE_FILE);
            let first = Backend::choose_with(None, Some(&file), || Backend::SecretService);
            assert_eq!(first, Backend::SecretService);
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "secret-service");
            // A later start whose probe would fall back (a slow Secret Service at login) keeps it.
            let later = Backend::choose_with(None, Some(&file), || panic!("not probed again"));
            assert_eq!(later, Backend::SecretService);
            // The environment still forces a store, and does not change what is remembered.
            assert_eq!(Backend::choose_with(Some("kernel-keyring"), Some(&file), || panic!()), Backend::KernelKeyring);
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "secret-service");
            // Without a file (test stores) every start probes.
            assert_eq!(Backend::choose_with(None, None, || Backend::KernelKeyring), Backend::KernelKeyring);
        }
    }
}
