//! Gemini `GenerateContentResponse` → OpenAI Chat answer, for an OpenAI client (and, through
//! OpenAI Chat, an Anthropic client) in front of a Gemini model.
//!
//! Streams, chunk by chunk: `text` parts → `delta.content`, `thought` parts →
//! `delta.reasoning_content`, each `functionCall` part → one whole `tool_calls` delta (next
//! index; its id, or `call_<random>`); `thoughtSignature`s are dropped. Gemini has no end
//! marker: the chunk with a `finishReason` ends the stream (`STOP` → `stop`, or `tool_calls`
//! when calls were made; `MAX_TOKENS` → `length`; safety, recitation and blocklist reasons →
//! `content_filter`), followed by the usage chunk when the client asked for it
//! (`usageMetadata`: prompt, candidates + thoughts, cached, thoughts as reasoning) and
//! `[DONE]`. A prompt blocked outright (`promptFeedback.blockReason`, no candidates) ends as
//! `content_filter`. An upstream `{"error":…}` becomes the client's error event.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Flow, StreamTranslator, random_id, write_event};
use crate::wire::{GeminiUsage, Usage};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    usage_metadata: Option<GeminiUsage>,
    prompt_feedback: Option<PromptFeedback>,
    response_id: Option<String>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePart {
    text: Option<String>,
    #[serde(default)]
    thought: bool,
    function_call: Option<Call>,
}

#[derive(Debug, Deserialize)]
struct Call {
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

pub struct FromGemini {
    model: String,
    include_usage: bool,
    id: String,
    created: u64,
    started: bool,
    calls: usize,
    usage: Option<Usage>,
}

impl FromGemini {
    pub fn new(model: &str, include_usage: bool) -> FromGemini {
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        FromGemini {
            model: model.to_owned(),
            include_usage,
            id: format!("chatcmpl-{}", random_id()),
            created,
            started: false,
            calls: 0,
            usage: None,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    fn finish(&mut self, reason: &str, out: &mut BytesMut) -> Flow {
        write_event(out, None, &self.chunk(json!({}), Some(reason)));
        if self.include_usage {
            let usage = self.usage.map(|u| chat_usage(&u)).unwrap_or(Value::Null);
            write_event(
                out,
                None,
                &json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.model, "choices": [], "usage": usage}),
            );
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Flow::Done
    }
}

fn finish_reason(reason: &str, called: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => "content_filter",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// The gateway's usage as an OpenAI `usage` object.
pub fn chat_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

fn error_message(error: &Value) -> String {
    error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_owned)
}

impl StreamTranslator for FromGemini {
    fn event(&mut self, _name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        let response: Response = match serde_json::from_slice(data) {
            Ok(response) => response,
            Err(err) => return Flow::UpstreamError(format!("an unreadable stream chunk: {err}")),
        };
        if let Some(error) = response.error {
            return Flow::UpstreamError(error_message(&error));
        }
        if let Some(usage) = &response.usage_metadata {
            self.usage = Some(usage.to_usage());
        }
        if !self.started {
            self.started = true;
            if let Some(id) = &response.response_id {
                self.id = format!("chatcmpl-{id}");
            }
            write_event(out, None, &self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
        let mut finish = None;
        for candidate in response.candidates.into_iter().take(1) {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let index = self.calls;
                    self.calls += 1;
                    let id = call.id.unwrap_or_else(|| format!("call_{}", random_id()));
                    let arguments = if call.args.is_null() { "{}".to_owned() } else { call.args.to_string() };
                    let delta = json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                        "function": {"name": call.name, "arguments": arguments}}]});
                    write_event(out, None, &self.chunk(delta, None));
                } else if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                    let delta =
                        if part.thought { json!({"reasoning_content": text}) } else { json!({"content": text}) };
                    write_event(out, None, &self.chunk(delta, None));
                }
            }
            finish = candidate.finish_reason;
        }
        if let Some(reason) = finish {
            return self.finish(finish_reason(&reason, self.calls > 0), out);
        }
        if response.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            return self.finish("content_filter", out);
        }
        Flow::Continue
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// A whole Gemini answer as a Chat completion.
pub fn whole(body: &[u8], model: &str) -> Result<(Bytes, Option<Usage>), String> {
    let response: Response =
        serde_json::from_slice(body).map_err(|err| format!("the answer is not a Gemini response: {err}"))?;
    let usage = response.usage_metadata.as_ref().map(GeminiUsage::to_usage);
    let mut choices = Vec::new();
    for (index, candidate) in response.candidates.into_iter().enumerate() {
        let mut text = String::new();
        let mut thoughts = String::new();
        let mut calls = Vec::new();
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                let id = call.id.unwrap_or_else(|| format!("call_{}", random_id()));
                let arguments = if call.args.is_null() { "{}".to_owned() } else { call.args.to_string() };
                calls.push(
                    json!({"id": id, "type": "function", "function": {"name": call.name, "arguments": arguments}}),
                );
            } else if let Some(part_text) = part.text {
                if part.thought { thoughts.push_str(&part_text) } else { text.push_str(&part_text) }
            }
        }
        let reason = finish_reason(candidate.finish_reason.as_deref().unwrap_or("STOP"), !calls.is_empty());
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        message.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
        if !thoughts.is_empty() {
            message.insert("reasoning_content".into(), json!(thoughts));
        }
        if !calls.is_empty() {
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        choices.push(json!({"index": index, "message": message, "finish_reason": reason}));
    }
    if choices.is_empty() && response.prompt_feedback.and_then(|f| f.block_reason).is_some() {
        choices.push(
            json!({"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "content_filter"}),
        );
    }
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let id = response.response_id.map_or_else(|| format!("chatcmpl-{}", random_id()), |id| format!("chatcmpl-{id}"));
    let mut completion =
        json!({"id": id, "object": "chat.completion", "created": created, "model": model, "choices": choices});
    if let Some(usage) = &usage {
        completion["usage"] = chat_usage(usage);
    }
    let body = serde_json::to_vec(&completion).map_err(|err| err.to_string())?;
    Ok((Bytes::from(body), usage))
}
