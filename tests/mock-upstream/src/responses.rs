//! OpenAI Responses API: `POST /v1/responses` (what Codex CLI speaks), streamed and not.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::answer::{Answer, CREATED, LastTurn, content_text, split};
use crate::answer::{parse_object, str_field};
use crate::behavior::Behavior;
use crate::errors::Family;
use crate::server::App;
use crate::stream::{EVENT_STREAM, Frames, json_body, sse_event, streamed};
use crate::usage;

/// Text part types of Responses input and output items.
const TEXT_TYPES: &[&str] = &["input_text", "output_text", "text"];

/// `POST /v1/responses`
pub(crate) async fn create(State(app): State<App>, body: Bytes) -> Response {
    let request = match parse_object(&body, Family::OpenAi) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let model = str_field(&request, "model");
    let behavior = Behavior::parse(model);
    let seq = app.next_seq();
    if let Some(response) = app.gate(&behavior, Family::OpenAi, seq).await {
        return response;
    }
    let first_tool = request
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tools.iter().find(|t| t.get("type").and_then(Value::as_str) == Some("function")))
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str);
    let answer = Answer::new(&behavior, last_turn(&request), first_tool, seq);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let chunks = behavior.chunks(app.options().chunks());
        streamed(response_events(&answer, model, chunks), EVENT_STREAM, &behavior, seq)
    } else {
        let body = response_object(&answer, model, "completed", output_items(&answer));
        json_body(Bytes::from(body.to_string()), &behavior, seq)
    }
}

