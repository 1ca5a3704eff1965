//! Anthropic Messages answer → OpenAI Chat answer, for an OpenAI client in front of an
//! Anthropic provider.
//!
//! Streams, event by event: `message_start` → the first chunk (`role: assistant`); `text_delta`
//! → `delta.content`; `thinking_delta` → `delta.reasoning_content` (signatures dropped);
//! `tool_use` block start → a `tool_calls` entry (id, name) at the next tool index, its
//! `input_json_delta`s → `function.arguments` pieces; `message_delta.stop_reason` → the final
//! chunk's `finish_reason` (`end_turn`/`stop_sequence`→`stop`, `max_tokens`→`length`,
//! `tool_use`→`tool_calls`, `refusal`→`content_filter`); `message_stop` → the usage chunk when
//! the client asked for `stream_options.include_usage`, then `data: [DONE]`; an `error` event
//! → an OpenAI error event.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Value, json};

use super::budget::{Budget, CallIndex};
use super::{Flow, StreamTranslator, random_id, write_event};
use crate::wire::{AnthropicUsage, Usage};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        usage: Option<AnthropicUsage>,
    },
    MessageStop,
    Error {
        error: Value,
    },
    /// `ping`, `content_block_stop` and anything newer.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    id: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

pub struct ToOpenAi {
    model: String,
    include_usage: bool,
    id: String,
    created: u64,
    /// Anthropic block index → OpenAI tool-call index (a map: each argument delta looks it up).
    tools: CallIndex,
    /// Only the number of tool calls is bounded here: nothing of the answer is kept.
    budget: Budget,
    finish: Option<&'static str>,
    usage: AnthropicUsage,
    saw_usage: bool,
}

impl ToOpenAi {
    pub fn new(model: &str, include_usage: bool) -> ToOpenAi {
        ToOpenAi {
            model: model.to_owned(),
            include_usage,
            id: format!("chatcmpl-{}", random_id()),
            created: unix_now(),
            tools: CallIndex::default(),
            budget: Budget::default(),
            finish: None,
            usage: AnthropicUsage::default(),
            saw_usage: false,
        }
    }

    fn chunk(&self, out: &mut BytesMut, delta: Value, finish: Option<&str>) {
        write_event(
            out,
            None,
            &json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }),
        );
    }
}

fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// An OpenAI `usage` object from Anthropic's (cached tokens counted inside `prompt_tokens`).
fn openai_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
    })
}

impl StreamTranslator for ToOpenAi {
    fn event(&mut self, _name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        let event: Event = match serde_json::from_slice(data) {
            Ok(event) => event,
            Err(err) => return Flow::UpstreamError(format!("an unreadable stream event: {err}")),
        };
        match event {
            Event::MessageStart { message } => {
                if let Some(id) = message.id {
                    self.id = format!("chatcmpl-{id}");
                }
                if let Some(usage) = message.usage {
                    self.usage.merge(usage);
                    self.saw_usage = true;
                }
                self.chunk(out, json!({"role": "assistant", "content": ""}), None);
            }
            Event::ContentBlockStart { index, content_block: StartBlock::ToolUse { id, name } } => {
                let tool_index = self.tools.len();
                if !self.budget.may_add_call(tool_index) {
                    return Flow::Failed(self.budget.exceeded().unwrap_or_default());
                }
                self.tools.insert(index, tool_index);
                self.chunk(
                    out,
                    json!({"tool_calls": [{"index": tool_index, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]}),
                    None,
                );
            }
            Event::ContentBlockStart { .. } | Event::Other => {}
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => self.chunk(out, json!({"content": text}), None),
                BlockDelta::ThinkingDelta { thinking } => {
                    self.chunk(out, json!({"reasoning_content": thinking}), None);
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    if let Some(tool_index) = self.tools.get(&index).copied() {
                        self.chunk(
                            out,
                            json!({"tool_calls": [{"index": tool_index, "function": {"arguments": partial_json}}]}),
                            None,
                        );
                    }
                }
                BlockDelta::Other => {}
            },
            Event::MessageDelta { delta, usage } => {
                if let Some(stop) = delta.stop_reason {
                    self.finish = Some(finish_reason(&stop));
                }
                if let Some(usage) = usage {
                    self.usage.merge(usage);
                    self.saw_usage = true;
                }
            }
            Event::MessageStop => {
                self.chunk(out, json!({}), Some(self.finish.unwrap_or("stop")));
                if self.include_usage {
                    let usage = self.usage.to_usage();
                    write_event(
                        out,
                        None,
                        &json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.model, "choices": [], "usage": openai_usage(&usage)}),
                    );
                }
                out.put_slice(b"data: [DONE]\n\n");
                return Flow::Done;
            }
            Event::Error { error } => {
                let message =
                    error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_owned);
                return Flow::UpstreamError(message);
            }
        }
        Flow::Continue
    }

    fn usage(&self) -> Option<Usage> {
        self.saw_usage.then(|| self.usage.to_usage())
    }
}

/// A whole Anthropic `message` as a Chat completion.
pub fn whole(body: &[u8], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    #[derive(Deserialize)]
    struct Message {
        id: Option<String>,
        #[serde(default)]
        content: Vec<Block>,
        stop_reason: Option<String>,
        usage: Option<AnthropicUsage>,
    }
    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Block {
        Text {
            text: String,
        },
        Thinking {
            thinking: String,
        },
        ToolUse {
            id: String,
            name: String,
            input: Value,
        },
        #[serde(other)]
        Other,
    }
    let message: Message =
        serde_json::from_slice(body).map_err(|e| format!("the response is not an Anthropic message: {e}"))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in message.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::Thinking { thinking } => reasoning.push_str(&thinking),
            Block::ToolUse { id, name, input } => calls.push(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()},
            })),
            Block::Other => {}
        }
    }
    let mut reply = serde_json::Map::new();
    reply.insert("role".into(), json!("assistant"));
    reply.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
    if !reasoning.is_empty() {
        reply.insert("reasoning_content".into(), json!(reasoning));
    }
    if !calls.is_empty() {
        reply.insert("tool_calls".into(), Value::Array(calls));
    }
    let usage = message.usage.as_ref().map(AnthropicUsage::to_usage);
    let id = message.id.map_or_else(|| format!("chatcmpl-{}", random_id()), |id| format!("chatcmpl-{id}"));
    let completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": reply,
            "finish_reason": finish_reason(message.stop_reason.as_deref().unwrap_or("end_turn")),
        }],
        "usage": openai_usage(&usage.unwrap_or_default()),
    });
    Ok((Bytes::from(completion.to_string()), usage))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
