//! Switchyard's own API under `/api/`: JSON in, JSON out, errors in the OpenAI envelope. The
//! dashboard and the menu-bar app use it; the same-origin guard protects it from web pages.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::admin_error::{AdminResult, admin};
use crate::config::{KeyRef, ProviderConfig, ProviderKind, Secret};
use crate::error::{ApiError, FamilyError};
use crate::providers::{Provider, ProviderSource};
use crate::routing_state::AddedProvider;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(providers))
        .route("/providers/{name}", put(put_provider).delete(delete_provider))
        .route("/providers/{name}/key", put(put_key).delete(delete_key))
        .route("/models", get(models))
        .route("/models/refresh", post(refresh_models))
        .merge(super::cache::router())
        .merge(super::governance::router())
        .merge(super::local_servers::router())
        .merge(super::mcp::router())
        .merge(super::routing::router())
        .merge(super::usage::router())
}

/// Every provider, with keys shown only as references or masked.
async fn providers(State(state): State<AppState>) -> Json<Value> {
    let providers = state.providers();
    let catalog = state.catalog().snapshot();
    let list: Vec<Value> = providers
        .iter()
        .map(|provider| {
            let models = catalog.providers.get(&provider.name);
            json!({
                "provider": provider.describe(),
                "catalog": models,
            })
        })
        .collect();
    Json(json!({ "providers": list, "secret_store": state.inner().secrets.backend_name() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    key: String,
}

/// Saves a provider's key in the secret store (the Keychain on macOS) and uses it at once. A
/// known cloud provider that does not exist yet is created. The answer shows the key masked.
async fn put_key(State(state): State<AppState>, Path(name): Path<String>, body: Bytes) -> AdminResult {
    let body: KeyBody = serde_json::from_slice(&body)
        .map_err(|err| admin(ApiError::invalid(format!("expected {{\"key\": \"...\"}}: {err}"))))?;
    let key = body.key.trim();
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(admin(ApiError::invalid("the key must be a non-empty single line")));
    }
    let inner = state.inner();
    let existing = state.providers().get(&name).cloned();
    let (mut config, source) = match &existing {
        Some(provider) => (provider.config.clone(), provider.source),
        None if ProviderKind::from_name(&name).is_some_and(|k| k.env_key().is_some()) => {
            (ProviderConfig::default(), ProviderSource::SecretStore)
        }
        None => return Err(admin(ApiError::NotFound { message: format!("no provider named `{name}`") })),
    };
    crate::secrets::set(&inner.secrets, &name, Secret::new(key))
        .await
        .map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    config.keys = vec![KeyRef::Store(name.clone())];
    replace_provider(&state, &name, &config, source).await?;
    Ok(Json(json!({ "provider": name, "key": Secret::new(key).masked(), "stored_in": inner.secrets.backend_name() })))
}

/// What `PUT /api/providers/{name}` takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderBody {
    kind: ProviderKind,
    base_url: String,
    #[serde(default)]
    local: Option<bool>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    /// Goes to the secret store; leave it out to keep the key the provider has.
    #[serde(default)]
    key: Option<String>,
}

/// A provider name as a URL path segment and a model prefix: letters, digits, `-`, `_`, `.`.
fn valid_provider_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Adds a provider, or edits one added this way: any kind, any base URL (a LAN vLLM, a second
/// OpenAI-compatible cloud). Kept in the state file, so it is back after a restart; its key goes
/// to the secret store. A provider declared in the config file is edited there, not here.
async fn put_provider(State(state): State<AppState>, Path(name): Path<String>, body: Bytes) -> AdminResult {
    let body: ProviderBody = serde_json::from_slice(&body).map_err(|err| {
        admin(ApiError::invalid(format!(
            "expected {{\"kind\": \"openai-compatible\", \"base_url\": \"http://…/v1\", \"key\"?: \"…\", \"local\"?: bool, \"max_output_tokens\"?: n}}: {err}"
        )))
    })?;
    if !valid_provider_name(&name) {
        return Err(admin(ApiError::invalid(format!(
            "`{name}` cannot name a provider: use 1 to 64 letters, digits, `-`, `_` or `.`"
        ))));
    }
    let existing = state.providers().get(&name).cloned();
    if let Some(existing) = &existing
        && existing.source == ProviderSource::Config
    {
        return Err(admin(ApiError::Conflict {
            message: format!("provider `{name}` is declared in the config file; edit it there"),
        }));
    }
    let base_url = body.base_url.trim();
    match url::Url::parse(base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => {
            return Err(admin(ApiError::invalid(format!(
                "base_url `{base_url}` is not an http(s) URL (e.g. http://192.168.1.20:8000/v1)"
            ))));
        }
    }
    let inner = state.inner();
    let key = body.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.chars().any(char::is_control)) {
        return Err(admin(ApiError::invalid("the key must be a single line")));
    }
    // A stored key belongs to the endpoint it was given for: when the URL or the kind changes,
    // it is dropped unless this request brings a key again (else whoever edits the URL gets the
    // key sent to it by the next catalog refresh).
    let previous = inner.routing.added_providers().get(&name).cloned();
    let moved = previous.as_ref().is_some_and(|p| p.base_url != base_url || p.kind != body.kind);
    let drop_key = moved && key.is_none() && previous.as_ref().is_some_and(|p| p.has_key);
    let keeps_key = previous.as_ref().is_some_and(|p| p.has_key) && !moved;
    let added = AddedProvider {
        kind: body.kind,
        base_url: base_url.to_owned(),
        local: body.local,
        max_output_tokens: body.max_output_tokens,
        has_key: key.is_some() || keeps_key,
    };
    // Checked (without its key) before anything is stored: a bad base URL changes nothing.
    let mut check = added.config(&name);
    check.keys.clear();
    Provider::from_config(&name, &check, ProviderSource::Api, inner.env.as_ref(), inner.secrets.as_ref())
        .map_err(|err| admin(ApiError::invalid(err.to_string())))?;
    if let Some(key) = key {
        crate::secrets::set(&inner.secrets, &name, Secret::new(key))
            .await
            .map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    } else if drop_key {
        crate::secrets::delete(&inner.secrets, &name)
            .await
            .map_err(|err| admin(ApiError::Internal(err.to_string())))?;
        tracing::info!(provider = %name, "its base_url or kind changed: its stored key was dropped");
    }
    replace_provider(&state, &name, &added.config(&name), ProviderSource::Api).await?;
    inner.routing.set_provider(&name, added.clone()).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    state.reresolve_classes();
    let provider = state.providers().get(&name).map(|p| p.describe());
    Ok(Json(json!({ "provider": provider, "created": existing.is_none(), "key_dropped": drop_key })))
}

/// Removes a provider added through the API, and its key.
async fn delete_provider(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    let inner = state.inner();
    match state.providers().get(&name) {
        None => return Err(admin(ApiError::NotFound { message: format!("no provider named `{name}`") })),
        Some(p) if p.source != ProviderSource::Api => {
            return Err(admin(ApiError::Conflict {
                message: format!("provider `{name}` was not added through the API; remove it where it comes from"),
            }));
        }
        Some(_) => {}
    }
    inner.routing.remove_provider(&name).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    crate::secrets::delete(&inner.secrets, &name).await.map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    inner.providers.rcu(|set| set.without(&name));
    state.reresolve_classes();
    Ok(Json(json!({ "provider": name, "deleted": true })))
}

/// Removes a provider's key from the secret store; the provider keeps running without a key.
async fn delete_key(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    let Some(existing) = state.providers().get(&name).cloned() else {
        return Err(admin(ApiError::NotFound { message: format!("no provider named `{name}`") }));
    };
    crate::secrets::delete(&state.inner().secrets, &name)
        .await
        .map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    let mut config = existing.config.clone();
    config.keys.retain(|key| *key != KeyRef::Store(name.clone()));
    replace_provider(&state, &name, &config, existing.source).await?;
    Ok(Json(json!({ "provider": name, "keys": config.keys.iter().map(KeyRef::describe).collect::<Vec<_>>() })))
}

async fn replace_provider(
    state: &AppState,
    name: &str,
    config: &ProviderConfig,
    source: ProviderSource,
) -> Result<(), FamilyError> {
    let inner = state.inner();
    // The store's entries read off the async workers (a locked keychain may prompt).
    let keys = crate::secrets::prefetch(&inner.secrets, &config.keys)
        .await
        .map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    let provider = Provider::from_config(name, config, source, inner.env.as_ref(), &keys)
        .map_err(|err| admin(ApiError::invalid(err.to_string())))?;
    let provider = Arc::new(provider);
    inner.providers.rcu(|set| set.with(provider.clone()));
    let task = state.clone();
    state.tasks().spawn_until_stopped(async move { task.refresh_catalog().await });
    Ok(())
}

/// The full catalog records.
async fn models(State(state): State<AppState>) -> Json<Value> {
    state.ensure_catalog().await;
    Json(models_body(&state))
}

async fn refresh_models(State(state): State<AppState>) -> Json<Value> {
    state.refresh_catalog().await;
    Json(models_body(&state))
}

fn models_body(state: &AppState) -> Value {
    let providers = state.providers();
    let catalog = state.catalog().snapshot();
    let data: Vec<Value> = catalog
        .providers
        .iter()
        .flat_map(|(name, list)| {
            let local = providers.get(name).is_some_and(|p| p.is_local);
            list.models.iter().map(move |model| {
                json!({
                    "id": format!("{name}/{model}"),
                    "provider": name,
                    "model": model,
                    "local": local,
                    "stale": list.stale,
                    "details": list.details.get(model),
                })
            })
        })
        .collect();
    json!({ "data": data, "providers": catalog.providers })
}
