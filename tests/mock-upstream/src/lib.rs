//! `switchyard-mock`: a fake LLM provider on loopback.
//!
//! It speaks the wire formats Switchyard fronts — OpenAI Chat Completions / legacy Completions /
//! Embeddings / Responses, Anthropic Messages, Google Gemini (v1beta) and Ollama's discovery
//! endpoints — and its behaviour is chosen by the requested **model name** (the TensorZero "dummy
//! provider" idea): `mock-model` echoes, `tool` calls a tool, `status-429` fails, `hang` never
//! answers, `cut-mid-stream` drops the connection, … See [`behavior`](crate::behavior) for the
//! full list and `README.md` beside this crate for examples.
//!
//! ```no_run
//! # async fn demo() {
//! let mock = switchyard_mock::MockUpstream::start().await;
//! let url = format!("{}/v1/chat/completions", mock.base_url());
//! // … point the gateway at `mock.base_url()`, send requests, then inspect what arrived:
//! let seen = mock.requests();
//! # let _ = (url, seen);
//! # }
//! ```
//!
//! Every request is recorded (method, path and query, headers, exact body bytes) before it is
//! answered, so a test can assert on what the gateway forwarded even when the answer was an
//! error, a hang or a cut connection.

pub mod behavior;

mod answer;
mod anthropic;
mod bench;
mod errors;
mod gemini;
mod ollama;
mod openai;
mod responses;
mod server;
mod stream;

use std::time::Duration;

use bytes::Bytes;

pub use server::MockUpstream;

/// The token counts every response reports, whatever the API family.
pub mod usage {
    /// OpenAI `prompt_tokens`, Anthropic `input_tokens`, Gemini `promptTokenCount`, Responses `input_tokens`.
    pub const PROMPT_TOKENS: u64 = 12;
    /// OpenAI `completion_tokens`, Anthropic `output_tokens`, Gemini `candidatesTokenCount`, Responses `output_tokens`.
    pub const COMPLETION_TOKENS: u64 = 5;
    /// OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`,
    /// Gemini `cachedContentTokenCount`, Responses `input_tokens_details.cached_tokens`.
    pub const CACHED_TOKENS: u64 = 4;
    /// OpenAI `completion_tokens_details.reasoning_tokens`, Responses `output_tokens_details.reasoning_tokens`.
    pub const REASONING_TOKENS: u64 = 2;
    /// Anthropic `cache_creation_input_tokens`, for a model whose name contains `cache-write`.
    pub const CACHE_WRITE_TOKENS: u64 = 3;
    /// `PROMPT_TOKENS + COMPLETION_TOKENS`.
    pub const TOTAL_TOKENS: u64 = PROMPT_TOKENS + COMPLETION_TOKENS;
}

/// How a [`MockUpstream`] behaves beyond what the model name selects.
#[derive(Clone, Debug, Default)]
pub struct MockOptions {
    /// Model ids served by the model-list endpoints (OpenAI, Anthropic, Gemini, Ollama).
    /// Empty means `["mock-model"]`.
    pub models: Vec<String>,
    /// Fixed delay before answering every inference request (not the model lists or `/health`).
    pub latency: Duration,
    /// Also answer Ollama's `GET /api/tags` and `GET /api/version` (otherwise 404).
    pub ollama: bool,
    /// Number of text chunks in a streamed answer; 0 means the default, 3.
    pub stream_chunks: usize,
    /// Do not record requests (for long benchmarks, so memory stays flat).
    /// [`MockUpstream::requests`] then stays empty.
    pub record_disabled: bool,
    /// Answer every POST with `307 Temporary Redirect` to this `Location` (recorded first).
    pub redirect_to: Option<String>,
    /// Answer the first this many model-list GETs (`…/models`, `/api/tags`) with 503.
    pub model_list_failures: usize,
}

impl MockOptions {
    /// The model ids the list endpoints serve.
    pub(crate) fn model_ids(&self) -> Vec<String> {
        if self.models.is_empty() { vec!["mock-model".to_owned()] } else { self.models.clone() }
    }

    /// Text chunks in a default stream (at least 1).
    pub(crate) fn chunks(&self) -> usize {
        if self.stream_chunks == 0 { 3 } else { self.stream_chunks }
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query string, e.g. `/v1/messages?beta=true`.
    pub path_and_query: String,
    /// Every header in arrival order; names are lower-case, values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, or `Value::Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.path_and_query.split_once('?').map_or(self.path_and_query.as_str(), |(p, _)| p)
    }
}
