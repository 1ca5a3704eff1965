//! OpenAI Chat answer → Gemini `GenerateContentResponse`, for a Gemini client in front of an
//! OpenAI-compatible model.
//!
//! Streams, chunk by chunk: `delta.content` → a chunk with a `text` part, `delta.reasoning_content`
//! (or `reasoning`) → a `text` part with `thought: true`. Gemini sends a function call whole, so
//! `tool_calls` deltas are gathered by index and sent as `functionCall` parts (args parsed) in
//! the last chunk, with the `finishReason` (`stop`/`tool_calls` → `STOP`, `length` →
//! `MAX_TOKENS`, `content_filter` → `SAFETY`) and `usageMetadata` (from the `include_usage`
//! chunk: `promptTokenCount`, `candidatesTokenCount` without the reasoning tokens,
//! `thoughtsTokenCount`, `cachedContentTokenCount`). That last chunk goes out at `[DONE]`. An
//! upstream `{"error":…}` chunk becomes the client's error event.

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value, json};

use super::budget::{Budget, CallIndex};
use super::chat_wire::{ChatChunk as Chunk, ChatCompletion, ToolCallDelta};
use super::{Flow, StreamTranslator, random_id};
use crate::wire::Usage;

#[derive(Default)]
struct PendingCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

pub struct ToGemini {
    model: String,
    response_id: Option<String>,
    calls: Vec<PendingCall>,
    /// Positions in `calls` by the upstream's `tool_calls[].index`.
    calls_by_index: CallIndex,
    /// What `calls` holds, bounded.
    budget: Budget,
    finish: Option<&'static str>,
    usage: Option<Usage>,
}

impl ToGemini {
    pub fn new(model: &str) -> ToGemini {
        ToGemini {
            model: model.to_owned(),
            response_id: None,
            calls: Vec::new(),
            calls_by_index: CallIndex::default(),
            budget: Budget::default(),
            finish: None,
            usage: None,
        }
    }

    fn id(&mut self, upstream: Option<&str>) -> String {
        if self.response_id.is_none() {
            self.response_id = Some(upstream.map_or_else(random_id, str::to_owned));
        }
        self.response_id.clone().unwrap_or_default()
    }

    fn write(&mut self, out: &mut BytesMut, mut parts: Vec<Value>, last: bool) {
        if parts.is_empty() {
            // Gemini's own last chunk carries an empty text part; some clients expect a part.
            parts.push(json!({"text": ""}));
        }
        let mut candidate = Map::new();
        candidate.insert("content".into(), json!({"parts": parts, "role": "model"}));
        if last {
            candidate.insert("finishReason".into(), json!(self.finish.unwrap_or("STOP")));
        }
        candidate.insert("index".into(), json!(0));
        let mut chunk = Map::new();
        chunk.insert("candidates".into(), json!([candidate]));
        if last && let Some(usage) = &self.usage {
            chunk.insert("usageMetadata".into(), usage_metadata(usage));
        }
        chunk.insert("modelVersion".into(), json!(self.model));
        let id = self.id(None);
        chunk.insert("responseId".into(), json!(id));
        super::write_event(out, None, &Value::Object(chunk));
    }

    fn tool_delta(&mut self, call: ToolCallDelta) {
        let index = call.index.unwrap_or(self.calls.len());
        let position = match self.calls_by_index.get(&index) {
            Some(position) => *position,
            None => {
                if !self.budget.may_add_call(self.calls.len()) {
                    return;
                }
                self.calls.push(PendingCall::default());
                self.calls_by_index.insert(index, self.calls.len() - 1);
                self.calls.len() - 1
            }
        };
        let pending = &mut self.calls[position];
        if call.id.is_some() {
            pending.id = call.id;
        }
        if let Some(function) = call.function {
            if let Some(name) = function.name {
                pending.name.push_str(&name);
                self.budget.keep(name.len());
            }
            if let Some(arguments) = function.arguments {
                pending.arguments.push_str(&arguments);
                self.budget.keep(arguments.len());
            }
        }
    }

