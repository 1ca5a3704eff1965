//! Calling the secret store from async code. Every store call may block: the macOS Keychain
//! shows a password prompt when it is locked, the Secret Service may start its daemon (or wait
//! for the user to unlock the login keyring). On a tokio worker that stalls every request the
//! worker serves, so async code calls the store through these: on the blocking pool, given up
//! after `STORE_TIMEOUT` with an error that names the timeout.

use std::sync::Arc;
use std::time::Duration;

use super::{MemorySecretStore, SecretError, SecretStore};
use crate::config::{KeyRef, Secret};

/// Long enough to type a password into a prompt, short enough for an admin request to answer.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `op` against the store on the blocking pool, bounded by `STORE_TIMEOUT`.
pub async fn call<T, F>(store: &Arc<dyn SecretStore>, op: F) -> Result<T, SecretError>
where
    T: Send + 'static,
    F: FnOnce(&dyn SecretStore) -> Result<T, SecretError> + Send + 'static,
{
    call_within(store, STORE_TIMEOUT, op).await
}

/// `call` with another bound. A call that times out keeps running on its thread (a blocking call
/// cannot be cancelled); its result is dropped.
pub async fn call_within<T, F>(store: &Arc<dyn SecretStore>, timeout: Duration, op: F) -> Result<T, SecretError>
where
    T: Send + 'static,
    F: FnOnce(&dyn SecretStore) -> Result<T, SecretError> + Send + 'static,
{
    let store = store.clone();
    let backend = store.backend_name();
    let task = tokio::task::spawn_blocking(move || op(store.as_ref()));
    let result = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(SecretError::Backend(format!("the secret store call did not finish: {join}"))),
        Err(_) => Err(SecretError::Timeout { after: timeout }),
    };
    if let Err(err) = &result
        && !matches!(err, SecretError::NotFound(_))
    {
        tracing::error!(store = backend, error = %err, "secret store call failed");
    }
    result
}

pub async fn set(store: &Arc<dyn SecretStore>, name: &str, value: Secret) -> Result<(), SecretError> {
    let name = name.to_owned();
    call(store, move |store| store.set(&name, &value)).await
}

pub async fn delete(store: &Arc<dyn SecretStore>, name: &str) -> Result<(), SecretError> {
    let name = name.to_owned();
    call(store, move |store| store.delete(&name)).await
}

/// The store entries `keys` refer to (`secret.NAME`), read off the async workers into a memory
/// store, for synchronous code that resolves keys (`Provider::from_config`). An entry that is
/// not there is left out, so resolving it still says "not in the secret store".
pub async fn prefetch(store: &Arc<dyn SecretStore>, keys: &[KeyRef]) -> Result<MemorySecretStore, SecretError> {
    let names: Vec<String> = keys
        .iter()
        .filter_map(|key| match key {
            KeyRef::Store(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let copy = MemorySecretStore::default();
    if names.is_empty() {
        return Ok(copy);
    }
    let found = call(store, move |store| {
        names.into_iter().map(|name| Ok((store.get(&name)?, name))).collect::<Result<Vec<_>, SecretError>>()
    })
    .await?;
    for (secret, name) in found {
        if let Some(secret) = secret {
            copy.set(&name, &secret)?;
        }
    }
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A store that blocks like a locked keychain waiting for its password.
    struct Prompting(Duration);

    impl SecretStore for Prompting {
        fn get(&self, _name: &str) -> Result<Option<Secret>, SecretError> {
            std::thread::sleep(self.0);
            Ok(None)
        }
        fn set(&self, _name: &str, _value: &Secret) -> Result<(), SecretError> {
            std::thread::sleep(self.0);
            Ok(())
        }
        fn delete(&self, _name: &str) -> Result<(), SecretError> {
            Ok(())
        }
        fn backend_name(&self) -> &'static str {
            "prompting"
        }
    }

    /// On a single-threaded runtime a store call made inline would stop every other task.
    #[tokio::test(flavor = "current_thread")]
    async fn a_store_that_blocks_does_not_hold_the_runtime_and_times_out() {
        let store: Arc<dyn SecretStore> = Arc::new(Prompting(Duration::from_millis(1500)));
        let ticks = tokio::spawn(async {
            let mut ticks = 0;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                ticks += 1;
            }
            ticks
        });
        let started = Instant::now();
        let err = call_within(&store, Duration::from_millis(300), |s| s.get("openai")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(1200), "{:?}", started.elapsed());
        assert!(matches!(err, SecretError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("did not answer within"), "{err}");
        assert_eq!(ticks.await.unwrap(), 5, "other tasks ran meanwhile");
    }

    #[tokio::test]
    async fn prefetch_copies_only_the_store_entries_named() {
        let real = MemorySecretStore::default();
        real.set("openai", &Secret::new("sk-store")).unwrap();
        real.set("other", &Secret::new("sk-other")).unwrap();
        let store: Arc<dyn SecretStore> = Arc::new(real);
        let keys = [KeyRef::parse("secret.openai"), KeyRef::parse("secret.missing"), KeyRef::parse("env.X")];
        let copy = prefetch(&store, &keys).await.unwrap();
        assert_eq!(copy.get("openai").unwrap().unwrap().expose(), "sk-store");
        assert!(copy.get("other").unwrap().is_none());
        assert!(copy.get("missing").unwrap().is_none());
        set(&store, "new", Secret::new("sk-new")).await.unwrap();
        assert_eq!(store.get("new").unwrap().unwrap().expose(), "sk-new");
        delete(&store, "new").await.unwrap();
        assert!(store.get("new").unwrap().is_none());
    }
}
