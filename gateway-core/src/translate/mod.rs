//! Translation between client and upstream wire formats, used when a client's format is not the
//! provider's (an Anthropic client in front of an OpenAI-compatible model, an OpenAI client in
//! front of Anthropic). Requests are mapped through typed views of the client's body; answers
//! are mapped event by event as they arrive by a stateful [`StreamTranslator`], never buffered
//! whole. Same-format traffic never comes here (see `pipeline`).
//!
//! | client → upstream | request | answer |
//! |---|---|---|
//! | Anthropic Messages → OpenAI Chat | [`anthropic_to_openai`] | [`openai_to_anthropic_stream`] |
//! | OpenAI Chat → Anthropic Messages | [`openai_to_anthropic`] | [`anthropic_to_openai_stream`] |
//! | Gemini → OpenAI Chat | [`gemini_to_openai`] | [`openai_to_gemini_stream`] |
//! | OpenAI Chat → Gemini | [`openai_to_gemini`] | [`gemini_to_openai_stream`] |
//! | OpenAI Responses → OpenAI Chat | [`responses_to_chat`] | [`chat_to_responses`] |
//! | Anthropic ⇄ Gemini, Responses → Anthropic or Gemini | the two above through OpenAI Chat | [`chain`] |
//!
//! OpenAI Chat is the hub: a pair with no translator of its own goes client → Chat → upstream
//! with the translators that exist, and its answers upstream → Chat → client.

pub mod anthropic_to_openai;
pub mod anthropic_to_openai_stream;
mod budget;
pub mod chain;
pub mod chat_to_responses;
mod chat_wire;
pub mod gemini_to_openai;
pub mod gemini_to_openai_stream;
mod gemini_types;
pub mod openai_to_anthropic;
pub mod openai_to_anthropic_stream;
pub mod openai_to_gemini;
pub mod openai_to_gemini_stream;
pub mod responses_to_chat;
mod types;

use bytes::{Bytes, BytesMut};

use crate::error::ApiError;
use crate::wire::{Endpoint, Usage, WireFormat};

/// What an upstream event meant for the stream as a whole.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// More events follow.
    Continue,
    /// The upstream's end-of-stream marker: the client's stream was closed properly.
    Done,
    /// The upstream reported an error in-band; the client gets an error event in its shape.
    UpstreamError(String),
    /// The gateway gives up on the stream (an answer past [`budget`]'s bounds); the client gets
    /// an error event in its shape, as for an upstream error.
    Failed(String),
}

/// Maps one upstream SSE stream to the client's format, one event at a time.
pub trait StreamTranslator: Send {
    /// One complete upstream event (`event:` name if any, joined `data:`); writes client bytes.
    fn event(&mut self, name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow;
    /// The usage seen so far.
    fn usage(&self) -> Option<Usage>;
    /// Writes the client's error event(s) for a stream that failed after it started, when the
    /// client's format needs more than the generic error event (Responses: `response.failed`
    /// for the response already begun). Returns whether it wrote them.
    fn error_event(&mut self, _error: &ApiError, _out: &mut BytesMut) -> bool {
        false
    }
}

/// How the answer of a translated request is mapped back.
#[derive(Clone, Debug)]
pub enum Mapper {
    /// An Anthropic Messages client in front of an OpenAI Chat upstream.
    AnthropicClient { model: String },
    /// An OpenAI Chat client in front of an Anthropic Messages upstream.
    OpenAiClient { model: String, include_usage: bool },
    /// A Gemini client in front of an OpenAI Chat upstream.
    GeminiClient { model: String },
    /// An OpenAI Chat client in front of a Gemini upstream.
    OpenAiClientOfGemini { model: String, include_usage: bool },
    /// An OpenAI Responses client in front of an OpenAI Chat upstream.
    ResponsesClient { model: String },
    /// Upstream → OpenAI Chat (the first), then OpenAI Chat → client (the second).
    Chain(Box<Mapper>, Box<Mapper>),
}

/// A translated request: where it goes and what it carries.
pub struct Plan {
    pub endpoint: Endpoint,
    pub body: Bytes,
    pub mapper: Mapper,
}

/// What the translation needs to know besides the body.
pub struct RequestContext<'a> {
    /// The model as the client named it (echoed in answers).
    pub requested_model: &'a str,
    /// The model as the upstream knows it.
    pub upstream_model: &'a str,
    pub stream: bool,
    /// The provider's `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
    /// The provider's wire format.
    pub upstream: WireFormat,
}

