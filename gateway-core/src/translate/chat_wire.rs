//! Typed views of what an OpenAI-compatible upstream answers (Chat Completions: stream chunks and
//! whole completions), shared by every translator that turns it into another API's answer
//! (Anthropic Messages, Gemini, OpenAI Responses). Only the fields the translators read.

use serde::Deserialize;
use serde_json::Value;

use crate::wire::OpenAiUsage;

/// One `chat.completion.chunk` (or an in-band `{"error": …}`).
#[derive(Debug, Deserialize)]
pub struct ChatChunk {
    pub id: Option<String>,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<OpenAiUsage>,
    pub error: Option<Value>,
}

impl ChatChunk {
    /// One stream event; an unreadable event or an in-band `{"error": …}` is the upstream's
    /// error, in its words.
    pub fn read(data: &[u8]) -> Result<ChatChunk, String> {
        let chunk: ChatChunk =
            serde_json::from_slice(data).map_err(|err| format!("an unreadable stream event: {err}"))?;
        match &chunk.error {
            Some(error) => {
                Err(error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_owned))
            }
            None => Ok(chunk),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub delta: Option<Delta>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Delta {
    pub content: Option<String>,
    /// vLLM and DeepSeek name the reasoning `reasoning_content`; OpenRouter and Ollama `reasoning`.
    pub reasoning_content: Option<String>,
    pub reasoning: Option<String>,
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
pub struct ToolCallDelta {
    pub index: Option<usize>,
    pub id: Option<String>,
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDelta {
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// A whole `chat.completion`.
#[derive(Debug, Deserialize)]
pub struct ChatCompletion {
    pub id: Option<String>,
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    pub usage: Option<OpenAiUsage>,
}

#[derive(Debug, Deserialize)]
pub struct CompletionChoice {
    pub message: Option<CompletionMessage>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CompletionMessage {
    pub content: Option<String>,
    pub reasoning_content: Option<String>,
    pub reasoning: Option<String>,
    pub tool_calls: Option<Vec<CompletionToolCall>>,
}

#[derive(Debug, Deserialize)]
pub struct CompletionToolCall {
    /// Some OpenAI-compatible servers leave it out; translators make one up.
    pub id: Option<String>,
    pub function: CompletionFunction,
}

#[derive(Debug, Deserialize)]
pub struct CompletionFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}
