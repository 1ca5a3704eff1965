//! The model catalog: every provider's model list, fetched in the background (at start, on an
//! interval, on demand). A provider that is down keeps its last good list, marked stale.
//! Readers take a snapshot without locking. A failed fetch is retried sooner, with backoff
//! ([`retry`]).

mod retry;

pub use retry::RetrySchedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use futures_util::future::join_all;
use serde::Serialize;

use crate::providers::{Provider, ProviderSet};
use crate::transport::{describe, read_limited};
use crate::wire::{Endpoint, ModelDetails, WireFormat};

/// A model list is read up to this size. OpenRouter's, the longest known, is a few MiB with its
/// metadata; past this a server is broken or hostile, and the list is an error naming the limit.
pub const MAX_MODEL_LIST_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ProviderModels {
    pub models: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched_at_unix: Option<u64>,
    /// The last refresh failed; `models` is the last good list.
    pub stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the provider says about its models, where it says anything (OpenRouter, vllm).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, ModelDetails>,
}

/// Reads the metadata some OpenAI-compatible lists add to each entry: OpenRouter's
/// `context_length`, `architecture.input_modalities` and `supported_parameters`, vllm's
/// `max_model_len`. Lists that say nothing give nothing.
pub fn openai_list_details(body: &[u8]) -> BTreeMap<String, ModelDetails> {
    #[derive(serde::Deserialize)]
    struct List {
        data: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
        context_length: Option<u64>,
        max_model_len: Option<u64>,
        context_window: Option<u64>,
        architecture: Option<Architecture>,
        supported_parameters: Option<Vec<String>>,
    }
    #[derive(serde::Deserialize)]
    struct Architecture {
        input_modalities: Option<Vec<String>>,
    }
    let Ok(list) = serde_json::from_slice::<List>(body) else { return BTreeMap::new() };
    list.data
        .into_iter()
        .filter_map(|entry| {
            let params = entry.supported_parameters.as_deref();
            let details = ModelDetails {
                context_window: entry.context_length.or(entry.max_model_len).or(entry.context_window),
                max_output_tokens: None,
                tools: params.map(|p| p.iter().any(|x| x == "tools")),
                reasoning: params.map(|p| p.iter().any(|x| x == "reasoning" || x == "include_reasoning")),
                vision: entry.architecture.and_then(|a| a.input_modalities).map(|m| m.iter().any(|x| x == "image")),
            };
            (!details.is_empty()).then_some((entry.id, details))
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    pub providers: BTreeMap<String, ProviderModels>,
    /// Model id → the providers that list it.
    index: HashMap<String, Vec<String>>,
    pub loaded: bool,
}

impl CatalogSnapshot {
    pub fn from_lists(providers: BTreeMap<String, ProviderModels>) -> CatalogSnapshot {
        let mut index: HashMap<String, Vec<String>> = HashMap::new();
        for (provider, list) in &providers {
            for model in &list.models {
                index.entry(model.clone()).or_default().push(provider.clone());
            }
        }
        CatalogSnapshot { providers, index, loaded: true }
    }

    /// The providers that list a model id.
    pub fn providers_of(&self, model: &str) -> &[String] {
        self.index.get(model).map_or(&[], Vec::as_slice)
    }

    /// Every model as `provider/model`, sorted by provider then model.
    pub fn qualified_ids(&self) -> impl Iterator<Item = (&str, &str)> {
        self.providers
            .iter()
            .flat_map(|(provider, list)| list.models.iter().map(move |m| (provider.as_str(), m.as_str())))
    }
}

pub struct Catalog {
    snapshot: ArcSwap<CatalogSnapshot>,
    /// One refresh at a time; a caller that finds one running waits for it instead.
    refreshing: tokio::sync::Mutex<()>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog { snapshot: ArcSwap::from_pointee(CatalogSnapshot::default()), refreshing: tokio::sync::Mutex::new(()) }
    }
}

impl Catalog {
    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        self.snapshot.load_full()
    }

    /// Fetches every provider's list concurrently and publishes a new snapshot. With
    /// `local_only`, cloud providers are not asked: their last lists are kept as they were.
    pub async fn refresh(&self, http: &reqwest::Client, providers: &ProviderSet, local_only: bool) {
        self.refresh_some(http, providers, local_only, None).await;
    }

    /// [`Catalog::refresh`] for the providers in `only` (all when `None`); the others keep
    /// their lists as they were. What a retry after a failed fetch asks for.
    pub async fn refresh_some(
        &self,
        http: &reqwest::Client,
        providers: &ProviderSet,
        local_only: bool,
        only: Option<&[String]>,
    ) {
        let _guard = self.refreshing.lock().await;
        let previous = self.snapshot.load_full();
        let mut lists = BTreeMap::new();
        let asked = |p: &Provider| (p.is_local || !local_only) && only.is_none_or(|names| names.contains(&p.name));
        for provider in providers.iter().filter(|p| !asked(p)) {
            let kept = previous.providers.get(&provider.name).cloned().unwrap_or_default();
            lists.insert(provider.name.clone(), kept);
        }
        let fetches = providers.iter().filter(|p| asked(p)).map(|provider| async move {
            let result = fetch_models(http, provider).await;
            (provider.clone(), result)
        });
        for (provider, result) in join_all(fetches).await {
            let entry = match result {
                Ok((mut models, mut details)) => {
                    details.retain(|id, _| models.contains(id));
                    models.retain(|m| provider.allows_model(m));
                    if models.is_empty()
                        && let Some(allowed) = &provider.allowed_models
                    {
                        models = allowed.iter().cloned().collect();
                    }
                    models.sort();
                    ProviderModels { models, fetched_at_unix: Some(unix_now()), stale: false, error: None, details }
                }
                Err(error) => {
                    tracing::debug!(provider = %provider.name, %error, "model list refresh failed");
                    let mut kept = previous.providers.get(&provider.name).cloned().unwrap_or_default();
                    if kept.models.is_empty()
                        && let Some(allowed) = &provider.allowed_models
                    {
                        kept.models = allowed.iter().cloned().collect();
                        kept.models.sort();
                    }
                    kept.stale = true;
                    kept.error = Some(error);
                    kept
                }
            };
            lists.insert(provider.name.clone(), entry);
        }
        self.snapshot.store(Arc::new(CatalogSnapshot::from_lists(lists)));
    }

    /// Waits (at most `wait`) for a first refresh when none has completed yet.
    pub async fn ensure_loaded(
        &self,
        http: &reqwest::Client,
        providers: &ProviderSet,
        local_only: bool,
        wait: Duration,
    ) {
        if self.snapshot.load().loaded {
            return;
        }
        let _ = tokio::time::timeout(wait, async {
            if !self.snapshot.load().loaded {
                self.refresh(http, providers, local_only).await;
            }
        })
        .await;
    }
}

