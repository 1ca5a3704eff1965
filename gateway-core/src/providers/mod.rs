//! Providers: where requests go. A `Provider` is one configured upstream (its URL, keys, limits);
//! its `ProviderApi` knows the upstream's wire format. The OpenAI-compatible family shares one
//! implementation (`openai_compat`); native Anthropic and Gemini implement the same trait.

pub mod anthropic;
pub mod gemini;
pub mod openai_compat;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::config::{EnvLookup, KeyRef, ProviderConfig, ProviderKind, Secret};
use crate::secrets::{SecretError, SecretStore};
use crate::wire::{Endpoint, WireFormat};

/// A key as a header value marked sensitive (hidden from `Debug`, never indexed by HPACK), or
/// `None` when the key cannot be a header value at all.
fn sensitive_value(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// How one wire format builds requests: URL, auth, model-list parsing.
pub trait ProviderApi: Send + Sync {
    fn wire_format(&self) -> WireFormat;
    /// The full URL of an endpoint, or `None` when the upstream has no such endpoint.
    fn endpoint_url(&self, base_url: &str, endpoint: Endpoint) -> Option<String>;
    /// Whether a call names its model in the URL (Gemini) rather than in the body.
    fn model_in_url(&self) -> bool {
        false
    }
    /// The URL of one call to `model`, built from the endpoint's URL, for a wire format whose
    /// calls name the model in the URL; `None` when there is no such call.
    fn model_url(
        &self,
        _endpoint_url: &reqwest::Url,
        _model: &str,
        _endpoint: Endpoint,
        _stream: bool,
    ) -> Option<reqwest::Url> {
        None
    }
    /// Adds the key (and what goes with it) to an upstream request's headers.
    fn authorize(&self, headers: &mut HeaderMap, key: &Secret);
    /// The model ids in a model-list response.
    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<String>, String>;
    /// Headers the wire format needs besides the key (e.g. `anthropic-version`), given the
    /// client's headers when the client speaks the same format (`None` when translating).
    fn protocol_headers(&self, _same_format_client: Option<&HeaderMap>) -> HeaderMap {
        // Sized for what the proxy adds (content type, accept, key, user agent, host).
        HeaderMap::with_capacity(8)
    }
}

/// The URL of one upstream call.
pub struct CallUrl<'a> {
    pub url: std::borrow::Cow<'a, reqwest::Url>,
    /// The same as hyper takes it, when parsed ahead.
    pub uri: Option<&'a http::Uri>,
}

/// Where a provider came from, shown by the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderSource {
    Config,
    Environment,
    /// A key saved through the admin API, found in the OS secret store at start.
    #[serde(rename = "secret-store")]
    SecretStore,
    Discovered,
    /// Added through the admin API (`PUT /api/providers/{name}`), kept in the state file.
    Api,
}

pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    /// Loopback upstreams are local; local-only mode allows nothing else.
    pub is_local: bool,
    pub source: ProviderSource,
    pub api: Arc<dyn ProviderApi>,
    keys: Vec<Secret>,
    /// Cumulative weights of `keys`, when the config weights them.
    key_weights: Option<Vec<u64>>,
    key_refs: Vec<KeyRef>,
    /// Each key's reference as the admin API shows it, for the attempt trail.
    key_labels: Vec<Arc<str>>,
    next_key: AtomicUsize,
    pub allowed_models: Option<HashSet<String>>,
    pub timeout: Duration,
    pub first_byte_timeout: Duration,
    pub max_retries: u32,
    pub stream_idle_timeout: Duration,
    /// Takes the provider out of rotation after repeated failures.
    pub breaker: crate::breaker::CircuitBreaker,
    pub stream_usage: bool,
    /// Upper bound for `max_tokens` sent upstream (`max_output_tokens` in the config).
    pub max_output_tokens: Option<u64>,
    pub extra_headers: HeaderMap,
    /// What the provider was built from, to rebuild it when its keys change.
    pub config: ProviderConfig,
    /// Each endpoint's URL, parsed once: parsing (and IDNA) per request showed in profiles.
    endpoint_urls: [Option<reqwest::Url>; Endpoint::ALL.len()],
    /// The same, as hyper takes them (`transport` sends plain-HTTP requests through hyper).
    endpoint_uris: [Option<http::Uri>; Endpoint::ALL.len()],
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("providers.{provider}.keys[{index}]: {source}")]
    Key { provider: String, index: usize, source: SecretError },
    #[error("providers.{provider}.headers.{header}: {message}")]
    Header { provider: String, header: String, message: String },
    #[error("providers.{provider}: {message}")]
    Invalid { provider: String, message: String },
}

