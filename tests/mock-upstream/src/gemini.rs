//! Google Gemini (generativelanguage v1beta, also v1): `POST /v1beta/models/{model}:{method}`
//! for `generateContent`, `streamGenerateContent` (`?alt=sse` for SSE, else a streamed JSON
//! array), `countTokens` and `embedContent`; `GET /v1beta/models[/{model}]`. The model comes
//! from the path (percent-decoded).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::answer::parse_object;
use crate::answer::{Answer, LastTurn, split};
use crate::behavior::Behavior;
use crate::errors::{Family, error_response};
use crate::openai::embedding;
use crate::server::App;
use crate::stream::{EVENT_STREAM, Frames, JSON, json_body, json_value, sse_data, streamed};
use crate::usage;

/// `POST /v1beta/models/{model}:{method}`
pub(crate) async fn generate(
    State(app): State<App>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some((model, method)) = rest.rsplit_once(':') else {
        return not_found(&format!("switchyard-mock: no method in `{rest}`"));
    };
    let request = match parse_object(&body, Family::Gemini) {
        Ok(request) => request,
        Err(rejection) => return rejection.into_response(),
    };
    let sse = query.as_deref().is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
    match method {
        "generateContent" => answer(&app, model, &request, None).await,
        "streamGenerateContent" => answer(&app, model, &request, Some(sse)).await,
        "countTokens" => json_value(&json!({"totalTokens": body.len() / 4})),
        "embedContent" => embed(&app, model, &request).await,
        _ => not_found(&format!("switchyard-mock: unknown method `{method}`")),
    }
}

/// `POST /v1/models/{model}:{method}` (Gemini's v1 surface; same behaviour).
pub(crate) async fn generate_v1(state: State<App>, path: Path<String>, query: RawQuery, body: Bytes) -> Response {
    generate(state, path, query, body).await
}

fn not_found(message: &str) -> Response {
    error_response(Family::Gemini, StatusCode::NOT_FOUND, message)
}

/// generateContent (`stream: None`) or streamGenerateContent (`Some(sse)`).
async fn answer(app: &App, model: &str, request: &Value, stream: Option<bool>) -> Response {
    let behavior = Behavior::parse(model);
    let seq = app.next_seq();
    if let Some(response) = app.gate(&behavior, Family::Gemini, seq).await {
        return response;
    }
    let answer = Answer::new(&behavior, last_turn(request), first_tool(request), seq);
    match stream {
        None => {
            let body = chunk(&answer, model, reply_parts(&answer, true), true);
            json_body(Bytes::from(body.to_string()), &behavior, seq)
        }
        Some(sse) => {
            let chunks = behavior.chunks(app.options().chunks());
            let frames = stream_frames(&answer, model, chunks, sse);
            let content_type = if sse { EVENT_STREAM } else { JSON };
            streamed(frames, content_type, &behavior, seq)
        }
    }
}

/// `embedContent`: `{"embedding": {"values": [...]}}`.
async fn embed(app: &App, model: &str, request: &Value) -> Response {
    let behavior = Behavior::parse(model);
    let seq = app.next_seq();
    if let Some(response) = app.gate(&behavior, Family::Gemini, seq).await {
        return response;
    }
    let text = parts_text(&request["content"]["parts"]);
    let body = json!({"embedding": {"values": embedding(&text)}});
    json_body(Bytes::from(body.to_string()), &behavior, seq)
}

/// The first function declared in `tools` (camelCase or snake_case).
fn first_tool(request: &Value) -> Option<&str> {
    request
        .get("tools")?
        .as_array()?
        .iter()
        .filter_map(|tool| tool.get("functionDeclarations").or_else(|| tool.get("function_declarations")))
        .filter_map(|declarations| declarations.get(0)?.get("name")?.as_str())
        .next()
}

/// How `contents` ends: `functionResponse` parts in the last content, else the text parts of the
/// last user content.
fn last_turn(request: &Value) -> LastTurn {
    let contents = request.get("contents").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if let Some(parts) = contents.last().and_then(|c| c.get("parts")).and_then(Value::as_array) {
        let results: Vec<String> = parts
            .iter()
            .filter_map(|p| p.get("functionResponse").or_else(|| p.get("function_response")))
            .map(|r| function_response_text(&r["response"]))
            .collect();
        if !results.is_empty() {
            return LastTurn::ToolResult(results.join(" "));
        }
    }
    let text = contents
        .iter()
        .rev()
        .find(|c| c.get("role").and_then(Value::as_str).is_none_or(|r| r == "user"))
        .map(|c| parts_text(&c["parts"]))
        .unwrap_or_default();
    LastTurn::User(text)
}

