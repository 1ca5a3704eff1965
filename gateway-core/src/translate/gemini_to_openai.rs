//! Gemini `GenerateContentRequest` → OpenAI Chat Completions request, for a Gemini client (Gemini
//! CLI) in front of an OpenAI-compatible model.
//!
//! - `systemInstruction` → a first `system` message.
//! - `contents`: role `user` → `user`, `model` → `assistant`. Parts: `text` → text (thought
//!   parts are dropped: an OpenAI upstream cannot use them, and `thoughtSignature`s only mean
//!   something to Google), `inlineData` / `fileData` → `image_url` (data URL / URI),
//!   `functionCall` → `tool_calls` (args as JSON text), `functionResponse` → a `role:"tool"`
//!   message before the rest of the user turn.
//! - Gemini ids calls only sometimes: a call without `id` gets `call_<n>`, and a response
//!   without `id` answers the oldest unanswered call of its name.
//! - `tools[].functionDeclarations` → functions (`parametersJsonSchema`, else `parameters` with
//!   types lower-cased); Google's own tools (`googleSearch`, …) are dropped.
//! - `toolConfig.functionCallingConfig.mode` AUTO/ANY/NONE → auto/required/none (ANY with one
//!   allowed name → that function).
//! - `generationConfig`: `temperature`, `topP`, `maxOutputTokens` (clamped) → `max_tokens`,
//!   `stopSequences` → `stop`, `candidateCount` → `n`, `presencePenalty`, `frequencyPenalty`,
//!   `seed`; `responseMimeType: application/json` with `responseJsonSchema` (or
//!   `responseSchema`) → `response_format` json_schema, without a schema → json_object;
//!   `thinkingConfig.thinkingBudget` > 0 → `reasoning_effort` by budget (a `thinkingLevel` is
//!   not forwarded: models that do not reason refuse `reasoning_effort`).
//! - streams ask for `stream_options.include_usage` so the last chunk's `usageMetadata` is right.

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::gemini_types::{Content, GenerateRequest, Part, json_schema_from_openapi};
use super::types::parse;
use crate::error::ApiError;

pub fn translate(body: &[u8], context: &RequestContext<'_>) -> Result<Bytes, ApiError> {
    let request: GenerateRequest = parse(body)?;
    let out = to_chat(&request, context);
    serde_json::to_vec(&out).map(Bytes::from).map_err(|err| ApiError::Internal(err.to_string()))
}

pub fn to_chat(request: &GenerateRequest, context: &RequestContext<'_>) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), Value::String(context.upstream_model.to_owned()));
    out.insert("messages".into(), Value::Array(messages(request)));
    let tools = tools(request);
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice(request) {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(config) = &request.generation_config {
        if let Some(t) = &config.temperature {
            out.insert("temperature".into(), t.clone());
        }
        if let Some(p) = &config.top_p {
            out.insert("top_p".into(), p.clone());
        }
        if let Some(max) = config.max_output_tokens {
            let max = context.max_output_tokens.map_or(max, |cap| max.min(cap));
            out.insert("max_tokens".into(), json!(max));
        }
        if let Some(stop) = config.stop_sequences.as_ref().filter(|s| !s.is_empty()) {
            out.insert("stop".into(), json!(stop));
        }
        if let Some(n) = config.candidate_count.filter(|n| *n > 1) {
            out.insert("n".into(), json!(n));
        }
        for (key, value) in [
            ("presence_penalty", &config.presence_penalty),
            ("frequency_penalty", &config.frequency_penalty),
            ("seed", &config.seed),
        ] {
            if let Some(value) = value {
                out.insert(key.into(), value.clone());
            }
        }
        if config.response_mime_type.as_deref() == Some("application/json") {
            let schema = config
                .response_json_schema
                .clone()
                .or_else(|| config.response_schema.as_ref().map(json_schema_from_openapi));
            let format = match schema {
                Some(schema) => json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}),
                None => json!({"type": "json_object"}),
            };
            out.insert("response_format".into(), format);
        }
        if let Some(budget) = config.thinking_config.as_ref().and_then(|t| t.thinking_budget).filter(|b| *b > 0) {
            let effort = match budget {
                0..4096 => "low",
                4096..16384 => "medium",
                _ => "high",
            };
            out.insert("reasoning_effort".into(), json!(effort));
        }
    }
    if context.stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(out)
}

fn messages(request: &GenerateRequest) -> Vec<Value> {
    let mut out = Vec::with_capacity(request.contents.len() + 1);
    if let Some(system) = &request.system_instruction {
        let text = text_of(system);
        if !text.is_empty() {
            out.push(json!({"role": "system", "content": text}));
        }
    }
    let mut calls = CallIds::default();
    for content in &request.contents {
        if content.role.as_deref() == Some("model") {
            out.push(assistant(content, &mut calls));
        } else {
            user(content, &mut calls, &mut out);
        }
    }
    out
}

/// Ids for calls and the responses that answer them.
#[derive(Default)]
struct CallIds {
    made: usize,
    /// Calls not answered yet: (name, id).
    open: VecDeque<(String, String)>,
}

