//! Google's native Gemini API (generativelanguage v1beta): `POST {base}/models/{model}:
//! generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens` and `GET {base}/models`,
//! where the base URL includes the version (`https://generativelanguage.googleapis.com/v1beta`).
//! The model is part of the URL, so an endpoint's URL here is the `models/` prefix and
//! [`model_url`] completes it per request. The key goes in `x-goog-api-key`.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use serde::Deserialize;

use super::ProviderApi;
use crate::config::Secret;
use crate::wire::{Endpoint, ModelDetails, WireFormat};

pub struct GeminiApi;

pub fn api() -> Arc<dyn ProviderApi> {
    Arc::new(GeminiApi)
}

impl ProviderApi for GeminiApi {
    fn wire_format(&self) -> WireFormat {
        WireFormat::Gemini
    }

    fn endpoint_url(&self, base_url: &str, endpoint: Endpoint) -> Option<String> {
        match endpoint {
            Endpoint::GenerateContent | Endpoint::GeminiCountTokens => Some(format!("{base_url}/models/")),
            // One page holds every model Google serves today (about 50).
            Endpoint::Models => Some(format!("{base_url}/models?pageSize=1000")),
            _ => None,
        }
    }

    fn model_in_url(&self) -> bool {
        true
    }

    fn model_url(
        &self,
        endpoint_url: &reqwest::Url,
        model: &str,
        endpoint: Endpoint,
        stream: bool,
    ) -> Option<reqwest::Url> {
        model_url(endpoint_url, model, endpoint, stream)
    }

    fn authorize(&self, headers: &mut HeaderMap, key: &Secret) {
        // A key that is not a valid header value cannot be sent; the upstream answers 401.
        if let Some(value) = super::sensitive_value(key.expose()) {
            headers.insert(HeaderName::from_static("x-goog-api-key"), value);
        }
    }

    fn parse_model_list(&self, body: &[u8]) -> Result<Vec<String>, String> {
        let list: ModelList =
            serde_json::from_slice(body).map_err(|err| format!("model list is not Gemini-shaped: {err}"))?;
        Ok(list.models.into_iter().map(|m| bare_name(&m.name).to_owned()).collect())
    }
}

/// The upstream URL of one call: `{base}/models/{model}:{method}`, `?alt=sse` for streams.
pub fn model_url(prefix: &reqwest::Url, model: &str, endpoint: Endpoint, stream: bool) -> Option<reqwest::Url> {
    let method = match (endpoint, stream) {
        (Endpoint::GenerateContent, false) => "generateContent",
        (Endpoint::GenerateContent, true) => "streamGenerateContent",
        (Endpoint::GeminiCountTokens, _) => "countTokens",
        _ => return None,
    };
    let mut url = prefix.clone();
    {
        let mut segments = url.path_segments_mut().ok()?;
        segments.pop_if_empty();
        // Model ids may hold `/` (tuned models); each part is encoded as a path segment.
        let model = bare_name(model);
        let mut pieces = model.split('/').peekable();
        while let Some(piece) = pieces.next() {
            if pieces.peek().is_some() {
                segments.push(piece);
            } else {
                segments.push(&format!("{piece}:{method}"));
            }
        }
    }
    if stream && endpoint == Endpoint::GenerateContent {
        url.set_query(Some("alt=sse"));
    }
    Some(url)
}

/// `models/gemini-2.5-flash` → `gemini-2.5-flash`.
pub fn bare_name(name: &str) -> &str {
    name.strip_prefix("models/").unwrap_or(name)
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelEntry {
    name: String,
    input_token_limit: Option<u64>,
    output_token_limit: Option<u64>,
    supported_generation_methods: Option<Vec<String>>,
    thinking: Option<bool>,
}

/// What Gemini's list says of each model: context window (`inputTokenLimit`), output limit,
/// thinking. Tools and images are what every `generateContent` model takes.
pub fn list_details(body: &[u8]) -> BTreeMap<String, ModelDetails> {
    let Ok(list) = serde_json::from_slice::<ModelList>(body) else { return BTreeMap::new() };
    list.models
        .into_iter()
        .map(|entry| {
            let generates = entry
                .supported_generation_methods
                .as_ref()
                .map(|methods| methods.iter().any(|m| m == "generateContent"));
            let details = ModelDetails {
                context_window: entry.input_token_limit,
                max_output_tokens: entry.output_token_limit,
                tools: generates,
                vision: generates,
                reasoning: entry.thinking,
            };
            (bare_name(&entry.name).to_owned(), details)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_per_model_and_method() {
        let api = api();
        let prefix = reqwest::Url::parse(
            &api.endpoint_url("https://generativelanguage.googleapis.com/v1beta", Endpoint::GenerateContent).unwrap(),
        )
        .unwrap();
        assert_eq!(
            model_url(&prefix, "gemini-2.5-flash", Endpoint::GenerateContent, true).unwrap().as_str(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            model_url(&prefix, "models/gemini-2.5-pro", Endpoint::GeminiCountTokens, false).unwrap().as_str(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:countTokens"
        );
        assert!(api.endpoint_url("https://x/v1beta", Endpoint::ChatCompletions).is_none());
    }

    #[test]
    fn model_list_and_details() {
        let body = br#"{"models":[{"name":"models/gemini-2.5-flash","inputTokenLimit":1048576,"outputTokenLimit":65536,
            "supportedGenerationMethods":["generateContent","countTokens"],"thinking":true},
            {"name":"models/text-embedding-004","supportedGenerationMethods":["embedContent"]}],"nextPageToken":"x"}"#;
        assert_eq!(api().parse_model_list(body).unwrap(), vec!["gemini-2.5-flash", "text-embedding-004"]);
        let details = list_details(body);
        let flash = &details["gemini-2.5-flash"];
        assert_eq!(
            (flash.context_window, flash.max_output_tokens, flash.reasoning),
            (Some(1_048_576), Some(65_536), Some(true))
        );
        assert_eq!(details["text-embedding-004"].tools, Some(false));
        assert!(api().parse_model_list(b"nope").is_err());
    }
}
