//! Sending one attempt upstream and turning what comes back into either a live response or an
//! `ApiError` with the upstream's own status and message.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::error::{ApiError, UpstreamFailure};
use crate::providers::Provider;
use crate::transport::{TransportError, UpstreamBody};

/// Upstream error bodies are read up to this size; the rest is not needed for a message.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub fn transport_error(provider: &Provider, err: &TransportError, waited: Duration) -> ApiError {
    if err.is_timeout() {
        return ApiError::UpstreamTimeout { provider: provider.name.clone(), after: waited };
    }
    ApiError::UpstreamUnreachable { provider: provider.name.clone(), detail: err.to_string() }
}

/// A 3xx answer, which is never followed (see [`ApiError::UpstreamRedirect`]).
pub fn redirect_error(provider: &Provider, response: &http::Response<UpstreamBody>) -> ApiError {
    let location = response.headers().get(header::LOCATION).map_or_else(
        || "(no Location header)".to_owned(),
        |value| String::from_utf8_lossy(value.as_bytes()).chars().take(500).collect(),
    );
    ApiError::UpstreamRedirect { provider: provider.name.clone(), status: response.status().as_u16(), location }
}

/// Reads an upstream error response into an `ApiError` carrying its status and message.
pub async fn error_from_response(provider: &Provider, response: http::Response<UpstreamBody>) -> ApiError {
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let body = read_capped(response, MAX_ERROR_BODY, Duration::from_secs(10)).await;
    let (message, error_type, code) = parse_error_body(&body);
    let message = match message {
        Some(message) => format!("{} (from provider `{}`, HTTP {})", message, provider.name, status.as_u16()),
        None => format!("provider `{}` answered HTTP {}", provider.name, status.as_u16()),
    };
    ApiError::Upstream(Box::new(UpstreamFailure {
        provider: provider.name.clone(),
        status: StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        message,
        error_type,
        code,
        retry_after: retry_after.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()),
    }))
}

/// Reads at most `cap` bytes of a body, giving up after `deadline`.
async fn read_capped(response: http::Response<UpstreamBody>, cap: usize, deadline: Duration) -> Bytes {
    let mut buf = Vec::new();
    let mut stream = response.into_body().into_data_stream();
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            let room = cap.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= cap {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(deadline, read).await;
    Bytes::from(buf)
}

/// Finds a message in the error shapes providers use: OpenAI `{"error":{"message","type","code"}}`,
/// `{"error":"text"}`, Anthropic `{"type":"error","error":{…}}`, `{"message":…}`, or plain text.
fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>, Option<Value>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body).trim().chars().take(500).collect::<String>();
        return (Some(text).filter(|t| !t.is_empty()), None, None);
    };
    let error = value.get("error").unwrap_or(&value);
    let message = match error {
        Value::String(text) => Some(text.clone()),
        other => other.get("message").and_then(Value::as_str).map(str::to_owned),
    };
    let error_type = error.get("type").and_then(Value::as_str).map(str::to_owned);
    let code = error.get("code").filter(|c| !c.is_null()).cloned();
    (message, error_type, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shapes() {
        let (m, t, c) =
            parse_error_body(br#"{"error":{"message":"Rate limited","type":"rate_limit_error","code":"rl"}}"#);
        assert_eq!((m.as_deref(), t.as_deref()), (Some("Rate limited"), Some("rate_limit_error")));
        assert_eq!(c, Some(Value::String("rl".into())));
        let (m, _, _) = parse_error_body(br#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#);
        assert_eq!(m.as_deref(), Some("busy"));
        let (m, _, _) = parse_error_body(br#"{"error":"model not loaded"}"#);
        assert_eq!(m.as_deref(), Some("model not loaded"));
        let (m, _, _) = parse_error_body(b"Bad Gateway");
        assert_eq!(m.as_deref(), Some("Bad Gateway"));
        let (m, _, _) = parse_error_body(b"");
        assert!(m.is_none());
    }
}
