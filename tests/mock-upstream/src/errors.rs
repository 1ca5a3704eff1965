//! Error bodies in each API family's shape.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// The API family a request belongs to, which decides the error shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// OpenAI Chat Completions, Completions, Embeddings, Responses, models.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
}

/// `status` with the family's error JSON; 429 also carries `Retry-After: 1`.
pub(crate) fn error_response(family: Family, status: StatusCode, message: &str) -> Response {
    let code = status.as_u16();
    let body = match family {
        Family::OpenAi => {
            let (kind, code_name) = match code {
                400 => ("invalid_request_error", json!(null)),
                401 => ("authentication_error", json!("invalid_api_key")),
                403 => ("permission_error", json!(null)),
                404 => ("not_found_error", json!("model_not_found")),
                429 => ("rate_limit_error", json!("rate_limit_exceeded")),
                500..=599 => ("server_error", json!(null)),
                _ => ("invalid_request_error", json!(null)),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code_name}})
        }
        Family::Anthropic => {
            let kind = match code {
                400 => "invalid_request_error",
                401 => "authentication_error",
                402 => "billing_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                504 => "timeout_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock"})
        }
        Family::Gemini => {
            let kind = match code {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                409 => "ABORTED",
                429 => "RESOURCE_EXHAUSTED",
                499 => "CANCELLED",
                500 => "INTERNAL",
                501 => "UNIMPLEMENTED",
                503 => "UNAVAILABLE",
                504 => "DEADLINE_EXCEEDED",
                _ => "UNKNOWN",
            };
            json!({"error": {"code": code, "message": message, "status": kind}})
        }
    };
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string())
            .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// 400 for a body that is not the JSON the endpoint expects.
pub(crate) fn bad_request(family: Family, why: &str) -> Response {
    error_response(family, StatusCode::BAD_REQUEST, why)
}

/// A request body the endpoint cannot read: answered with 400 in the family's shape.
pub(crate) struct BadBody {
    family: Family,
    message: String,
}

impl BadBody {
    pub fn new(family: Family, message: String) -> BadBody {
        BadBody { family, message }
    }
}

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        bad_request(self.family, &self.message)
    }
}
