//! Token counts: the gateway's own (`Usage`) and the `usage` objects each wire format reports,
//! read into it.

use serde::Deserialize;

/// Token counts as reported by the upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of the input tokens, those served from the provider's prompt cache.
    pub cached_input_tokens: u64,
    /// Of the input tokens, those written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`), billed at the cache-write rate.
    pub cache_write_tokens: u64,
    /// Of the output tokens, those spent reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Reads an OpenAI `usage` object (chat, completions, embeddings).
    pub fn from_openai(value: &OpenAiUsage) -> Usage {
        Usage {
            input_tokens: value.prompt_tokens.unwrap_or(0),
            output_tokens: value.completion_tokens.unwrap_or(0),
            cached_input_tokens: value.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens).unwrap_or(0),
            reasoning_tokens: value.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0),
            cache_write_tokens: 0,
        }
    }
}

impl Usage {
    /// Reads an OpenAI Responses `usage` object.
    pub fn from_responses(value: &ResponsesUsage) -> Usage {
        Usage {
            input_tokens: value.input_tokens.unwrap_or(0),
            output_tokens: value.output_tokens.unwrap_or(0),
            cached_input_tokens: value.input_tokens_details.as_ref().and_then(|d| d.cached_tokens).unwrap_or(0),
            reasoning_tokens: value.output_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0),
            // The Responses API does not report prompt-cache writes.
            cache_write_tokens: 0,
        }
    }
}

/// The Responses API's `usage` (`input_tokens`, `output_tokens` and their details).
#[derive(Debug, Deserialize)]
pub struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<PromptDetails>,
    output_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Deserialize)]
pub struct OpenAiUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Debug, Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u64>,
}

/// An Anthropic `usage` object (`message`, `message_start.message`, `message_delta`).
#[derive(Debug, Default, Deserialize)]
pub struct AnthropicUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Merges a later report (`message_delta.usage`) into what is known: present fields win.
    pub fn merge(&mut self, later: AnthropicUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later.cache_read_input_tokens.or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
    }

    /// As the gateway counts: input tokens include those read from or written to the cache.
    pub fn to_usage(&self) -> Usage {
        let cached = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self.input_tokens.unwrap_or(0) + cached + written,
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: cached,
            cache_write_tokens: written,
            reasoning_tokens: 0,
        }
    }
}

/// Gemini's `usageMetadata`. Its `candidatesTokenCount` leaves out the thinking tokens, which
/// the gateway counts as output (of which reasoning).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiUsage {
    pub prompt_token_count: Option<u64>,
    pub candidates_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
    pub thoughts_token_count: Option<u64>,
    pub tool_use_prompt_token_count: Option<u64>,
}

impl GeminiUsage {
    pub fn to_usage(&self) -> Usage {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        Usage {
            input_tokens: self.prompt_token_count.unwrap_or(0) + self.tool_use_prompt_token_count.unwrap_or(0),
            output_tokens: self.candidates_token_count.unwrap_or(0) + thoughts,
            cached_input_tokens: self.cached_content_token_count.unwrap_or(0),
            reasoning_tokens: thoughts,
            // Gemini bills explicit cache storage separately, not per request.
            cache_write_tokens: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_cache_as_input() {
        let mut usage =
            AnthropicUsage { input_tokens: Some(12), cache_read_input_tokens: Some(4), ..Default::default() };
        usage.merge(AnthropicUsage { output_tokens: Some(5), ..Default::default() });
        let usage = usage.to_usage();
        assert_eq!((usage.input_tokens, usage.output_tokens, usage.cached_input_tokens), (16, 5, 4));
    }

    #[test]
    fn usage_counts_thoughts_as_output() {
        let usage: GeminiUsage = serde_json::from_str(
            r#"{"promptTokenCount":20,"candidatesTokenCount":5,"cachedContentTokenCount":8,"thoughtsTokenCount":7,"totalTokenCount":32}"#,
        )
        .unwrap();
        let usage = usage.to_usage();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens),
            (20, 12, 8, 7)
        );
    }
}
