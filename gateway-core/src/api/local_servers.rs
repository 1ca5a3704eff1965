//! `/api/local-servers`: the local model servers (vllm-mlx, Ollama) as the dashboard and the
//! tray see them: status, start, stop, restart, logs. The work is launchagent's; every call
//! there blocks (launchctl/systemctl, health probes), so it runs on the blocking pool.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use launchagent::{LocalServers, ServerError, ServerErrorKind, ServerName};
use serde::Deserialize;
use serde_json::json;

use crate::api::admin_error::{AdminResult, admin as fail};
use crate::error::{ApiError, FamilyError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/local-servers", get(list))
        .route("/local-servers/{name}", get(status))
        .route("/local-servers/{name}/logs", get(logs))
        .route("/local-servers/{name}/{action}", post(act))
}

fn servers(state: &AppState) -> Result<Arc<LocalServers>, FamilyError> {
    state.inner().local_servers.clone().map_err(|reason| {
        fail(ApiError::LocalServer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "local_servers_unavailable",
            message: format!("local servers cannot be managed here: {reason}"),
        })
    })
}

fn server_name(name: &str) -> Result<ServerName, FamilyError> {
    name.parse().map_err(|_| {
        fail(ApiError::NotFound { message: format!("no local server named `{name}` (known: vllm-mlx, ollama)") })
    })
}

/// launchagent's errors, with a status that says whose fault it is.
fn server_error(error: ServerError) -> FamilyError {
    let (status, code) = match error.kind() {
        ServerErrorKind::UnknownServer => (StatusCode::NOT_FOUND, "unknown_server"),
        ServerErrorKind::NotConfigured | ServerErrorKind::ModelRequired | ServerErrorKind::InvalidSpec => {
            (StatusCode::BAD_REQUEST, "not_configured")
        }
        ServerErrorKind::NotInstalled => (StatusCode::CONFLICT, "not_installed"),
        ServerErrorKind::BinaryNotFound => (StatusCode::UNPROCESSABLE_ENTITY, "binary_not_found"),
        ServerErrorKind::PortConflict => (StatusCode::CONFLICT, "port_conflict"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "service_manager_failed"),
    };
    fail(ApiError::LocalServer { status, code, message: error.to_string() })
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, FamilyError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| fail(ApiError::Internal(err.to_string())))
}

async fn list(State(state): State<AppState>) -> AdminResult {
    let servers = servers(&state)?;
    let backend = servers.backend();
    let statuses = blocking(move || servers.list()).await?;
    Ok(Json(json!({ "backend": backend, "servers": statuses })))
}

async fn status(State(state): State<AppState>, Path(name): Path<String>) -> AdminResult {
    let servers = servers(&state)?;
    let name = server_name(&name)?;
    let status = blocking(move || servers.status(name)).await?;
    Ok(Json(json!(status)))
}

#[derive(Deserialize)]
struct LogQuery {
    lines: Option<usize>,
}

async fn logs(State(state): State<AppState>, Path(name): Path<String>, Query(query): Query<LogQuery>) -> AdminResult {
    let servers = servers(&state)?;
    let name = server_name(&name)?;
    let lines = query.lines.unwrap_or(200).min(5_000);
    let tails = blocking(move || servers.logs(name, lines)).await?.map_err(server_error)?;
    Ok(Json(json!({ "server": name, "logs": tails })))
}

/// `start` (installing the service first when needed), `stop`, `restart`, `install`, `uninstall`.
async fn act(State(state): State<AppState>, Path((name, action)): Path<(String, String)>) -> AdminResult {
    let servers = servers(&state)?;
    let name = server_name(&name)?;
    let outcome = blocking(move || {
        let outcome = match action.as_str() {
            // The first start writes the service definition (plist or unit) too.
            "start" if !servers.definition_path(name).is_file() => servers.install(name).map(|o| json!(o)),
            "start" => servers.start(name).map(|o| json!(o)),
            "install" => servers.install(name).map(|o| json!(o)),
            "stop" => servers.stop(name).map(|()| json!({ "outcome": "stopped" })),
            "restart" => servers.restart(name).map(|()| json!({ "outcome": "restarted" })),
            "uninstall" => servers.uninstall(name).map(|()| json!({ "outcome": "uninstalled" })),
            other => return Err(Err(other.to_owned())),
        };
        match outcome {
            Ok(outcome) => Ok((outcome, servers.status(name))),
            Err(error) => Err(Ok(error)),
        }
    })
    .await?;
    match outcome {
        Ok((outcome, status)) => {
            // A server that just came up is a provider the gateway can use: look again now.
            let task = state.clone();
            state.tasks().spawn_until_stopped(async move {
                crate::discovery::add_local_servers(&task).await;
                task.refresh_catalog().await;
            });
            Ok(Json(json!({ "result": outcome, "status": status })))
        }
        Err(Ok(error)) => Err(server_error(error)),
        Err(Err(action)) => Err(fail(ApiError::RouteNotFound {
            method: "POST".into(),
            path: format!("/api/local-servers/{name}/{action} (actions: start, stop, restart, install, uninstall)"),
        })),
    }
}
