//! OpenAI Chat Completions request → Anthropic Messages request, for an OpenAI client in front
//! of an Anthropic provider.
//!
//! - `system` / `developer` messages → the top-level `system` (joined; Anthropic has no system
//!   role inside `messages`).
//! - user parts: `text` → text blocks, `image_url` (data URL → base64 source, http(s) → url
//!   source); assistant `content` → a text block, `tool_calls` → `tool_use` blocks (arguments
//!   parsed as JSON); `role:"tool"` messages → `tool_result` blocks in a user turn. Consecutive
//!   turns of the same role are merged.
//! - `tools` (functions) → `{name, description, input_schema}`; `tool_choice`
//!   auto/required/none/function → auto/any/none/tool; `parallel_tool_calls:false` →
//!   `disable_parallel_tool_use`.
//! - `max_completion_tokens` / `max_tokens` (Anthropic requires one; 4096 when absent, clamped
//!   to `max_output_tokens`), `temperature`, `top_p`, `stop` → `stop_sequences`, `user` →
//!   `metadata.user_id`.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::types::{ChatContent, ChatPart, ChatRequest, Stop, parse};
use crate::error::ApiError;

/// `max_tokens` when the OpenAI client sent none (Anthropic requires it).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The translated body, and whether the client asked for a usage chunk on its stream.
pub fn translate(body: &[u8], context: &RequestContext<'_>) -> Result<(Bytes, bool), ApiError> {
    let request: ChatRequest = parse(body)?;
    let include_usage = request.stream_options.as_ref().and_then(|o| o.include_usage).unwrap_or(false);
    let out = to_messages(&request, context);
    let body = serde_json::to_vec(&out).map(Bytes::from).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok((body, include_usage))
}

pub fn to_messages(request: &ChatRequest, context: &RequestContext<'_>) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Value>| {
        if blocks.is_empty() {
            return;
        }
        match turns.last_mut() {
            Some((last, existing)) if last == role => existing.extend(blocks),
            _ => turns.push((role.to_owned(), blocks)),
        }
    };
    for message in &request.messages {
        match message.role.as_str() {
            "system" | "developer" => {
                if let Some(content) = &message.content {
                    system.push(content.text());
                }
            }
            "assistant" => {
                let mut blocks = Vec::new();
                if let Some(text) = message.content.as_ref().map(ChatContent::text).filter(|t| !t.is_empty()) {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in message.tool_calls.iter().flatten() {
                    let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}));
                }
                push("assistant", blocks);
            }
            "tool" => {
                let text = message.content.as_ref().map(ChatContent::text).unwrap_or_default();
                let id = message.tool_call_id.clone().unwrap_or_default();
                push("user", vec![json!({"type": "tool_result", "tool_use_id": id, "content": text})]);
            }
            _ => {
                let blocks = match &message.content {
                    None => Vec::new(),
                    Some(ChatContent::Text(text)) => vec![json!({"type": "text", "text": text})],
                    Some(ChatContent::Parts(parts)) => parts.iter().filter_map(user_part).collect(),
                };
                push("user", blocks);
            }
        }
    }
    let messages: Vec<Value> =
        turns.into_iter().map(|(role, blocks)| json!({"role": role, "content": blocks})).collect();

    let mut out = Map::new();
    out.insert("model".into(), json!(context.upstream_model));
    let max = request.max_completion_tokens.or(request.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(context.max_output_tokens.map_or(max, |cap| max.min(cap))));
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(t) = &request.temperature {
        out.insert("temperature".into(), t.clone());
    }
    if let Some(p) = &request.top_p {
        out.insert("top_p".into(), p.clone());
    }
    match &request.stop {
        Some(Stop::One(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Stop::Many(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), json!(stops));
        }
        _ => {}
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .flatten()
        .filter(|tool| tool.kind == "function")
        .filter_map(|tool| tool.function.as_ref())
        .map(|f| {
            let mut tool = Map::new();
            tool.insert("name".into(), json!(f.name));
            if let Some(description) = &f.description {
                tool.insert("description".into(), json!(description));
            }
            tool.insert("input_schema".into(), f.parameters.clone().unwrap_or_else(|| json!({"type": "object"})));
            Value::Object(tool)
        })
        .collect();
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = match &request.tool_choice {
            Some(Value::String(s)) if s == "required" => json!({"type": "any"}),
            Some(Value::String(s)) if s == "none" => json!({"type": "none"}),
            Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")) {
                Some(name) => json!({"type": "tool", "name": name}),
                None => json!({"type": "auto"}),
            },
            _ => json!({"type": "auto"}),
        };
        if request.parallel_tool_calls == Some(false) && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if request.tool_choice.is_some() || request.parallel_tool_calls == Some(false) {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(user) = &request.user {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if context.stream {
        out.insert("stream".into(), json!(true));
    }
    Value::Object(out)
}

fn user_part(part: &ChatPart) -> Option<Value> {
    match part {
        ChatPart::Text { text } => Some(json!({"type": "text", "text": text})),
        ChatPart::ImageUrl { image_url } => {
            let url = &image_url.url;
            if let Some(rest) = url.strip_prefix("data:") {
                let (media, data) = rest.split_once(";base64,")?;
                Some(json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}))
            } else {
                Some(json!({"type": "image", "source": {"type": "url", "url": url}}))
            }
        }
        ChatPart::Other => None,
    }
}
