//! Server-sent events, read as they arrive. One line splitter (memchr, a bounded buffer for the
//! incomplete last line) serves both paths: on passthrough the [`SseScanner`] forwards the bytes
//! and looks only at `data:` lines, parsing only those that carry a usage object, so accounting
//! costs almost nothing per chunk; on the translated path the [`EventDecoder`] assembles whole
//! events (name and data) for the translator. The end of a stream is `data: [DONE]` for OpenAI
//! and the `message_stop` (or `error`) event for Anthropic.

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::wire::{AnthropicUsage, GeminiUsage, OpenAiUsage, ResponsesUsage, Usage, WireFormat};

/// A line longer than this is not scanned on passthrough (it is still forwarded); bounds the
/// scanner's buffer.
const MAX_SCANNED_LINE: usize = 4 * 1024 * 1024;

/// What the splitter hands on from a chunk.
pub enum Piece<'a> {
    /// A complete line, its newline included.
    Line(&'a [u8]),
    /// Bytes of a line longer than the splitter holds, handed on unread.
    Overlong(&'a [u8]),
}

/// Cuts a byte stream into lines as chunks arrive, holding at most `max` bytes of an incomplete
/// line. A complete line within one chunk is handed on without a copy.
pub struct LineSplitter {
    partial: BytesMut,
    /// Inside a line that outgrew `max`: its bytes go on as `Overlong` until its newline.
    overflowed: bool,
    max: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter { partial: BytesMut::new(), overflowed: false, max }
    }

    pub fn feed(&mut self, chunk: &[u8], mut each: impl FnMut(Piece<'_>)) {
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', chunk) {
            let piece = &chunk[start..=newline];
            start = newline + 1;
            if self.partial.is_empty() {
                each(Piece::Line(piece));
            } else {
                self.partial.extend_from_slice(piece);
                let line = std::mem::take(&mut self.partial);
                each(Piece::Line(&line));
            }
            self.overflowed = false;
        }
        let tail = &chunk[start..];
        if tail.is_empty() {
            return;
        }
        if self.partial.len() + tail.len() > self.max {
            let held = std::mem::take(&mut self.partial);
            if !held.is_empty() {
                each(Piece::Overlong(&held));
            }
            each(Piece::Overlong(tail));
            self.overflowed = true;
        } else if self.overflowed {
            each(Piece::Overlong(tail));
        } else {
            self.partial.extend_from_slice(tail);
        }
    }

    /// The incomplete last line held at the end of the stream.
    pub fn take_rest(&mut self) -> BytesMut {
        std::mem::take(&mut self.partial)
    }
}

/// The passthrough path's reader: forwards the upstream's bytes and reads usage and the end of
/// the stream from them on the way.
pub struct SseScanner {
    lines: LineSplitter,
    state: ScanState,
}

/// What the scanner knows of the stream; apart from the splitter so both can be borrowed at once.
struct ScanState {
    format: WireFormat,
    /// Anthropic usage arrives in two parts (`message_start`, `message_delta`).
    anthropic_usage: Option<AnthropicUsage>,
    /// Drop the usage-only chunk (`"choices":[]` with usage) because the gateway asked for it.
    strip_usage_chunk: bool,
    /// Set after a stripped event's data line, to drop the blank line that ends the event.
    dropping_event: bool,
    /// The `event:` name of the event being read (Responses streams only).
    event_name: Option<Vec<u8>>,
    usage: Option<Usage>,
    saw_done: bool,
}

impl SseScanner {
    pub fn new(strip_usage_chunk: bool) -> SseScanner {
        SseScanner::for_format(WireFormat::OpenAi, strip_usage_chunk)
    }

    /// A scanner for an upstream's stream in `format`; usage chunks are stripped only on OpenAI.
    pub fn for_format(format: WireFormat, strip_usage_chunk: bool) -> SseScanner {
        SseScanner {
            lines: LineSplitter::new(MAX_SCANNED_LINE),
            state: ScanState {
                format,
                anthropic_usage: None,
                strip_usage_chunk: strip_usage_chunk && format == WireFormat::OpenAi,
                dropping_event: false,
                event_name: None,
                usage: None,
                saw_done: false,
            },
        }
    }

