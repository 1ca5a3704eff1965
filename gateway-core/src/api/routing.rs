//! `/api/task-classes` and `/api/local-only`: what the tray's pickers and switch change.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::admin_error::{AdminResult, admin as fail};
use crate::config::{CacheMode, ChainEntry, TaskClassConfig};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/task-classes", get(list_classes))
        .route("/task-classes/{name}", get(get_class).put(put_class).delete(reset_class))
        .route("/local-only", get(get_local_only).put(put_local_only))
}

fn class_view(state: &AppState, name: &str, class: &TaskClassConfig) -> Value {
    let resolved = state.routing().resolved();
    let resolution = resolved.classes.get(name);
    let local_only = state.routing().local_only();
    let active = resolution.and_then(|r| if local_only { r.local.first() } else { r.chain.first() });
    json!({
        "name": name,
        "description": class.description,
        "chain": class.chain,
        "local": class.local,
        "cache": class.cache,
        "model": active.map(|e| e.qualified()),
        "resolved": resolution,
    })
}

async fn list_classes(State(state): State<AppState>) -> Json<Value> {
    state.ensure_catalog().await;
    let classes = state.routing().classes();
    let list: Vec<Value> = classes.iter().map(|(name, class)| class_view(&state, name, class)).collect();
    Json(json!({
        "local_only": state.routing().local_only(),
        "state_file_problem": state.routing().state_file_problem(),
        "classes": list,
    }))
}

async fn get_class(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    state.ensure_catalog().await;
    let classes = state.routing().classes();
    let class =
        classes.get(&name).ok_or_else(|| fail(ApiError::NotFound { message: format!("no task class `{name}`") }))?;
    Ok(Json(class_view(&state, &name, class)))
}

/// Either a whole definition (`{"chain": [...], "local": [...]}`) or `{"model": "provider/model"}`,
/// which makes that model the primary and keeps the rest of the chain as fallbacks (what picking a
/// model in the tray does). `{"local_model": ...}` does the same for the local chain.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassUpdate {
    model: Option<String>,
    local_model: Option<String>,
    description: Option<String>,
    chain: Option<Vec<ChainEntry>>,
    local: Option<Vec<ChainEntry>>,
    /// The class's response cache mode; `null` follows `[cache] mode` again.
    #[serde(default, deserialize_with = "present")]
    cache: Option<Option<CacheMode>>,
}

/// A member that is present, `null` included (absent stays `None` through `default`).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<CacheMode>>, D::Error> {
    Option::<CacheMode>::deserialize(deserializer).map(Some)
}

async fn put_class(State(state): State<AppState>, Path(name): Path<String>, body: Bytes) -> AdminResult {
    if name.is_empty() || name.contains('/') || name.contains(':') {
        return Err(fail(ApiError::invalid("a class name must not contain `/` or `:`")));
    }
    let update: ClassUpdate =
        serde_json::from_slice(&body).map_err(|err| fail(ApiError::invalid(format!("invalid task class: {err}"))))?;
    let mut class = state.routing().classes().get(&name).cloned().unwrap_or_default();
    if let Some(chain) = update.chain {
        class.chain = chain;
    }
    if let Some(local) = update.local {
        class.local = local;
    }
    if let Some(description) = update.description {
        class.description = Some(description);
    }
    if let Some(cache) = update.cache {
        class.cache = cache;
    }
    if let Some(model) = update.model {
        promote(&mut class.chain, model);
    }
    if let Some(model) = update.local_model {
        promote(&mut class.local, model);
    }
    for entry in class.chain.iter().chain(&class.local) {
        if !entry.pattern().contains('/') {
            return Err(fail(ApiError::invalid(format!("`{}` must be `provider/model`", entry.pattern()))));
        }
    }
    state.routing().set_class(&name, class.clone()).map_err(|err| fail(ApiError::Internal(err.to_string())))?;
    state.reresolve_classes();
    Ok(Json(class_view(&state, &name, &class)))
}

/// Puts `model` first, removing it from later positions.
fn promote(chain: &mut Vec<ChainEntry>, model: String) {
    chain.retain(|entry| entry.pattern() != model);
    chain.insert(0, ChainEntry::Plain(model));
}

async fn reset_class(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    let config = &state.inner().config;
    state.routing().reset_class(&name, config).map_err(|err| fail(ApiError::Internal(err.to_string())))?;
    state.reresolve_classes();
    let classes = state.routing().classes();
    Ok(Json(match classes.get(&name) {
        Some(class) => class_view(&state, &name, class),
        None => json!({ "name": name, "deleted": true }),
    }))
}