async fn fetch_models(
    http: &reqwest::Client,
    provider: &Provider,
) -> Result<(Vec<String>, BTreeMap<String, ModelDetails>), String> {
    let url = provider.endpoint_url(Endpoint::Models).ok_or_else(|| "the provider has no model list".to_owned())?;
    let mut headers = provider.api.protocol_headers(None);
    if let Some(key) = provider.next_key() {
        provider.api.authorize(&mut headers, key);
    }
    let request = http.get(url.clone()).timeout(provider.timeout.min(Duration::from_secs(15))).headers(headers);
    let response = request.send().await.map_err(|e| describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    let body = read_limited(response, MAX_MODEL_LIST_BYTES).await?;
    let models = provider.api.parse_model_list(&body)?;
    let details = match provider.api.wire_format() {
        WireFormat::OpenAi | WireFormat::Responses => openai_list_details(&body),
        WireFormat::Anthropic => BTreeMap::new(),
        WireFormat::Gemini => crate::providers::gemini::list_details(&body),
    };
    Ok((models, details))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openrouter_and_vllm_metadata() {
        let body = br#"{"data":[
            {"id":"qwen/qwen3-coder","context_length":262144,"architecture":{"input_modalities":["text"]},"supported_parameters":["tools","temperature"]},
            {"id":"openai/gpt-4o","context_length":128000,"architecture":{"input_modalities":["text","image"]},"supported_parameters":["tools","reasoning"]},
            {"id":"mlx-community/Qwen3-8B-4bit","object":"model","max_model_len":32768},
            {"id":"plain","object":"model"}
        ]}"#;
        let details = openai_list_details(body);
        assert_eq!(details["qwen/qwen3-coder"].context_window, Some(262_144));
        assert_eq!(details["qwen/qwen3-coder"].tools, Some(true));
        assert_eq!(details["qwen/qwen3-coder"].vision, Some(false));
        assert_eq!(details["openai/gpt-4o"].vision, Some(true));
        assert_eq!(details["openai/gpt-4o"].reasoning, Some(true));
        assert_eq!(details["mlx-community/Qwen3-8B-4bit"].context_window, Some(32_768));
        assert!(!details.contains_key("plain"));
        assert!(openai_list_details(b"not json").is_empty());
    }
}
