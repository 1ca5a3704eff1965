//! OpenAI Responses request → OpenAI Chat Completions request, for a Responses client (Codex
//! CLI, the SDKs' `responses.create`) in front of a provider without the Responses API. An
//! Anthropic provider gets this Chat request translated once more (`openai_to_anthropic`).
//!
//! - `instructions` → a first `system` message; a string `input` → one user message.
//! - `message` items (also without `type`): roles `system` and `developer` → `system`, `user`,
//!   `assistant`; `input_text` / `output_text` / `refusal` parts → text, `input_image` →
//!   `image_url` (files are dropped). Consecutive text messages of one role (system or user)
//!   become one, joined by a blank line.
//! - `function_call` items → `tool_calls` of one assistant message (consecutive calls share it,
//!   with the assistant text before them); `function_call_output` → `role:"tool"` messages.
//! - `reasoning` items are dropped (an OpenAI-compatible upstream cannot take them back), as are
//!   items of other types (`web_search_call`, `local_shell_call`, …).
//! - `tools`: `function` tools → Chat functions; every other type (`namespace`, `web_search`,
//!   `local_shell`, `custom`, `file_search`, MCP, …) is dropped, never an error. `tool_choice`
//!   `auto` / `none` / `required` / a function → the same in Chat.
//! - `max_output_tokens` → `max_tokens` (clamped to the provider's `max_output_tokens`),
//!   `temperature`, `top_p`, `user`, `parallel_tool_calls` as they are, `reasoning.effort` →
//!   `reasoning_effort`, `text.format` `json_schema` / `json_object` → `response_format`.
//! - `store`, `include`, `prompt_cache_key`, `metadata`, `client_metadata`, `truncation` and
//!   `service_tier` have no Chat meaning and are dropped. `previous_response_id` and
//!   `conversation` need server-side state the gateway does not keep: a 400 says so.
//! - streams ask for `stream_options.include_usage` so `response.completed` carries usage.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::types::parse;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct ResponsesRequest {
    pub input: Option<Input>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<Value>,
    pub top_p: Option<Value>,
    pub user: Option<String>,
    pub tools: Option<Vec<Tool>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub reasoning: Option<Reasoning>,
    pub text: Option<TextConfig>,
    pub previous_response_id: Option<String>,
    pub conversation: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// One input item. Messages may come without `type` (the SDKs' "easy input message").
#[derive(Debug, Deserialize)]
pub struct Item {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: Option<Content>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
    pub output: Option<Content>,
}

/// A string, or typed parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub refusal: Option<String>,
    /// `input_image`: a URL or a data URL.
    pub image_url: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Reasoning {
    pub effort: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TextConfig {
    pub format: Option<TextFormat>,
}

#[derive(Debug, Deserialize)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub schema: Option<Value>,
    pub strict: Option<bool>,
}

/// The Chat body for a Responses request.
pub fn translate(body: &[u8], context: &RequestContext<'_>) -> Result<Bytes, ApiError> {
    let request: ResponsesRequest = parse(body)?;
    let chat = to_chat(&request, context)?;
    serde_json::to_vec(&chat).map(Bytes::from).map_err(|err| ApiError::Internal(err.to_string()))
}

pub fn to_chat(request: &ResponsesRequest, context: &RequestContext<'_>) -> Result<Value, ApiError> {
    if request.previous_response_id.is_some() {
        return Err(ApiError::InvalidRequest {
            message: "previous_response_id is not supported for this model: the gateway keeps no responses; \
                      send the whole conversation in `input` (with `store: false`)"
                .into(),
            param: Some("previous_response_id"),
        });
    }
    if request.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(ApiError::InvalidRequest {
            message: "conversation is not supported for this model: the gateway keeps no conversations; \
                      send the whole conversation in `input`"
                .into(),
            param: Some("conversation"),
        });
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(context.upstream_model));
    out.insert("messages".into(), Value::Array(messages(request)));
    if let Some(max) = request.max_output_tokens {
        let max = context.max_output_tokens.map_or(max, |cap| max.min(cap));
        out.insert("max_tokens".into(), json!(max));
    }
    for (name, value) in [("temperature", &request.temperature), ("top_p", &request.top_p)] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_null()) {
            out.insert(name.into(), value.clone());
        }
    }
    if let Some(user) = &request.user {
        out.insert("user".into(), json!(user));
    }
    let tools: Vec<Value> = request.tools.iter().flatten().filter_map(function_tool).collect();
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = request.tool_choice.as_ref().and_then(tool_choice) {
            out.insert("tool_choice".into(), choice);
        }
        if let Some(parallel) = request.parallel_tool_calls {
            out.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(|r| r.effort.as_ref()) {
        out.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(format) = request.text.as_ref().and_then(|t| t.format.as_ref()) {
        match format.kind.as_str() {
            "json_schema" => {
                let mut schema = Map::new();
                schema.insert("name".into(), json!(format.name.as_deref().unwrap_or("output")));
                if let Some(body) = &format.schema {
                    schema.insert("schema".into(), body.clone());
                }
                if let Some(strict) = format.strict {
                    schema.insert("strict".into(), json!(strict));
                }
                out.insert("response_format".into(), json!({"type": "json_schema", "json_schema": schema}));
            }
            "json_object" => {
                out.insert("response_format".into(), json!({"type": "json_object"}));
            }
            _ => {}
        }
    }
    if context.stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(out))
}

