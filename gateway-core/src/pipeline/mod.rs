//! Serving a request upstream: its attempts in order, each one either passthrough or translated.
//! On the passthrough path the client and the upstream speak the same format, so the body goes
//! upstream as the client's own bytes (only `model` rewritten) and the answer comes back as the
//! upstream's own bytes, streamed as they arrive. When the formats differ (an Anthropic client,
//! an OpenAI-compatible model), `translate` maps the request and then the answer, event by event.

pub mod body;
pub mod relay;
pub mod sse;
pub mod upstream;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use tokio::time::Instant;

use self::body::{BodyEdits, TopLevel};
use self::relay::SseRelay;
use self::sse::SseScanner;
use crate::error::ApiError;
use crate::observe::{Outcome, PendingRecord};
use crate::routing::{self, Target};
use crate::state::AppState;
use crate::translate::relay::TranslatingRelay;
use crate::translate::{self, Mapper, RequestContext, StreamTranslator};
use crate::transport::{TransportError, UpstreamBody};
use crate::usage::attribution;
use crate::wire::{AnthropicUsage, ApiFamily, Endpoint, OpenAiUsage, ResponsesUsage, Usage, WireFormat};

/// A whole (non-streamed) upstream answer is read up to this size.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Upstream response headers worth passing on to the client.
const FORWARDED_HEADERS: [&str; 4] = ["x-request-id", "openai-processing-ms", "openai-version", "retry-after"];

pub static PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
pub static MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");
pub static ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");
/// Picks a task class for a request that names a concrete model (or none).
pub static TASK_HEADER: HeaderName = HeaderName::from_static("x-switchyard-task");

/// Serves one inference request on the passthrough path.
pub async fn forward(
    state: AppState,
    family: ApiFamily,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    forward_with(state, family, endpoint, parts, body, None).await
}

/// What an API that names the model in its path (Gemini) says there instead of in the body.
#[derive(Clone, Debug)]
pub struct FromPath {
    pub model: String,
    pub stream: bool,
}

/// [`forward`], with the model and the stream flag taken from the path when `from_path` is set.
pub async fn forward_with(
    state: AppState,
    family: ApiFamily,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: Body,
    from_path: Option<FromPath>,
) -> Response {
    let headers = parts.headers;
    let mut record = PendingRecord::new(state.observer(), family, endpoint.as_str());
    if let Some(cap) = state.usage().body_cap() {
        record.keep_bodies(cap);
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let caller = attribution::identify(&headers, peer).await;
    record.update(|r| {
        r.user_agent = caller.user_agent;
        r.client = caller.client;
        r.session_id = caller.session_id;
    });
    match attempt(&state, endpoint, &headers, body, from_path, &mut record).await {
        Ok(Answer::Whole { status, headers, body, usage }) => {
            record.update(|r| r.usage = usage);
            record.capture_response(&body);
            record.finish(status.as_u16(), Outcome::Success);
            response(status, headers, Body::from(body))
        }
        Ok(Answer::Stream { status, headers, upstream, first, scanner: _, target, translator: Some(translator) }) => {
            let relay = TranslatingRelay::new(
                upstream,
                first,
                translator,
                target.provider.stream_idle_timeout,
                family,
                target.provider.name.clone(),
                record,
            );
            response(status, headers, Body::from_stream(relay))
        }
        Ok(Answer::Stream { status, headers, upstream, first, scanner, target, translator: None }) => {
            let relay = SseRelay::new(
                upstream,
                first,
                scanner,
                target.provider.stream_idle_timeout,
                family,
                target.provider.name.clone(),
                record,
            );
            response(status, headers, Body::from_stream(relay))
        }
        Err(error) => {
            record.finish(error.status_code().as_u16(), Outcome::Error(error.kind()));
            error.into_response_for(family)
        }
    }
}

/// A response with the answer's headers as they are (axum's tuple form would copy them into a
/// new map).
fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
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
        upstream: futures_util::stream::BoxStream<'static, Result<Bytes, TransportError>>,
        first: Bytes,
        scanner: SseScanner,
        target: Target,
        /// Set when the answer is translated to the client's format.
        translator: Option<Box<dyn StreamTranslator>>,
    },
}

