//! A request's targets within what its key allows. A bare model id goes to the key's provider
//! configs that can serve it, the first picked by weight and the others after it, by weight, as
//! fallbacks (the seeds' "vLLM handles 90%, if vLLM is unavailable it routes to OpenAI"). A
//! class, `provider/model` or anything else is planned as usual and then filtered. Configs over
//! a limit drop out while others remain; when none is left the request is refused before any
//! upstream call. Local-only mode still applies: a key never opens a path to the cloud.

use std::sync::Arc;

use super::{KeyEntry, limit_error};
use crate::catalog::CatalogSnapshot;
use crate::error::ApiError;
use crate::providers::ProviderSet;
use crate::routing::{self, Ask, Plan, Target};
use crate::routing_state::RoutingState;
use http::StatusCode;

pub fn plan(
    entry: &Arc<KeyEntry>,
    ask: &Ask<'_>,
    providers: &ProviderSet,
    catalog: &CatalogSnapshot,
    routing_state: &RoutingState,
    now: i64,
) -> Result<Plan, ApiError> {
    let key = &entry.spec;
    let bare = !ask.model.contains('/')
        && !routing_state.resolved().classes.contains_key(ask.model.strip_prefix("task:").unwrap_or(ask.model))
        && ask.class_header.is_none_or(|h| h.trim().is_empty() || !ask.model.is_empty());
    let mut plan = if bare && !key.provider_configs.is_empty() {
        let mut candidates: Vec<(f64, Target)> = entry
            .configs()
            .filter(|(config, _)| config.allows_model(ask.model))
            .filter_map(|(config, _)| {
                let provider = providers.get(&config.provider)?;
                let listed = catalog.providers_of(ask.model).contains(&config.provider);
                let named = config.allowed_models.iter().any(|m| m == ask.model);
                (listed || named || provider.allows_model(ask.model) && provider.allowed_models.is_some())
                    .then(|| (config.weight(), Target { provider: provider.clone(), model: ask.model.to_owned() }))
            })
            .collect();
        if candidates.is_empty() {
            routing::plan(ask, providers, catalog, routing_state)?
        } else {
            let mut targets = Vec::with_capacity(candidates.len());
            while !candidates.is_empty() {
                let total: f64 = candidates.iter().map(|(w, _)| w.max(0.0)).sum();
                let index = if total > 0.0 {
                    let mut pick = rand::random::<f64>() * total;
                    candidates
                        .iter()
                        .position(|(w, _)| {
                            pick -= w.max(0.0);
                            pick < 0.0
                        })
                        .unwrap_or(candidates.len() - 1)
                } else {
                    0
                };
                targets.push(candidates.remove(index).1);
            }
            for fallback in ask.fallbacks {
                if let Ok(target) = routing::resolve(fallback, providers, catalog) {
                    targets.push(target);
                }
            }
            let local_only = routing_state.local_only();
            targets.retain(|t| !local_only || t.provider.is_local);
            if targets.is_empty() {
                routing::plan(ask, providers, catalog, routing_state)?
            } else {
                Plan { class: None, targets }
            }
        }
    } else {
        routing::plan(ask, providers, catalog, routing_state)?
    };
    filter(entry, &mut plan, now)?;
    Ok(plan)
}

/// Keeps the targets the key allows whose config has room; refuses when none is left, saying
/// why: a limit (with when it resets) or a provider or model the key does not allow.
fn filter(entry: &Arc<KeyEntry>, plan: &mut Plan, now: i64) -> Result<(), ApiError> {
    let key = &entry.spec;
    let mut blocked_by_limit = None;
    let first = plan.targets.first().map(|t| (t.provider.name.clone(), t.model.clone()));
    plan.targets.retain(|target| {
        let Some((config, meters)) = entry.configs().find(|(c, _)| c.provider == target.provider.name) else {
            return key.allow_all_providers;
        };
        if !config.allows_model(&target.model) {
            return false;
        }
        match meters.blocked(now) {
            Some(limit) => {
                blocked_by_limit.get_or_insert((config.provider.clone(), limit));
                false
            }
            None => true,
        }
    });
    if !plan.targets.is_empty() {
        return Ok(());
    }
    if let Some((provider, (kind, exhausted))) = blocked_by_limit {
        return Err(limit_error(&key.id, Some(&provider), kind, exhausted, now));
    }
    let (code, message) = match first {
        Some((provider, model)) if entry.configs().any(|(c, _)| c.provider == provider) => (
            "model_blocked",
            format!("model `{model}` of provider `{provider}` is not allowed for virtual key `{}`", key.id),
        ),
        Some((provider, _)) => {
            ("provider_blocked", format!("provider `{provider}` is not allowed for virtual key `{}`", key.id))
        }
        None => ("model_blocked", format!("no model this request could use is allowed for virtual key `{}`", key.id)),
    };
    Err(ApiError::Governance { status: StatusCode::FORBIDDEN, code, message, retry_after: None })
}
