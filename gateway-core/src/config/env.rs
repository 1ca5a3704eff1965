//! The environment, as the gateway reads it: through a function, so tests need not touch the
//! process's own.

/// Looks up environment variables; injectable so tests need not touch the process environment.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
