//! The HTTP surface. `router(state)` builds the whole app without a socket, so tests drive it
//! with `oneshot`.
//!
//! Middleware, outermost first (the listener itself sets TCP_NODELAY and serves HTTP/1 and 2,
//! `server`):
//! 1. `guard::GuardLayer`: `Host` must name the gateway, `Origin` must be its own (DNS
//!    rebinding, CSRF) → 403 in the caller's API shape. It covers every route below.
//! 2. On `/mcp` only: `api::mcp::attach_caller`, the calling tool and the virtual key (with
//!    `require_virtual_key`, 401 without one) → JSON-RPC error; then the MCP SDK's own service.
//! 3. On `/api/*` only: `api::session::require_admin`, the admin token (bearer, header or the
//!    dashboard's cookie) → 401 in the admin envelope. `/login` turns a one-time link into the
//!    cookie; `/metrics` and `/health` stay open.
//!
//! Then the route picks the API family and endpoint: the inference routes (`api::openai`,
//! `api::anthropic`, `api::responses`, `api::gemini` with model and stream from the path) hand
//! the request to `pipeline`, whose stages (ingress, policy, plan, tools, cache, attempts, relay,
//! record) are listed and run in order in `pipeline/mod.rs`; the admin and data API
//! (`api::admin`, `api::usage`), `/metrics`, `/health` and the dashboard (`api::ui`) answer
//! here directly. Virtual keys and budgets belong to the pipeline's policy stage, the response
//! cache to its cache stage: both need the caller, the model and the plan, which only the
//! pipeline knows.

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::api::{admin, anthropic, gemini, governance, mcp, openai, responses, session, ui, usage};
use crate::error::ApiError;
use crate::guard;
use crate::state::AppState;
use crate::wire::ApiFamily;

pub fn router(state: AppState) -> Router {
    let openai_routes = || {
        Router::new()
            .route("/chat/completions", post(openai::chat_completions))
            .route("/completions", post(openai::completions))
            .route("/embeddings", post(openai::embeddings))
            .route("/models", get(openai::models))
            .route("/responses", post(responses::create))
    };
    let anthropic_routes = || {
        Router::new()
            .route("/messages", post(anthropic::messages))
            .route("/messages/count_tokens", post(anthropic::count_tokens))
    };
    let gemini_routes = || {
        Router::new()
            .route("/models", get(gemini::models))
            .route("/models/{*rest}", get(gemini::model).post(gemini::call))
    };
    Router::new()
        .route("/", get(ui::index).head(|| async { StatusCode::OK }))
        .route("/assets/{*file}", get(ui::asset))
        .route("/health", get(health))
        .route("/metrics", get(usage::metrics))
        .nest("/v1", openai_routes().merge(anthropic_routes()))
        // MCP: one tool call in Bifrost's shape, and the MCP endpoint itself (its own caller
        // middleware: the calling tool and the virtual key's tool permissions).
        .route("/v1/mcp/tool/execute", post(mcp::execute))
        .merge(mcp::endpoint(&state))
        // Gemini's v1 surface (Google's Python SDK with a custom base URL calls it).
        .route("/v1/models/{*rest}", post(gemini::call))
        .nest("/anthropic/v1", anthropic_routes().route("/models", get(anthropic::models)))
        .nest("/openai/v1", openai_routes())
        .nest("/openai", openai_routes())
        .nest("/v1beta", gemini_routes())
        .nest("/genai/v1beta", gemini_routes())
        .route("/login", get(session::login_link).post(session::login_form))
        .route("/logout", post(session::logout))
        // Authenticated by the virtual key itself, not the admin token (Bifrost's self-service).
        .route("/api/governance/virtual-keys/quota", get(governance::quota))
        .nest(
            "/api",
            admin::router().layer(axum::middleware::from_fn_with_state(state.clone(), session::require_admin)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(guard::GuardLayer::new(state.clone()))
        .with_state(state)
}

async fn health() -> Response {
    // `service` lets a second Switchyard (the menu-bar app) tell its own kind from another program
    // on the port.
    axum::Json(json!({ "status": "ok", "service": "switchyard", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    ApiError::RouteNotFound { method: request.method().to_string(), path: path.clone() }
        .into_response_for(ApiFamily::from_path(&path))
}

async fn method_not_allowed(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let family = ApiFamily::from_path(&path);
    let message = format!("{} is not allowed on {path}", request.method());
    let body = family.error_body(StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", &message, None);
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
