//! Ollama's discovery endpoints (`GET /api/tags`, `GET /api/version`), answered only when
//! [`MockOptions::ollama`](crate::MockOptions::ollama) is set; Ollama's OpenAI-compatible `/v1`
//! surface is the OpenAI module's.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use crate::errors::{Family, error_response};
use crate::server::App;
use crate::stream::json_value;

/// `GET /api/tags`
pub(crate) async fn tags(State(app): State<App>) -> Response {
    if !app.options().ollama {
        return disabled();
    }
    let models: Vec<Value> = app
        .options()
        .model_ids()
        .iter()
        .map(|id| json!({"name": id, "model": id, "size": 1, "details": {"family": "mock"}}))
        .collect();
    json_value(&json!({"models": models}))
}

/// `GET /api/version`
pub(crate) async fn version(State(app): State<App>) -> Response {
    if !app.options().ollama {
        return disabled();
    }
    json_value(&json!({"version": "0.12.0"}))
}

fn disabled() -> Response {
    error_response(
        Family::OpenAi,
        StatusCode::NOT_FOUND,
        "switchyard-mock: Ollama endpoints are off (MockOptions::ollama)",
    )
}