/// How the input ends: trailing `function_call_output` items, else the last user item.
fn last_turn(request: &Value) -> LastTurn {
    let items = match request.get("input") {
        Some(Value::String(text)) => return LastTurn::User(text.clone()),
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    let outputs = items
        .iter()
        .rev()
        .take_while(|i| i.get("type").and_then(Value::as_str) == Some("function_call_output"))
        .count();
    if outputs > 0 {
        let results: Vec<String> =
            items[items.len() - outputs..].iter().map(|i| content_text(&i["output"], TEXT_TYPES)).collect();
        return LastTurn::ToolResult(results.join(" "));
    }
    let text = items
        .iter()
        .rev()
        .find(|i| i.get("role").and_then(Value::as_str) == Some("user"))
        .map(|i| content_text(&i["content"], TEXT_TYPES))
        .unwrap_or_default();
    LastTurn::User(text)
}

fn response_usage() -> Value {
    json!({
        "input_tokens": usage::PROMPT_TOKENS,
        "input_tokens_details": {"cached_tokens": usage::CACHED_TOKENS},
        "output_tokens": usage::COMPLETION_TOKENS,
        "output_tokens_details": {"reasoning_tokens": usage::REASONING_TOKENS},
        "total_tokens": usage::TOTAL_TOKENS,
    })
}

fn reasoning_id(seq: u64) -> String {
    format!("rs_mock_{seq}")
}

fn message_id(seq: u64) -> String {
    format!("msg_mock_{seq}")
}

fn call_item_id(seq: u64, index: usize) -> String {
    format!("fc_mock_{seq}_{index}")
}

fn call_id(seq: u64, index: usize) -> String {
    format!("call_mock_{seq}_{index}")
}

fn reasoning_item(seq: u64, summary: Option<&str>) -> Value {
    let summary = match summary {
        Some(text) => json!([{"type": "summary_text", "text": text}]),
        None => json!([]),
    };
    json!({"type": "reasoning", "id": reasoning_id(seq), "summary": summary})
}

fn message_item(seq: u64, text: Option<&str>, status: &str) -> Value {
    let content = match text {
        Some(text) => json!([{"type": "output_text", "text": text, "annotations": []}]),
        None => json!([]),
    };
    json!({
        "type": "message",
        "id": message_id(seq),
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

fn call_item(seq: u64, index: usize, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": call_item_id(seq, index),
        "call_id": call_id(seq, index),
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// The finished output items of `answer`.
fn output_items(answer: &Answer) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(reasoning) = answer.reasoning {
        items.push(reasoning_item(answer.seq, Some(reasoning)));
    }
    if let Some(text) = answer.text() {
        items.push(message_item(answer.seq, Some(text), "completed"));
    }
    for call in answer.tool_calls() {
        items.push(call_item(answer.seq, call.index, &call.name, call.arguments, "completed"));
    }
    items
}

/// The `response` object; usage only once completed.
fn response_object(answer: &Answer, model: &str, status: &str, output: Vec<Value>) -> Value {
    let completed = status == "completed";
    json!({
        "id": format!("resp_mock_{}", answer.seq),
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": output,
        "usage": if completed { response_usage() } else { Value::Null },
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "metadata": {},
        "parallel_tool_calls": true,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
    })
}

/// Builds Responses events: each has `type` and an increasing `sequence_number`.
struct Events {
    frames: Frames,
    sequence: u64,
}

impl Events {
    fn push(&mut self, kind: &str, fields: Value, content: bool) {
        let mut event = Map::new();
        event.insert("type".into(), json!(kind));
        event.insert("sequence_number".into(), json!(self.sequence));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        self.sequence += 1;
        let frame = sse_event(kind, &Value::Object(event));
        if content {
            self.frames.content(frame);
        } else {
            self.frames.meta(frame);
        }
    }
}

/// The events of a streamed response, `response.created` to `response.completed`.
fn response_events(answer: &Answer, model: &str, chunks: usize) -> Frames {
    let seq = answer.seq;
    let mut events = Events { frames: Frames::default(), sequence: 0 };
    let pending = response_object(answer, model, "in_progress", Vec::new());
    events.push("response.created", json!({"response": pending}), false);
    events.push("response.in_progress", json!({"response": pending}), false);

    let mut output_index = 0;
    if let Some(reasoning) = answer.reasoning {
        let id = reasoning_id(seq);
        events.push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": reasoning_item(seq, None)}),
            false,
        );
        let at = json!({"item_id": id, "output_index": output_index, "summary_index": 0});
        let with = |extra: Value| merge(&at, extra);
        events.push(
            "response.reasoning_summary_part.added",
            with(json!({"part": {"type": "summary_text", "text": ""}})),
            false,
        );
        for piece in split(reasoning, 2) {
            events.push("response.reasoning_summary_text.delta", with(json!({"delta": piece})), false);
        }
        events.push("response.reasoning_summary_text.done", with(json!({"text": reasoning})), false);
        events.push(
            "response.reasoning_summary_part.done",
            with(json!({"part": {"type": "summary_text", "text": reasoning}})),
            false,
        );
        events.push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": reasoning_item(seq, Some(reasoning))}),
            false,
        );
        output_index += 1;
    }
    if let Some(text) = answer.text() {
        let at = json!({"item_id": message_id(seq), "output_index": output_index, "content_index": 0});
        let with = |extra: Value| merge(&at, extra);
        events.push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": message_item(seq, None, "in_progress")}),
            false,
        );
        events.push(
            "response.content_part.added",
            with(json!({"part": {"type": "output_text", "text": "", "annotations": []}})),
            false,
        );
        for piece in split(text, chunks) {
            events.push("response.output_text.delta", with(json!({"delta": piece, "logprobs": []})), true);
        }
        events.push("response.output_text.done", with(json!({"text": text, "logprobs": []})), false);
        events.push(
            "response.content_part.done",
            with(json!({"part": {"type": "output_text", "text": text, "annotations": []}})),
            false,
        );
        events.push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": message_item(seq, Some(text), "completed")}),
            false,
        );
        output_index += 1;
    }
    for call in answer.tool_calls() {
        let at = json!({"item_id": call_item_id(seq, call.index), "output_index": output_index});
        let with = |extra: Value| merge(&at, extra);
        events.push(
            "response.output_item.added",
            json!({
                "output_index": output_index,
                "item": call_item(seq, call.index, &call.name, "", "in_progress"),
            }),
            false,
        );
        for piece in split(call.arguments, 3) {
            events.push("response.function_call_arguments.delta", with(json!({"delta": piece})), true);
        }
        events.push("response.function_call_arguments.done", with(json!({"arguments": call.arguments})), false);
        events.push(
            "response.output_item.done",
            json!({
                "output_index": output_index,
                "item": call_item(seq, call.index, &call.name, call.arguments, "completed"),
            }),
            false,
        );
        output_index += 1;
    }
    let done = response_object(answer, model, "completed", output_items(answer));
    events.push("response.completed", json!({"response": done}), false);
    events.frames
}

/// The fields of two JSON objects together (`extra` wins).
fn merge(base: &Value, extra: Value) -> Value {
    let mut merged = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(extra) = extra {
        merged.extend(extra);
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_turn_reads_function_call_output() {
        let request = json!({"input": [
            {"role": "developer", "content": "sys"},
            {"role": "user", "content": [{"type": "input_text", "text": "run it"}]},
            {"type": "function_call", "call_id": "c", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "hello-from-tool"},
        ]});
        match last_turn(&request) {
            LastTurn::ToolResult(text) => assert_eq!(text, "hello-from-tool"),
            other => panic!("unexpected {other:?}"),
        }
        match last_turn(&json!({"input": "hi"})) {
            LastTurn::User(text) => assert_eq!(text, "hi"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
