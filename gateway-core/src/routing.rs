//! Routing: from the model a client asked for to a provider and the upstream's own model id.
//! `provider/model` goes to that provider (the model part may itself contain slashes); a bare id
//! goes to the one provider that lists it.

use std::sync::Arc;

use crate::catalog::CatalogSnapshot;
use crate::error::ApiError;
use crate::providers::{Provider, ProviderSet};

/// Where one attempt goes.
#[derive(Clone, Debug)]
pub struct Target {
    pub provider: Arc<Provider>,
    /// The model id as the upstream knows it (prefix stripped).
    pub model: String,
}

/// How many model ids an error lists before it says "and N more".
const LISTED: usize = 25;

pub fn resolve(requested: &str, providers: &ProviderSet, catalog: &CatalogSnapshot) -> Result<Target, ApiError> {
    if let Some((prefix, model)) = requested.split_once('/')
        && let Some(provider) = providers.get(prefix)
    {
        if model.is_empty() {
            return Err(ApiError::invalid(format!("`{requested}` names provider `{prefix}` but no model")));
        }
        if !provider.allows_model(model) {
            return Err(ApiError::ModelNotFound {
                message: format!(
                    "model `{model}` is not among provider `{prefix}`'s allowed models ({})",
                    provider.allowed_models.iter().flatten().take(LISTED).cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        return Ok(Target { provider: provider.clone(), model: model.to_owned() });
    }
    let candidates: Vec<&Arc<Provider>> =
        catalog.providers_of(requested).iter().filter_map(|name| providers.get(name)).collect();
    match candidates.as_slice() {
        [provider] => Ok(Target { provider: (*provider).clone(), model: requested.to_owned() }),
        [] => Err(not_found(requested, providers, catalog)),
        several => Err(ApiError::AmbiguousModel {
            message: format!(
                "model `{requested}` is served by several providers; name one: {}",
                several.iter().map(|p| format!("{}/{requested}", p.name)).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

fn not_found(requested: &str, providers: &ProviderSet, catalog: &CatalogSnapshot) -> ApiError {
    if providers.is_empty() {
        return ApiError::ModelNotFound {
            message: format!(
                "model `{requested}` not found: no provider is configured (set OPENAI_API_KEY or another provider key, start a local server, or add providers to the config file)"
            ),
        };
    }
    let all: Vec<String> = catalog.qualified_ids().map(|(p, m)| format!("{p}/{m}")).collect();
    let mut listed = all.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > LISTED {
        listed.push_str(&format!(" and {} more (GET /v1/models)", all.len() - LISTED));
    }
    if listed.is_empty() {
        listed = "none listed yet".into();
    }
    let prefix_hint = match requested.split_once('/') {
        Some((prefix, _)) => format!(" there is no provider `{prefix}` (providers: {});", providers.names().join(", ")),
        None => String::new(),
    };
    ApiError::ModelNotFound {
        message: format!("model `{requested}` not found:{prefix_hint} available models: {listed}"),
    }
}
