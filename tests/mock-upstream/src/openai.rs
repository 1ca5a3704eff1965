//! OpenAI-compatible endpoints: Chat Completions, legacy Completions, Embeddings and the model
//! list (which answers in Anthropic's shape when the request has `anthropic-version`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::answer::{Answer, CREATED, LastTurn, content_text, parse_object, split, str_field};
use crate::behavior::{Behavior, Tools};
use crate::errors::{Family, bad_request, error_response};
use crate::server::App;
use crate::stream::{EVENT_STREAM, Frames, json_body, json_value, sse_data, sse_done, streamed};
use crate::{anthropic, bench, usage};

/// The `usage` object of Chat Completions.
pub(crate) fn chat_usage() -> Value {
    json!({
        "prompt_tokens": usage::PROMPT_TOKENS,
        "completion_tokens": usage::COMPLETION_TOKENS,
        "total_tokens": usage::TOTAL_TOKENS,
        "prompt_tokens_details": {"cached_tokens": usage::CACHED_TOKENS},
        "completion_tokens_details": {"reasoning_tokens": usage::REASONING_TOKENS},
    })
}

/// `POST /v1/chat/completions`
pub(crate) async fn chat(State(app): State<App>, body: Bytes) -> Response {
    if let Some(response) = bench::chat(&app, &body).await {
        return response;
    }
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
    let first_tool = request.pointer("/tools/0/function/name").and_then(Value::as_str);
    let answer = Answer::new(&behavior, last_turn(&request), first_tool, seq);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        let chunks = behavior.chunks(app.options().chunks());
        let frames = chat_frames(&answer, model, chunks, include_usage);
        streamed(frames, EVENT_STREAM, &behavior, seq)
    } else {
        let body = chat_completion(&answer, model).to_string();
        json_body(Bytes::from(body), &behavior, seq)
    }
}

/// How a Chat Completions conversation ends: trailing `role:"tool"` messages, else the last user
/// message.
fn last_turn(request: &Value) -> LastTurn {
    let messages = request.get("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let tool_results =
        messages.iter().rev().take_while(|m| m.get("role").and_then(Value::as_str) == Some("tool")).count();
    if tool_results > 0 {
        let results: Vec<String> =
            messages[messages.len() - tool_results..].iter().map(|m| content_text(&m["content"], &["text"])).collect();
        return LastTurn::ToolResult(results.join(" "));
    }
    let text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(&m["content"], &["text", "input_text"]))
        .unwrap_or_default();
    LastTurn::User(text)
}

fn finish_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls().is_empty() { "stop" } else { "tool_calls" }
}

fn tool_call_id(seq: u64, index: usize) -> String {
    format!("call_mock_{seq}_{index}")
}