/// The text parts (not thoughts) of `parts`, joined with a space.
fn parts_text(parts: &Value) -> String {
    parts
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `functionResponse.response` as text: its only string field (`{"output": "…"}`), else JSON.
fn function_response_text(response: &Value) -> String {
    match response {
        Value::String(text) => text.clone(),
        Value::Object(fields) if fields.len() == 1 => match fields.values().next() {
            Some(Value::String(text)) => text.clone(),
            _ => response.to_string(),
        },
        other => other.to_string(),
    }
}

/// The parts of the whole reply: the reasoning as a thought (when `with_reasoning`), then the
/// text or the function calls.
fn reply_parts(answer: &Answer, with_reasoning: bool) -> Vec<Value> {
    let mut parts = Vec::new();
    if let Some(reasoning) = answer.reasoning.filter(|_| with_reasoning) {
        parts.push(json!({"text": reasoning, "thought": true}));
    }
    if let Some(text) = answer.text() {
        parts.push(json!({"text": text}));
    }
    for call in answer.tool_calls() {
        let args: Value = serde_json::from_str(call.arguments).unwrap_or(Value::Null);
        parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
    }
    parts
}

/// One `GenerateContentResponse`; the last one has `finishReason` and the full usage.
fn chunk(answer: &Answer, model: &str, parts: Vec<Value>, last: bool) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    let usage = if last {
        if let Some(fields) = candidate.as_object_mut() {
            fields.insert("finishReason".into(), json!("STOP"));
        }
        json!({
            "promptTokenCount": usage::PROMPT_TOKENS,
            "candidatesTokenCount": usage::COMPLETION_TOKENS,
            "totalTokenCount": usage::TOTAL_TOKENS,
            "cachedContentTokenCount": usage::CACHED_TOKENS,
        })
    } else {
        json!({"promptTokenCount": usage::PROMPT_TOKENS, "totalTokenCount": usage::PROMPT_TOKENS})
    };
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": format!("mock-{}", answer.seq),
    })
}

/// The chunks of a streamed answer, as SSE `data:` lines or as one JSON array.
fn stream_frames(answer: &Answer, model: &str, chunks: usize, sse: bool) -> Frames {
    let mut frames = Frames::default();
    let mut first = true;
    let mut encode = |value: Value| {
        if sse {
            sse_data(&value)
        } else {
            let separator = if first { "[" } else { ",\r\n" };
            first = false;
            Bytes::from(format!("{separator}{value}"))
        }
    };
    if let Some(reasoning) = answer.reasoning {
        let parts = vec![json!({"text": reasoning, "thought": true})];
        frames.meta(encode(chunk(answer, model, parts, false)));
    }
    match answer.text() {
        Some(text) => {
            let pieces = split(text, chunks);
            let last = pieces.len() - 1;
            for (i, piece) in pieces.into_iter().enumerate() {
                let parts = vec![json!({"text": piece})];
                frames.content(encode(chunk(answer, model, parts, i == last)));
            }
        }
        None => {
            let parts = reply_parts(answer, false);
            frames.content(encode(chunk(answer, model, parts, true)));
        }
    }
    if !sse {
        frames.meta(Bytes::from_static(b"]"));
    }
    frames
}

/// `GET /v1beta/models`
pub(crate) async fn models(State(app): State<App>) -> Response {
    let models: Vec<Value> = app.options().model_ids().iter().map(|id| model_object(id)).collect();
    json_value(&json!({"models": models}))
}

/// `GET /v1beta/models/{model}`
pub(crate) async fn model(State(app): State<App>, Path(id): Path<String>) -> Response {
    let id = id.strip_prefix("models/").unwrap_or(&id);
    if app.options().model_ids().iter().any(|known| known == id) {
        json_value(&model_object(id))
    } else {
        not_found(&format!("switchyard-mock: no model `{id}`"))
    }
}

fn model_object(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": id,
        "description": "switchyard-mock model",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_turn_reads_function_response() {
        let request = json!({"contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"output": "sunny"}}}]},
        ]});
        match last_turn(&request) {
            LastTurn::ToolResult(text) => assert_eq!(text, "sunny"),
            other => panic!("unexpected {other:?}"),
        }
        let request =
            json!({"contents": [{"parts": [{"text": "a"}, {"text": "hmm", "thought": true}, {"text": "b"}]}]});
        match last_turn(&request) {
            LastTurn::User(text) => assert_eq!(text, "a b"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn first_tool_skips_non_function_tools() {
        let request = json!({"tools": [{"googleSearch": {}}, {"functionDeclarations": [{"name": "lookup"}]}]});
        assert_eq!(first_tool(&request), Some("lookup"));
    }
}
