//! Zero-config start: cloud providers whose key is in the environment, and the local servers
//! that answer on their usual ports (vllm-mlx on 11434 by the seeds' convention, Ollama on 11434
//! or 11435, LM Studio on 1234). Probing runs in the background so start-up never waits for it.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{Config, ConfigError, EnvLookup, KeyRef, ProviderConfig, ProviderKind};
use crate::providers::{Provider, ProviderSet, ProviderSource};
use crate::secrets::SecretStore;
use crate::transport::read_limited;

const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
/// Ollama's `/api/version` is a few bytes; whatever answers a probe is read no further than this.
const MAX_PROBE_BYTES: usize = 64 * 1024;

/// The providers known before any probing: the config's, then the environment's.
pub fn initial_providers(
    config: &Config,
    env: &EnvLookup,
    store: &dyn SecretStore,
) -> Result<ProviderSet, ConfigError> {
    let mut providers = Vec::new();
    for (name, provider_config) in config.providers.iter().filter(|(_, p)| p.enabled) {
        let provider =
            Provider::from_config(name, provider_config, ProviderSource::Config, env, store).map_err(|err| {
                ConfigError::Invalid {
                    path: "config".into(),
                    field: format!("providers.{name}"),
                    message: err.to_string(),
                }
            })?;
        providers.push(provider);
    }
    if config.discovery.from_env {
        for kind in ProviderKind::cloud_kinds() {
            let (Some(var), name) = (kind.env_key(), kind.as_str()) else { continue };
            if config.providers.contains_key(name) {
                continue;
            }
            // A key saved through the admin API (in the OS secret store) wins over the environment.
            // Google's tools accept either name for the Gemini key; the first one set wins.
            let set_var = [Some(var), kind.alternate_env_key()].into_iter().flatten().find(|v| env(v).is_some());
            let (key, source) = match (store.get(name), set_var) {
                (Ok(Some(_)), _) => (KeyRef::Store(name.to_owned()), ProviderSource::SecretStore),
                (_, Some(var)) => (KeyRef::Env(var.to_owned()), ProviderSource::Environment),
                _ => continue,
            };
            let provider_config = ProviderConfig { keys: vec![key], ..ProviderConfig::default() };
            if let Ok(provider) = Provider::from_config(name, &provider_config, source, env, store) {
                tracing::info!(provider = name, source = ?source, "added a cloud provider");
                providers.push(provider);
            }
        }
    }
    Ok(ProviderSet::new(providers))
}

/// A local server found by probing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundServer {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
}

/// Probes the configured local URLs that no provider already covers.
pub async fn probe_local(http: &reqwest::Client, urls: &[String], existing: &ProviderSet) -> Vec<FoundServer> {
    let mut found: Vec<FoundServer> = Vec::new();
    for url in urls {
        let url = url.trim_end_matches('/');
        if existing.iter().any(|p| p.base_url.starts_with(url)) {
            continue;
        }
        let Some(kind) = identify(http, url).await else { continue };
        let port = reqwest::Url::parse(url).ok().and_then(|u| u.port_or_known_default()).unwrap_or(0);
        let preferred = match (kind, port) {
            (ProviderKind::Ollama, _) => "ollama".to_owned(),
            (_, 11434) => "mlx-local".to_owned(),
            (_, 1234) => "lmstudio".to_owned(),
            (_, port) => format!("local-{port}"),
        };
        let taken = |name: &str| existing.get(name).is_some() || found.iter().any(|f| f.name == name);
        let name = if taken(&preferred) { format!("{preferred}-{port}") } else { preferred };
        if taken(&name) {
            continue;
        }
        let kind = if kind == ProviderKind::Ollama {
            kind
        } else if port == 1234 {
            ProviderKind::Lmstudio
        } else {
            ProviderKind::MlxLocal
        };
        found.push(FoundServer { name, kind, base_url: format!("{url}/v1") });
    }
    found
}