impl RequestContext<'static> {
    /// For translating a request only to measure it (`count_tokens` estimates).
    pub fn estimate() -> RequestContext<'static> {
        RequestContext {
            requested_model: "",
            upstream_model: "",
            stream: false,
            max_output_tokens: None,
            upstream: WireFormat::OpenAi,
        }
    }
}

/// Translates a client request for `endpoint` into the provider's format (`context.upstream`),
/// or says it cannot. Pairs without a translator of their own go through OpenAI Chat.
pub fn request(endpoint: Endpoint, body: &[u8], context: &RequestContext<'_>) -> Result<Plan, ApiError> {
    let model = || context.requested_model.to_owned();
    match (endpoint, context.upstream) {
        (Endpoint::Messages, WireFormat::OpenAi) => {
            let body = anthropic_to_openai::translate(body, context)?;
            Ok(Plan { endpoint: Endpoint::ChatCompletions, body, mapper: Mapper::AnthropicClient { model: model() } })
        }
        (Endpoint::ChatCompletions, WireFormat::Anthropic) => {
            let (body, include_usage) = openai_to_anthropic::translate(body, context)?;
            Ok(Plan {
                endpoint: Endpoint::Messages,
                body,
                mapper: Mapper::OpenAiClient { model: model(), include_usage },
            })
        }
        (Endpoint::GenerateContent, WireFormat::OpenAi) => {
            let body = gemini_to_openai::translate(body, context)?;
            Ok(Plan { endpoint: Endpoint::ChatCompletions, body, mapper: Mapper::GeminiClient { model: model() } })
        }
        (Endpoint::Responses, WireFormat::OpenAi) => {
            let body = responses_to_chat::translate(body, context)?;
            Ok(Plan { endpoint: Endpoint::ChatCompletions, body, mapper: Mapper::ResponsesClient { model: model() } })
        }
        (Endpoint::ChatCompletions, WireFormat::Gemini) => {
            let (body, include_usage) = openai_to_gemini::translate(body, context)?;
            Ok(Plan {
                endpoint: Endpoint::GenerateContent,
                body,
                mapper: Mapper::OpenAiClientOfGemini { model: model(), include_usage },
            })
        }
        // No translator of their own: through the hub.
        (Endpoint::Messages, WireFormat::Gemini)
        | (Endpoint::GenerateContent, WireFormat::Anthropic)
        | (Endpoint::Responses, WireFormat::Anthropic | WireFormat::Gemini) => {
            let to_hub = request(endpoint, body, &RequestContext { upstream: WireFormat::OpenAi, ..*context })?;
            let onward = request(Endpoint::ChatCompletions, &to_hub.body, context)?;
            // The hub leg always carries usage, so the client's last event has it.
            let upstream_to_hub = match onward.mapper {
                Mapper::OpenAiClient { model, .. } => Mapper::OpenAiClient { model, include_usage: true },
                Mapper::OpenAiClientOfGemini { model, .. } => {
                    Mapper::OpenAiClientOfGemini { model, include_usage: true }
                }
                other => other,
            };
            Ok(Plan {
                endpoint: onward.endpoint,
                body: onward.body,
                mapper: Mapper::Chain(Box::new(upstream_to_hub), Box::new(to_hub.mapper)),
            })
        }
        (other, _) => Err(ApiError::invalid(format!(
            "{} cannot be translated for this provider: it speaks another API",
            other.as_str()
        ))),
    }
}

impl Mapper {
    /// Maps a whole (non-streamed) upstream answer; returns the client's body and the usage.
    pub fn whole(&self, body: &[u8]) -> Result<(Bytes, Option<Usage>), String> {
        match self {
            Mapper::AnthropicClient { model } => openai_to_anthropic_stream::whole(body, model),
            Mapper::OpenAiClient { model, .. } => anthropic_to_openai_stream::whole(body, model),
            Mapper::GeminiClient { model } => openai_to_gemini_stream::whole(body, model),
            Mapper::OpenAiClientOfGemini { model, .. } => gemini_to_openai_stream::whole(body, model),
            Mapper::ResponsesClient { model } => chat_to_responses::whole(body, model),
            Mapper::Chain(upstream_to_hub, hub_to_client) => {
                let (hub, usage) = upstream_to_hub.whole(body)?;
                let (client, _) = hub_to_client.whole(&hub)?;
                Ok((client, usage))
            }
        }
    }

