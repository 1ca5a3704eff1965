//! Response bodies: whole JSON documents and event streams, with the delays and connection cuts
//! the model name asks for.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::behavior::{Behavior, Cut};

/// Content type of server-sent events.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";
/// Content type of JSON bodies.
pub(crate) const JSON: &str = "application/json";

/// How long a cut body waits before failing, so hyper flushes what was sent before (a body error
/// drops the connection together with any bytes still buffered).
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(20);

/// The pieces of a streamed body, in order; "content" pieces carry answer text or tool
/// arguments, the others are envelope (starts, stops, usage, `[DONE]`).
#[derive(Default)]
pub(crate) struct Frames {
    frames: Vec<Bytes>,
    /// Index in `frames` of every content piece.
    content: Vec<usize>,
}

impl Frames {
    /// An envelope piece.
    pub fn meta(&mut self, frame: Bytes) {
        self.frames.push(frame);
    }

    /// A content piece.
    pub fn content(&mut self, frame: Bytes) {
        self.content.push(self.frames.len());
        self.frames.push(frame);
    }

    /// All pieces, in order.
    pub fn into_vec(self) -> Vec<Bytes> {
        self.frames
    }

    /// Keeps what `cut` lets through; returns whether the body must then fail.
    fn apply(mut self, cut: Cut) -> (Vec<Bytes>, bool) {
        match cut {
            Cut::No => (self.frames, false),
            Cut::BeforeFirstByte => (Vec::new(), true),
            Cut::MidStream => {
                let keep = match self.content.get(1) {
                    Some(&second) => second + 1,
                    None => self.frames.len() / 2,
                };
                // Never let the whole body through: the client must see an unclean end.
                let keep = keep.min(self.frames.len().saturating_sub(1));
                self.frames.truncate(keep);
                (self.frames, true)
            }
        }
    }
}

/// `data: <json>\n\n`
pub(crate) fn sse_data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n`
pub(crate) fn sse_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// `data: [DONE]\n\n`
pub(crate) fn sse_done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// A streamed 200 response of `content_type` sending `frames`, paced and cut as `behavior` says.
pub(crate) fn streamed(frames: Frames, content_type: &'static str, behavior: &Behavior, seq: u64) -> Response {
    let (frames, fail) = frames.apply(behavior.cut);
    let body = paced_body(frames, behavior.stream_delay, fail);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    insert_request_id(headers, seq);
    response
}

/// A 200 JSON response with `body`, cut as `behavior` says (a cut sends half of it at most).
pub(crate) fn json_body(body: Bytes, behavior: &Behavior, seq: u64) -> Response {
    let body = match behavior.cut {
        Cut::No => Body::from(body),
        Cut::BeforeFirstByte => paced_body(Vec::new(), None, true),
        Cut::MidStream => paced_body(vec![body.slice(..body.len() / 2)], None, true),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    insert_request_id(headers, seq);
    response
}

/// A 200 JSON response with `value` (model lists, token counts: no behaviour applies).
pub(crate) fn json_value(value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// 200 with a body that is not JSON (`bad-json`).
pub(crate) fn not_json(seq: u64) -> Response {
    let mut response = Response::new(Body::from("this is not json"));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    insert_request_id(headers, seq);
    response
}

/// `x-request-id: req_mock_<seq>`, as real providers send.
pub(crate) fn insert_request_id(headers: &mut http::HeaderMap, seq: u64) {
    if let Ok(value) = HeaderValue::from_str(&format!("req_mock_{seq}")) {
        headers.insert("x-request-id", value);
    }
}

/// A body yielding `frames` one by one, sleeping `delay` before each, then failing (which makes
/// hyper drop the connection without a clean end) when `fail` is set.
fn paced_body(frames: Vec<Bytes>, delay: Option<Duration>, fail: bool) -> Body {
    struct State {
        frames: std::vec::IntoIter<Bytes>,
        delay: Option<Duration>,
        fail: bool,
    }
    let state = State { frames: frames.into_iter(), delay, fail };
    let stream = futures_util::stream::unfold(Some(state), |state| async move {
        let mut state = state?;
        match state.frames.next() {
            Some(frame) => {
                if let Some(delay) = state.delay {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok(frame), Some(state)))
            }
            None if state.fail => {
                tokio::time::sleep(FLUSH_BEFORE_CUT).await;
                Some((Err(io::Error::other("switchyard-mock: connection cut")), None))
            }
            None => None,
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(content_at: &[bool]) -> Frames {
        let mut frames = Frames::default();
        for (i, &content) in content_at.iter().enumerate() {
            let frame = Bytes::from(i.to_string());
            if content {
                frames.content(frame);
            } else {
                frames.meta(frame);
            }
        }
        frames
    }

    #[test]
    fn mid_stream_cut_keeps_two_content_frames() {
        let (kept, fail) = frames(&[false, true, true, true, false]).apply(Cut::MidStream);
        assert_eq!(kept.len(), 3);
        assert!(fail);
        let (kept, _) = frames(&[false, true, true]).apply(Cut::MidStream);
        assert_eq!(kept.len(), 2, "the last frame is never sent");
        let (kept, fail) = frames(&[false, true, false]).apply(Cut::No);
        assert_eq!(kept.len(), 3);
        assert!(!fail);
        let (kept, fail) = frames(&[false, true]).apply(Cut::BeforeFirstByte);
        assert!(kept.is_empty() && fail);
    }
}
