//! Routing: from the model a client asked for to a provider and the upstream's own model id.
//! `provider/model` goes to that provider (the model part may itself contain slashes); a bare id
//! goes to the one provider that lists it.

use std::sync::Arc;

use crate::catalog::CatalogSnapshot;
use crate::classes::ResolvedEntry;
use crate::error::ApiError;
use crate::providers::{Provider, ProviderSet};
use crate::routing_state::RoutingState;

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

/// The ordered attempts for one request, and the class it asked for.
#[derive(Debug)]
pub struct Plan {
    pub class: Option<String>,
    pub targets: Vec<Target>,
}

/// What a request asks for, as routing needs it.
pub struct Ask<'a> {
    pub model: &'a str,
    /// `x-switchyard-task`
    pub class_header: Option<&'a str>,
    /// The body's Bifrost-style `fallbacks`.
    pub fallbacks: &'a [String],
}

/// Plans a request: a task class becomes its chain (its local chain in local-only mode, weights
/// deciding the order where entries carry them); a concrete model becomes one target followed by
/// the request's `fallbacks`. In local-only mode every cloud target is dropped, and a request
/// that named only cloud models is served by its class's local chain, or refused.
pub fn plan(
    ask: &Ask<'_>,
    providers: &ProviderSet,
    catalog: &CatalogSnapshot,
    routing: &RoutingState,
) -> Result<Plan, ApiError> {
    let resolved = routing.resolved();
    let local_only = routing.local_only();
    let named_class = {
        let name = ask.model.strip_prefix("task:").unwrap_or(ask.model);
        resolved.classes.contains_key(name).then(|| name.to_owned())
    };
    let header_class = ask.class_header.map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned);
    if let Some(class) = named_class.clone().or_else(|| header_class.clone().filter(|_| ask.model.is_empty())) {
        let Some(resolution) = resolved.classes.get(&class) else {
            return Err(ApiError::NoModelForClass { message: format!("no task class `{class}`") });
        };
        let entries = if local_only { &resolution.local } else { &resolution.chain };
        let targets = weighted_order(entries)
            .into_iter()
            .filter_map(|e| providers.get(&e.provider).map(|p| Target { provider: p.clone(), model: e.model.clone() }))
            .collect::<Vec<_>>();
        if targets.is_empty() {
            let which = if local_only { "local chain (local-only mode is on)" } else { "chain" };
            return Err(ApiError::NoModelForClass {
                message: format!(
                    "task class `{class}` resolves to no model: no entry of its {which} matches a model the providers list now (GET /api/task-classes)"
                ),
            });
        }
        return Ok(Plan { class: Some(class), targets });
    }

    let mut targets = vec![resolve(ask.model, providers, catalog)?];
    for fallback in ask.fallbacks {
        match resolve(fallback, providers, catalog) {
            Ok(target) => targets.push(target),
            Err(err) => tracing::debug!(%fallback, %err, "skipping a fallback that does not resolve"),
        }
    }
    if local_only {
        targets.retain(|t| t.provider.is_local);
        if targets.is_empty() {
            let class = header_class.unwrap_or_else(|| routing.default_class.clone());
            let local = resolved.classes.get(&class).map(|r| r.local.as_slice()).unwrap_or_default();
            targets = local
                .iter()
                .filter_map(|e| {
                    providers.get(&e.provider).map(|p| Target { provider: p.clone(), model: e.model.clone() })
                })
                .collect();
            if targets.is_empty() {
                return Err(ApiError::LocalOnly {
                    message: format!(
                        "local-only mode is on and `{}` is a cloud model; class `{class}` has no local model to serve it instead (start a local server, or turn local-only off: PUT /api/local-only)",
                        ask.model
                    ),
                });
            }
            return Ok(Plan { class: Some(class), targets });
        }
    }
    Ok(Plan { class: header_class, targets })
}

/// The first cloud model of a class's chain, local-only mode or not: the price a request the
/// class served locally is compared with.
pub fn cloud_reference(class: &str, providers: &ProviderSet, routing: &RoutingState) -> Option<(String, String)> {
    let resolved = routing.resolved();
    let resolution = resolved.classes.get(class)?;
    resolution
        .chain
        .iter()
        .find(|e| providers.get(&e.provider).is_some_and(|p| !p.is_local))
        .map(|e| (e.provider.clone(), e.model.clone()))
}

/// The chain in order when no entry carries a weight; otherwise a weighted draw without
/// replacement, so the primary is chosen by weight and the others remain fallbacks.
fn weighted_order(entries: &[ResolvedEntry]) -> Vec<&ResolvedEntry> {
    if entries.iter().all(|e| e.weight == 1) {
        return entries.iter().collect();
    }
    let mut pool: Vec<&ResolvedEntry> = entries.iter().collect();
    let mut out = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|e| u64::from(e.weight)).sum();
        let mut pick = rand::random_range(0..total.max(1));
        let index = pool
            .iter()
            .position(|e| {
                let weight = u64::from(e.weight);
                if pick < weight {
                    true
                } else {
                    pick -= weight;
                    false
                }
            })
            .unwrap_or(0);
        out.push(pool.remove(index));
    }
    out
}
