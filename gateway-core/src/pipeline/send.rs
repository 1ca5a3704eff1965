//! One attempt: the request sent to one target and its answer's start read. Everything about
//! the wire is here: the local-only check (the last line of it: whatever routing decided,
//! nothing goes to the cloud), passthrough or translation, the provider's URL and headers,
//! the first-byte and whole-answer deadlines, and the peek at a stream's first chunk (until it
//! arrives a failure is still a plain error response, and a reason to fall back).

use futures_util::StreamExt;
use http::{HeaderValue, header};
use http_body::Body as _;
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::time::Instant;

use super::body::BodyEdits;
use super::ingress::InferenceRequest;
use super::sse::SseScanner;
use super::{Answer, StreamHandler, response_headers, upstream};
use crate::config::Secret;
use crate::error::ApiError;
use crate::observe::PendingRecord;
use crate::routing::Target;
use crate::state::AppState;
use crate::translate::{self, RequestContext};
use crate::transport::UpstreamBody;
use crate::wire::WireFormat;
use crate::wire::{AnthropicUsage, OpenAiUsage, ResponsesUsage, Usage};

/// A whole (non-streamed) upstream answer is read up to this size.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Sends `request` to `target` with `key`; returns the answer, whole or started.
pub async fn send(
    state: &AppState,
    request: &InferenceRequest<'_>,
    target: &Target,
    key: Option<&Secret>,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    let endpoint = request.endpoint;
    let stream = request.stream;
    let provider = &target.provider;
    if state.routing().local_only() && !provider.is_local {
        state.routing().note_cloud_attempt();
        return Err(ApiError::LocalOnly {
            message: format!("local-only mode is on; provider `{}` is not local", provider.name),
        });
    }
    let translating = !provider.speaks_natively(endpoint);
    let (upstream_endpoint, upstream_body, mapper, strip_usage) = if !translating {
        let top = &request.top;
        let strip_usage =
            stream && provider.stream_usage && endpoint.wire_format() == WireFormat::OpenAi && !top.asks_stream_usage();
        let edits = BodyEdits {
            model: (target.model != request.model).then_some(target.model.as_str()),
            force_stream_usage: strip_usage,
            remove: if top.get("fallbacks").is_some() { &["fallbacks"] } else { &[] },
            max_tokens_cap: provider.max_output_tokens,
        };
        (endpoint, top.rewrite(request.body, &edits), None, strip_usage)
    } else {
        let context = RequestContext {
            requested_model: &request.model,
            upstream_model: &target.model,
            stream,
            max_output_tokens: provider.max_output_tokens,
            upstream: provider.api.wire_format(),
        };
        let plan = translate::request(endpoint, request.body, &context)?;
        (plan.endpoint, plan.body, Some(plan.mapper), false)
    };
    let call = provider.call_url(upstream_endpoint, &target.model, stream).ok_or_else(|| {
        ApiError::UnsupportedEndpoint { provider: provider.name.clone(), endpoint: endpoint.as_str() }
    })?;

    let mut upstream_headers = provider.api.protocol_headers((!translating).then_some(request.headers));
    upstream_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    upstream_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if stream { "text/event-stream" } else { "application/json" }),
    );
    for (name, value) in &provider.extra_headers {
        upstream_headers.insert(name, value.clone());
    }
    if let Some(key) = key {
        provider.api.authorize(&mut upstream_headers, key);
    }

    let first_byte_deadline = Instant::now() + provider.first_byte_timeout;
    let deadline = Instant::now() + provider.timeout;
    let sent = Instant::now();
    let send = state.upstream().post(&call.url, call.uri, upstream_headers, upstream_body);
    let first_byte_timeout =
        || ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.first_byte_timeout };
    let response = match tokio::time::timeout_at(first_byte_deadline, send).await {
        Err(_) => return Err(first_byte_timeout()),
        Ok(Err(err)) => return Err(upstream::transport_error(provider, &err, provider.timeout)),
        Ok(Ok(response)) => response,
    };
    if response.status().is_redirection() {
        return Err(upstream::redirect_error(provider, &response));
    }
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
    let invalid = |detail| ApiError::UpstreamProtocol { provider: provider.name.clone(), detail };

    if stream && is_sse {
        let mut upstream = response.into_body().into_data_stream().boxed();
        let first = match tokio::time::timeout_at(first_byte_deadline, upstream.next()).await {
            Err(_) => return Err(first_byte_timeout()),
            Ok(None) => return Err(invalid("the stream ended before its first byte".into())),
            Ok(Some(Err(err))) => return Err(invalid(format!("the stream broke off before its first byte: {err}"))),
            Ok(Some(Ok(first))) => first,
        };
        record.mark_first_byte();
        record.update(|r| r.upstream_time = Some(sent.elapsed()));
        let handler = match &mapper {
            Some(mapper) => StreamHandler::Translate(mapper.stream()),
            // On passthrough the upstream speaks the client's format (scanned only then).
            None => StreamHandler::Passthrough(SseScanner::for_format(endpoint.wire_format(), strip_usage)),
        };
        return Ok(Answer::Stream { status, headers, upstream, first, target: target.clone(), handler });
    }

    let body = match tokio::time::timeout_at(deadline, read_response(response)).await {
        Err(_) => return Err(ApiError::UpstreamTimeout { provider: provider.name.clone(), after: provider.timeout }),
        Ok(Err(detail)) => return Err(invalid(detail)),
        Ok(Ok(body)) => body,
    };
    record.mark_first_byte();
    record.update(|r| r.upstream_time = Some(sent.elapsed()));
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

async fn read_response(response: http::Response<UpstreamBody>) -> Result<bytes::Bytes, String> {
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
