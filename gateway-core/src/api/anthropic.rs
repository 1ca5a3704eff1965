//! The Anthropic Messages API: `/v1/messages` and `/v1/messages/count_tokens` (any query string,
//! e.g. Claude Code's `?beta=true`), the same under `/anthropic/v1/…`, and the model list in
//! Anthropic's shape (for `GET /v1/models` with an `anthropic-version` header, and
//! `/anthropic/v1/models`). Client keys (`x-api-key`, `Authorization`) are ignored: the gateway
//! uses its own provider keys. Errors use Anthropic's shape.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use crate::pipeline;
use crate::state::AppState;
use crate::wire::{ApiFamily, Endpoint};

/// `created_at` of listed models: the gateway does not know when a model was made.
const CREATED_AT: &str = "1970-01-01T00:00:00Z";

pub async fn messages(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::Anthropic, Endpoint::Messages, parts, body).await
}

pub async fn count_tokens(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::Anthropic, Endpoint::CountTokens, parts, body).await
}

/// Every provider's models as `provider/model`, in Anthropic's list shape.
pub async fn models(State(state): State<AppState>, headers: http::HeaderMap, uri: http::Uri) -> Json<Value> {
    state.ensure_catalog().await;
    let catalog = state.catalog().snapshot();
    let key = crate::pipeline::policy::listing_key(&state, &headers, uri.query());
    let ids: Vec<String> = catalog
        .qualified_ids()
        .filter(|(provider, model)| key.as_ref().is_none_or(|k| k.allows(provider, model)))
        .map(|(provider, model)| format!("{provider}/{model}"))
        .collect();
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "type": "model", "id": id, "display_name": id, "created_at": CREATED_AT }))
        .collect();
    Json(json!({ "data": data, "has_more": false, "first_id": ids.first(), "last_id": ids.last() }))
}
