//! Switchyard's own API under `/api/`: JSON in, JSON out, errors in the OpenAI envelope. The
//! dashboard and the menu-bar app use it; the same-origin guard protects it from web pages.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(providers))
        .route("/models", get(models))
        .route("/models/refresh", post(refresh_models))
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
    Json(json!({ "providers": list }))
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
                })
            })
        })
        .collect();
    json!({ "data": data, "providers": catalog.providers })
}
