//! The passthrough path: the client and the upstream speak the same format, so the body goes
//! upstream as the client's own bytes (only `model` rewritten) and the answer comes back as the
//! upstream's own bytes, streamed as they arrive.

pub mod body;
pub mod relay;
pub mod sse;
pub mod upstream;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use tokio::time::Instant;

use self::body::{BodyEdits, TopLevel};
use self::relay::SseRelay;
use self::sse::SseScanner;
use crate::api::ApiFamily;
use crate::error::ApiError;
use crate::observe::{OpenAiUsage, Outcome, PendingRecord, Usage};
use crate::providers::Endpoint;
use crate::routing::{self, Target};
use crate::state::AppState;
use crate::usage::attribution;

/// A whole (non-streamed) upstream answer is read up to this size.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Upstream response headers worth passing on to the client.
const FORWARDED_HEADERS: [&str; 4] = ["x-request-id", "openai-processing-ms", "openai-version", "retry-after"];

pub static PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
pub static MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");

/// Serves one inference request on the passthrough path.
pub async fn forward(
    state: AppState,
    family: ApiFamily,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let headers = parts.headers;
    let mut record = PendingRecord::new(state.observer(), family, endpoint.as_str());
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let caller = attribution::identify(&headers, peer).await;
    record.update(|r| {
        r.user_agent = caller.user_agent;
        r.client = caller.client;
        r.session_id = caller.session_id;
    });
    match attempt(&state, endpoint, &headers, body, &mut record).await {
        Ok(Answer::Whole { status, headers, body, usage }) => {
            record.update(|r| r.usage = usage);
            record.finish(status.as_u16(), Outcome::Success);
            (status, headers, body).into_response()
        }
        Ok(Answer::Stream { status, headers, upstream, first, scanner, target }) => {
            let relay = SseRelay::new(
                upstream,
                first,
                scanner,
                target.provider.stream_idle_timeout,
                family,
                target.provider.name.clone(),
                record,
            );
            (status, headers, Body::from_stream(relay)).into_response()
        }
        Err(error) => {
            record.finish(error.status_code().as_u16(), Outcome::Error(error.kind()));
            error.into_response_for(family)
        }
    }
}

enum Answer {
    Whole {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        usage: Option<Usage>,
    },
    Stream {
        status: StatusCode,
        headers: HeaderMap,
        upstream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        first: Bytes,
        scanner: SseScanner,
        target: Target,
    },
}

