//! OpenAI Chat answer → OpenAI Responses answer, for a Responses client in front of a provider
//! without the Responses API (and, chained after `anthropic_to_openai_stream`, in front of
//! Anthropic).
//!
//! Streams, chunk by chunk, in the sequence Codex and the SDKs consume: the first chunk opens
//! `response.created` and `response.in_progress`; `delta.reasoning_content` (or `reasoning`)
//! opens a `reasoning` item streamed as `response.reasoning_text.delta`; `delta.content` opens
//! a `message` item (`response.output_item.added`, `response.content_part.added`, then
//! `response.output_text.delta`s); each new `tool_calls[i]` opens a `function_call` item whose
//! `arguments` pieces become `response.function_call_arguments.delta`s. A new item closes the
//! open text or reasoning item (`….done`, `response.content_part.done`,
//! `response.output_item.done`); `[DONE]` closes the rest and sends `response.completed` (or
//! `response.incomplete` for `finish_reason: length` / `content_filter`) with every item and
//! the usage (cached and reasoning tokens included). An upstream error, in-band or a broken
//! stream, becomes `error` + `response.failed`, never `response.completed`.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

use super::budget::{Budget, CallIndex};
use super::chat_wire::{ChatChunk as Chunk, ChatCompletion, ToolCallDelta};
use super::{Flow, StreamTranslator, random_id};
use crate::error::ApiError;
use crate::wire::Usage;

/// One output item as it is built.
#[derive(Debug)]
enum Output {
    Reasoning { id: String, text: String },
    Message { id: String, text: String },
    FunctionCall { id: String, call_id: String, name: String, arguments: String },
}

impl Output {
    fn id(&self) -> &str {
        match self {
            Output::Reasoning { id, .. } | Output::Message { id, .. } | Output::FunctionCall { id, .. } => id,
        }
    }

