//! The OpenAI-shaped inference API: `/v1/…`, and the same under `/openai/…` and `/openai/v1/…`
//! so that `base_url="http://localhost:30080/openai"` works as a drop-in.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::Response;
use http::HeaderMap;
use serde_json::{Value, json};

use crate::pipeline;
use crate::state::AppState;
use crate::wire::{ApiFamily, Endpoint};

pub async fn chat_completions(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::OpenAi, Endpoint::ChatCompletions, parts, body).await
}

pub async fn completions(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::OpenAi, Endpoint::Completions, parts, body).await
}

pub async fn embeddings(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::OpenAi, Endpoint::Embeddings, parts, body).await
}

/// The merged list of every provider's models, ids in `provider/model` form; in Anthropic's
/// shape when the client sends `anthropic-version` (Claude Code's model discovery).
pub async fn models(State(state): State<AppState>, headers: HeaderMap, uri: http::Uri) -> Json<Value> {
    if headers.contains_key("anthropic-version") {
        return super::anthropic::models(State(state), headers, uri).await;
    }
    state.ensure_catalog().await;
    let catalog = state.catalog().snapshot();
    // A virtual key sees only what it may use.
    let key = crate::pipeline::policy::listing_key(&state, &headers, uri.query());
    let mut data: Vec<Value> = catalog
        .qualified_ids()
        .filter(|(provider, model)| key.as_ref().is_none_or(|k| k.allows(provider, model)))
        .map(|(provider, model)| {
            json!({ "id": format!("{provider}/{model}"), "object": "model", "created": 0, "owned_by": provider })
        })
        .collect();
    // Task classes are models too: a tool configured with `coding` follows the class.
    data.extend(
        state
            .routing()
            .resolved()
            .classes
            .keys()
            .map(|class| json!({ "id": class, "object": "model", "created": 0, "owned_by": "switchyard" })),
    );
    Json(json!({ "object": "list", "data": data }))
}