    /// The stream translator for this mapping.
    pub fn stream(&self) -> Box<dyn StreamTranslator> {
        match self {
            Mapper::AnthropicClient { model } => Box::new(openai_to_anthropic_stream::ToAnthropic::new(model)),
            Mapper::OpenAiClient { model, include_usage } => {
                Box::new(anthropic_to_openai_stream::ToOpenAi::new(model, *include_usage))
            }
            Mapper::GeminiClient { model } => Box::new(openai_to_gemini_stream::ToGemini::new(model)),
            Mapper::OpenAiClientOfGemini { model, include_usage } => {
                Box::new(gemini_to_openai_stream::FromGemini::new(model, *include_usage))
            }
            Mapper::ResponsesClient { model } => Box::new(chat_to_responses::ToResponses::new(model)),
            Mapper::Chain(upstream_to_hub, hub_to_client) => {
                Box::new(chain::Chained::new(upstream_to_hub.stream(), hub_to_client.stream()))
            }
        }
    }
}

/// `count_tokens` for a provider that cannot count: an estimate of one token per four bytes of
/// the text the translated request carries (message text, tool definitions, system prompt).
/// Anthropic providers answer exactly (the request is forwarded).
pub fn estimate_input_tokens(body: &[u8]) -> Result<u64, ApiError> {
    let chars = anthropic_to_openai::text_bytes(body)?;
    Ok((chars as u64).div_ceil(4).max(1))
}

/// Gemini's `countTokens` for a provider that cannot count Gemini tokens: the same estimate
/// over the text of the Gemini request.
pub fn estimate_gemini_tokens(body: &[u8]) -> Result<u64, ApiError> {
    let chars = gemini_to_openai::text_bytes(body)?;
    Ok((chars as u64).div_ceil(4).max(1))
}

/// The usage of a whole Gemini answer (`usageMetadata`); a streamed JSON array's last element.
pub fn gemini_whole_usage(body: &[u8]) -> Result<Option<Usage>, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Whole {
        usage_metadata: Option<crate::wire::GeminiUsage>,
    }
    let invalid = |e: serde_json::Error| format!("the response is not valid JSON: {e}");
    if body.trim_ascii_start().starts_with(b"[") {
        let all: Vec<Whole> = serde_json::from_slice(body).map_err(invalid)?;
        return Ok(all.iter().rev().find_map(|w| w.usage_metadata.as_ref()).map(|u| u.to_usage()));
    }
    let whole: Whole = serde_json::from_slice(body).map_err(invalid)?;
    Ok(whole.usage_metadata.map(|u| u.to_usage()))
}

/// A short random id suffix for ids the gateway makes up (`msg_…`, `toolu_…`).
pub(crate) fn random_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24)
        .map(|_| {
            let n: u8 = rng.random_range(0..36);
            char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 })
        })
        .collect()
}

/// Writes one SSE event (`event:` line when named).
pub(crate) fn write_event(out: &mut BytesMut, name: Option<&str>, data: &serde_json::Value) {
    use bytes::BufMut;
    if let Some(name) = name {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_slice(b"\n");
    }
    out.put_slice(b"data: ");
    // Writing JSON into a BytesMut cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), data);
    out.put_slice(b"\n\n");
}

/// The bytes of text a Chat request carries: message text, tool calls, tool definitions; an
/// image counts as about 1,024 bytes (256 tokens). The base of every `count_tokens` estimate for
/// a translated target.
pub(crate) fn chat_text_bytes(chat: &serde_json::Value) -> usize {
    use serde_json::Value;
    let mut total = 0;
    for message in chat["messages"].as_array().into_iter().flatten() {
        total += match &message["content"] {
            Value::String(text) => text.len(),
            Value::Array(parts) => parts.iter().map(|p| p["text"].as_str().map_or(1024, str::len)).sum(),
            _ => 0,
        };
        if let Some(calls) = message.get("tool_calls") {
            total += calls.to_string().len();
        }
    }
    if let Some(tools) = chat.get("tools") {
        total += tools.to_string().len();
    }
    total
}
