//! Which client API a request speaks. Every error is rendered in the caller's own shape, so the
//! family is known from the path alone, before anything else has been read.

use http::StatusCode;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiFamily {
    /// OpenAI Chat Completions, Completions, Embeddings, Models.
    OpenAi,
    /// OpenAI Responses (Codex CLI): OpenAI's error envelope, its own stream events.
    Responses,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini (generativelanguage v1beta).
    Gemini,
    /// Switchyard's own admin and data API under `/api/`.
    Admin,
    /// The MCP endpoint (`/mcp`): JSON-RPC errors.
    Mcp,
}

impl ApiFamily {
    pub fn from_path(path: &str) -> ApiFamily {
        if path.starts_with("/api/") {
            ApiFamily::Admin
        } else if path == "/mcp" || path.starts_with("/mcp/") {
            ApiFamily::Mcp
        } else if path.starts_with("/anthropic/") || path.starts_with("/v1/messages") {
            ApiFamily::Anthropic
        } else if path.starts_with("/v1beta/")
            || path.starts_with("/genai/")
            || (path.starts_with("/v1/models/") && path.contains(':'))
        {
            ApiFamily::Gemini
        } else if is_responses_path(path) {
            ApiFamily::Responses
        } else {
            ApiFamily::OpenAi
        }
    }

    /// The family's name in the usage log and the metrics' `api` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiFamily::OpenAi => "openai",
            ApiFamily::Anthropic => "anthropic",
            ApiFamily::Responses => "responses",
            ApiFamily::Gemini => "gemini",
            ApiFamily::Admin => "admin",
            ApiFamily::Mcp => "mcp",
        }
    }

    /// The JSON error body for this family.
    pub fn error_body(self, status: StatusCode, error_type: &str, message: &str, code: Option<&Value>) -> Value {
        match self {
            ApiFamily::OpenAi | ApiFamily::Responses | ApiFamily::Admin => json!({
                "error": {
                    "message": message,
                    "type": error_type,
                    "param": Value::Null,
                    "code": code.cloned().unwrap_or(Value::Null),
                }
            }),
            ApiFamily::Anthropic => json!({
                "type": "error",
                "error": { "type": anthropic_error_type(status, error_type), "message": message }
            }),
            ApiFamily::Gemini => json!({
                "error": { "code": status.as_u16(), "message": message, "status": google_status(status) }
            }),
            // A JSON-RPC error with no id (the request was refused before it was read). Codes
            // from the implementation-defined range: -32001 unauthorized, -32003 forbidden,
            // -32600 anything else the request got wrong.
            ApiFamily::Mcp => json!({
                "jsonrpc": "2.0",
                "id": Value::Null,
                "error": {
                    "code": match status { StatusCode::UNAUTHORIZED => -32001, StatusCode::FORBIDDEN => -32003, StatusCode::NOT_FOUND => -32601, _ => -32600 },
                    "message": message,
                }
            }),
        }
    }
}

/// `/v1/responses`, `/openai/v1/responses`, `/openai/responses` (and anything below them).
fn is_responses_path(path: &str) -> bool {
    ["/v1/responses", "/openai/v1/responses", "/openai/responses"]
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// Anthropic names its errors after the status; keep an upstream Anthropic type when it is one.
fn anthropic_error_type(status: StatusCode, error_type: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
        "timeout_error",
    ];
    // A specific upstream type is kept; the generic one is refined by the status.
    if let Some(known) = KNOWN.iter().find(|k| **k == error_type && **k != "invalid_request_error") {
        return known;
    }
    match status.as_u16() {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_from_path() {
        assert_eq!(ApiFamily::from_path("/v1/chat/completions"), ApiFamily::OpenAi);
        assert_eq!(ApiFamily::from_path("/openai/v1/models"), ApiFamily::OpenAi);
        assert_eq!(ApiFamily::from_path("/v1/messages"), ApiFamily::Anthropic);
        assert_eq!(ApiFamily::from_path("/anthropic/v1/messages"), ApiFamily::Anthropic);
        assert_eq!(ApiFamily::from_path("/v1beta/models/x:generateContent"), ApiFamily::Gemini);
        assert_eq!(ApiFamily::from_path("/v1/models/x:generateContent"), ApiFamily::Gemini);
        assert_eq!(ApiFamily::from_path("/v1/models"), ApiFamily::OpenAi);
        assert_eq!(ApiFamily::from_path("/api/models"), ApiFamily::Admin);
        assert_eq!(ApiFamily::from_path("/v1/responses"), ApiFamily::Responses);
        assert_eq!(ApiFamily::from_path("/openai/v1/responses"), ApiFamily::Responses);
        assert_eq!(ApiFamily::from_path("/openai/responses/resp_1"), ApiFamily::Responses);
        assert_eq!(ApiFamily::from_path("/v1/responsesx"), ApiFamily::OpenAi);
    }

    #[test]
    fn shapes() {
        let body = ApiFamily::OpenAi.error_body(StatusCode::NOT_FOUND, "invalid_request_error", "nope", None);
        assert_eq!(body["error"]["message"], "nope");
        assert!(body["error"].get("param").is_some());
        let body = ApiFamily::Anthropic.error_body(StatusCode::TOO_MANY_REQUESTS, "whatever", "slow", None);
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        let body = ApiFamily::Gemini.error_body(StatusCode::NOT_FOUND, "x", "gone", None);
        assert_eq!(body["error"]["status"], "NOT_FOUND");
        assert_eq!(body["error"]["code"], 404);
    }
}