fn function_tool(tool: &Tool) -> Option<Value> {
    if tool.kind != "function" {
        return None;
    }
    let mut function = Map::new();
    function.insert("name".into(), json!(tool.name.as_ref()?));
    if let Some(description) = &tool.description {
        function.insert("description".into(), json!(description));
    }
    function.insert("parameters".into(), tool.parameters.clone().unwrap_or_else(|| json!({"type": "object"})));
    if let Some(strict) = tool.strict {
        function.insert("strict".into(), json!(strict));
    }
    Some(json!({"type": "function", "function": function}))
}

fn tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => Some(choice.clone()),
        Value::Object(object) if object.get("type").and_then(Value::as_str) == Some("function") => {
            let name = object.get("name")?;
            Some(json!({"type": "function", "function": {"name": name}}))
        }
        // Hosted-tool choices (`web_search`, `allowed_tools`, …) have no Chat equivalent.
        _ => None,
    }
}

fn messages(request: &ResponsesRequest) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(instructions) = request.instructions.as_ref().filter(|i| !i.is_empty()) {
        out.push(json!({"role": "system", "content": instructions}));
    }
    let items = match &request.input {
        None => return out,
        Some(Input::Text(text)) => {
            out.push(json!({"role": "user", "content": text}));
            return out;
        }
        Some(Input::Items(items)) => items,
    };
    for item in items {
        match item.kind.as_deref().unwrap_or("message") {
            "message" => message(item, &mut out),
            "function_call" => {
                let call = json!({
                    "id": item.call_id.as_deref().unwrap_or_default(),
                    "type": "function",
                    "function": {
                        "name": item.name.as_deref().unwrap_or_default(),
                        "arguments": item.arguments.as_deref().unwrap_or("{}"),
                    },
                });
                // Consecutive calls (and the assistant text right before them) make one turn.
                match out.last_mut() {
                    Some(last) if last["role"] == "assistant" => {
                        if let Some(calls) = last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                            calls.push(call);
                        } else {
                            last["tool_calls"] = json!([call]);
                        }
                    }
                    _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
                }
            }
            "function_call_output" => {
                let text = item.output.as_ref().map(text_of).unwrap_or_default();
                out.push(json!({"role": "tool", "tool_call_id": item.call_id.as_deref().unwrap_or_default(), "content": text}));
            }
            // Reasoning, hosted-tool calls and anything newer: nothing a Chat upstream can read.
            _ => {}
        }
    }
    out
}

fn message(item: &Item, out: &mut Vec<Value>) {
    let role = match item.role.as_deref() {
        Some("system" | "developer") => "system",
        Some("assistant") => "assistant",
        _ => "user",
    };
    let content = match &item.content {
        None => Value::String(String::new()),
        Some(Content::Text(text)) => json!(text),
        Some(Content::Parts(parts)) if role == "user" && parts.iter().any(|p| p.kind == "input_image") => {
            Value::Array(parts.iter().filter_map(chat_part).collect())
        }
        Some(content) => json!(text_of(content)),
    };
    // Consecutive text turns of one role are joined (Codex sends two developer messages and two
    // user messages in a row): chat templates of some local models insist on alternating roles.
    if let (Some(last), Value::String(text)) = (out.last_mut(), &content)
        && last["role"] == role
        && role != "assistant"
        && let Some(previous) = last["content"].as_str()
    {
        last["content"] = Value::String(format!("{previous}\n\n{text}"));
        return;
    }
    out.push(json!({"role": role, "content": content}));
}

/// A part as a Chat content part (text and images).
fn chat_part(part: &Part) -> Option<Value> {
    match part.kind.as_str() {
        "input_image" => {
            let mut image = Map::new();
            image.insert("url".into(), json!(part.image_url.as_ref()?));
            if let Some(detail) = &part.detail {
                image.insert("detail".into(), json!(detail));
            }
            Some(json!({"type": "image_url", "image_url": image}))
        }
        _ => part_text(part).map(|text| json!({"type": "text", "text": text})),
    }
}

fn part_text(part: &Part) -> Option<&str> {
    match part.kind.as_str() {
        "input_text" | "output_text" | "text" | "summary_text" | "reasoning_text" => part.text.as_deref(),
        "refusal" => part.refusal.as_deref(),
        _ => None,
    }
}

/// The text parts of a content, joined.
fn text_of(content: &Content) -> String {
    match content {
        Content::Text(text) => text.clone(),
        Content::Parts(parts) => parts.iter().filter_map(part_text).collect::<Vec<_>>().join("\n"),
    }
}