async fn attempt(
    state: &AppState,
    endpoint: Endpoint,
    client_headers: &HeaderMap,
    body: Body,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    let bytes = read_body(body, client_headers, state.max_body_bytes()).await?;
    let top = TopLevel::parse(&bytes)?;
    let requested = top.required_str("model")?;
    let stream = endpoint.streams() && top.flag("stream")?;
    record.update(|r| {
        r.requested_model = Some(requested.to_string());
        r.stream = stream;
    });

    let providers = state.providers();
    let needs_catalog = requested.split_once('/').is_none_or(|(prefix, _)| providers.get(prefix).is_none());
    if needs_catalog {
        state.ensure_catalog().await;
    }
    let target = routing::resolve(&requested, &providers, &state.catalog().snapshot())?;
    let provider = &target.provider;
    record.update(|r| {
        r.provider = Some(provider.name.clone());
        r.upstream_model = Some(target.model.clone());
        r.provider_local = provider.is_local;
    });
    let url = provider.api.endpoint_url(&provider.base_url, endpoint).ok_or_else(|| ApiError::UnsupportedEndpoint {
        provider: provider.name.clone(),
        endpoint: endpoint.as_str(),
    })?;

    let strip_usage = stream && provider.stream_usage && !top.asks_stream_usage();
    let edits = BodyEdits {
        model: (target.model != *requested).then_some(target.model.as_str()),
        force_stream_usage: strip_usage,
    };
    let upstream_body = top.rewrite(&bytes, &edits);
    drop(top);

    let mut request = state
        .http()
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, if stream { "text/event-stream" } else { "application/json" })
        .headers(provider.extra_headers.clone())
        .body(upstream_body);
    if let Some(key) = provider.next_key() {
        request = provider.api.authorize(request, key);
    }

    let deadline = Instant::now() + provider.timeout;
    let sent = Instant::now();
    record.update(|r| r.attempts += 1);
    let response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.timeout }),
        Ok(Err(err)) => return Err(upstream::transport_error(provider, &err, provider.timeout)),
        Ok(Ok(response)) => response,
    };
    if !response.status().is_success() {
        return Err(upstream::error_from_response(provider, response).await);
    }
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
    let headers = response_headers(response.headers(), &target);
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));

    if stream && is_sse {
        let mut upstream = response.bytes_stream().boxed();
        // Wait for the first chunk before answering: until then a failure is still a plain
        // error response (and, with routing, a reason to fall back).
        let first = match tokio::time::timeout_at(deadline, upstream.next()).await {
            Err(_) => {
                return Err(ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.timeout });
            }
            Ok(None) => {
                return Err(ApiError::UpstreamProtocol {
                    provider: provider.name.clone(),
                    detail: "the stream ended before its first byte".into(),
                });
            }
            Ok(Some(Err(err))) => {
                return Err(ApiError::UpstreamProtocol {
                    provider: provider.name.clone(),
                    detail: format!("the stream broke off before its first byte: {}", upstream::describe(&err)),
                });
            }
            Ok(Some(Ok(first))) => first,
        };
        record.mark_first_byte();
        record.update(|r| r.upstream_time = Some(sent.elapsed()));
        return Ok(Answer::Stream { status, headers, upstream, first, scanner: SseScanner::new(strip_usage), target });
    }

    let body = match tokio::time::timeout_at(deadline, read_response(response)).await {
        Err(_) => return Err(ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.timeout }),
        Ok(Err(detail)) => return Err(ApiError::UpstreamProtocol { provider: provider.name.clone(), detail }),
        Ok(Ok(body)) => body,
    };
    record.mark_first_byte();
    record.update(|r| r.upstream_time = Some(sent.elapsed()));
    let usage = if is_sse {
        // The client did not ask for a stream but the upstream sent one anyway: pass it on.
        None
    } else {
        whole_usage(&body).map_err(|detail| ApiError::UpstreamProtocol { provider: provider.name.clone(), detail })?
    };
    Ok(Answer::Whole { status, headers, body, usage })
}

/// Reads the client's body, refusing more than `limit` bytes (413).
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::BodyTooLarge { limit }),
        Err(err) => Err(ApiError::invalid(format!("could not read the request body: {err}"))),
    }
}

async fn read_response(response: reqwest::Response) -> Result<Bytes, String> {
    if response.content_length().is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
        return Err(format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"));
    }
    let mut stream = response.bytes_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the response broke off: {}", upstream::describe(&e)))?;
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Validates a whole JSON answer and reads its usage, skipping everything else.
fn whole_usage(body: &[u8]) -> Result<Option<Usage>, String> {
    #[derive(Deserialize)]
    struct Whole {
        usage: Option<OpenAiUsage>,
    }
    let whole: Whole = serde_json::from_slice(body).map_err(|e| format!("the response is not valid JSON: {e}"))?;
    Ok(whole.usage.as_ref().map(Usage::from_openai))
}

fn response_headers(upstream: &reqwest::header::HeaderMap, target: &Target) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8);
    if let Some(value) = upstream.get(header::CONTENT_TYPE).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    for name in FORWARDED_HEADERS {
        if let Some(value) = upstream.get(name).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    for (name, value) in upstream {
        if name.as_str().starts_with("x-ratelimit-")
            && let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.insert(name, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&target.provider.name) {
        headers.insert(PROVIDER_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&target.model) {
        headers.insert(MODEL_HEADER.clone(), value);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers
}
