//! The model catalog: every provider's model list, fetched in the background (at start, on an
//! interval, on demand). A provider that is down keeps its last good list, marked stale.
//! Readers take a snapshot without locking.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use futures_util::future::join_all;
use serde::Serialize;

use crate::providers::{Endpoint, Provider, ProviderSet};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ProviderModels {
    pub models: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched_at_unix: Option<u64>,
    /// The last refresh failed; `models` is the last good list.
    pub stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

    /// Fetches every provider's list concurrently and publishes a new snapshot.
    pub async fn refresh(&self, http: &reqwest::Client, providers: &ProviderSet) {
        let _guard = self.refreshing.lock().await;
        let previous = self.snapshot.load_full();
        let fetches = providers.iter().map(|provider| async move {
            let result = fetch_models(http, provider).await;
            (provider.clone(), result)
        });
        let mut lists = BTreeMap::new();
        for (provider, result) in join_all(fetches).await {
            let entry = match result {
                Ok(mut models) => {
                    models.retain(|m| provider.allows_model(m));
                    if models.is_empty()
                        && let Some(allowed) = &provider.allowed_models
                    {
                        models = allowed.iter().cloned().collect();
                    }
                    models.sort();
                    ProviderModels { models, fetched_at_unix: Some(unix_now()), stale: false, error: None }
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
    pub async fn ensure_loaded(&self, http: &reqwest::Client, providers: &ProviderSet, wait: Duration) {
        if self.snapshot.load().loaded {
            return;
        }
        let _ = tokio::time::timeout(wait, async {
            if !self.snapshot.load().loaded {
                self.refresh(http, providers).await;
            }
        })
        .await;
    }
}

async fn fetch_models(http: &reqwest::Client, provider: &Provider) -> Result<Vec<String>, String> {
    let url = provider
        .api
        .endpoint_url(&provider.base_url, Endpoint::Models)
        .ok_or_else(|| "the provider has no model list".to_owned())?;
    let mut request = http
        .get(url)
        .timeout(provider.timeout.min(Duration::from_secs(15)))
        .headers(provider.api.protocol_headers(None));
    if let Some(key) = provider.next_key() {
        request = provider.api.authorize(request, key);
    }
    let response = request.send().await.map_err(|e| crate::proxy::upstream::describe(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    let body = response.bytes().await.map_err(|e| crate::proxy::upstream::describe(&e))?;
    provider.api.parse_model_list(&body)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