/// What answers at `url`: Ollama answers `/api/version`; any OpenAI-compatible server answers
/// `/v1/models`.
async fn identify(http: &reqwest::Client, url: &str) -> Option<ProviderKind> {
    #[derive(Deserialize)]
    struct Version {
        #[allow(dead_code)]
        version: String,
    }
    let ollama = http.get(format!("{url}/api/version")).timeout(PROBE_TIMEOUT).send().await;
    if let Ok(response) = ollama
        && response.status().is_success()
        && let Ok(body) = read_limited(response, MAX_PROBE_BYTES).await
        && serde_json::from_slice::<Version>(&body).is_ok()
    {
        return Some(ProviderKind::Ollama);
    }
    let models = http.get(format!("{url}/v1/models")).timeout(PROBE_TIMEOUT).send().await.ok()?;
    models.status().is_success().then_some(ProviderKind::OpenaiCompatible)
}

/// Probes for local servers and adds those found as providers; whether any was added.
pub async fn add_local_servers(state: &crate::state::AppState) -> bool {
    let inner = state.inner();
    if !inner.config.discovery.probe_local {
        return false;
    }
    let found = probe_local(state.http(), &inner.config.discovery.local_urls, &state.providers()).await;
    let mut added = false;
    for server in found {
        if let Some(provider) = server.into_provider(inner.env.as_ref(), inner.secrets.as_ref()) {
            tracing::info!(provider = %provider.name, url = %provider.base_url, "found a local server");
            let provider = std::sync::Arc::new(provider);
            inner.providers.rcu(|set| set.with(provider.clone()));
            added = true;
        }
    }
    added
}

impl FoundServer {
    pub fn into_provider(self, env: &EnvLookup, store: &dyn SecretStore) -> Option<Provider> {
        let config =
            ProviderConfig { kind: Some(self.kind), base_url: Some(self.base_url), ..ProviderConfig::default() };
        Provider::from_config(&self.name, &config, ProviderSource::Discovered, env, store).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemorySecretStore;

    #[test]
    fn cloud_providers_come_from_the_environment_unless_configured() {
        let env = |name: &str| match name {
            "OPENAI_API_KEY" => Some("sk-env-openai-1111".to_owned()),
            "GROQ_API_KEY" => Some("gsk-env-2222".to_owned()),
            _ => None,
        };
        let store = MemorySecretStore::default();
        let set = initial_providers(&Config::default(), &env, &store).unwrap();
        assert_eq!(set.names(), vec!["groq", "openai"]);
        assert_eq!(set.get("openai").unwrap().source, ProviderSource::Environment);
        assert_eq!(set.get("openai").unwrap().next_key().unwrap().expose(), "sk-env-openai-1111");

        let config = Config::from_toml(
            "[providers.openai]\nkeys = [\"sk-config-3333\"]\n[discovery]\nfrom_env = true\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let set = initial_providers(&config, &env, &store).unwrap();
        assert_eq!(set.get("openai").unwrap().source, ProviderSource::Config);
        assert_eq!(set.get("openai").unwrap().next_key().unwrap().expose(), "sk-config-3333");

        let config = Config::from_toml("[discovery]\nfrom_env = false\n", std::path::Path::new("t.toml")).unwrap();
        assert!(initial_providers(&config, &env, &store).unwrap().is_empty());
    }

    #[test]
    fn gemini_takes_its_key_from_either_of_googles_variables() {
        let store = MemorySecretStore::default();
        let google_only = |name: &str| (name == "GOOGLE_API_KEY").then(|| "AIza-google-4444".to_owned());
        let set = initial_providers(&Config::default(), &google_only, &store).unwrap();
        let gemini = set.get("gemini").expect("added from GOOGLE_API_KEY");
        assert_eq!(gemini.next_key().unwrap().expose(), "AIza-google-4444");
        assert_eq!(gemini.base_url, "https://generativelanguage.googleapis.com/v1beta");
        assert_eq!(gemini.describe().keys, vec!["env.GOOGLE_API_KEY"]);

        let both = |name: &str| match name {
            "GEMINI_API_KEY" => Some("AIza-gemini-5555".to_owned()),
            "GOOGLE_API_KEY" => Some("AIza-google-4444".to_owned()),
            _ => None,
        };
        let set = initial_providers(&Config::default(), &both, &store).unwrap();
        assert_eq!(set.get("gemini").unwrap().next_key().unwrap().expose(), "AIza-gemini-5555", "GEMINI_API_KEY wins");
    }
}