/// A non-streamed `chat.completion`.
pub(crate) fn chat_completion(answer: &Answer, model: &str) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), json!(answer.text()));
    if let Some(reasoning) = answer.reasoning {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    let calls = answer.tool_calls();
    if !calls.is_empty() {
        let calls: Vec<Value> = calls
            .iter()
            .map(|call| {
                json!({
                    "id": tool_call_id(answer.seq, call.index),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    json!({
        "id": format!("chatcmpl-mock-{}", answer.seq),
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(answer),
        }],
        "usage": chat_usage(),
    })
}

/// The `chat.completion.chunk` events of a streamed answer, `[DONE]` included.
pub(crate) fn chat_frames(answer: &Answer, model: &str, chunks: usize, include_usage: bool) -> Frames {
    let id = format!("chatcmpl-mock-{}", answer.seq);
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut event = Map::new();
        event.insert("id".into(), json!(id));
        event.insert("object".into(), json!("chat.completion.chunk"));
        event.insert("created".into(), json!(CREATED));
        event.insert("model".into(), json!(model));
        event.insert("system_fingerprint".into(), json!("fp_mock"));
        event.insert("choices".into(), choices);
        if include_usage {
            event.insert("usage".into(), usage.unwrap_or(Value::Null));
        }
        sse_data(&Value::Object(event))
    };
    let mut first = true;
    let mut delta_chunk = |mut delta: Map<String, Value>, finish: Option<&str>| {
        if first {
            delta.insert("role".into(), json!("assistant"));
            first = false;
        }
        chunk(json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]), None)
    };

    let mut frames = Frames::default();
    if let Some(reasoning) = answer.reasoning {
        for piece in split(reasoning, 2) {
            let mut delta = Map::new();
            delta.insert("reasoning_content".into(), json!(piece));
            frames.meta(delta_chunk(delta, None));
        }
    }
    let finish = finish_reason(answer);
    if let Some(text) = answer.text() {
        let pieces = split(text, chunks);
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut delta = Map::new();
            delta.insert("content".into(), json!(piece));
            frames.content(delta_chunk(delta, (i == last).then_some(finish)));
        }
    }
    let calls = answer.tool_calls();
    for (n, call) in calls.iter().enumerate() {
        let mut delta = Map::new();
        if n == 0 {
            delta.insert("content".into(), Value::Null);
        }
        delta.insert(
            "tool_calls".into(),
            json!([{
                "index": call.index,
                "id": tool_call_id(answer.seq, call.index),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }]),
        );
        frames.meta(delta_chunk(delta, None));
        let pieces = split(call.arguments, 3);
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut delta = Map::new();
            delta.insert("tool_calls".into(), json!([{"index": call.index, "function": {"arguments": piece}}]));
            let done = n + 1 == calls.len() && i == last;
            frames.content(delta_chunk(delta, done.then_some(finish)));
        }
    }
    if include_usage {
        frames.meta(chunk(json!([]), Some(chat_usage())));
    }
    frames.meta(sse_done());
    frames
}

/// `POST /v1/completions` (legacy text completion).
pub(crate) async fn completions(State(app): State<App>, body: Bytes) -> Response {
    let request = match parse_object(&body, Family::OpenAi) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let model = str_field(&request, "model");
    let mut behavior = Behavior::parse(model);
    behavior.tools = Tools::None;
    let seq = app.next_seq();
    if let Some(response) = app.gate(&behavior, Family::OpenAi, seq).await {
        return response;
    }
    let prompt = match request.get("prompt") {
        Some(Value::String(prompt)) => prompt.clone(),
        Some(Value::Array(prompts)) => prompts
            .iter()
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let answer = Answer::new(&behavior, LastTurn::User(prompt), None, seq);
    let text = answer.text().unwrap_or_default();
    let id = format!("cmpl-mock-{seq}");
    let text_usage = json!({
        "prompt_tokens": usage::PROMPT_TOKENS,
        "completion_tokens": usage::COMPLETION_TOKENS,
        "total_tokens": usage::TOTAL_TOKENS,
    });
    if request.get("stream").and_then(Value::as_bool) != Some(true) {
        let body = json!({
            "id": id,
            "object": "text_completion",
            "created": CREATED,
            "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": text_usage,
        });
        return json_body(Bytes::from(body.to_string()), &behavior, seq);
    }
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut event = Map::new();
        event.insert("id".into(), json!(id));
        event.insert("object".into(), json!("text_completion"));
        event.insert("created".into(), json!(CREATED));
        event.insert("model".into(), json!(model));
        event.insert("choices".into(), choices);
        if include_usage {
            event.insert("usage".into(), usage.unwrap_or(Value::Null));
        }
        sse_data(&Value::Object(event))
    };
    let mut frames = Frames::default();
    let pieces = split(text, behavior.chunks(app.options().chunks()));
    let last = pieces.len() - 1;
    for (i, piece) in pieces.into_iter().enumerate() {
        let finish = (i == last).then_some("stop");
        frames.content(chunk(json!([{"text": piece, "index": 0, "logprobs": null, "finish_reason": finish}]), None));
    }
    if include_usage {
        frames.meta(chunk(json!([]), Some(text_usage)));
    }
    frames.meta(sse_done());
    streamed(frames, EVENT_STREAM, &behavior, seq)
}

