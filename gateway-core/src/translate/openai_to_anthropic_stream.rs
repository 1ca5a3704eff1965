//! OpenAI Chat answer → Anthropic Messages answer, for an Anthropic client in front of an
//! OpenAI-compatible model.
//!
//! Streams, chunk by chunk: the first chunk opens `message_start` (+ `ping`);
//! `delta.reasoning_content` (or `reasoning`) opens a `thinking` block of `thinking_delta`s,
//! closed with a synthesized `signature_delta`; `delta.content` opens a `text` block;
//! each new `tool_calls[i].index` closes the open block and opens a `tool_use` block whose
//! `arguments` pieces become `input_json_delta`s (OpenAI tool index → Anthropic block index);
//! `finish_reason` closes the open block (`stop`→`end_turn`, `length`→`max_tokens`,
//! `tool_calls`→`tool_use`, `content_filter`→`refusal`); `[DONE]` emits `message_delta` (stop
//! reason, usage from the `include_usage` chunk, cached tokens as `cache_read_input_tokens`)
//! and `message_stop`. An upstream `{"error":…}` chunk becomes an Anthropic `error` event.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

use super::budget::{Budget, CallIndex};
use super::chat_wire::{ChatChunk as Chunk, ChatCompletion, ToolCallDelta};
use super::{Flow, StreamTranslator, random_id, write_event};
use crate::wire::Usage;

/// The signature given to thinking blocks the gateway synthesizes; clients echo it back and the
/// gateway strips thinking blocks before they reach an OpenAI upstream.
pub const SYNTHETIC_SIGNATURE: &str = "switchyard-synthetic-signature";

struct ToolSeen {
    id: Option<String>,
    block: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Thinking,
    Text,
    Tool,
}

pub struct ToAnthropic {
    model: String,
    started: bool,
    /// The open content block: its Anthropic index and kind.
    open: Option<(usize, Open)>,
    next_index: usize,
    /// Each tool call seen: its id and its Anthropic block index.
    tools: Vec<ToolSeen>,
    /// Positions in `tools` by OpenAI index (or, from servers that send none, a made-up one):
    /// a delta finds its call without a scan.
    tools_by_index: CallIndex,
    /// Only the number of tool calls is bounded here: nothing of the answer is kept.
    budget: Budget,
    stop_reason: Option<&'static str>,
    usage: Option<Usage>,
}

impl ToAnthropic {
    pub fn new(model: &str) -> ToAnthropic {
        ToAnthropic {
            model: model.to_owned(),
            started: false,
            open: None,
            next_index: 0,
            tools: Vec::new(),
            tools_by_index: CallIndex::default(),
            budget: Budget::default(),
            stop_reason: None,
            usage: None,
        }
    }

    fn start(&mut self, id: Option<&str>, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = id.map_or_else(|| format!("msg_{}", random_id()), |id| format!("msg_{id}"));
        write_event(
            out,
            Some("message_start"),
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        );
        write_event(out, Some("ping"), &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some((index, kind)) = self.open.take() {
            if kind == Open::Thinking {
                delta(out, index, json!({"type": "signature_delta", "signature": SYNTHETIC_SIGNATURE}));
            }
            write_event(out, Some("content_block_stop"), &json!({"type": "content_block_stop", "index": index}));
        }
    }

    /// Makes sure a block of `kind` is open (text and thinking only); returns its index.
    fn ensure(&mut self, kind: Open, out: &mut BytesMut) -> usize {
        if let Some((index, open)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let block = match kind {
            Open::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
            _ => json!({"type": "text", "text": ""}),
        };
        self.open_block(block, kind, out)
    }

    fn open_block(&mut self, block: Value, kind: Open, out: &mut BytesMut) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        write_event(
            out,
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        self.open = Some((index, kind));
        index
    }

    fn tool(&mut self, call: ToolCallDelta, out: &mut BytesMut) {
        let (name, arguments) = match call.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        let known = match call.index {
            Some(i) => self.tools_by_index.get(&i).and_then(|position| self.tools.get(*position)),
            // Without an index (some servers): a new id is a new call, else the last call goes on.
            None => match &call.id {
                Some(id) => self.tools.iter().find(|t| t.id.as_ref() == Some(id)),
                None => self.tools.last(),
            },
        };
        let index = match known {
            Some(tool) => tool.block,
            None => {
                if !self.budget.may_add_call(self.tools.len()) {
                    return;
                }
                self.close(out);
                let openai_index = call.index.unwrap_or(usize::MAX - self.tools.len());
                let id = call.id.clone().unwrap_or_else(|| format!("toolu_{}", random_id()));
                let block = json!({"type": "tool_use", "id": id, "name": name.unwrap_or_default(), "input": {}});
                let block = self.open_block(block, Open::Tool, out);
                self.tools_by_index.insert(openai_index, self.tools.len());
                self.tools.push(ToolSeen { id: call.id, block });
                block
            }
        };
        if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
            delta(out, index, json!({"type": "input_json_delta", "partial_json": arguments}));
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.close(out);
        let usage = self.usage.unwrap_or_default();
        write_event(
            out,
            Some("message_delta"),
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": anthropic_usage(&usage),
            }),
        );
        write_event(out, Some("message_stop"), &json!({"type": "message_stop"}));
    }
}