impl CallIds {
    fn call(&mut self, name: &str, id: Option<&str>) -> String {
        self.made += 1;
        let id = id.map_or_else(|| format!("call_{}", self.made), str::to_owned);
        self.open.push_back((name.to_owned(), id.clone()));
        id
    }

    fn response(&mut self, name: &str, id: Option<&str>) -> String {
        let position = match id {
            Some(id) => self.open.iter().position(|(_, open)| open == id),
            None => self.open.iter().position(|(open, _)| open == name),
        };
        match (position.and_then(|p| self.open.remove(p)), id) {
            (Some((_, open)), _) => open,
            (None, Some(id)) => id.to_owned(),
            (None, None) => {
                self.made += 1;
                format!("call_{}", self.made)
            }
        }
    }
}

fn assistant(content: &Content, calls: &mut CallIds) -> Value {
    let text: String =
        content.parts.iter().filter(|p| !p.thought).filter_map(|p| p.text.as_deref()).collect::<Vec<_>>().join("");
    let tool_calls: Vec<Value> = content
        .parts
        .iter()
        .filter_map(|p| p.function_call.as_ref())
        .map(|call| {
            let id = calls.call(&call.name, call.id.as_deref());
            let args = if call.args.is_null() { "{}".to_owned() } else { call.args.to_string() };
            json!({"id": id, "type": "function", "function": {"name": call.name, "arguments": args}})
        })
        .collect();
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) });
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    Value::Object(message)
}

fn user(content: &Content, calls: &mut CallIds, out: &mut Vec<Value>) {
    let mut parts = Vec::new();
    for part in &content.parts {
        if let Some(response) = &part.function_response {
            let id = calls.response(&response.name, response.id.as_deref());
            out.push(json!({"role": "tool", "tool_call_id": id, "content": response_text(&response.response)}));
        } else if let Some(chat_part) = chat_part(part) {
            parts.push(chat_part);
        }
    }
    if parts.is_empty() {
        return;
    }
    let only_text = parts.iter().all(|p| p["type"] == "text");
    let content = if only_text {
        Value::String(parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""))
    } else {
        Value::Array(parts)
    };
    out.push(json!({"role": "user", "content": content}));
}

fn chat_part(part: &Part) -> Option<Value> {
    if let Some(text) = part.text.as_deref().filter(|_| !part.thought) {
        return Some(json!({"type": "text", "text": text}));
    }
    if let Some(blob) = &part.inline_data {
        let url = format!("data:{};base64,{}", blob.mime_type, blob.data);
        return Some(json!({"type": "image_url", "image_url": {"url": url}}));
    }
    if let Some(file) = &part.file_data {
        return Some(json!({"type": "image_url", "image_url": {"url": file.file_uri}}));
    }
    None
}

/// A function's result as the tool message's text: a lone `output`/`content`/`result` string
/// as it is, anything else as JSON.
fn response_text(response: &Value) -> String {
    if let Value::Object(map) = response
        && map.len() == 1
        && let Some(Value::String(text)) = map.get("output").or(map.get("content")).or(map.get("result"))
    {
        return text.clone();
    }
    match response {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn text_of(content: &Content) -> String {
    content.parts.iter().filter_map(|p| p.text.as_deref()).collect::<Vec<_>>().join("\n")
}

fn tools(request: &GenerateRequest) -> Vec<Value> {
    request
        .tools
        .iter()
        .flatten()
        .flat_map(|tool| tool.function_declarations.iter().flatten())
        .map(|declaration| {
            let parameters = declaration
                .parameters_json_schema
                .clone()
                .or_else(|| declaration.parameters.as_ref().map(json_schema_from_openapi))
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            let mut function = Map::new();
            function.insert("name".into(), json!(declaration.name));
            if let Some(description) = &declaration.description {
                function.insert("description".into(), json!(description));
            }
            function.insert("parameters".into(), parameters);
            json!({"type": "function", "function": function})
        })
        .collect()
}

fn tool_choice(request: &GenerateRequest) -> Option<Value> {
    let config = request.tool_config.as_ref()?.function_calling_config.as_ref()?;
    let allowed = config.allowed_function_names.as_deref().unwrap_or_default();
    Some(match config.mode.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("ANY") if allowed.len() == 1 => json!({"type": "function", "function": {"name": allowed[0]}}),
        Some("ANY") => json!("required"),
        Some("NONE") => json!("none"),
        _ => json!("auto"),
    })
}

/// The bytes of text a Gemini request carries (for the `countTokens` estimate): part texts,
/// function calls and responses, the system instruction, tool declarations. A
/// `countTokens` body may wrap the request in `generateContentRequest`.
pub fn text_bytes(body: &[u8]) -> Result<usize, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CountRequest {
        #[serde(default)]
        contents: Vec<Content>,
        generate_content_request: Option<GenerateRequest>,
    }
    let count: CountRequest = parse(body)?;
    let mut request = count.generate_content_request.unwrap_or_default();
    request.contents.extend(count.contents);
    let context = RequestContext::estimate();
    let chat = to_chat(&request, &context);
    Ok(super::chat_text_bytes(&chat))
}
