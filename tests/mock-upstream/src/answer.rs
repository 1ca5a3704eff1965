//! What the mock answers, independent of the wire format: each API module reads the request's last
//! turn and first tool (with the helpers here), builds an [`Answer`], then renders it in its own
//! shape.

use serde_json::Value;

use crate::behavior::{Behavior, Tools};
use crate::errors::{BadBody, Family};

/// Arguments of the first tool call.
pub(crate) const PARIS_ARGS: &str = r#"{"city":"Paris","unit":"celsius"}"#;
/// Arguments of the second tool call (`parallel-tool`).
pub(crate) const OSLO_ARGS: &str = r#"{"city":"Oslo","unit":"celsius"}"#;
/// Arguments for a shell tool (Codex's `exec_command`, older Codex `shell`): a command that
/// prints `hello-from-tool`, so a real client can run it and send its output back.
pub(crate) const EXEC_COMMAND_ARGS: &str = r#"{"cmd":"echo hello-from-tool"}"#;
pub(crate) const SHELL_ARGS: &str = r#"{"command":["echo","hello-from-tool"]}"#;
/// The tool called when the request defines none.
pub(crate) const FALLBACK_TOOL: &str = "get_weather";
/// The reasoning text of `reasoning` models.
pub(crate) const REASONING_TEXT: &str = "The user wants an answer. Let me think it through.";
/// The signature of Anthropic thinking blocks.
pub(crate) const THINKING_SIGNATURE: &str = "mock-signature-0123456789";
/// `created` / `created_at` in every response: fixed, so bodies are reproducible.
pub(crate) const CREATED: u64 = 1_700_000_000;

/// How the request's conversation ends.
#[derive(Debug)]
pub(crate) enum LastTurn {
    /// The text of the last user message (parts joined with a space).
    User(String),
    /// The content of the trailing tool result(s), joined with a space.
    ToolResult(String),
}

/// One tool call of the answer.
#[derive(Debug)]
pub(crate) struct ToolCall {
    /// 0-based position among the calls.
    pub index: usize,
    pub name: String,
    /// The arguments as JSON text.
    pub arguments: &'static str,
}

/// What the answer says.
#[derive(Debug)]
pub(crate) enum Reply {
    Text(String),
    Tools(Vec<ToolCall>),
}

/// The answer to one inference request.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Reasoning to show before the reply (`reasoning` models).
    pub reasoning: Option<&'static str>,
    pub reply: Reply,
    /// A number unique to this request within the mock, used in ids.
    pub seq: u64,
}

impl Answer {
    /// Chooses the answer for `behavior`, given how the conversation ends and the first tool the
    /// request defines.
    pub fn new(behavior: &Behavior, last: LastTurn, first_tool: Option<&str>, seq: u64) -> Answer {
        let reply = match last {
            LastTurn::ToolResult(content) => Reply::Text(format!("tool result: {content}")),
            LastTurn::User(text) => match behavior.tools {
                Tools::None => Reply::Text(format!("echo: {text}")),
                Tools::One | Tools::Parallel => {
                    let name = first_tool.unwrap_or(FALLBACK_TOOL);
                    let arguments = match name {
                        "exec_command" => EXEC_COMMAND_ARGS,
                        "shell" => SHELL_ARGS,
                        _ => PARIS_ARGS,
                    };
                    let mut calls = vec![ToolCall { index: 0, name: name.to_owned(), arguments }];
                    if behavior.tools == Tools::Parallel {
                        calls.push(ToolCall { index: 1, name: name.to_owned(), arguments: OSLO_ARGS });
                    }
                    Reply::Tools(calls)
                }
            },
        };
        Answer { reasoning: behavior.reasoning.then_some(REASONING_TEXT), reply, seq }
    }

    /// The text of a text reply.
    pub fn text(&self) -> Option<&str> {
        match &self.reply {
            Reply::Text(text) => Some(text),
            Reply::Tools(_) => None,
        }
    }

    /// The tool calls of a tool reply (empty for text).
    pub fn tool_calls(&self) -> &[ToolCall] {
        match &self.reply {
            Reply::Text(_) => &[],
            Reply::Tools(calls) => calls,
        }
    }
}

/// Parses a JSON object body, or rejects it with a 400 in `family`'s shape.
pub(crate) fn parse_object(body: &[u8], family: Family) -> Result<Value, BadBody> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(BadBody::new(family, "the body must be a JSON object".to_owned())),
        Err(e) => Err(BadBody::new(family, format!("the body is not valid JSON: {e}"))),
    }
}

/// `request.<field>` as a string, `""` when absent.
pub(crate) fn str_field<'a>(request: &'a Value, field: &str) -> &'a str {
    request.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Splits `text` into `n` pieces of about the same number of characters (fewer when the text is
/// shorter than `n` characters; always at least one piece).
pub(crate) fn split(text: &str, n: usize) -> Vec<&str> {
    let chars = text.chars().count();
    let n = n.clamp(1, chars.max(1));
    let mut pieces = Vec::with_capacity(n);
    let mut rest = text;
    for i in 0..n {
        let remaining_pieces = n - i;
        let remaining_chars = rest.chars().count();
        let take = remaining_chars.div_ceil(remaining_pieces);
        let cut = rest.char_indices().nth(take).map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// The text of a message `content` that is either a string or an array of parts; the parts whose
/// `type` is one of `text_types` (or that have a `text` and no type) are joined with a space.
pub(crate) fn content_text(content: &Value, text_types: &[&str]) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|part| part.get("type").and_then(|t| t.as_str()).is_none_or(|t| text_types.contains(&t)))
            .filter_map(|part| part.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_lossless_and_even() {
        assert_eq!(split("abcdefg", 3), vec!["abc", "de", "fg"]);
        assert_eq!(split("ab", 3), vec!["a", "b"]);
        assert_eq!(split("", 3), vec![""]);
        assert_eq!(split("héllo wörld", 4).concat(), "héllo wörld");
        assert_eq!(split(PARIS_ARGS, 3).len(), 3);
    }

    #[test]
    fn content_text_joins_text_parts() {
        let content = serde_json::json!([
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "b"}
        ]);
        assert_eq!(content_text(&content, &["text"]), "a b");
        assert_eq!(content_text(&serde_json::json!("plain"), &["text"]), "plain");
    }
}
