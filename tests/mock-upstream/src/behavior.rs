//! What a model name asks the mock to do.
//!
//! Markers are matched as substrings of the model id, so they combine: `reasoning-tool`,
//! `tool-stream-delay-20`, `slow-first-byte-100-status-500`, …
//!
//! | marker | effect |
//! |---|---|
//! | *(none)* | echo: the answer is `echo: <text of the last user message>` |
//! | `tool` | a tool call to the first tool the request defines (else `get_weather`), arguments `{"city":"Paris","unit":"celsius"}`; for Codex's shell tools `exec_command` / `shell`, a command that echoes `hello-from-tool` |
//! | `parallel-tool` | two tool calls (Paris, then Oslo) |
//! | `reasoning` | reasoning / thinking content before the answer |
//! | `slow-first-byte-<ms>` | wait before sending the response headers |
//! | `stream-delay-<ms>` | wait before every streamed event (at least 3 text chunks) |
//! | `status-<code>` | answer with that status and the family's error body (429 adds `Retry-After: 1`) |
//! | `cut-mid-stream` | send the headers and part of the body, then drop the connection |
//! | `cut-before-first-byte` | send the headers, then drop the connection |
//! | `hang` | never answer |
//! | `bad-json` | 200 with the body `this is not json` |
//! | `bench` (exact) | constant pre-serialized chat completion (benchmarks; Chat Completions only) |
//!
//! Whatever the marker, when the request's last turn is a tool result (OpenAI `role:"tool"`,
//! Anthropic `tool_result`, Responses `function_call_output`, Gemini `functionResponse`) the
//! answer is the text `tool result: <content>`, so a client can finish a tool round trip.

use std::time::Duration;

use http::StatusCode;

/// How the mock ends the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A normal answer (possibly cut, see [`Cut`]).
    Answer,
    /// An error status with the family's error body.
    Status(StatusCode),
    /// Never answer.
    Hang,
    /// 200 with a body that is not JSON.
    BadJson,
}

/// Whether the connection is dropped while the body is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The body ends cleanly.
    No,
    /// Headers are sent, then the connection drops before any body byte.
    BeforeFirstByte,
    /// Part of the body (two content chunks when streaming) is sent, then the connection drops.
    MidStream,
}

/// Which tool calls the answer makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tools {
    /// Text answer.
    None,
    /// One tool call.
    One,
    /// Two tool calls.
    Parallel,
}

/// The behaviour selected by a model name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub outcome: Outcome,
    pub cut: Cut,
    pub tools: Tools,
    pub reasoning: bool,
    pub slow_first_byte: Option<Duration>,
    pub stream_delay: Option<Duration>,
}

impl Behavior {
    /// Reads the markers in `model` (see the module docs).
    pub fn parse(model: &str) -> Behavior {
        let outcome = if model.contains("hang") {
            Outcome::Hang
        } else if let Some(status) = number_after(model, "status-")
            .and_then(|code| u16::try_from(code).ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
        {
            Outcome::Status(status)
        } else if model.contains("bad-json") {
            Outcome::BadJson
        } else {
            Outcome::Answer
        };
        let cut = if model.contains("cut-before-first-byte") {
            Cut::BeforeFirstByte
        } else if model.contains("cut-mid-stream") {
            Cut::MidStream
        } else {
            Cut::No
        };
        let tools = if model.contains("parallel-tool") {
            Tools::Parallel
        } else if model.contains("tool") {
            Tools::One
        } else {
            Tools::None
        };
        Behavior {
            outcome,
            cut,
            tools,
            reasoning: model.contains("reasoning"),
            slow_first_byte: number_after(model, "slow-first-byte-").map(Duration::from_millis),
            stream_delay: number_after(model, "stream-delay-").map(Duration::from_millis),
        }
    }

    /// The number of text chunks to stream, given the configured default.
    pub fn chunks(&self, configured: usize) -> usize {
        if self.stream_delay.is_some() || self.cut == Cut::MidStream { configured.max(3) } else { configured.max(1) }
    }
}

/// The decimal number right after `marker` in `model`, if any.
fn number_after(model: &str, marker: &str) -> Option<u64> {
    let start = model.find(marker)? + marker.len();
    let rest = &model[start..];
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_echo() {
        let b = Behavior::parse("mock-model");
        assert_eq!(b.outcome, Outcome::Answer);
        assert_eq!(b.cut, Cut::No);
        assert_eq!(b.tools, Tools::None);
        assert!(!b.reasoning);
        assert_eq!(b.slow_first_byte, None);
        assert_eq!(b.stream_delay, None);
    }

    #[test]
    fn markers_combine() {
        let b = Behavior::parse("reasoning-parallel-tool-stream-delay-25-slow-first-byte-100");
        assert_eq!(b.tools, Tools::Parallel);
        assert!(b.reasoning);
        assert_eq!(b.stream_delay, Some(Duration::from_millis(25)));
        assert_eq!(b.slow_first_byte, Some(Duration::from_millis(100)));
        assert_eq!(b.chunks(1), 3);
        assert_eq!(Behavior::parse("tool").tools, Tools::One);
    }

    #[test]
    fn outcomes() {
        assert_eq!(Behavior::parse("status-429").outcome, Outcome::Status(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(Behavior::parse("status-abc").outcome, Outcome::Answer);
        assert_eq!(Behavior::parse("status-99").outcome, Outcome::Answer);
        assert_eq!(Behavior::parse("hang").outcome, Outcome::Hang);
        assert_eq!(Behavior::parse("bad-json").outcome, Outcome::BadJson);
        assert_eq!(Behavior::parse("cut-mid-stream").cut, Cut::MidStream);
        assert_eq!(Behavior::parse("cut-before-first-byte").cut, Cut::BeforeFirstByte);
    }
}