    /// The item as the Responses API shows it: `in_progress` (as added, empty), else with its
    /// content (`completed`, or `incomplete` when the stream failed before it was done).
    fn to_json(&self, status: &str) -> Value {
        let full = status != "in_progress";
        match self {
            Output::Reasoning { id, text } => json!({
                "type": "reasoning", "id": id, "summary": [],
                "content": if full { json!([{"type": "reasoning_text", "text": text}]) } else { json!([]) },
                "status": status,
            }),
            Output::Message { id, text } => json!({
                "type": "message", "id": id, "role": "assistant", "status": status,
                "content": if full { json!([output_text(text)]) } else { json!([]) },
            }),
            Output::FunctionCall { id, call_id, name, arguments, .. } => json!({
                "type": "function_call", "id": id, "call_id": call_id, "name": name,
                "arguments": if full { arguments.as_str() } else { "" }, "status": status,
            }),
        }
    }
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

pub struct ToResponses {
    id: String,
    model: String,
    created_at: u64,
    sequence: u64,
    started: bool,
    items: Vec<Output>,
    /// The index of the item still open for deltas (text or reasoning), if any.
    open_text: Option<usize>,
    /// Function-call items not yet done, by output index.
    open_calls: Vec<usize>,
    /// The open calls again, by the upstream's `tool_calls[].index`.
    calls_by_index: CallIndex,
    /// What `items` holds, bounded.
    budget: Budget,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl ToResponses {
    pub fn new(model: &str) -> ToResponses {
        ToResponses {
            id: format!("resp_{}", random_id()),
            model: model.to_owned(),
            created_at: unix_now(),
            sequence: 0,
            started: false,
            items: Vec::new(),
            open_text: None,
            open_calls: Vec::new(),
            calls_by_index: CallIndex::default(),
            budget: Budget::default(),
            finish: None,
            usage: None,
        }
    }

    fn emit(&mut self, out: &mut BytesMut, kind: &str, event: Value) {
        write_typed_event(out, kind, Some(self.sequence), &event);
        self.sequence += 1;
    }

    fn response(&self, status: &str) -> Value {
        let done = status != "in_progress";
        let output: Vec<Value> = if done {
            // Items still open when a stream fails are shown as cut short.
            let open = |index: usize| self.open_text == Some(index) || self.open_calls.contains(&index);
            let item =
                |(index, item): (usize, &Output)| item.to_json(if open(index) { "incomplete" } else { "completed" });
            self.items.iter().enumerate().map(item).collect()
        } else {
            Vec::new()
        };
        let mut response = response_object(&self.id, &self.model, self.created_at, status, output);
        if done {
            response["usage"] = self.usage.as_ref().map_or(Value::Null, responses_usage);
            response["incomplete_details"] = incomplete_details(self.finish.as_deref());
        }
        response
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.response("in_progress");
        self.emit(out, "response.created", json!({"response": response}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    fn add(&mut self, item: Output, out: &mut BytesMut) -> usize {
        let index = self.items.len();
        let added = item.to_json("in_progress");
        self.items.push(item);
        self.emit(out, "response.output_item.added", json!({"output_index": index, "item": added}));
        index
    }

    /// Makes sure a reasoning (`reasoning: true`) or message item is open; returns its index.
    fn ensure_text(&mut self, reasoning: bool, out: &mut BytesMut) -> usize {
        if let Some(index) = self.open_text
            && matches!(self.items[index], Output::Reasoning { .. }) == reasoning
        {
            return index;
        }
        self.close_text(out);
        let index = if reasoning {
            self.add(Output::Reasoning { id: format!("rs_{}", random_id()), text: String::new() }, out)
        } else {
            let index = self.add(Output::Message { id: format!("msg_{}", random_id()), text: String::new() }, out);
            let item_id = self.items[index].id().to_owned();
            self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": output_text("")}),
            );
            index
        };
        self.open_text = Some(index);
        index
    }

    fn close_text(&mut self, out: &mut BytesMut) {
        let Some(index) = self.open_text.take() else { return };
        let item_id = self.items[index].id().to_owned();
        match &self.items[index] {
            Output::Reasoning { text, .. } => {
                let text = text.clone();
                self.emit(
                    out,
                    "response.reasoning_text.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text}),
                );
            }
            Output::Message { text, .. } => {
                let text = text.clone();
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": output_text(&text)}),
                );
            }
            Output::FunctionCall { .. } => {}
        }
        self.item_done(index, out);
    }

    fn item_done(&mut self, index: usize, out: &mut BytesMut) {
        let item = self.items[index].to_json("completed");
        self.emit(out, "response.output_item.done", json!({"output_index": index, "item": item}));
    }

    fn text(&mut self, reasoning: bool, delta: String, out: &mut BytesMut) {
        let index = self.ensure_text(reasoning, out);
        let item_id = self.items[index].id().to_owned();
        if let Output::Reasoning { text, .. } | Output::Message { text, .. } = &mut self.items[index] {
            text.push_str(&delta);
        }
        self.budget.keep(delta.len());
        let kind = if reasoning { "response.reasoning_text.delta" } else { "response.output_text.delta" };
        let mut event = json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": delta});
        if !reasoning {
            event["logprobs"] = json!([]);
        }
        self.emit(out, kind, event);
    }

    fn tool(&mut self, call: ToolCallDelta, out: &mut BytesMut) {
        let (name, arguments) = match call.function {
            Some(f) => (f.name, f.arguments),
            None => (None, None),
        };
        let known = match (call.index, &call.id) {
            (Some(i), _) => self.calls_by_index.get(&i).copied(),
            // Without an index (some servers): a new id is a new call, else the last call goes on.
            // A scan, bounded by `MAX_TOOL_CALLS`: only such servers pay it.
            (None, Some(id)) => self
                .open_calls
                .iter()
                .copied()
                .find(|c| matches!(&self.items[*c], Output::FunctionCall { call_id, .. } if call_id == id)),
            (None, None) => self.open_calls.last().copied(),
        };
        let index = match known {
            Some(index) => index,
            None => {
                if !self.budget.may_add_call(self.open_calls.len()) {
                    return;
                }
                self.close_text(out);
                let chat_index = call.index.unwrap_or(usize::MAX - self.open_calls.len());
                let item = Output::FunctionCall {
                    id: format!("fc_{}", random_id()),
                    call_id: call.id.unwrap_or_else(|| format!("call_{}", random_id())),
                    name: name.unwrap_or_default(),
                    arguments: String::new(),
                };
                let index = self.add(item, out);
                self.open_calls.push(index);
                self.calls_by_index.insert(chat_index, index);
                index
            }
        };
        if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
            let item_id = self.items[index].id().to_owned();
            if let Output::FunctionCall { arguments: all, .. } = &mut self.items[index] {
                all.push_str(&arguments);
            }
            self.budget.keep(arguments.len());
            self.emit(
                out,
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": index, "delta": arguments}),
            );
        }
    }

    fn close_calls(&mut self, out: &mut BytesMut) {
        self.calls_by_index.clear();
        for index in std::mem::take(&mut self.open_calls) {
            let item_id = self.items[index].id().to_owned();
            if let Output::FunctionCall { arguments, name, .. } = &self.items[index] {
                let event = json!({"item_id": item_id, "output_index": index, "name": name, "arguments": arguments});
                self.emit(out, "response.function_call_arguments.done", event);
            }
            self.item_done(index, out);
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.start(out);
        self.close_text(out);
        self.close_calls(out);
        let status = if incomplete_details(self.finish.as_deref()).is_null() { "completed" } else { "incomplete" };
        let response = self.response(status);
        self.emit(out, &format!("response.{status}"), json!({"response": response}));
    }
}

impl StreamTranslator for ToResponses {
    fn event(&mut self, _name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        if data == b"[DONE]" {
            self.finish(out);
            return Flow::Done;
        }
        let chunk = match Chunk::read(data) {
            Ok(chunk) => chunk,
            Err(message) => return Flow::UpstreamError(message),
        };
        self.start(out);
        if let Some(usage) = &chunk.usage {
            self.usage = Some(Usage::from_openai(usage));
        }
        for choice in chunk.choices {
            let delta = choice.delta.unwrap_or_default();
            if let Some(thinking) = delta.reasoning_content.or(delta.reasoning).filter(|t| !t.is_empty()) {
                self.text(true, thinking, out);
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.text(false, text, out);
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.tool(call, out);
            }
            if let Some(finish) = choice.finish_reason {
                self.finish = Some(finish);
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

    fn error_event(&mut self, error: &ApiError, out: &mut BytesMut) -> bool {
        self.start(out);
        let mut response = self.response("failed");
        response["error"] = json!({"code": error_code(error), "message": error.to_string()});
        response["incomplete_details"] = Value::Null;
        self.emit(out, "error", error_fields(error));
        self.emit(out, "response.failed", json!({"response": response}));
        true
    }
}

/// `error` and `response.failed` for a stream that failed where no translator knows the
/// response (a passthrough stream from a Responses upstream).
pub fn failure_events(response_id: Option<&str>, error: &ApiError) -> Bytes {
    let id = response_id.map_or_else(|| format!("resp_{}", random_id()), str::to_owned);
    let mut response = response_object(&id, "", unix_now(), "failed", Vec::new());
    response["error"] = json!({"code": error_code(error), "message": error.to_string()});
    let mut out = BytesMut::new();
    write_typed_event(&mut out, "error", None, &error_fields(error));
    write_typed_event(&mut out, "response.failed", None, &json!({"response": response}));
    out.freeze()
}

/// Writes `event: kind` and the event's data with `type` (and `sequence_number`) first, as
/// OpenAI writes them: clients that look at the start of the data for the type find it.
fn write_typed_event(out: &mut BytesMut, kind: &str, sequence: Option<u64>, fields: &Value) {
    use bytes::BufMut;
    out.put_slice(b"event: ");
    out.put_slice(kind.as_bytes());
    out.put_slice(b"\ndata: {\"type\":");
    // Writing JSON into a BytesMut cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), kind);
    if let Some(sequence) = sequence {
        out.put_slice(format!(",\"sequence_number\":{sequence}").as_bytes());
    }
    if let Value::Object(map) = fields {
        for (key, value) in map {
            out.put_slice(b",");
            let _ = serde_json::to_writer((&mut *out).writer(), key);
            out.put_slice(b":");
            let _ = serde_json::to_writer((&mut *out).writer(), value);
        }
    }
    out.put_slice(b"}\n\n");
}

fn error_fields(error: &ApiError) -> Value {
    json!({"code": error_code(error), "message": error.to_string(), "param": null})
}

/// Codex retries a failed response unless its code says the request itself cannot succeed.
fn error_code(error: &ApiError) -> Value {
    error.code().unwrap_or_else(|| json!("server_error"))
}

fn incomplete_details(finish: Option<&str>) -> Value {
    match finish {
        Some("length") => json!({"reason": "max_output_tokens"}),
        Some("content_filter") => json!({"reason": "content_filter"}),
        _ => Value::Null,
    }
}

fn response_object(id: &str, model: &str, created_at: u64, status: &str, output: Vec<Value>) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "store": false,
        "usage": null,
    })
}

/// A Responses `usage` object (cached tokens inside `input_tokens`, reasoning inside
/// `output_tokens`, as OpenAI counts them).
fn responses_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

/// A whole Chat completion as a Responses `response`.
pub fn whole(body: &[u8], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    let completion: ChatCompletion =
        serde_json::from_slice(body).map_err(|e| format!("the response is not a chat completion: {e}"))?;
    let usage = completion.usage.as_ref().map(Usage::from_openai);
    let mut translator = ToResponses::new(model);
    translator.usage = usage;
    let choice = completion.choices.into_iter().next();
    translator.finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    if let Some(message) = choice.and_then(|c| c.message) {
        if let Some(text) = message.reasoning_content.or(message.reasoning).filter(|t| !t.is_empty()) {
            translator.items.push(Output::Reasoning { id: format!("rs_{}", random_id()), text });
        }
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            translator.items.push(Output::Message { id: format!("msg_{}", random_id()), text });
        }
        for call in message.tool_calls.into_iter().flatten() {
            translator.items.push(Output::FunctionCall {
                id: format!("fc_{}", random_id()),
                call_id: call.id.unwrap_or_else(|| format!("call_{}", random_id())),
                name: call.function.name,
                arguments: call.function.arguments,
            });
        }
    }
    let status = if incomplete_details(translator.finish.as_deref()).is_null() { "completed" } else { "incomplete" };
    Ok((Bytes::from(translator.response(status).to_string()), usage))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
