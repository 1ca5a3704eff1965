//! Errors split by lifecycle, as in Helicone's gateway: `StartupError` before the listener is up
//! (in `server`, since it wraps the config's and the usage log's errors), `ApiError` per request.
//! `ApiError::into_response_for` is the one place a request error becomes an HTTP response, in the
//! caller's API shape; it does not log (the request span does).

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::wire::ApiFamily;

/// A request that could not be served. Messages are written for the caller: they never contain a
/// key, and internal details stay in the logs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest { message: String, param: Option<&'static str> },
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body exceeds the gateway's limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("{message}")]
    ModelNotFound { message: String },
    #[error("{message}")]
    AmbiguousModel { message: String },
    #[error("provider `{provider}` does not serve {endpoint}")]
    UnsupportedEndpoint { provider: String, endpoint: &'static str },
    #[error("{message}")]
    NotFound { message: String },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("Host `{host}` is not allowed: the gateway answers only to its own name (see server.allowed_hosts)")]
    ForbiddenHost { host: String },
    #[error(
        "Origin `{origin}` is not allowed: browsers may call the gateway only from its own pages (see server.allowed_origins)"
    )]
    ForbiddenOrigin { origin: String },
    /// A virtual key's refusal: missing, unknown, inactive, a model it may not use, or a limit
    /// reached (`retry_after` in seconds on rate limits). `code` is Bifrost's error type.
    #[error("{message}")]
    Governance { status: StatusCode, code: &'static str, message: String, retry_after: Option<u64> },
    /// A route that needs a credential the request did not carry (the admin token).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// The connection comes from a process that is not this user's (`server.allow_other_users`).
    #[error("{message}")]
    ForbiddenPeer { message: String },
    #[error(
        "a browser request from another site (Sec-Fetch-Site: {site}) is not allowed: browsers may call the gateway only from its own pages (see server.allowed_origins)"
    )]
    ForbiddenFetchSite { site: String },
    #[error("provider `{provider}` is unreachable: {detail}")]
    UpstreamUnreachable { provider: String, detail: String },
    #[error("provider `{provider}` did not answer within {}s", after.as_secs_f32())]
    UpstreamTimeout { provider: String, after: Duration },
    /// The upstream answered with an error status; boxed to keep `Result`s small.
    #[error("{}", .0.message)]
    Upstream(Box<UpstreamFailure>),
    /// The upstream answered with a redirect. Never followed: the key and the prompt would go to
    /// wherever `Location` points; a provider that moved is fixed in its `base_url`.
    #[error(
        "provider `{provider}` answered HTTP {status} redirecting to `{location}`; redirects are not followed (check its base_url)"
    )]
    UpstreamRedirect { provider: String, status: u16, location: String },
    /// The provider was skipped: its circuit breaker is open after repeated failures.
    #[error("provider `{provider}` was skipped: its circuit breaker is open after repeated failures")]
    CircuitOpen { provider: String },
    #[error("provider `{provider}` sent an invalid response: {detail}")]
    UpstreamProtocol { provider: String, detail: String },
    /// Local-only mode is on and the request cannot be served locally.
    #[error("{message}")]
    LocalOnly { message: String },
    /// A task class resolves to no model right now.
    #[error("{message}")]
    NoModelForClass { message: String },
    /// A local model server could not be managed (launchagent's error, in its words).
    #[error("{message}")]
    LocalServer { status: StatusCode, code: &'static str, message: String },
    /// An admin change that clashes with where a thing is defined (a provider in the config file).
    #[error("{message}")]
    Conflict { message: String },
    /// An MCP tool call that could not be made or finished (`/v1/mcp/tool/execute`, agent mode).
    #[error("{message}")]
    Tool { status: StatusCode, code: &'static str, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

/// An upstream's own error answer: its status and message, passed on to the client.
#[derive(Debug)]
pub struct UpstreamFailure {
    pub provider: String,
    pub status: StatusCode,
    pub message: String,
    pub error_type: Option<String>,
    pub code: Option<Value>,
    pub retry_after: Option<HeaderValue>,
}

/// The payload-free twin of [`ApiError`], used as a metric and log label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidRequest,
    BodyTooLarge,
    ModelNotFound,
    Forbidden,
    RouteNotFound,
    UpstreamUnreachable,
    UpstreamTimeout,
    UpstreamStatus,
    UpstreamProtocol,
    StreamInterrupted,
    LocalOnly,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RouteNotFound => "route_not_found",
            ErrorKind::UpstreamUnreachable => "upstream_unreachable",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamStatus => "upstream_status",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::LocalOnly => "local_only",
            ErrorKind::Internal => "internal",
        }
    }
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest { message: message.into(), param: None }
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::MalformedJson(_) | ApiError::AmbiguousModel { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ModelNotFound { .. }
            | ApiError::RouteNotFound { .. }
            | ApiError::UnsupportedEndpoint { .. }
            | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::ForbiddenHost { .. }
            | ApiError::ForbiddenOrigin { .. }
            | ApiError::ForbiddenPeer { .. }
            | ApiError::ForbiddenFetchSite { .. } => StatusCode::FORBIDDEN,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Governance { status, .. } => *status,
            ApiError::UpstreamUnreachable { .. }
            | ApiError::UpstreamProtocol { .. }
            | ApiError::UpstreamRedirect { .. } => StatusCode::BAD_GATEWAY,
            ApiError::CircuitOpen { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Upstream(failure) => failure.status,
            ApiError::LocalServer { status, .. } | ApiError::Tool { status, .. } => *status,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::LocalOnly { .. } | ApiError::NoModelForClass { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether another attempt (a retry, the next key, a fallback) may succeed where this failed:
    /// connection errors, timeouts, 408, 429 and 5xx. Other 4xx say the request itself is wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::UpstreamUnreachable { .. }
            | ApiError::UpstreamTimeout { .. }
            | ApiError::UpstreamProtocol { .. } => true,
            ApiError::Upstream(failure) => {
                let status = failure.status;
                status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
            }
            _ => false,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::MalformedJson(_)
            | ApiError::AmbiguousModel { .. }
            | ApiError::Conflict { .. } => ErrorKind::InvalidRequest,
            ApiError::BodyTooLarge { .. } => ErrorKind::BodyTooLarge,
            ApiError::ModelNotFound { .. } | ApiError::UnsupportedEndpoint { .. } => ErrorKind::ModelNotFound,
            ApiError::RouteNotFound { .. } | ApiError::NotFound { .. } => ErrorKind::RouteNotFound,
            ApiError::ForbiddenHost { .. }
            | ApiError::ForbiddenOrigin { .. }
            | ApiError::ForbiddenPeer { .. }
            | ApiError::ForbiddenFetchSite { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::Governance { .. } => ErrorKind::Forbidden,
            ApiError::UpstreamUnreachable { .. } | ApiError::CircuitOpen { .. } => ErrorKind::UpstreamUnreachable,
            ApiError::UpstreamTimeout { .. } => ErrorKind::UpstreamTimeout,
            ApiError::Upstream(_) | ApiError::UpstreamRedirect { .. } => ErrorKind::UpstreamStatus,
            ApiError::UpstreamProtocol { .. } => ErrorKind::UpstreamProtocol,
            ApiError::LocalOnly { .. } => ErrorKind::LocalOnly,
            ApiError::NoModelForClass { .. } => ErrorKind::ModelNotFound,
            ApiError::LocalServer { .. } | ApiError::Internal(_) => ErrorKind::Internal,
            ApiError::Tool { status, .. } => match *status {
                StatusCode::FORBIDDEN => ErrorKind::Forbidden,
                StatusCode::NOT_FOUND => ErrorKind::RouteNotFound,
                StatusCode::GATEWAY_TIMEOUT => ErrorKind::UpstreamTimeout,
                status if status.is_server_error() => ErrorKind::UpstreamUnreachable,
                _ => ErrorKind::InvalidRequest,
            },
        }
    }

    /// The `type` field of the error envelope.
    pub fn error_type(&self) -> &str {
        match self {
            ApiError::Upstream(failure) => match &failure.error_type {
                Some(t) => t,
                None if failure.status.is_client_error() => "invalid_request_error",
                None => "upstream_error",
            },
            ApiError::ForbiddenHost { .. }
            | ApiError::ForbiddenOrigin { .. }
            | ApiError::ForbiddenPeer { .. }
            | ApiError::ForbiddenFetchSite { .. } => "permission_error",
            ApiError::Unauthorized { .. } => "authentication_error",
            ApiError::Governance { status, .. } if *status == StatusCode::UNAUTHORIZED => "authentication_error",
            ApiError::Governance { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            ApiError::Governance { .. } => "permission_error",
            ApiError::UpstreamTimeout { .. } => "timeout_error",
            ApiError::UpstreamUnreachable { .. }
            | ApiError::UpstreamProtocol { .. }
            | ApiError::UpstreamRedirect { .. }
            | ApiError::CircuitOpen { .. } => "upstream_error",
            ApiError::Internal(_) => "server_error",
            ApiError::LocalServer { status, .. } if status.is_server_error() => "server_error",
            ApiError::Tool { status, .. } if *status == StatusCode::FORBIDDEN => "permission_error",
            ApiError::Tool { status, .. } if *status == StatusCode::GATEWAY_TIMEOUT => "timeout_error",
            ApiError::Tool { status, .. } if status.is_server_error() => "upstream_error",
            _ => "invalid_request_error",
        }
    }

    /// The `code` field of the error envelope.
    pub fn code(&self) -> Option<Value> {
        let code = match self {
            ApiError::Upstream(failure) => return failure.code.clone(),
            ApiError::MalformedJson(_) => "invalid_json",
            ApiError::BodyTooLarge { .. } => "request_too_large",
            ApiError::ModelNotFound { .. } | ApiError::UnsupportedEndpoint { .. } => "model_not_found",
            ApiError::AmbiguousModel { .. } => "ambiguous_model",
            ApiError::RouteNotFound { .. } => "unknown_url",
            ApiError::NotFound { .. } => "not_found",
            ApiError::ForbiddenHost { .. } => "forbidden_host",
            ApiError::ForbiddenOrigin { .. } => "forbidden_origin",
            ApiError::Unauthorized { code, .. } | ApiError::Governance { code, .. } => code,
            ApiError::ForbiddenPeer { .. } => "forbidden_user",
            ApiError::ForbiddenFetchSite { .. } => "forbidden_site",
            ApiError::UpstreamUnreachable { .. } => "upstream_unreachable",
            ApiError::CircuitOpen { .. } => "circuit_open",
            ApiError::UpstreamTimeout { .. } => "upstream_timeout",
            ApiError::UpstreamProtocol { .. } => "upstream_invalid_response",
            ApiError::UpstreamRedirect { .. } => "upstream_redirect",
            ApiError::LocalServer { code, .. } | ApiError::Tool { code, .. } => code,
            ApiError::Conflict { .. } => "conflict",
            ApiError::LocalOnly { .. } => "local_only",
            ApiError::NoModelForClass { .. } => "no_model_for_class",
            ApiError::InvalidRequest { .. } | ApiError::Internal(_) => return None,
        };
        Some(Value::String(code.to_owned()))
    }

    pub fn body_for(&self, family: ApiFamily) -> Value {
        let mut body =
            family.error_body(self.status_code(), self.error_type(), &self.to_string(), self.code().as_ref());
        if let (
            ApiError::InvalidRequest { param: Some(p), .. },
            ApiFamily::OpenAi | ApiFamily::Responses | ApiFamily::Admin,
        ) = (self, family)
        {
            body["error"]["param"] = Value::String((*p).to_owned());
        }
        body
    }

    pub fn into_response_for(self, family: ApiFamily) -> Response {
        let status = self.status_code();
        let body = self.body_for(family);
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::Upstream(failure) = &self
            && let Some(value) = &failure.retry_after
        {
            response.headers_mut().insert(header::RETRY_AFTER, value.clone());
        }
        if let ApiError::Governance { retry_after: Some(secs), .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// An error with the family it must be rendered in; what handlers return.
#[derive(Debug)]
pub struct FamilyError(pub ApiFamily, pub ApiError);

impl IntoResponse for FamilyError {
    fn into_response(self) -> Response {
        self.1.into_response_for(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        let upstream = |code: u16| {
            ApiError::Upstream(Box::new(UpstreamFailure {
                provider: "p".into(),
                status: StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                message: "m".into(),
                error_type: None,
                code: None,
                retry_after: None,
            }))
        };
        assert!(upstream(429).is_retryable());
        assert!(upstream(408).is_retryable());
        assert!(upstream(503).is_retryable());
        assert!(!upstream(400).is_retryable());
        assert!(!upstream(401).is_retryable());
        assert!(!ApiError::invalid("x").is_retryable());
        assert_eq!(upstream(418).status_code().as_u16(), 418);
    }

    #[test]
    fn envelope_has_code_and_type() {
        let body = ApiError::BodyTooLarge { limit: 10 }.body_for(ApiFamily::OpenAi);
        assert_eq!(body["error"]["code"], "request_too_large");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}