/// `POST /v1/embeddings`: one deterministic 8-dimensional vector per input.
pub(crate) async fn embeddings(State(app): State<App>, body: Bytes) -> Response {
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
    let Some(inputs) = request.get("input").and_then(embedding_inputs) else {
        return bad_request(
            Family::OpenAi,
            "`input` must be a string, an array of strings or an array of token arrays",
        );
    };
    let base64 = str_field(&request, "encoding_format") == "base64";
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embedding(input);
            let embedding = if base64 { json!(base64_f32(&vector)) } else { json!(vector) };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage::PROMPT_TOKENS, "total_tokens": usage::PROMPT_TOKENS},
    });
    json_body(Bytes::from(body.to_string()), &behavior, seq)
}

/// The inputs of an embeddings request: a string, strings, one token array or token arrays.
fn embedding_inputs(input: &Value) -> Option<Vec<String>> {
    match input {
        Value::String(text) => Some(vec![text.clone()]),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if items.iter().all(Value::is_number) => Some(vec![input.to_string()]),
        Value::Array(items) => {
            Some(items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned)).collect())
        }
        _ => None,
    }
}

/// A deterministic vector for `text`: 8 multiples of 1/1024 in [-1, 1), from an FNV-1a hash
/// (exact in f32 and in JSON).
pub(crate) fn embedding(text: &str) -> Vec<f32> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..8)
        .map(|_| {
            // xorshift64 from the hash, 11 bits per dimension.
            hash ^= hash << 13;
            hash ^= hash >> 7;
            hash ^= hash << 17;
            let bits = u16::try_from(hash >> 53).unwrap_or(0);
            f32::from(bits) / 1024.0 - 1.0
        })
        .collect()
}

/// Little-endian f32s in standard base64 (`encoding_format: "base64"`).
fn base64_f32(vector: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [group[0], group.get(1).copied().unwrap_or(0), group.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /v1/models`: OpenAI's list, or Anthropic's when the request has `anthropic-version`.
pub(crate) async fn models(State(app): State<App>, headers: HeaderMap) -> Response {
    let ids = app.options().model_ids();
    if headers.contains_key("anthropic-version") {
        return json_value(&anthropic::model_list(&ids));
    }
    let data: Vec<Value> = ids.iter().map(|id| model_object(id)).collect();
    json_value(&json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}` (ids may contain `/`).
pub(crate) async fn model(State(app): State<App>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    if !app.options().model_ids().contains(&id) {
        let family = if anthropic { Family::Anthropic } else { Family::OpenAi };
        return error_response(family, StatusCode::NOT_FOUND, &format!("switchyard-mock: no model `{id}`"));
    }
    if anthropic { json_value(&anthropic::model_object(&id)) } else { json_value(&model_object(&id)) }
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "mock"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values() {
        // 1.0f32 = 00 00 80 3f
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[1.0, 1.0]), "AACAPwAAgD8=");
        assert_eq!(base64_f32(&[1.0, 1.0, 1.0]), "AACAPwAAgD8AAIA/");
    }

    #[test]
    fn embedding_is_deterministic_and_bounded() {
        let a = embedding("hello");
        assert_eq!(a, embedding("hello"));
        assert_ne!(a, embedding("world"));
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn last_turn_prefers_trailing_tool_results() {
        let request = json!({"messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": []},
            {"role": "tool", "tool_call_id": "a", "content": "sunny"},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "rainy"}]},
        ]});
        match last_turn(&request) {
            LastTurn::ToolResult(text) => assert_eq!(text, "sunny rainy"),
            other => panic!("unexpected {other:?}"),
        }
        let request = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
        ]});
        match last_turn(&request) {
            LastTurn::User(text) => assert_eq!(text, "hi there"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
