//! The response cache's admin API, under `/api/cache`:
//! - `GET /api/cache/stats`: the settings in force, entries and bytes, hits by layer and misses
//!   since start, and why the semantic layer is not running if it is not;
//! - `GET /api/cache/config`, `PUT /api/cache/config` (the fields sent change, the others stay;
//!   kept across restarts over the config file's `[cache]`; 400 naming a bad field);
//! - `DELETE /api/cache` (every entry), and Bifrost's `DELETE /api/cache/clear/{id}` (one entry,
//!   by the id a hit answers in `x-switchyard-cache-id`) and `DELETE /api/cache/clear-by-key/{key}`
//!   (the entries stored under an `x-bf-cache-key`).

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::api::admin_error::{AdminResult, admin};
use crate::cache::{CacheError, ResponseCache, SettingsUpdate};
use crate::error::{ApiError, FamilyError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cache", delete(clear_all))
        .route("/cache/stats", get(stats))
        .route("/cache/config", get(config).put(put_config))
        .route("/cache/clear/{id}", delete(clear_id))
        .route("/cache/clear-by-key/{key}", delete(clear_key))
}

fn config_view(cache: &ResponseCache) -> Value {
    let settings = cache.settings();
    json!({
        "mode": settings.mode.as_str(),
        "ttl_secs": settings.ttl_secs,
        // As written (0.85), not as the f32 widens (0.8500000238).
        "threshold": (f64::from(settings.threshold) * 1e6).round() / 1e6,
        "max_bytes": settings.max_bytes,
        "embedding_model": settings.embedding_model,
        "max_conversation_messages": settings.max_conversation_messages,
    })
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    let cache = state.response_cache();
    let settings = cache.settings();
    let counters = cache.counters();
    let mut view = config_view(cache);
    let reason = match (&settings.embedding_model, cache.semantic_off()) {
        (_, Some(reason)) => Some(reason),
        (None, None) => Some("no embedding model is set (`[cache] embedding_model`)".to_owned()),
        (Some(_), None) => None,
    };
    let active = settings.mode != crate::config::CacheMode::Off && reason.is_none();
    if let Some(object) = view.as_object_mut() {
        object.extend([
            (
                "semantic".to_owned(),
                json!({ "active": active && settings.mode == crate::config::CacheMode::Semantic, "reason": reason }),
            ),
            ("entries".to_owned(), json!(cache.entries())),
            ("bytes".to_owned(), json!(cache.stored_bytes())),
            ("hits".to_owned(), json!({ "exact": counters.hits_exact, "semantic": counters.hits_semantic })),
            ("misses".to_owned(), json!(counters.misses)),
            ("dropped_writes".to_owned(), json!(counters.dropped_writes)),
            ("since_ms".to_owned(), json!(cache.started_ms())),
            ("path".to_owned(), json!(cache.path())),
        ]);
    }
    Json(view)
}

async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(config_view(state.response_cache()))
}

async fn put_config(State(state): State<AppState>, body: Bytes) -> AdminResult {
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    let update: SettingsUpdate = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        admin(ApiError::InvalidRequest { message: format!("`{path}`: {}", err.inner()), param: None })
    })?;
    if let Some((field, why)) = update.invalid() {
        return Err(admin(ApiError::InvalidRequest { message: format!("`{field}` {why}"), param: Some(field) }));
    }
    blocking(&state, move |cache| cache.update_settings(&update).map(|_| ())).await?;
    tracing::info!("response cache settings changed");
    Ok(Json(config_view(state.response_cache())))
}

async fn clear_all(State(state): State<AppState>) -> AdminResult {
    let deleted = blocking(&state, ResponseCache::clear).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

async fn clear_id(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    let not_found = || admin(ApiError::NotFound { message: format!("no cache entry `{id}`") });
    let number: i64 = id.parse().map_err(|_| not_found())?;
    if !blocking(&state, move |cache| cache.clear_id(number)).await? {
        return Err(not_found());
    }
    Ok(Json(json!({ "deleted": 1 })))
}

async fn clear_key(State(state): State<AppState>, Path(key): Path<String>) -> AdminResult {
    let deleted = blocking(&state, move |cache| cache.clear_cache_key(&key)).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

/// Runs a cache operation that writes SQLite off the async runtime.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    operation: impl FnOnce(&ResponseCache) -> Result<T, CacheError> + Send + 'static,
) -> Result<T, FamilyError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || operation(state.response_cache()))
        .await
        .map_err(|err| err.to_string())
        .and_then(|result| result.map_err(|err| err.to_string()))
        .map_err(|err| admin(ApiError::Internal(err)))
}