    /// The usage read so far.
    pub fn usage(&self) -> Option<Usage> {
        self.state.usage
    }

    /// Whether the stream's end marker went by.
    pub fn saw_done(&self) -> bool {
        self.state.saw_done
    }

    /// Scans a chunk. Returns what to forward: the chunk itself when nothing is stripped, else
    /// the complete lines that remain (the incomplete tail is held back until its end arrives).
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        let state = &mut self.state;
        if !state.strip_usage_chunk {
            self.lines.feed(&chunk, |piece| {
                if let Piece::Line(line) = piece {
                    state.line(line, None);
                }
            });
            return chunk;
        }
        let mut out = BytesMut::with_capacity(chunk.len());
        self.lines.feed(&chunk, |piece| match piece {
            Piece::Line(line) => state.line(line, Some(&mut out)),
            // Too long to scan: forwarded without a look.
            Piece::Overlong(bytes) => out.extend_from_slice(bytes),
        });
        out.freeze()
    }

    /// What is held back at the end of the stream (a last line without a newline).
    pub fn finish(&mut self) -> Bytes {
        let rest = self.lines.take_rest();
        if !rest.is_empty() {
            self.state.line(&rest, None);
        }
        if self.state.strip_usage_chunk { rest.freeze() } else { Bytes::new() }
    }
}

impl ScanState {
    /// One complete line, newline included.
    fn line(&mut self, line: &[u8], out: Option<&mut BytesMut>) {
        let trimmed = trim_line_end(line);
        let mut keep = true;
        if trimmed.is_empty() {
            if self.dropping_event {
                self.dropping_event = false;
                keep = false;
            }
        } else if let Some(name) = trimmed.strip_prefix(b"event:")
            && self.format == WireFormat::Responses
        {
            self.event_name = Some(name.strip_prefix(b" ").unwrap_or(name).to_vec());
        } else if let Some(data) = trimmed.strip_prefix(b"data:") {
            let data = data.strip_prefix(b" ").unwrap_or(data);
            if self.format == WireFormat::Anthropic {
                self.anthropic_data(data);
            } else if self.format == WireFormat::Responses {
                self.responses_data(data);
            } else if self.format == WireFormat::Gemini {
                self.gemini_data(data);
            } else if data == b"[DONE]" {
                self.saw_done = true;
            } else if let Some(usage) = usage_in(data) {
                self.usage = Some(usage.usage);
                if self.strip_usage_chunk && usage.usage_only {
                    keep = false;
                    self.dropping_event = true;
                }
            }
        }
        if let (true, Some(out)) = (keep, out) {
            out.extend_from_slice(line);
        }
    }
}

/// One event of a stream: its `event:` name, if any, and its `data:` lines joined by newlines.
pub struct SseEvent<'a> {
    pub name: Option<&'a str>,
    pub data: &'a [u8],
}

/// Why a stream cannot be read as events.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge(usize),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(max) => write!(f, "a stream event is larger than {max} bytes"),
        }
    }
}

/// The translated path's reader: assembles complete events (an incomplete one waits for its
/// blank line, bounded) and hands each to the caller.
pub struct EventDecoder {
    lines: LineSplitter,
    name: Option<String>,
    data: Vec<u8>,
    max: usize,
}

impl EventDecoder {
    pub fn new(max_event: usize) -> EventDecoder {
        EventDecoder { lines: LineSplitter::new(max_event), name: None, data: Vec::new(), max: max_event }
    }

