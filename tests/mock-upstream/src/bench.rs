//! The benchmark fast path: Chat Completions for the model named exactly `bench` answer with
//! bodies serialized once at start-up. Only `model`, `stream` and
//! `stream_options.include_usage` are read from the request (the rest is skipped, not built);
//! the configured latency still applies, model-name markers do not.

use std::borrow::Cow;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, header};
use serde::Deserialize;

use crate::answer::{Answer, Reply};
use crate::openai::{chat_completion, chat_frames};
use crate::server::App;
use crate::stream::{EVENT_STREAM, JSON};

/// The model id that selects the fast path.
pub(crate) const MODEL: &str = "bench";
/// The answer text of the fast path.
const TEXT: &str = "Hello from the mock LLM.";

/// Pre-serialized bodies.
pub(crate) struct Bench {
    completion: Bytes,
    stream: Vec<Bytes>,
    stream_with_usage: Vec<Bytes>,
}

impl Bench {
    pub fn new() -> Bench {
        let answer = Answer { reasoning: None, reply: Reply::Text(TEXT.to_owned()), seq: 0 };
        Bench {
            completion: Bytes::from(chat_completion(&answer, MODEL).to_string()),
            stream: chat_frames(&answer, MODEL, 3, false).into_vec(),
            stream_with_usage: chat_frames(&answer, MODEL, 3, true).into_vec(),
        }
    }
}

/// The fields of a chat request the fast path reads.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// The fast-path answer when `body` asks for the `bench` model; `None` otherwise.
pub(crate) async fn chat(app: &App, body: &[u8]) -> Option<Response> {
    // Cheaper than a parse for every other request.
    if !body.windows(MODEL.len() + 2).any(|w| w == b"\"bench\"") {
        return None;
    }
    let head: Head<'_> = serde_json::from_slice(body).ok()?;
    if head.model.as_deref() != Some(MODEL) {
        return None;
    }
    let latency = app.options().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let bench = app.bench();
    let (body, content_type) = if head.stream == Some(true) {
        let include_usage = head.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
        let frames = if include_usage { bench.stream_with_usage.clone() } else { bench.stream.clone() };
        let frames = futures_util::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
        (Body::from_stream(frames), EVENT_STREAM)
    } else {
        (Body::from(bench.completion.clone()), JSON)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-request-id", HeaderValue::from_static("req_mock_bench"));
    Some(response)
}
