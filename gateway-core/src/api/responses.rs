//! The OpenAI Responses API: `POST /v1/responses` (and under `/openai/v1/`, `/openai/`), what
//! Codex CLI and the SDKs' `responses.create` speak. Providers that serve Responses themselves
//! (kind `openai`) get the client's bytes; every other provider gets it translated
//! (`translate::responses_to_chat`, and on to Anthropic). Errors use OpenAI's envelope.

use axum::extract::{Request, State};
use axum::response::Response;

use crate::pipeline;
use crate::state::AppState;
use crate::wire::{ApiFamily, Endpoint};

pub async fn create(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward(state, ApiFamily::Responses, Endpoint::Responses, parts, body).await
}
