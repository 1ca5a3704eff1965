//! Translation between client and upstream wire formats, used when a client's format is not the
//! provider's (an Anthropic client in front of an OpenAI-compatible model, an OpenAI client in
//! front of Anthropic). Requests are mapped through typed views of the client's body; answers
//! are mapped event by event as they arrive by a stateful [`StreamTranslator`], never buffered
//! whole. Same-format traffic never comes here (see `proxy`).
//!
//! | client → upstream | request | answer |
//! |---|---|---|
//! | Anthropic Messages → OpenAI Chat | [`anthropic_to_openai`] | [`openai_to_anthropic_stream`] |
//! | OpenAI Chat → Anthropic Messages | [`openai_to_anthropic`] | [`anthropic_to_openai_stream`] |
//! | OpenAI Responses → OpenAI Chat | [`responses_to_chat`] | [`chat_to_responses`] |
//! | OpenAI Responses → Anthropic Messages | [`responses_to_chat`], then [`openai_to_anthropic`] | [`anthropic_to_openai_stream`], then [`chat_to_responses`] ([`chain`]) |

pub mod anthropic_to_openai;
pub mod anthropic_to_openai_stream;
pub mod chain;
pub mod chat_to_responses;
pub mod openai_to_anthropic;
pub mod openai_to_anthropic_stream;
pub mod relay;
pub mod responses_to_chat;
mod types;

use bytes::{Bytes, BytesMut};

use crate::error::ApiError;
use crate::observe::Usage;
use crate::providers::{Endpoint, WireFormat};

/// What an upstream event meant for the stream as a whole.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// More events follow.
    Continue,
    /// The upstream's end-of-stream marker: the client's stream was closed properly.
    Done,
    /// The upstream reported an error in-band; the client gets an error event in its shape.
    UpstreamError(String),
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
    /// An OpenAI Responses client in front of an OpenAI Chat upstream, or (`via_anthropic`) in
    /// front of an Anthropic upstream through Chat.
    ResponsesClient { model: String, via_anthropic: bool },
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
}

/// Translates a client request for `endpoint` into the upstream's format, or says it cannot.
pub fn request(
    endpoint: Endpoint,
    upstream: WireFormat,
    body: &[u8],
    context: &RequestContext<'_>,
) -> Result<Plan, ApiError> {
    match endpoint {
        Endpoint::Responses => {
            let chat = responses_to_chat::translate(body, context)?;
            let via_anthropic = upstream == WireFormat::Anthropic;
            let mapper = Mapper::ResponsesClient { model: context.requested_model.to_owned(), via_anthropic };
            if via_anthropic {
                // Chat is the hub: the Chat body goes on to Anthropic with the existing mapping.
                let (body, _) = openai_to_anthropic::translate(&chat, context)?;
                return Ok(Plan { endpoint: Endpoint::Messages, body, mapper });
            }
            Ok(Plan { endpoint: Endpoint::ChatCompletions, body: chat, mapper })
        }
        Endpoint::Messages => {
            let body = anthropic_to_openai::translate(body, context)?;
            Ok(Plan {
                endpoint: Endpoint::ChatCompletions,
                body,
                mapper: Mapper::AnthropicClient { model: context.requested_model.to_owned() },
            })
        }
        Endpoint::ChatCompletions => {
            let (body, include_usage) = openai_to_anthropic::translate(body, context)?;
            Ok(Plan {
                endpoint: Endpoint::Messages,
                body,
                mapper: Mapper::OpenAiClient { model: context.requested_model.to_owned(), include_usage },
            })
        }
        other => Err(ApiError::invalid(format!(
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
            Mapper::ResponsesClient { model, via_anthropic: false } => chat_to_responses::whole(body, model),
            Mapper::ResponsesClient { model, via_anthropic: true } => {
                let (chat, usage) = anthropic_to_openai_stream::whole(body, model)?;
                let (response, _) = chat_to_responses::whole(&chat, model)?;
                Ok((response, usage))
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
            Mapper::ResponsesClient { model, via_anthropic: false } => {
                Box::new(chat_to_responses::ToResponses::new(model))
            }
            Mapper::ResponsesClient { model, via_anthropic: true } => Box::new(chain::Chain::new(
                Box::new(anthropic_to_openai_stream::ToOpenAi::new(model, true)),
                Box::new(chat_to_responses::ToResponses::new(model)),
            )),
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