impl Provider {
    pub fn from_config(
        name: &str,
        config: &ProviderConfig,
        source: ProviderSource,
        env: &EnvLookup,
        store: &dyn SecretStore,
    ) -> Result<Provider, ProviderError> {
        let kind = config.kind.or_else(|| ProviderKind::from_name(name)).ok_or_else(|| ProviderError::Invalid {
            provider: name.to_owned(),
            message: "unknown provider kind".into(),
        })?;
        let base_url = config
            .base_url
            .as_deref()
            .or(kind.default_base_url())
            .ok_or_else(|| ProviderError::Invalid {
                provider: name.to_owned(),
                message: "base_url is required".into(),
            })?
            .trim_end_matches('/')
            .to_owned();
        // Local-only mode promises that no byte leaves the machine, and it trusts this flag: a
        // provider off loopback is never local, whoever says so. (A loopback tunnel to the cloud
        // may still be marked cloud.) Checked from the URL alone, before any connection.
        if config.local == Some(true) && !is_loopback_url(&base_url) {
            return Err(ProviderError::Invalid {
                provider: name.to_owned(),
                message: format!(
                    "`local = true` needs a base_url on this machine (localhost, 127.0.0.0/8 or [::1]); `{base_url}` is reached over the network, so local-only mode could not keep its promise"
                ),
            });
        }
        let is_local = config.local.unwrap_or_else(|| is_loopback_url(&base_url));
        let api = api_for(kind);
        let endpoint_urls = Endpoint::ALL
            .map(|endpoint| api.endpoint_url(&base_url, endpoint).and_then(|url| reqwest::Url::parse(&url).ok()));
        let endpoint_uris =
            endpoint_urls.each_ref().map(|url| url.as_ref().and_then(|url| url.as_str().parse::<http::Uri>().ok()));
        let mut keys = Vec::with_capacity(config.keys.len());
        for (index, key) in config.keys.iter().enumerate() {
            let secret = crate::secrets::resolve(key, env, store).map_err(|source| ProviderError::Key {
                provider: name.to_owned(),
                index,
                source,
            })?;
            keys.push(secret);
        }
        let mut extra_headers = HeaderMap::new();
        for (header, value) in &config.headers {
            let invalid =
                |message: String| ProviderError::Header { provider: name.to_owned(), header: header.clone(), message };
            let header_name = HeaderName::from_bytes(header.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let header_value = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
            extra_headers.insert(header_name, header_value);
        }
        Ok(Provider {
            name: name.to_owned(),
            kind,
            base_url,
            is_local,
            source,
            api,
            key_weights: config.key_weights.as_ref().filter(|w| w.len() == keys.len()).map(|weights| {
                weights
                    .iter()
                    .scan(0u64, |total, w| {
                        *total += u64::from(*w);
                        Some(*total)
                    })
                    .collect()
            }),
            keys,
            key_labels: config.keys.iter().map(|key| Arc::from(key.describe())).collect(),
            key_refs: config.keys.clone(),
            next_key: AtomicUsize::new(0),
            allowed_models: config.models.as_ref().map(|models| models.iter().cloned().collect()),
            timeout: Duration::from_secs(config.timeout_secs),
            first_byte_timeout: Duration::from_secs(
                config.first_byte_timeout_secs.unwrap_or(config.timeout_secs).max(1),
            ),
            max_retries: config.max_retries.min(10),
            breaker: crate::breaker::CircuitBreaker::default(),
            stream_idle_timeout: Duration::from_secs(config.stream_idle_timeout_secs),
            stream_usage: config.stream_usage,
            max_output_tokens: config.max_output_tokens,
            extra_headers,
            config: config.clone(),
            endpoint_urls,
            endpoint_uris,
        })
    }

    /// The upstream URL of an endpoint, or `None` when the provider has no such endpoint.
    pub fn endpoint_url(&self, endpoint: Endpoint) -> Option<&reqwest::Url> {
        self.endpoint_urls[endpoint.index()].as_ref()
    }

    /// [`Provider::endpoint_url`] parsed as an `http::Uri`.
    pub fn endpoint_uri(&self, endpoint: Endpoint) -> Option<&http::Uri> {
        self.endpoint_uris[endpoint.index()].as_ref()
    }

    /// Where one call of `endpoint` for `model` goes, or `None` when the provider has no such
    /// endpoint. The `http::Uri` is there when the URL is the endpoint's own, parsed once.
    pub fn call_url(&self, endpoint: Endpoint, model: &str, stream: bool) -> Option<CallUrl<'_>> {
        let url = self.endpoint_url(endpoint)?;
        if !self.api.model_in_url() {
            return Some(CallUrl { url: std::borrow::Cow::Borrowed(url), uri: self.endpoint_uri(endpoint) });
        }
        let url = self.api.model_url(url, model, endpoint, stream)?;
        Some(CallUrl { url: std::borrow::Cow::Owned(url), uri: None })
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The next key in turn, or `None` for a keyless (local) provider.
    pub fn next_key(&self) -> Option<&Secret> {
        self.next_key_index().and_then(|index| self.keys.get(index))
    }

    /// [`Provider::next_key`] with the key's reference (never the key), for the attempt trail.
    pub fn next_key_labelled(&self) -> Option<(&Secret, &Arc<str>)> {
        let index = self.next_key_index()?;
        Some((self.keys.get(index)?, self.key_labels.get(index)?))
    }

    fn next_key_index(&self) -> Option<usize> {
        if self.keys.is_empty() {
            return None;
        }
        if let Some(cumulative) = &self.key_weights
            && let Some(total) = cumulative.last().copied().filter(|t| *t > 0)
        {
            let pick = rand::random_range(0..total);
            return Some(cumulative.iter().position(|c| pick < *c).unwrap_or(0));
        }
        Some(self.next_key.fetch_add(1, Ordering::Relaxed) % self.keys.len())
    }

    /// Whether the provider serves `endpoint` in the client's own format (passthrough), rather
    /// than through translation. The Responses API is a capability of the provider kind.
    pub fn speaks_natively(&self, endpoint: Endpoint) -> bool {
        match endpoint.wire_format() {
            WireFormat::Responses => self.kind.speaks_responses(),
            format => self.api.wire_format() == format,
        }
    }

    pub fn allows_model(&self, model: &str) -> bool {
        self.allowed_models.as_ref().is_none_or(|allowed| allowed.contains(model))
    }

    /// What the admin API shows: no key, only how each is referenced.
    pub fn describe(&self) -> ProviderInfo {
        ProviderInfo {
            name: self.name.clone(),
            kind: self.kind.as_str(),
            base_url: self.base_url.clone(),
            local: self.is_local,
            source: self.source,
            wire_format: self.api.wire_format(),
            keys: self.key_refs.iter().map(KeyRef::describe).collect(),
            models: self.allowed_models.as_ref().map(|m| {
                let mut models: Vec<String> = m.iter().cloned().collect();
                models.sort();
                models
            }),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProviderInfo {
    pub name: String,
    pub kind: &'static str,
    pub base_url: String,
    pub local: bool,
    pub source: ProviderSource,
    pub wire_format: WireFormat,
    pub keys: Vec<String>,
    pub models: Option<Vec<String>>,
}

/// All providers, by name; replaced whole when providers change, read without locks.
#[derive(Debug, Default)]
pub struct ProviderSet {
    by_name: BTreeMap<String, Arc<Provider>>,
}

impl ProviderSet {
    pub fn new(providers: impl IntoIterator<Item = Provider>) -> ProviderSet {
        ProviderSet { by_name: providers.into_iter().map(|p| (p.name.clone(), Arc::new(p))).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.by_name.values()
    }

    pub fn names(&self) -> Vec<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// A copy with one more provider (replacing one of the same name).
    pub fn without(&self, name: &str) -> ProviderSet {
        let mut by_name = self.by_name.clone();
        by_name.remove(name);
        ProviderSet { by_name }
    }

    pub fn with(&self, provider: Arc<Provider>) -> ProviderSet {
        let mut by_name = self.by_name.clone();
        by_name.insert(provider.name.clone(), provider);
        ProviderSet { by_name }
    }
}

/// The wire format implementation for a kind.
fn api_for(kind: ProviderKind) -> Arc<dyn ProviderApi> {
    match kind.wire_format() {
        WireFormat::OpenAi => openai_compat::api_for(kind),
        WireFormat::Anthropic => anthropic::api(),
        WireFormat::Gemini => gemini::api(),
        // No kind's own wire format is Responses (see `ProviderKind::wire_format`).
        WireFormat::Responses => openai_compat::api_for(kind),
    }
}

/// The ids of a `{"data": [{"id": …}, …]}` model list, the shape OpenAI and Anthropic share.
pub(crate) fn ids_in_data_list(body: &[u8], shape: &str) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct ModelList {
        data: Vec<ModelEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ModelEntry {
        id: String,
    }
    let list: ModelList =
        serde_json::from_slice(body).map_err(|err| format!("model list is not {shape}-shaped: {err}"))?;
    Ok(list.data.into_iter().map(|m| m.id).collect())
}

/// Whether a URL points at this machine.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemorySecretStore;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn provider_from_config_uses_presets_and_rotates_keys() {
        let config = ProviderConfig {
            keys: vec![KeyRef::parse("key-one-aaaa"), KeyRef::parse("key-two-bbbb")],
            ..ProviderConfig::default()
        };
        let store = MemorySecretStore::default();
        let provider = Provider::from_config("openrouter", &config, ProviderSource::Config, &no_env, &store).unwrap();
        assert_eq!(provider.base_url, "https://openrouter.ai/api/v1");
        assert!(!provider.is_local);
        let first = provider.next_key().unwrap().expose().to_owned();
        let second = provider.next_key().unwrap().expose().to_owned();
        assert_ne!(first, second);
        let info = provider.describe();
        assert_eq!(info.keys, vec!["****aaaa", "****bbbb"]);
        assert!(!format!("{provider:?}").contains("key-one"));
    }

    #[test]
    fn weighted_keys_follow_their_weights() {
        let config = ProviderConfig {
            keys: vec![KeyRef::parse("heavy-key-aaaa"), KeyRef::parse("light-key-bbbb")],
            key_weights: Some(vec![9, 1]),
            ..ProviderConfig::default()
        };
        let store = MemorySecretStore::default();
        let provider = Provider::from_config("openai", &config, ProviderSource::Config, &no_env, &store).unwrap();
        let heavy = (0..10_000).filter(|_| provider.next_key().unwrap().expose().starts_with("heavy")).count();
        // Expected 9,000; the standard deviation is 30, so ±300 is ten sigma.
        assert!((8_700..=9_300).contains(&heavy), "{heavy}");
    }

    #[test]
    fn missing_env_key_names_the_field() {
        let config = ProviderConfig { keys: vec![KeyRef::parse("env.NOT_SET_ANYWHERE")], ..ProviderConfig::default() };
        let store = MemorySecretStore::default();
        let err = Provider::from_config("openai", &config, ProviderSource::Config, &no_env, &store).unwrap_err();
        assert_eq!(err.to_string(), "providers.openai.keys[0]: environment variable NOT_SET_ANYWHERE is not set");
    }

    #[test]
    fn endpoint_urls_are_parsed_once_per_endpoint() {
        for (i, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(endpoint.index(), i);
        }
        let store = MemorySecretStore::default();
        let config = ProviderConfig::default();
        let provider = Provider::from_config("openai", &config, ProviderSource::Config, &no_env, &store).unwrap();
        assert_eq!(
            provider.endpoint_url(Endpoint::Embeddings).unwrap().as_str(),
            "https://api.openai.com/v1/embeddings"
        );
        assert!(provider.endpoint_url(Endpoint::Messages).is_none(), "an OpenAI provider has no Messages endpoint");
    }

    #[test]
    fn a_provider_off_loopback_cannot_be_marked_local() {
        let config = |url: &str, local: Option<bool>| ProviderConfig {
            kind: Some(ProviderKind::OpenaiCompatible),
            base_url: Some(url.to_owned()),
            local,
            ..ProviderConfig::default()
        };
        let store = MemorySecretStore::default();
        let load = |c: &ProviderConfig| Provider::from_config("lan", c, ProviderSource::Api, &no_env, &store);
        for url in ["http://10.0.0.5:8000/v1", "https://api.openai.com/v1", "http://localhost.evil.test/v1"] {
            let err = load(&config(url, Some(true))).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("local = true") && err.contains(url), "{url}: {err}");
            assert!(!load(&config(url, None)).unwrap().is_local);
        }
        assert!(load(&config("http://127.0.0.1:8000/v1", Some(true))).unwrap().is_local);
        // A loopback tunnel to a cloud service may be marked cloud.
        assert!(!load(&config("http://127.0.0.1:8000/v1", Some(false))).unwrap().is_local);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:11434/v1"));
        assert!(is_loopback_url("http://localhost:1234/v1"));
        assert!(is_loopback_url("http://[::1]:8000"));
        assert!(!is_loopback_url("https://api.openai.com/v1"));
        assert!(!is_loopback_url("http://10.0.0.5:8000/v1"));
    }
}