fn delta(out: &mut BytesMut, index: usize, delta: Value) {
    write_event(
        out,
        Some("content_block_delta"),
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    );
}

/// Anthropic counts cached tokens apart from `input_tokens`.
fn anthropic_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(usage.cached_input_tokens),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "cache_creation_input_tokens": 0,
    })
}

fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

impl StreamTranslator for ToAnthropic {
    fn event(&mut self, _name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        if data == b"[DONE]" {
            self.start(None, out);
            self.finish(out);
            return Flow::Done;
        }
        let chunk = match Chunk::read(data) {
            Ok(chunk) => chunk,
            Err(message) => return Flow::UpstreamError(message),
        };
        self.start(chunk.id.as_deref(), out);
        if let Some(usage) = &chunk.usage {
            self.usage = Some(Usage::from_openai(usage));
        }
        for choice in chunk.choices {
            let delta = choice.delta.unwrap_or_default();
            if let Some(thinking) = delta.reasoning_content.or(delta.reasoning).filter(|t| !t.is_empty()) {
                let index = self.ensure(Open::Thinking, out);
                self::delta(out, index, json!({"type": "thinking_delta", "thinking": thinking}));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                let index = self.ensure(Open::Text, out);
                self::delta(out, index, json!({"type": "text_delta", "text": text}));
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.tool(call, out);
            }
            if let Some(finish) = choice.finish_reason {
                self.close(out);
                self.stop_reason = Some(stop_reason(&finish));
            }
        }
        match self.budget.exceeded() {
            Some(message) => Flow::Failed(message),
            None => Flow::Continue,
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// A whole Chat completion as an Anthropic `message`.
pub fn whole(body: &[u8], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    let completion: ChatCompletion =
        serde_json::from_slice(body).map_err(|e| format!("the response is not a chat completion: {e}"))?;
    let usage = completion.usage.as_ref().map(Usage::from_openai);
    let choice = completion.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    let mut content = Vec::new();
    if let Some(message) = choice.and_then(|c| c.message) {
        if let Some(thinking) = message.reasoning_content.or(message.reasoning).filter(|t| !t.is_empty()) {
            content.push(json!({"type": "thinking", "thinking": thinking, "signature": SYNTHETIC_SIGNATURE}));
        }
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in message.tool_calls.into_iter().flatten() {
            let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
            content.push(json!({"type": "tool_use", "id": call.id.unwrap_or_else(|| format!("toolu_{}", random_id())), "name": call.function.name, "input": input}));
        }
    }
    let id = completion.id.map_or_else(|| format!("msg_{}", random_id()), |id| format!("msg_{id}"));
    let message = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(finish.as_deref().unwrap_or("stop")),
        "stop_sequence": null,
        "usage": anthropic_usage(&usage.unwrap_or_default()),
    });
    Ok((Bytes::from(message.to_string()), usage))
}
