//! The OpenAI-compatible family: OpenAI, OpenRouter, Groq, Mistral, DeepSeek, Ollama's `/v1`,
//! vllm-mlx, LM Studio and any custom server. One implementation; kinds differ only in data.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, header};

use super::ProviderApi;
use crate::config::{ProviderKind, Secret};
use crate::wire::{Endpoint, WireFormat};

pub struct OpenAiCompatible {
    /// OpenRouter attributes traffic to an app by these headers.
    app_headers: &'static [(&'static str, &'static str)],
}

pub fn api_for(kind: ProviderKind) -> Arc<dyn ProviderApi> {
    let app_headers: &'static [(&'static str, &'static str)] = match kind {
        ProviderKind::Openrouter => &[("x-title", "Switchyard"), ("http-referer", "https://switchyard.dev")],
        _ => &[],
    };
    Arc::new(OpenAiCompatible { app_headers })
}

impl ProviderApi for OpenAiCompatible {
    fn wire_format(&self) -> WireFormat {
        WireFormat::OpenAi
    }

    fn endpoint_url(&self, base_url: &str, endpoint: Endpoint) -> Option<String> {
        let path = match endpoint {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
            Endpoint::Models => "/models",
            // Used only for kinds that speak Responses (`ProviderKind::speaks_responses`).
            Endpoint::Responses => "/responses",
            Endpoint::Messages | Endpoint::CountTokens | Endpoint::GenerateContent | Endpoint::GeminiCountTokens => {
                return None;
            }
        };
        Some(format!("{base_url}{path}"))
    }

    fn authorize(&self, headers: &mut HeaderMap, key: &Secret) {
        for (name, value) in self.app_headers {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        // A key that is not a valid header value cannot be sent; the upstream answers 401.
        if let Some(value) = super::sensitive_value(&format!("Bearer {}", key.expose())) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<String>, String> {
        super::ids_in_data_list(body, "OpenAI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_model_lists() {
        let api = api_for(ProviderKind::Openai);
        assert_eq!(
            api.endpoint_url("https://api.openai.com/v1", Endpoint::ChatCompletions).unwrap(),
            "https://api.openai.com/v1/chat/completions"
        );
        let ids =
            api.parse_model_list(br#"{"object":"list","data":[{"id":"a","object":"model"},{"id":"b/c"}]}"#).unwrap();
        assert_eq!(ids, vec!["a", "b/c"]);
        assert!(api.parse_model_list(b"nope").is_err());
    }
}
