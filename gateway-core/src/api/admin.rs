//! Switchyard's own API under `/api/`: JSON in, JSON out, errors in the OpenAI envelope. The
//! dashboard and the menu-bar app use it; the same-origin guard protects it from web pages.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiFamily;
use crate::config::{KeyRef, ProviderConfig, Secret};
use crate::error::{ApiError, FamilyError};
use crate::providers::{Provider, ProviderKind, ProviderSource};
use crate::state::AppState;

/// What admin handlers return: JSON, or an error in the admin envelope.
pub(crate) type AdminResult = Result<Json<Value>, FamilyError>;

pub(crate) fn admin(error: ApiError) -> FamilyError {
    FamilyError(ApiFamily::Admin, error)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(providers))
        .route("/providers/{name}/key", put(put_key).delete(delete_key))
        .route("/models", get(models))
        .route("/models/refresh", post(refresh_models))
        .merge(super::local_servers::router())
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
    inner.secrets.set(&name, &Secret::new(key)).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    config.keys = vec![KeyRef::Store(name.clone())];
    replace_provider(&state, &name, &config, source)?;
    Ok(Json(json!({ "provider": name, "key": Secret::new(key).masked(), "stored_in": inner.secrets.backend_name() })))
}

/// Removes a provider's key from the secret store; the provider keeps running without a key.
async fn delete_key(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    let Some(existing) = state.providers().get(&name).cloned() else {
        return Err(admin(ApiError::NotFound { message: format!("no provider named `{name}`") }));
    };
    state.inner().secrets.delete(&name).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    let mut config = existing.config.clone();
    config.keys.retain(|key| *key != KeyRef::Store(name.clone()));
    replace_provider(&state, &name, &config, existing.source)?;
    Ok(Json(json!({ "provider": name, "keys": config.keys.iter().map(KeyRef::describe).collect::<Vec<_>>() })))
}

fn replace_provider(
    state: &AppState,
    name: &str,
    config: &ProviderConfig,
    source: ProviderSource,
) -> Result<(), FamilyError> {
    let inner = state.inner();
    let provider = Provider::from_config(name, config, source, inner.env.as_ref(), inner.secrets.as_ref())
        .map_err(|err| admin(ApiError::invalid(err.to_string())))?;
    let provider = Arc::new(provider);
    inner.providers.rcu(|set| set.with(provider.clone()));
    let state = state.clone();
    tokio::spawn(async move { state.refresh_catalog().await });
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
