//! OpenAI Chat Completions request → Gemini `GenerateContentRequest`, for an OpenAI client (and,
//! through OpenAI Chat, an Anthropic client) in front of a Gemini model. The model goes in the
//! URL, not the body.
//!
//! - `system` / `developer` messages (wherever they are) → `systemInstruction` (Gemini has no
//!   system turn mid-conversation).
//! - `user` text → `text` parts, `image_url` data URLs → `inlineData`, other URLs → `fileData`.
//! - `assistant` content → `model` `text` parts, `tool_calls` → `functionCall` parts (arguments
//!   parsed; the first call of a turn carries the `thoughtSignature` Google documents for calls
//!   it did not make itself, since the real signature did not survive the OpenAI round trip).
//! - `tool` messages → `functionResponse` parts (name found from the call's id, `response` the
//!   JSON object the content holds or `{"content": text}`) in one `user` turn.
//! - `tools` → one `functionDeclarations` tool (`parametersJsonSchema`), `tool_choice`
//!   auto/required/none/function → `toolConfig` AUTO/ANY/NONE/ANY with that name.
//! - `temperature`, `top_p`, `max_tokens` / `max_completion_tokens` (clamped), `stop`, `n`,
//!   `seed`, penalties → `generationConfig`; `response_format` json_schema / json_object →
//!   `responseMimeType: application/json` (+ `responseJsonSchema`); `reasoning_effort`
//!   low/medium/high → `thinkingConfig` (budget 1024/8192/24576, thoughts included).

use std::collections::HashMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::types::{ChatContent, ChatMessage, ChatPart, Stop, parse};
use crate::error::ApiError;

/// What Google documents as the signature of a function call the model did not make itself.
pub const FOREIGN_CALL_SIGNATURE: &str = "skip_thought_signature_validator";

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    messages: Vec<ChatMessage>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<Value>,
    top_p: Option<Value>,
    stop: Option<Stop>,
    n: Option<u64>,
    seed: Option<Value>,
    presence_penalty: Option<Value>,
    frequency_penalty: Option<Value>,
    tools: Option<Vec<super::types::ChatTool>>,
    tool_choice: Option<Value>,
    response_format: Option<Value>,
    reasoning_effort: Option<String>,
    stream_options: Option<super::types::StreamOptions>,
}

/// The Gemini body and whether the client asked for usage in its stream.
pub fn translate(body: &[u8], context: &RequestContext<'_>) -> Result<(Bytes, bool), ApiError> {
    let request: ChatRequest = parse(body)?;
    let include_usage = request.stream_options.as_ref().and_then(|o| o.include_usage).unwrap_or(false);
    let out = to_gemini(&request, context);
    let body = serde_json::to_vec(&out).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok((Bytes::from(body), include_usage))
}

fn to_gemini(request: &ChatRequest, context: &RequestContext<'_>) -> Value {
    let mut out = Map::new();
    let (system, contents) = contents(&request.messages);
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": [{"text": system.join("\n\n")}]}));
    }
    let declarations: Vec<Value> = request
        .tools
        .iter()
        .flatten()
        .filter(|tool| tool.kind == "function")
        .filter_map(|tool| tool.function.as_ref())
        .map(|function| {
            let mut declaration = Map::new();
            declaration.insert("name".into(), json!(function.name));
            if let Some(description) = &function.description {
                declaration.insert("description".into(), json!(description));
            }
            if let Some(parameters) = &function.parameters {
                declaration.insert("parametersJsonSchema".into(), parameters.clone());
            }
            Value::Object(declaration)
        })
        .collect();
    if !declarations.is_empty() {
        out.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        if let Some(config) = request.tool_choice.as_ref().and_then(function_calling_config) {
            out.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
        }
    }
    let mut config = Map::new();
    if let Some(t) = &request.temperature {
        config.insert("temperature".into(), t.clone());
    }
    if let Some(p) = &request.top_p {
        config.insert("topP".into(), p.clone());
    }
    if let Some(max) = request.max_completion_tokens.or(request.max_tokens) {
        let max = context.max_output_tokens.map_or(max, |cap| max.min(cap));
        config.insert("maxOutputTokens".into(), json!(max));
    }
    match &request.stop {
        Some(Stop::One(stop)) => {
            config.insert("stopSequences".into(), json!([stop]));
        }
        Some(Stop::Many(stops)) if !stops.is_empty() => {
            config.insert("stopSequences".into(), json!(stops));
        }
        _ => {}
    }
    if let Some(n) = request.n.filter(|n| *n > 1) {
        config.insert("candidateCount".into(), json!(n));
    }
    for (key, value) in [
        ("seed", &request.seed),
        ("presencePenalty", &request.presence_penalty),
        ("frequencyPenalty", &request.frequency_penalty),
    ] {
        if let Some(value) = value {
            config.insert(key.into(), value.clone());
        }
    }
    if let Some(format) = &request.response_format {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                config.insert("responseMimeType".into(), json!("application/json"));
                if let Some(schema) = format.get("json_schema").and_then(|s| s.get("schema")) {
                    config.insert("responseJsonSchema".into(), schema.clone());
                }
            }
            Some("json_object") => {
                config.insert("responseMimeType".into(), json!("application/json"));
            }
            _ => {}
        }
    }
    let budget = match request.reasoning_effort.as_deref() {
        Some("minimal" | "low") => Some(1024),
        Some("medium") => Some(8192),
        Some("high") => Some(24576),
        _ => None,
    };
    if let Some(budget) = budget {
        config.insert("thinkingConfig".into(), json!({"thinkingBudget": budget, "includeThoughts": true}));
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(out)
}

