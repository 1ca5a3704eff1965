//! The inference endpoints a client can call, and the wire formats they and the upstreams speak.

use serde::Serialize;

/// The shape of an upstream's API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WireFormat {
    OpenAi,
    /// Anthropic Messages (`/v1/messages`, `event:`-named SSE ending with `message_stop`).
    Anthropic,
    /// Google Gemini (`/v1beta/models/{model}:generateContent`, SSE of whole
    /// `GenerateContentResponse` chunks, the last one with a `finishReason`).
    Gemini,
    /// OpenAI Responses (`/v1/responses`, `event:`-named SSE ending with `response.completed`):
    /// what a client of that endpoint speaks; among providers only the `openai` kind serves it.
    Responses,
}

/// The inference endpoints a client can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Models,
    /// Anthropic Messages.
    Messages,
    /// Anthropic `messages/count_tokens`.
    CountTokens,
    /// Gemini `models/{model}:generateContent` and `:streamGenerateContent` (the model and
    /// whether it streams come from the path, not the body).
    GenerateContent,
    /// Gemini `models/{model}:countTokens`.
    GeminiCountTokens,
    /// OpenAI Responses.
    Responses,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 9] = [
        Endpoint::ChatCompletions,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Models,
        Endpoint::Messages,
        Endpoint::CountTokens,
        Endpoint::GenerateContent,
        Endpoint::GeminiCountTokens,
        Endpoint::Responses,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::GenerateContent => "generateContent",
            Endpoint::GeminiCountTokens => "countTokens",
            Endpoint::Responses => "responses",
        }
    }

    /// Whether the endpoint can answer with an SSE stream (`"stream": true`).
    pub fn streams(self) -> bool {
        matches!(self, Endpoint::ChatCompletions | Endpoint::Completions | Endpoint::Messages | Endpoint::Responses)
    }

    /// The wire format a client of this endpoint speaks.
    pub fn wire_format(self) -> WireFormat {
        match self {
            Endpoint::Messages | Endpoint::CountTokens => WireFormat::Anthropic,
            Endpoint::GenerateContent | Endpoint::GeminiCountTokens => WireFormat::Gemini,
            Endpoint::Responses => WireFormat::Responses,
            _ => WireFormat::OpenAi,
        }
    }
}
