//! Anthropic Messages: `POST /v1/messages` (any query string, e.g. `?beta=true`),
//! `POST /v1/messages/count_tokens`, and the model list's Anthropic shape.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Answer, LastTurn, THINKING_SIGNATURE, content_text, split};
use crate::answer::{parse_object, str_field};
use crate::behavior::Behavior;
use crate::errors::Family;
use crate::server::App;
use crate::stream::{EVENT_STREAM, Frames, json_body, json_value, sse_event, streamed};
use crate::usage;

/// `created_at` of every listed model.
const MODEL_CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// `POST /v1/messages`
pub(crate) async fn messages(State(app): State<App>, body: Bytes) -> Response {
    let request = match parse_object(&body, Family::Anthropic) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let model = str_field(&request, "model");
    let behavior = Behavior::parse(model);
    let seq = app.next_seq();
    if let Some(response) = app.gate(&behavior, Family::Anthropic, seq).await {
        return response;
    }
    // An MCP tool when the client offers one (Claude Code names them `mcp__<server>__<tool>`,
    // after its own), else the first tool.
    let tools = request.get("tools").and_then(Value::as_array);
    let mcp_tool = tools
        .into_iter()
        .flatten()
        .filter_map(|tool| tool.get("name").and_then(Value::as_str))
        .find(|name| name.starts_with("mcp__"));
    let first_tool = mcp_tool.or_else(|| request.pointer("/tools/0/name").and_then(Value::as_str));
    let answer = Answer::new(&behavior, last_turn(&request), first_tool, seq);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let chunks = behavior.chunks(app.options().chunks());
        streamed(message_events(&answer, model, chunks), EVENT_STREAM, &behavior, seq)
    } else {
        let body = message(&answer, model).to_string();
        json_body(Bytes::from(body), &behavior, seq)
    }
}

/// `POST /v1/messages/count_tokens` → `{"input_tokens": body length / 4}`.
pub(crate) async fn count_tokens(body: Bytes) -> Response {
    if let Err(rejection) = parse_object(&body, Family::Anthropic) {
        return rejection.into_response();
    }
    json_value(&json!({"input_tokens": body.len() / 4}))
}

/// How a Messages conversation ends: `tool_result` blocks in the last message, else the text
/// blocks of the last user message (mid-conversation `role:"system"` messages are skipped).
fn last_turn(request: &Value) -> LastTurn {
    let messages = request.get("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if let Some(blocks) = messages.last().and_then(|m| m.get("content")).and_then(Value::as_array) {
        let results: Vec<String> = blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            .map(|b| content_text(&b["content"], &["text"]))
            .collect();
        if !results.is_empty() {
            return LastTurn::ToolResult(results.join(" "));
        }
    }
    let text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(&m["content"], &["text"]))
        .unwrap_or_default();
    LastTurn::User(text)
}

fn stop_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls().is_empty() { "end_turn" } else { "tool_use" }
}

fn tool_use_id(seq: u64, index: usize) -> String {
    format!("toolu_mock_{seq}_{index}")
}

fn message_id(seq: u64) -> String {
    format!("msg_mock_{seq}")
}

/// A model whose name contains `cache-write` also reports tokens written to the prompt cache.
fn message_usage(output_tokens: u64, model: &str) -> Value {
    let written = if model.contains("cache-write") { usage::CACHE_WRITE_TOKENS } else { 0 };
    json!({
        "input_tokens": usage::PROMPT_TOKENS,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": usage::CACHED_TOKENS,
        "cache_creation_input_tokens": written,
    })
}

/// A non-streamed `message`.
fn message(answer: &Answer, model: &str) -> Value {
    let mut content = Vec::new();
    if let Some(reasoning) = answer.reasoning {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": THINKING_SIGNATURE}));
    }
    if let Some(text) = answer.text() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in answer.tool_calls() {
        let input: Value = serde_json::from_str(call.arguments).unwrap_or(Value::Null);
        content.push(json!({
            "type": "tool_use",
            "id": tool_use_id(answer.seq, call.index),
            "name": call.name,
            "input": input,
        }));
    }
    json!({
        "id": message_id(answer.seq),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": message_usage(usage::COMPLETION_TOKENS, model),
    })
}

/// The events of a streamed message, `message_start` to `message_stop`.
fn message_events(answer: &Answer, model: &str, chunks: usize) -> Frames {
    let mut frames = Frames::default();
    frames.meta(sse_event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": message_id(answer.seq),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": message_usage(1, model),
        }}),
    ));
    let mut index = 0;
    let mut start_block = |frames: &mut Frames, block: Value| {
        frames.meta(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        if index == 0 {
            frames.meta(sse_event("ping", &json!({"type": "ping"})));
        }
        index += 1;
        index - 1
    };
    let delta = |index: usize, delta: Value| {
        sse_event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": delta}))
    };
    let stop = |index: usize| sse_event("content_block_stop", &json!({"type": "content_block_stop", "index": index}));

    if let Some(reasoning) = answer.reasoning {
        let at = start_block(&mut frames, json!({"type": "thinking", "thinking": "", "signature": ""}));
        for piece in split(reasoning, 2) {
            frames.meta(delta(at, json!({"type": "thinking_delta", "thinking": piece})));
        }
        frames.meta(delta(at, json!({"type": "signature_delta", "signature": THINKING_SIGNATURE})));
        frames.meta(stop(at));
    }
    if let Some(text) = answer.text() {
        let at = start_block(&mut frames, json!({"type": "text", "text": ""}));
        for piece in split(text, chunks) {
            frames.content(delta(at, json!({"type": "text_delta", "text": piece})));
        }
        frames.meta(stop(at));
    }
    for call in answer.tool_calls() {
        let at = start_block(
            &mut frames,
            json!({
                "type": "tool_use",
                "id": tool_use_id(answer.seq, call.index),
                "name": call.name,
                "input": {},
            }),
        );
        for piece in split(call.arguments, 3) {
            frames.content(delta(at, json!({"type": "input_json_delta", "partial_json": piece})));
        }
        frames.meta(stop(at));
    }
    frames.meta(sse_event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
            "usage": message_usage(usage::COMPLETION_TOKENS, model),
        }),
    ));
    frames.meta(sse_event("message_stop", &json!({"type": "message_stop"})));
    frames
}

/// Anthropic's model list.
pub(crate) fn model_list(ids: &[String]) -> Value {
    let data: Vec<Value> = ids.iter().map(|id| model_object(id)).collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": ids.first(),
        "last_id": ids.last(),
    })
}

/// One model in Anthropic's shape.
pub(crate) fn model_object(id: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": id, "created_at": MODEL_CREATED_AT})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_result_in_last_message_wins() {
        let request = json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "w", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "hello-from-tool"},
                {"type": "text", "text": "go on"}
            ]},
        ]});
        match last_turn(&request) {
            LastTurn::ToolResult(text) => assert_eq!(text, "hello-from-tool"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn user_text_skips_mid_conversation_system() {
        let request = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "system", "content": "agents ..."},
        ]});
        match last_turn(&request) {
            LastTurn::User(text) => assert_eq!(text, "a b"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