/// Reads the request, plans its attempts and tries them in order: retries on the same provider
/// (next key, backoff, `Retry-After`), then the next target. A failure falls back only before
/// anything reached the client: a stream is handed over only once its first chunk arrived.
async fn attempt(
    state: &AppState,
    endpoint: Endpoint,
    client_headers: &HeaderMap,
    body: Body,
    from_path: Option<FromPath>,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    let bytes = read_body(body, client_headers, state.max_body_bytes()).await?;
    record.capture_request(&bytes);
    let top = TopLevel::parse(&bytes)?;
    let (requested, stream) = match from_path {
        Some(path) => (std::borrow::Cow::Owned(path.model), path.stream),
        None => (top.required_str("model")?, endpoint.streams() && top.flag("stream")?),
    };
    let fallbacks = top.string_list("fallbacks")?;
    let class_header = client_headers.get(&TASK_HEADER).and_then(|v| v.to_str().ok());
    record.update(|r| {
        r.requested_model = Some(requested.to_string());
        r.stream = stream;
    });

    let providers = state.providers();
    let explicit = requested.split_once('/').is_some_and(|(prefix, _)| providers.get(prefix).is_some());
    if !explicit || !fallbacks.is_empty() {
        state.ensure_catalog().await;
    }
    let ask = routing::Ask { model: &requested, class_header, fallbacks: &fallbacks };
    let plan = routing::plan(&ask, &providers, &state.catalog().snapshot(), state.routing())?;
    let cloud_reference = plan.class.as_deref().and_then(|c| routing::cloud_reference(c, &providers, state.routing()));
    record.update(|r| {
        r.class = plan.class.clone();
        r.cloud_reference = cloud_reference;
    });

    let mut attempts = 0u32;
    let mut last_error = None;
    let total_targets = plan.targets.len();
    for (position, target) in plan.targets.into_iter().enumerate() {
        let provider = target.provider.clone();
        // An open breaker skips the provider, unless it is the last hope.
        if !provider.breaker.allows() && position + 1 < total_targets {
            tracing::debug!(provider = %provider.name, "circuit open; skipping");
            continue;
        }
        let mut key_changes_left = provider.key_count().saturating_sub(1);
        let mut retries_left = provider.max_retries;
        loop {
            attempts += 1;
            record.update(|r| {
                r.provider = Some(provider.name.clone());
                r.upstream_model = Some(target.model.clone());
                r.provider_local = provider.is_local;
                r.attempts = attempts;
            });
            let request = Attempt { endpoint, client_headers, bytes: &bytes, top: &top, requested: &requested, stream };
            match attempt_once(state, &request, &target, record).await {
                Ok(mut answer) => {
                    provider.breaker.record_success();
                    answer.set_attempts(attempts);
                    return Ok(answer);
                }
                Err(error) => {
                    let status = error.status_code();
                    let key_problem =
                        matches!(status.as_u16(), 401 | 403 | 429) && matches!(error, ApiError::Upstream(_));
                    if error.is_retryable() {
                        provider.breaker.record_failure();
                    }
                    if !error.is_retryable() && !key_problem {
                        return Err(error);
                    }
                    let wait = backoff(&error, provider.max_retries - retries_left);
                    last_error = Some(error);
                    if key_problem && key_changes_left > 0 {
                        // The next call of `next_key` gives the provider's next key.
                        key_changes_left -= 1;
                        continue;
                    }
                    if !matches!(status.as_u16(), 401 | 403) && retries_left > 0 && wait.is_some() {
                        retries_left -= 1;
                        if let Some(wait) = wait {
                            tokio::time::sleep(wait).await;
                        }
                        continue;
                    }
                    if matches!(status.as_u16(), 401 | 403) {
                        // A key the provider refuses is not a reason to try another provider.
                        return Err(last_error.unwrap_or(ApiError::Internal("no attempt was made".into())));
                    }
                    break;
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| ApiError::NoModelForClass { message: "every target is unavailable".into() }))
}

/// How long to wait before retrying after `error`: `Retry-After` when the upstream sent one (up to
/// `MAX_RETRY_WAIT`; longer means "try elsewhere", `None`), else exponential backoff with jitter.
fn backoff(error: &ApiError, retry: u32) -> Option<Duration> {
    if let ApiError::Upstream(failure) = error
        && let Some(value) = &failure.retry_after
    {
        let seconds = value.to_str().ok().and_then(|v| v.trim().parse::<f64>().ok())?;
        let wait = Duration::from_secs_f64(seconds.max(0.0));
        return (wait <= MAX_RETRY_WAIT).then_some(wait);
    }
    let base = 100u64.saturating_mul(1 << retry.min(6));
    let jitter = rand::random_range(0..=base / 2);
    Some(Duration::from_millis(base + jitter))
}

const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// What every attempt of one request shares.
struct Attempt<'a> {
    endpoint: Endpoint,
    client_headers: &'a HeaderMap,
    bytes: &'a Bytes,
    top: &'a TopLevel<'a>,
    requested: &'a str,
    stream: bool,
}

/// One request to one target.
async fn attempt_once(
    state: &AppState,
    request: &Attempt<'_>,
    target: &Target,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    let Attempt { endpoint, client_headers, bytes, top, requested, stream } = *request;
    let provider = &target.provider;
    // The last line of local-only mode: whatever routing decided, nothing goes to the cloud.
    if state.routing().local_only() && !provider.is_local {
        state.routing().note_cloud_attempt();
        return Err(ApiError::LocalOnly {
            message: format!("local-only mode is on; provider `{}` is not local", provider.name),
        });
    }
    let translating = !provider.speaks_natively(endpoint);
    let (upstream_endpoint, upstream_body, mapper, strip_usage) = if !translating {
        let strip_usage =
            stream && provider.stream_usage && endpoint.wire_format() == WireFormat::OpenAi && !top.asks_stream_usage();
        let edits = BodyEdits {
            model: (target.model != requested).then_some(target.model.as_str()),
            force_stream_usage: strip_usage,
            remove: if top.get("fallbacks").is_some() { &["fallbacks"] } else { &[] },
            max_tokens_cap: provider.max_output_tokens,
        };
        (endpoint, top.rewrite(bytes, &edits), None, strip_usage)
    } else if matches!(endpoint, Endpoint::CountTokens | Endpoint::GeminiCountTokens) {
        // Only Anthropic counts Anthropic tokens, and only Google Gemini's: for other providers,
        // a documented estimate. Counting is not consumption: no usage is recorded.
        let answer = if endpoint == Endpoint::GeminiCountTokens {
            serde_json::json!({ "totalTokens": translate::estimate_gemini_tokens(bytes)? })
        } else {
            serde_json::json!({ "input_tokens": translate::estimate_input_tokens(bytes)? })
        };
        let body = Bytes::from(answer.to_string());
        let mut headers = response_headers(&HeaderMap::new(), target);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(Answer::Whole { status: StatusCode::OK, headers, body, usage: None });
    } else {
        let context = RequestContext {
            requested_model: requested,
            upstream_model: &target.model,
            stream,
            max_output_tokens: provider.max_output_tokens,
            upstream: provider.api.wire_format(),
        };
        let plan = translate::request(endpoint, bytes, &context)?;
        (plan.endpoint, plan.body, Some(plan.mapper), false)
    };
    let unsupported = || ApiError::UnsupportedEndpoint { provider: provider.name.clone(), endpoint: endpoint.as_str() };
    let url = provider.endpoint_url(upstream_endpoint).ok_or_else(unsupported)?;
    let model_url;
    let (url, uri) = if provider.api.wire_format() == WireFormat::Gemini {
        // Gemini names the model in the path.
        model_url = crate::providers::gemini::model_url(url, &target.model, upstream_endpoint, stream)
            .ok_or_else(unsupported)?;
        (&model_url, None)
    } else {
        (url, provider.endpoint_uri(upstream_endpoint))
    };

    let mut upstream_headers = provider.api.protocol_headers((!translating).then_some(client_headers));
    upstream_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    upstream_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if stream { "text/event-stream" } else { "application/json" }),
    );
    for (name, value) in &provider.extra_headers {
        upstream_headers.insert(name, value.clone());
    }
    if let Some(key) = provider.next_key() {
        provider.api.authorize(&mut upstream_headers, key);
    }

    let first_byte_deadline = Instant::now() + provider.first_byte_timeout;
    let deadline = Instant::now() + provider.timeout;
    let sent = Instant::now();
    let send = state.upstream().post(url, uri, upstream_headers, upstream_body);
    let response = match tokio::time::timeout_at(first_byte_deadline, send).await {
        Err(_) => {
            return Err(ApiError::UpstreamTimeout {
                provider: provider.name.clone(),
                after: provider.first_byte_timeout,
            });
        }
        Ok(Err(err)) => return Err(upstream::transport_error(provider, &err, provider.timeout)),
        Ok(Ok(response)) => response,
    };
    if !response.status().is_success() {
        return Err(upstream::error_from_response(provider, response).await);
    }
    let status = response.status();
    let mut headers = response_headers(response.headers(), target);
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));

    if stream && is_sse {
        let mut upstream = response.into_body().into_data_stream().boxed();
        // Wait for the first chunk before answering: until then a failure is still a plain
        // error response, and a reason to fall back.
        let first = match tokio::time::timeout_at(first_byte_deadline, upstream.next()).await {
            Err(_) => {
                return Err(ApiError::UpstreamTimeout {
                    provider: provider.name.clone(),
                    after: provider.first_byte_timeout,
                });
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
                    detail: format!("the stream broke off before its first byte: {err}"),
                });
            }
            Ok(Some(Ok(first))) => first,
        };
        record.mark_first_byte();
        record.update(|r| r.upstream_time = Some(sent.elapsed()));
        // On passthrough the upstream speaks the client's format (scanned only then).
        let scanner = SseScanner::for_format(endpoint.wire_format(), strip_usage);
        let translator = mapper.as_ref().map(Mapper::stream);
        return Ok(Answer::Stream { status, headers, upstream, first, scanner, target: target.clone(), translator });
    }

    let body = match tokio::time::timeout_at(deadline, read_response(response)).await {
        Err(_) => return Err(ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.timeout }),
        Ok(Err(detail)) => return Err(ApiError::UpstreamProtocol { provider: provider.name.clone(), detail }),
        Ok(Ok(body)) => body,
    };
    record.mark_first_byte();
    record.update(|r| r.upstream_time = Some(sent.elapsed()));
    let invalid = |detail| ApiError::UpstreamProtocol { provider: provider.name.clone(), detail };
    if let Some(mapper) = mapper {
        if is_sse {
            return Err(invalid("a stream came back for a request that did not ask for one".into()));
        }
        let (body, usage) = mapper.whole(&body).map_err(invalid)?;
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(Answer::Whole { status, headers, body, usage });
    }
    let usage = if is_sse {
        // The client did not ask for a stream but the upstream sent one anyway: pass it on.
        None
    } else {
        whole_usage(&body, endpoint.wire_format()).map_err(invalid)?
    };
    Ok(Answer::Whole { status, headers, body, usage })
}

