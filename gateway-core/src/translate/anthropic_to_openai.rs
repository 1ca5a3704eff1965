//! Anthropic Messages request → OpenAI Chat Completions request (CLIENTS.md A.3).
//!
//! - `system` (string or text blocks) → a first `system` message; mid-conversation
//!   `role:"system"` messages stay in place as `system` messages.
//! - user blocks: `text` → text, `image` (base64 or url) → `image_url` (data URL); every
//!   `tool_result` → its own `role:"tool"` message, emitted before the rest of the user turn.
//! - assistant blocks: `text` → `content`, `tool_use` → `tool_calls` (input as JSON text);
//!   `thinking` / `redacted_thinking` are dropped (an OpenAI upstream cannot verify them).
//! - `tools` → functions (server tools without `input_schema` are dropped), `tool_choice`
//!   auto/any/tool/none → auto/required/function/none, `disable_parallel_tool_use` →
//!   `parallel_tool_calls: false`.
//! - `max_tokens` (clamped to the provider's `max_output_tokens`), `temperature`, `top_p`,
//!   `stop_sequences` → `stop`, `metadata.user_id` → `user`, `thinking.type:"enabled"` →
//!   `reasoning_effort` by budget, `output_config.format` json_schema → `response_format`.
//! - streams ask for `stream_options.include_usage` so the final `message_delta.usage` is right.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::types::{AnthropicContent, Block, ImageSource, MessagesRequest, parse};
use crate::error::ApiError;

pub fn translate(body: &[u8], context: &RequestContext<'_>) -> Result<Bytes, ApiError> {
    let request: MessagesRequest = parse(body)?;
    let out = to_chat(&request, context);
    serde_json::to_vec(&out).map(Bytes::from).map_err(|err| ApiError::Internal(err.to_string()))
}

/// The request as an OpenAI Chat body.
pub fn to_chat(request: &MessagesRequest, context: &RequestContext<'_>) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(context.upstream_model.to_owned()));
    out.insert("messages".into(), Value::Array(messages(request)));
    if let Some(max) = request.max_tokens {
        let max = context.max_output_tokens.map_or(max, |cap| max.min(cap));
        out.insert("max_tokens".into(), json!(max));
    }
    if let Some(t) = &request.temperature {
        out.insert("temperature".into(), t.clone());
    }
    if let Some(p) = &request.top_p {
        out.insert("top_p".into(), p.clone());
    }
    if let Some(stop) = request.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
        out.insert("stop".into(), json!(stop));
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .flatten()
        .filter_map(|tool| {
            let schema = tool.input_schema.as_ref()?;
            let mut function = Map::new();
            function.insert("name".into(), json!(tool.name));
            if let Some(description) = &tool.description {
                function.insert("description".into(), json!(description));
            }
            function.insert("parameters".into(), schema.clone());
            Some(json!({"type": "function", "function": function}))
        })
        .collect();
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let mapped = match choice.kind.as_str() {
            "any" => Some(json!("required")),
            "none" => Some(json!("none")),
            "tool" => choice.name.as_ref().map(|name| json!({"type": "function", "function": {"name": name}})),
            _ => Some(json!("auto")),
        };
        if let (Some(mapped), true) = (mapped, has_tools) {
            out.insert("tool_choice".into(), mapped);
            if choice.disable_parallel_tool_use {
                out.insert("parallel_tool_calls".into(), json!(false));
            }
        }
    }
    if let Some(user) = request.metadata.as_ref().and_then(|m| m.user_id.as_ref()) {
        out.insert("user".into(), json!(user));
    }
    if let Some(thinking) = request.thinking.as_ref().filter(|t| t.kind == "enabled") {
        let effort = match thinking.budget_tokens.unwrap_or(0) {
            0..4096 => "low",
            4096..16384 => "medium",
            _ => "high",
        };
        out.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(format) = request.output_config.as_ref().and_then(|c| c.format.as_ref())
        && format.kind == "json_schema"
        && let Some(schema) = &format.schema
    {
        out.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}),
        );
    }
    if context.stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(out)
}

fn messages(request: &MessagesRequest) -> Vec<Value> {
    let mut out = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        let text = system.text();
        if !text.is_empty() {
            out.push(json!({"role": "system", "content": text}));
        }
    }
    for message in &request.messages {
        match message.role.as_str() {
            "system" | "developer" => out.push(json!({"role": "system", "content": message.content.text()})),
            "assistant" => out.push(assistant(&message.content)),
            _ => user(&message.content, &mut out),
        }
    }
    out
}

fn assistant(content: &AnthropicContent) -> Value {
    let blocks = match content {
        AnthropicContent::Text(text) => return json!({"role": "assistant", "content": text}),
        AnthropicContent::Blocks(blocks) => blocks,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::ToolUse { id, name, input } => {
                let arguments = if input.is_null() { "{}".to_owned() } else { input.to_string() };
                calls.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}));
            }
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(message)
}

/// A user turn: tool results first (as `tool` messages), then the rest as one user message.
fn user(content: &AnthropicContent, out: &mut Vec<Value>) {
    let blocks = match content {
        AnthropicContent::Text(text) => {
            out.push(json!({"role": "user", "content": text}));
            return;
        }
        AnthropicContent::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    let mut has_image = false;
    for block in blocks {
        match block {
            Block::ToolResult { tool_use_id, content, is_error } => {
                let mut text = content.as_ref().map(AnthropicContent::text).unwrap_or_default();
                if *is_error {
                    text = format!("Error: {text}");
                }
                out.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": text}));
            }
            Block::Text { text } => parts.push(json!({"type": "text", "text": text})),
            Block::Image { source } => {
                if let Some(url) = image_url(source) {
                    has_image = true;
                    parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
                }
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return;
    }
    if has_image {
        out.push(json!({"role": "user", "content": parts}));
    } else {
        // Text only: a plain string, which every OpenAI-compatible server accepts.
        let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        out.push(json!({"role": "user", "content": text.join("\n")}));
    }
}

/// An Anthropic image source as a URL: base64 becomes a data URL.
fn image_url(source: &ImageSource) -> Option<String> {
    match source.kind.as_str() {
        "base64" => {
            let media = source.media_type.as_deref().unwrap_or("image/png");
            source.data.as_ref().map(|data| format!("data:{media};base64,{data}"))
        }
        "url" => source.url.clone(),
        _ => None,
    }
}

/// The bytes of text a Messages request carries once translated: message and system text,
/// tool names, descriptions and schemas (for the `count_tokens` estimate).
pub fn text_bytes(body: &[u8]) -> Result<usize, ApiError> {
    let request: MessagesRequest = parse(body)?;
    let context = RequestContext::estimate();
    let chat = to_chat(&request, &context);
    Ok(super::chat_text_bytes(&chat))
}
