//! Bounds on what a stream translator keeps of an answer. Some client formats repeat the whole
//! answer at its end (Responses' `response.completed`, Gemini's function calls sent whole), so
//! their translators keep text and tool-call arguments as they stream; an upstream that never
//! stops would otherwise grow that without end. Past a bound the stream ends with an error
//! event ([`super::Flow::Failed`]), never a clean end that would pass a cut answer off as whole.

use std::collections::HashMap;

/// Text, reasoning and tool-call arguments kept for one answer.
pub const MAX_KEPT_BYTES: usize = 32 * 1024 * 1024;
/// Tool calls one answer may make.
pub const MAX_TOOL_CALLS: usize = 1024;

/// What a translator has kept so far, counted as it keeps it.
#[derive(Debug, Default)]
pub struct Budget {
    kept: usize,
    over: Option<String>,
}

impl Budget {
    /// Counts `bytes` more kept.
    pub fn keep(&mut self, bytes: usize) {
        self.kept = self.kept.saturating_add(bytes);
        if self.kept > MAX_KEPT_BYTES && self.over.is_none() {
            self.over = Some(format!(
                "the answer is longer than the gateway keeps while translating it ({MAX_KEPT_BYTES} bytes)"
            ));
        }
    }

    /// Whether a tool call beyond `open` ones may start; records the failure when not.
    pub fn may_add_call(&mut self, open: usize) -> bool {
        if open < MAX_TOOL_CALLS {
            return true;
        }
        self.over.get_or_insert_with(|| format!("the answer makes more than {MAX_TOOL_CALLS} tool calls"));
        false
    }

    /// Why the answer must end, once a bound is passed.
    pub fn exceeded(&self) -> Option<String> {
        self.over.clone()
    }
}

/// Tool calls by the index the upstream gives them: a map, so a delta does not scan every call
/// made so far.
pub type CallIndex = HashMap<usize, usize, foldhash::fast::FixedState>;

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use serde_json::json;

    use super::*;
    use crate::translate::anthropic_to_openai_stream::ToOpenAi;
    use crate::translate::chat_to_responses::ToResponses;
    use crate::translate::openai_to_anthropic_stream::ToAnthropic;
    use crate::translate::openai_to_gemini_stream::ToGemini;
    use crate::translate::{Flow, StreamTranslator};

    /// Feeds `events` then `[DONE]`; the flows seen, in order.
    fn run(translator: &mut dyn StreamTranslator, events: &[Vec<u8>]) -> Vec<Flow> {
        let mut out = BytesMut::new();
        let mut flows = Vec::new();
        for data in events.iter().map(Vec::as_slice).chain([&b"[DONE]"[..]]) {
            let flow = translator.event(None, data, &mut out);
            let last = flow != Flow::Continue;
            flows.push(flow);
            if last {
                break;
            }
        }
        flows
    }

    fn ends_failed(flows: &[Flow]) -> bool {
        matches!(flows.last(), Some(Flow::Failed(_))) && !flows.contains(&Flow::Done)
    }

    /// Half the bound of text, then of tool-call arguments, a few times over.
    fn big_chunks(delta: impl Fn(&str) -> serde_json::Value) -> Vec<Vec<u8>> {
        let half = "x".repeat(MAX_KEPT_BYTES / 2 + 1);
        (0..3).map(|_| json!({"choices": [{"index": 0, "delta": delta(&half)}]}).to_string().into_bytes()).collect()
    }

    #[test]
    fn a_responses_stream_past_the_bound_ends_in_an_error() {
        let text = big_chunks(|t| json!({"content": t}));
        assert!(ends_failed(&run(&mut ToResponses::new("m"), &text)));
        let arguments =
            big_chunks(|t| json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": t}}]}));
        assert!(ends_failed(&run(&mut ToResponses::new("m"), &arguments)));
    }

    #[test]
    fn a_gemini_stream_past_the_bound_ends_in_an_error() {
        let arguments =
            big_chunks(|t| json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": t}}]}));
        assert!(ends_failed(&run(&mut ToGemini::new("m"), &arguments)));
    }

    #[test]
    fn too_many_tool_calls_end_in_an_error() {
        let calls: Vec<Vec<u8>> = (0..=MAX_TOOL_CALLS)
            .map(|i| {
                let call = json!({"index": i, "id": format!("c{i}"), "function": {"name": "f", "arguments": "{}"}});
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}).to_string().into_bytes()
            })
            .collect();
        assert!(ends_failed(&run(&mut ToResponses::new("m"), &calls)));
        assert!(ends_failed(&run(&mut ToGemini::new("m"), &calls)));
        assert!(ends_failed(&run(&mut ToAnthropic::new("m"), &calls)));
        let blocks: Vec<Vec<u8>> = (0..=MAX_TOOL_CALLS)
            .map(|i| {
                json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": "t", "name": "f"}})
                    .to_string()
                    .into_bytes()
            })
            .collect();
        assert!(ends_failed(&run(&mut ToOpenAi::new("m", false), &blocks)));
    }

    #[test]
    fn calls_within_the_bounds_are_found_by_index() {
        // Arguments in pieces, calls interleaved: each piece reaches its own call.
        let piece = |i: usize, args: &str| {
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "function": {"arguments": args}}]}}]})
                .to_string()
                .into_bytes()
        };
        let open = |i: usize| {
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": i, "id": format!("c{i}"), "function": {"name": format!("f{i}"), "arguments": ""}}]}}]})
                .to_string()
                .into_bytes()
        };
        let events = vec![open(0), open(1), piece(1, "{\"b\":"), piece(0, "{\"a\":1}"), piece(1, "2}")];
        let mut out = BytesMut::new();
        let mut translator = ToGemini::new("m");
        for event in &events {
            assert_eq!(translator.event(None, event, &mut out), Flow::Continue);
        }
        assert_eq!(translator.event(None, b"[DONE]", &mut out), Flow::Done);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains(r#""args":{"a":1}"#) && text.contains(r#""args":{"b":2}"#), "{text}");
    }

    #[test]
    fn bounds_are_reported_once_passed() {
        let mut budget = Budget::default();
        budget.keep(MAX_KEPT_BYTES);
        assert_eq!(budget.exceeded(), None);
        budget.keep(1);
        assert!(budget.exceeded().unwrap().contains(&MAX_KEPT_BYTES.to_string()));
        let mut budget = Budget::default();
        assert!(budget.may_add_call(MAX_TOOL_CALLS - 1));
        assert!(!budget.may_add_call(MAX_TOOL_CALLS));
        assert!(budget.exceeded().unwrap().contains("tool calls"));
    }
}