impl Answer {
    fn set_attempts(&mut self, attempts: u32) {
        let headers = match self {
            Answer::Whole { headers, .. } | Answer::Stream { headers, .. } => headers,
        };
        headers.insert(ATTEMPTS_HEADER.clone(), HeaderValue::from(attempts));
    }
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

async fn read_response(response: http::Response<UpstreamBody>) -> Result<Bytes, String> {
    if response.body().size_hint().exact().is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
        return Err(format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"));
    }
    let mut stream = response.into_body().into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the response broke off: {e}"))?;
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Validates a whole JSON answer and reads its usage, skipping everything else.
fn whole_usage(body: &[u8], format: WireFormat) -> Result<Option<Usage>, String> {
    #[derive(Deserialize)]
    struct Whole<U> {
        usage: Option<U>,
    }
    let invalid = |e: serde_json::Error| format!("the response is not valid JSON: {e}");
    Ok(match format {
        WireFormat::OpenAi => {
            let whole: Whole<OpenAiUsage> = serde_json::from_slice(body).map_err(invalid)?;
            whole.usage.as_ref().map(Usage::from_openai)
        }
        WireFormat::Anthropic => {
            let whole: Whole<AnthropicUsage> = serde_json::from_slice(body).map_err(invalid)?;
            whole.usage.map(|u| u.to_usage())
        }
        WireFormat::Gemini => crate::translate::gemini_whole_usage(body)?,
        WireFormat::Responses => {
            let whole: Whole<ResponsesUsage> = serde_json::from_slice(body).map_err(invalid)?;
            whole.usage.as_ref().map(Usage::from_responses)
        }
    })
}

fn response_headers(upstream: &HeaderMap, target: &Target) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8);
    // One pass over the upstream's headers (names are already lowercase and valid).
    for (name, value) in upstream {
        let wanted = *name == header::CONTENT_TYPE
            || FORWARDED_HEADERS.contains(&name.as_str())
            || name.as_str().starts_with("x-ratelimit-");
        if wanted {
            headers.insert(name.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&target.provider.name) {
        headers.insert(PROVIDER_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&target.model) {
        headers.insert(MODEL_HEADER.clone(), value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers
}