    fn function_parts(&mut self) -> Vec<Value> {
        self.calls_by_index.clear();
        std::mem::take(&mut self.calls).into_iter().map(function_call_part).collect()
    }
}

fn function_call_part(call: PendingCall) -> Value {
    let args: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
    let mut function_call = Map::new();
    if let Some(id) = call.id {
        function_call.insert("id".into(), json!(id));
    }
    function_call.insert("name".into(), json!(call.name));
    function_call.insert("args".into(), args);
    json!({"functionCall": function_call})
}

fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP",
    }
}

/// The gateway's usage as Gemini's `usageMetadata` (its candidates count leaves thoughts out).
pub fn usage_metadata(usage: &Usage) -> Value {
    let mut metadata = Map::new();
    metadata.insert("promptTokenCount".into(), json!(usage.input_tokens));
    metadata.insert("candidatesTokenCount".into(), json!(usage.output_tokens.saturating_sub(usage.reasoning_tokens)));
    metadata.insert("totalTokenCount".into(), json!(usage.input_tokens + usage.output_tokens));
    if usage.cached_input_tokens > 0 {
        metadata.insert("cachedContentTokenCount".into(), json!(usage.cached_input_tokens));
    }
    if usage.reasoning_tokens > 0 {
        metadata.insert("thoughtsTokenCount".into(), json!(usage.reasoning_tokens));
    }
    Value::Object(metadata)
}

impl StreamTranslator for ToGemini {
    fn event(&mut self, _name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        if data == b"[DONE]" {
            let parts = self.function_parts();
            self.write(out, parts, true);
            return Flow::Done;
        }
        let chunk = match Chunk::read(data) {
            Ok(chunk) => chunk,
            Err(message) => return Flow::UpstreamError(message),
        };
        self.id(chunk.id.as_deref());
        if let Some(usage) = &chunk.usage {
            self.usage = Some(Usage::from_openai(usage));
        }
        for choice in chunk.choices {
            let delta = choice.delta.unwrap_or_default();
            let mut parts = Vec::new();
            if let Some(thought) = delta.reasoning_content.or(delta.reasoning).filter(|t| !t.is_empty()) {
                parts.push(json!({"text": thought, "thought": true}));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                parts.push(json!({"text": text}));
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.tool_delta(call);
            }
            if !parts.is_empty() {
                self.write(out, parts, false);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(finish_reason(&reason));
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

/// A whole Chat answer as a Gemini answer.
pub fn whole(body: &[u8], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    let completion: ChatCompletion =
        serde_json::from_slice(body).map_err(|err| format!("the answer is not an OpenAI chat completion: {err}"))?;
    let usage = completion.usage.as_ref().map(Usage::from_openai);
    let candidates: Vec<Value> = completion
        .choices
        .into_iter()
        .enumerate()
        .map(|(index, choice)| {
            let mut parts = Vec::new();
            if let Some(message) = choice.message {
                if let Some(thought) = message.reasoning_content.or(message.reasoning).filter(|t| !t.is_empty()) {
                    parts.push(json!({"text": thought, "thought": true}));
                }
                if let Some(text) = message.content.filter(|t| !t.is_empty()) {
                    parts.push(json!({"text": text}));
                }
                for call in message.tool_calls.into_iter().flatten() {
                    parts.push(function_call_part(PendingCall {
                        id: call.id,
                        name: call.function.name,
                        arguments: call.function.arguments,
                    }));
                }
            }
            let reason = finish_reason(choice.finish_reason.as_deref().unwrap_or("stop"));
            json!({"content": {"parts": parts, "role": "model"}, "finishReason": reason, "index": index})
        })
        .collect();
    let mut answer = Map::new();
    answer.insert("candidates".into(), Value::Array(candidates));
    if let Some(usage) = &usage {
        answer.insert("usageMetadata".into(), usage_metadata(usage));
    }
    answer.insert("modelVersion".into(), json!(model));
    answer.insert("responseId".into(), json!(completion.id.unwrap_or_else(random_id)));
    let body = serde_json::to_vec(&Value::Object(answer)).map_err(|err| err.to_string())?;
    Ok((Bytes::from(body), usage))
}