fn local_only_view(state: &AppState) -> Value {
    let providers = state.providers();
    let catalog = state.catalog().snapshot();
    let local: Vec<Value> = providers
        .iter()
        .filter(|p| p.is_local)
        .map(|p| {
            let models = catalog.providers.get(&p.name);
            json!({
                "provider": p.name,
                "healthy": models.is_some_and(|m| !m.stale && !m.models.is_empty()),
                "models": models.map(|m| m.models.len()).unwrap_or(0),
            })
        })
        .collect();
    json!({
        "enabled": state.routing().local_only(),
        // Forced by `--local` or the config: the API cannot turn it off.
        "forced": state.inner().config.routing.local_only,
        "cloud_attempts_while_local": state.routing().cloud_attempts_while_local(),
        // Set when the state file could not be read at start (local-only was turned on for it).
        "state_file_problem": state.routing().state_file_problem(),
        "local_providers": local,
    })
}

async fn get_local_only(State(state): State<AppState>) -> Json<Value> {
    Json(local_only_view(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalOnlyUpdate {
    enabled: bool,
    /// Turn it on even when no local server answers.
    #[serde(default)]
    force: bool,
}

/// The managed local servers (LaunchAgents / systemd user units) as the service manager and a
/// health probe see them now: `(name, loaded, healthy, what to tell the user)`.
async fn managed_servers(state: &AppState) -> Vec<(String, bool, bool, String)> {
    let Ok(servers) = state.inner().local_servers.clone() else { return Vec::new() };
    let list = tokio::task::spawn_blocking(move || servers.list()).await.unwrap_or_default();
    list.into_iter()
        .filter(|s| s.enabled || s.installed)
        .map(|s| {
            let name = s.name.to_string();
            let said = if !s.loaded {
                format!("{name} is not loaded ({})", s.label)
            } else if !s.health.ok {
                format!(
                    "{name} is loaded but {} does not answer ({})",
                    s.health.url,
                    s.health.error.as_deref().unwrap_or("no answer")
                )
            } else {
                format!("{name} is loaded and healthy")
            };
            (name, s.loaded, s.health.ok, said)
        })
        .collect()
}

/// Turning local-only on first checks, with a fresh look rather than the cached catalog, that
/// a local model is there to serve: a managed server loaded in the service manager and healthy,
/// or any local provider listing models (an Ollama.app or a server started by hand). It refuses
/// with what it found when nothing is, unless `force`.
async fn put_local_only(State(state): State<AppState>, body: Bytes) -> AdminResult {
    let update: LocalOnlyUpdate = serde_json::from_slice(&body).map_err(|err| {
        fail(ApiError::invalid(format!("expected {{\"enabled\": true|false, \"force\"?: bool}}: {err}")))
    })?;
    if !update.enabled && state.inner().config.routing.local_only {
        return Err(fail(ApiError::Conflict {
            message: "local-only mode was forced at start (`--local` or `[routing] local_only = true` in the config) and stays on until the gateway restarts without it".into(),
        }));
    }
    if update.enabled && !update.force {
        let managed = managed_servers(&state).await;
        crate::discovery::add_local_servers(&state).await;
        state.refresh_catalog().await;
        let view = local_only_view(&state);
        let provider_up = view["local_providers"].as_array().is_some_and(|l| l.iter().any(|p| p["healthy"] == true));
        let managed_up = managed.iter().any(|(_, loaded, healthy, _)| *loaded && *healthy);
        if !provider_up && !managed_up {
            let found = if managed.is_empty() {
                "no local server is managed or answering".to_owned()
            } else {
                managed.iter().map(|(.., said)| said.as_str()).collect::<Vec<_>>().join("; ")
            };
            return Err(fail(ApiError::LocalServer {
                status: StatusCode::CONFLICT,
                code: "no_local_server",
                message: format!(
                    "local-only mode needs a running local server with at least one model, and {found} (start one: POST /api/local-servers/vllm-mlx/start); send {{\"enabled\": true, \"force\": true}} to turn it on anyway"
                ),
            }));
        }
    }
    state.routing().set_local_only(update.enabled).map_err(|err| fail(ApiError::Internal(err.to_string())))?;
    // MCP servers off this machine disconnect (or connect again) with it.
    state.mcp().set_local_only(update.enabled);
    state.reresolve_classes();
    tracing::info!(enabled = update.enabled, "local-only mode changed");
    Ok(Json(local_only_view(&state)))
}