    /// Reads a chunk; calls `each` for every complete event until it answers `false` (the
    /// stream is over for the caller). Returns whether the caller stopped.
    pub fn feed(&mut self, chunk: &[u8], mut each: impl FnMut(SseEvent<'_>) -> bool) -> Result<bool, DecodeError> {
        let (name, data, max) = (&mut self.name, &mut self.data, self.max);
        let mut stopped = false;
        let mut too_large = false;
        self.lines.feed(chunk, |piece| {
            if stopped || too_large {
                return;
            }
            let Piece::Line(line) = piece else {
                too_large = true;
                return;
            };
            let line = trim_line_end(line);
            if line.is_empty() {
                let event_name = name.take();
                if !data.is_empty() {
                    let event_data = std::mem::take(data);
                    stopped = !each(SseEvent { name: event_name.as_deref(), data: &event_data });
                }
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if !data.is_empty() {
                    data.push(b'\n');
                }
                data.extend_from_slice(value);
                too_large = data.len() > max;
            } else if let Some(value) = line.strip_prefix(b"event:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                *name = Some(String::from_utf8_lossy(value).into_owned());
            }
        });
        if too_large {
            return Err(DecodeError::TooLarge(max));
        }
        Ok(stopped)
    }

    /// The end of the stream: a last event without its blank line still counts.
    pub fn finish(&mut self, each: impl FnMut(SseEvent<'_>) -> bool) -> Result<bool, DecodeError> {
        let rest = self.lines.take_rest();
        let mut tail = rest.to_vec();
        tail.extend_from_slice(b"\n\n");
        self.feed(&tail, each)
    }
}

impl ScanState {
    /// One Anthropic event's data: `message_stop` (or an `error` event) ends the stream; usage
    /// is read from `message_start.message.usage` and `message_delta.usage`.
    fn anthropic_data(&mut self, data: &[u8]) {
        let head = &data[..data.len().min(40)];
        if memmem::find(head, b"\"message_stop\"").is_some() || memmem::find(head, b"\"error\"").is_some() {
            self.saw_done = true;
            return;
        }
        if memmem::find(data, b"\"usage\"").is_none() {
            return;
        }
        #[derive(Deserialize)]
        struct Event {
            message: Option<Message>,
            usage: Option<AnthropicUsage>,
        }
        #[derive(Deserialize)]
        struct Message {
            usage: Option<AnthropicUsage>,
        }
        let Ok(event) = serde_json::from_slice::<Event>(data) else { return };
        let found = event.usage.or(event.message.and_then(|m| m.usage));
        if let Some(found) = found {
            let mut usage = self.anthropic_usage.take().unwrap_or_default();
            usage.merge(found);
            self.usage = Some(usage.to_usage());
            self.anthropic_usage = Some(usage);
        }
    }
}

impl ScanState {
    /// One Responses event's data: `response.completed`, `.incomplete`, `.failed` or `error` ends
    /// the stream; the usage is in the final response object. The `event:` line names the event;
    /// without one, only data that mentions a terminal type is parsed to check its `type`.
    fn responses_data(&mut self, data: &[u8]) {
        let named = self.event_name.take();
        let candidate = match &named {
            Some(name) => RESPONSES_TERMINAL.contains(&name.as_slice()),
            None => RESPONSES_TERMINAL.iter().any(|kind| {
                let quoted = [b"\"", *kind, b"\""].concat();
                memmem::find(data, &quoted).is_some()
            }),
        };
        if !candidate {
            return;
        }
        #[derive(Deserialize)]
        struct Event {
            #[serde(rename = "type")]
            kind: Option<String>,
            response: Option<Response>,
        }
        #[derive(Deserialize)]
        struct Response {
            usage: Option<ResponsesUsage>,
        }
        let Ok(event) = serde_json::from_slice::<Event>(data) else { return };
        let kind = event.kind.map(String::into_bytes).or(named).unwrap_or_default();
        if !RESPONSES_TERMINAL.contains(&kind.as_slice()) {
            return;
        }
        self.saw_done = true;
        if let Some(usage) = event.response.and_then(|r| r.usage) {
            self.usage = Some(Usage::from_responses(&usage));
        }
    }
}

impl ScanState {
    /// One Gemini chunk: a `finishReason` (or an error) marks a complete stream (Gemini has no
    /// end marker; the connection just closes); `usageMetadata` is cumulative, the last wins.
    fn gemini_data(&mut self, data: &[u8]) {
        let head = &data[..data.len().min(12)];
        if memmem::find(data, b"\"finishReason\"").is_some() || memmem::find(head, b"\"error\"").is_some() {
            self.saw_done = true;
        }
        if memmem::find(data, b"\"usageMetadata\"").is_none() {
            return;
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Chunk {
            usage_metadata: Option<GeminiUsage>,
        }
        if let Ok(Chunk { usage_metadata: Some(usage) }) = serde_json::from_slice::<Chunk>(data) {
            self.usage = Some(usage.to_usage());
        }
    }
}

/// The events that end a Responses stream.
const RESPONSES_TERMINAL: [&[u8]; 4] = [b"response.completed", b"response.incomplete", b"response.failed", b"error"];

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub struct FoundUsage {
    pub usage: Usage,
    /// The chunk has no choices: it exists only to carry usage.
    pub usage_only: bool,
}

/// The usage in one JSON event, if it has a non-null one. Only events that mention `"usage"`
/// followed by an object are parsed.
pub fn usage_in(data: &[u8]) -> Option<FoundUsage> {
    let at = memmem::rfind(data, b"\"usage\"")?;
    let after = &data[at + 7..];
    let value_start = after.iter().position(|b| !matches!(b, b' ' | b':' | b'\t' | b'\r' | b'\n'))?;
    if after[value_start] != b'{' {
        return None;
    }
    #[derive(Deserialize)]
    struct Chunk {
        usage: Option<OpenAiUsage>,
        choices: Option<Vec<IgnoredAny>>,
    }
    let chunk: Chunk = serde_json::from_slice(data).ok()?;
    let usage = chunk.usage?;
    Some(FoundUsage { usage: Usage::from_openai(&usage), usage_only: chunk.choices.is_none_or(|c| c.is_empty()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USAGE_CHUNK: &str = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n";

    fn stream() -> String {
        format!(
            "data: {{\"id\":\"c\",\"choices\":[{{\"delta\":{{\"content\":\"he\"}}}}],\"usage\":null}}\n\n\
             data: {{\"id\":\"c\",\"choices\":[{{\"delta\":{{\"content\":\"llo\"}},\"finish_reason\":\"stop\"}}],\"usage\":null}}\n\n\
             {USAGE_CHUNK}data: [DONE]\n\n"
        )
    }

    #[test]
    fn passthrough_forwards_chunks_untouched_and_finds_usage_across_splits() {
        let text = stream();
        for split in [1usize, 3, 7, 50, 1000] {
            let mut scanner = SseScanner::new(false);
            let mut out = Vec::new();
            for piece in text.as_bytes().chunks(split) {
                let forwarded = scanner.feed(Bytes::copy_from_slice(piece));
                assert_eq!(&forwarded[..], piece);
                out.extend_from_slice(&forwarded);
            }
            out.extend_from_slice(&scanner.finish());
            assert_eq!(out, text.as_bytes());
            assert!(scanner.saw_done());
            let usage = scanner.usage().unwrap();
            assert_eq!((usage.input_tokens, usage.output_tokens, usage.cached_input_tokens), (12, 5, 4));
        }
    }

    #[test]
    fn strip_mode_removes_exactly_the_usage_event() {
        let text = stream();
        let expected = text.replace(USAGE_CHUNK, "");
        for split in [1usize, 2, 5, 64, 4096] {
            let mut scanner = SseScanner::new(true);
            let mut out = Vec::new();
            for piece in text.as_bytes().chunks(split) {
                out.extend_from_slice(&scanner.feed(Bytes::copy_from_slice(piece)));
            }
            out.extend_from_slice(&scanner.finish());
            assert_eq!(String::from_utf8(out).unwrap(), expected, "split {split}");
            assert_eq!(scanner.usage().unwrap().output_tokens, 5);
        }
    }

    #[test]
    fn anthropic_streams_end_with_message_stop_and_report_usage() {
        let text = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1,\"cache_read_input_tokens\":4}}}\n\n\
            event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n\
            event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":5}}\n\n\
            event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        for split in [1usize, 7, 4096] {
            let mut scanner = SseScanner::for_format(WireFormat::Anthropic, true);
            let mut out = Vec::new();
            for piece in text.as_bytes().chunks(split) {
                out.extend_from_slice(&scanner.feed(Bytes::copy_from_slice(piece)));
            }
            out.extend_from_slice(&scanner.finish());
            assert_eq!(out, text.as_bytes());
            assert!(scanner.saw_done());
            let usage = scanner.usage().unwrap();
            assert_eq!((usage.input_tokens, usage.output_tokens, usage.cached_input_tokens), (16, 5, 4));
        }
    }

    #[test]
    fn responses_streams_end_with_response_completed_and_report_usage() {
        let text = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"usage\":null}}\n\n\
            event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"error\"}\n\n\
            event: response.completed\ndata: {\"type\": \"response.completed\",\"response\":{\"id\":\"r\",\"usage\":{\"input_tokens\":12,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":5,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":17}}}\n\n";
        for split in [1usize, 9, 4096] {
            let mut scanner = SseScanner::for_format(WireFormat::Responses, true);
            let mut out = Vec::new();
            for piece in text.as_bytes().chunks(split) {
                out.extend_from_slice(&scanner.feed(Bytes::copy_from_slice(piece)));
            }
            out.extend_from_slice(&scanner.finish());
            assert_eq!(out, text.as_bytes(), "passthrough bytes are untouched");
            assert!(scanner.saw_done());
            let usage = scanner.usage().unwrap();
            assert_eq!(
                (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.reasoning_tokens),
                (12, 5, 4, 2)
            );
        }
        let mut scanner = SseScanner::for_format(WireFormat::Responses, false);
        scanner.feed(Bytes::from_static(
            b"data: {\"delta\":\"\\\"error\\\" response.completed\",\"type\":\"response.output_text.delta\"}\n\n",
        ));
        assert!(!scanner.saw_done(), "a stream cut before response.completed is not complete");
        // Without `event:` lines, and `type` last: the type is still found.
        scanner.feed(Bytes::from_static(
            b"data: {\"response\":{\"usage\":{\"input_tokens\":3}},\"type\":\"response.completed\"}\n\n",
        ));
        assert!(scanner.saw_done());
        assert_eq!(scanner.usage().unwrap().input_tokens, 3);
    }

    #[test]
    fn gemini_streams_end_with_a_finish_reason_and_report_usage() {
        let text = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"he\"}],\"role\":\"model\"}}],\"usageMetadata\":{\"promptTokenCount\":9}}\r\n\r\n\
            data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"llo\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":3}}\r\n\r\n";
        for split in [1usize, 5, 4096] {
            let mut scanner = SseScanner::for_format(WireFormat::Gemini, true);
            let mut out = Vec::new();
            for (i, piece) in text.as_bytes().chunks(split).enumerate() {
                assert!(!scanner.saw_done() || i * split > text.len() / 2);
                out.extend_from_slice(&scanner.feed(Bytes::copy_from_slice(piece)));
            }
            out.extend_from_slice(&scanner.finish());
            assert_eq!(out, text.as_bytes());
            assert!(scanner.saw_done());
            let usage = scanner.usage().unwrap();
            assert_eq!((usage.input_tokens, usage.output_tokens, usage.reasoning_tokens), (9, 5, 3));
        }
        let mut cut = SseScanner::for_format(WireFormat::Gemini, false);
        cut.feed(Bytes::from_static(b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"he\"}]}}]}\n\n"));
        assert!(!cut.saw_done(), "a chunk without finishReason does not end the stream");
    }

    #[test]
    fn null_usage_is_not_parsed() {
        assert!(usage_in(br#"{"choices":[],"usage" : null}"#).is_none());
        assert!(usage_in(br#"{"choices":[]}"#).is_none());
        let found = usage_in(br#"{"choices":[{"x":1}],"usage": {"prompt_tokens":1,"completion_tokens":2}}"#).unwrap();
        assert!(!found.usage_only);
    }
}
