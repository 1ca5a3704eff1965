//! Anthropic's native Messages API: `POST {base}/messages`, `{base}/messages/count_tokens`,
//! `GET {base}/models`, where the base URL includes `/v1` (`https://api.anthropic.com/v1`).
//! The key goes in `x-api-key`; `anthropic-version` is the client's when the client speaks
//! Anthropic too (with its `anthropic-beta`), else `2023-06-01`.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::ProviderApi;
use crate::config::Secret;
use crate::wire::{Endpoint, WireFormat};

pub const DEFAULT_VERSION: &str = "2023-06-01";
static VERSION: HeaderName = HeaderName::from_static("anthropic-version");
static BETA: HeaderName = HeaderName::from_static("anthropic-beta");

pub struct AnthropicApi;

pub fn api() -> Arc<dyn ProviderApi> {
    Arc::new(AnthropicApi)
}

impl ProviderApi for AnthropicApi {
    fn wire_format(&self) -> WireFormat {
        WireFormat::Anthropic
    }

    fn endpoint_url(&self, base_url: &str, endpoint: Endpoint) -> Option<String> {
        let path = match endpoint {
            Endpoint::Messages => "/messages",
            Endpoint::CountTokens => "/messages/count_tokens",
            Endpoint::Models => "/models",
            Endpoint::ChatCompletions
            | Endpoint::Completions
            | Endpoint::Embeddings
            | Endpoint::Responses
            | Endpoint::GenerateContent
            | Endpoint::GeminiCountTokens => return None,
        };
        Some(format!("{base_url}{path}"))
    }

    fn authorize(&self, headers: &mut HeaderMap, key: &Secret) {
        // A key that is not a valid header value cannot be sent; the upstream answers 401.
        if let Some(value) = super::sensitive_value(key.expose()) {
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<String>, String> {
        super::ids_in_data_list(body, "Anthropic")
    }

    fn protocol_headers(&self, same_format_client: Option<&HeaderMap>) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(8);
        let client_version = same_format_client.and_then(|h| h.get(&VERSION));
        headers.insert(VERSION.clone(), client_version.cloned().unwrap_or(HeaderValue::from_static(DEFAULT_VERSION)));
        if let Some(beta) = same_format_client.and_then(|h| h.get(&BETA)) {
            headers.insert(BETA.clone(), beta.clone());
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_headers_and_model_lists() {
        let api = api();
        assert_eq!(
            api.endpoint_url("https://api.anthropic.com/v1", Endpoint::Messages).unwrap(),
            "https://api.anthropic.com/v1/messages"
        );
        assert!(api.endpoint_url("https://api.anthropic.com/v1", Endpoint::ChatCompletions).is_none());
        let defaults = api.protocol_headers(None);
        assert_eq!(defaults["anthropic-version"], DEFAULT_VERSION);
        let mut client = HeaderMap::new();
        client.insert("anthropic-version", HeaderValue::from_static("2026-10-21"));
        client.insert("anthropic-beta", HeaderValue::from_static("claude-code-20250219"));
        let forwarded = api.protocol_headers(Some(&client));
        assert_eq!(forwarded["anthropic-version"], "2026-10-21");
        assert_eq!(forwarded["anthropic-beta"], "claude-code-20250219");
        let ids = api
            .parse_model_list(br#"{"data":[{"type":"model","id":"claude-x","display_name":"X"}],"has_more":false}"#)
            .unwrap();
        assert_eq!(ids, vec!["claude-x"]);
    }
}