/// The system texts and the conversation as Gemini contents (consecutive turns of one role merged).
fn contents(messages: &[ChatMessage]) -> (Vec<String>, Vec<Value>) {
    let mut system = Vec::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for message in messages {
        let (role, parts) = match message.role.as_str() {
            "system" | "developer" => {
                if let Some(content) = &message.content {
                    system.push(content.text());
                }
                continue;
            }
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(text) = message.content.as_ref().map(ChatContent::text).filter(|t| !t.is_empty()) {
                    parts.push(json!({"text": text}));
                }
                for (i, call) in message.tool_calls.iter().flatten().enumerate() {
                    call_names.insert(call.id.as_str(), call.function.name.as_str());
                    let args: Value = serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
                    let mut part = json!({"functionCall": {"id": call.id, "name": call.function.name, "args": args}});
                    if i == 0 {
                        part["thoughtSignature"] = json!(FOREIGN_CALL_SIGNATURE);
                    }
                    parts.push(part);
                }
                ("model", parts)
            }
            "tool" | "function" => {
                let id = message.tool_call_id.as_deref().unwrap_or_default();
                let name = call_names.get(id).copied().unwrap_or(id);
                let text = message.content.as_ref().map(ChatContent::text).unwrap_or_default();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => json!({"content": text}),
                };
                ("user", vec![json!({"functionResponse": {"id": id, "name": name, "response": response}})])
            }
            _ => ("user", user_parts(message.content.as_ref())),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last_role, last_parts)) if *last_role == role => last_parts.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    let contents = contents.into_iter().map(|(role, parts)| json!({"role": role, "parts": parts})).collect();
    (system, contents)
}

fn user_parts(content: Option<&ChatContent>) -> Vec<Value> {
    match content {
        None => Vec::new(),
        Some(ChatContent::Text(text)) => vec![json!({"text": text})],
        Some(ChatContent::Parts(parts)) => parts
            .iter()
            .filter_map(|part| match part {
                ChatPart::Text { text } => Some(json!({"text": text})),
                ChatPart::ImageUrl { image_url } => Some(image_part(&image_url.url)),
                ChatPart::Other => None,
            })
            .collect(),
    }
}

/// A data URL becomes inline bytes; any other URL a file reference.
fn image_part(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((mime, data)) = rest.split_once(";base64,")
    {
        return json!({"inlineData": {"mimeType": mime, "data": data}});
    }
    let lower = url.to_ascii_lowercase();
    let mime = if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    };
    json!({"fileData": {"mimeType": mime, "fileUri": url}})
}

fn function_calling_config(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Some(json!({"mode": "AUTO"})),
            "required" => Some(json!({"mode": "ANY"})),
            "none" => Some(json!({"mode": "NONE"})),
            _ => None,
        },
        Value::Object(_) => {
            let name = choice.get("function")?.get("name")?.as_str()?;
            Some(json!({"mode": "ANY", "allowedFunctionNames": [name]}))
        }
        _ => None,
    }
}
