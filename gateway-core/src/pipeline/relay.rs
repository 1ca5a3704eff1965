//! The relay stage: the body of a streamed answer. Upstream chunks go to the client as they
//! arrive, through a [`ChunkHandler`] that either passes them on while scanning for usage
//! ([`Passthrough`]) or translates them event by event ([`Translate`]). A stream that fails,
//! stalls past the idle timeout, ends without its end marker (`[DONE]`, Anthropic's
//! `message_stop`) or reports an error in-band ends with an error event in the client's shape,
//! never a clean finish. Dropping the relay (the client went away) drops the upstream response,
//! which cancels the upstream request.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::time::{Instant, Sleep};

use super::sse::{EventDecoder, SseScanner};
use crate::error::{ApiError, ErrorKind};
use crate::observe::{Outcome, PendingRecord};
use crate::translate::{Flow, StreamTranslator};
use crate::transport::TransportError;
use crate::wire::ApiFamily;
use crate::wire::Usage;

/// The upstream's body as the relay reads it.
pub type UpstreamStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// What the relay does to the upstream's bytes on their way to the client.
pub trait ChunkHandler: Send + Unpin + 'static {
    /// One upstream chunk → the client's bytes, and `Some` when the chunk ended the stream
    /// (`Err` with what went wrong).
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, Option<Result<(), String>>);
    /// The upstream closed its stream: what is left for the client, and whether the stream was
    /// complete.
    fn finish(&mut self) -> (Bytes, Result<(), String>);
    /// The stream broke off: what was held back and may still go to the client before the error
    /// event.
    fn held_back(&mut self) -> Bytes;
    /// Writes the client's error event(s) for a stream that failed after it started.
    fn error_event(&mut self, family: ApiFamily, error: &ApiError, out: &mut BytesMut);
    /// The usage seen so far.
    fn usage(&self) -> Option<Usage>;
}

/// Same format both sides: bytes forwarded untouched (only the usage chunk the gateway asked
/// for is stripped), usage read on the way.
pub struct Passthrough(pub SseScanner);

impl ChunkHandler for Passthrough {
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, Option<Result<(), String>>) {
        (self.0.feed(chunk), None)
    }

    fn finish(&mut self) -> (Bytes, Result<(), String>) {
        let tail = self.0.finish();
        let end = if self.0.saw_done() {
            Ok(())
        } else {
            Err("the stream ended before it was complete (no end-of-stream event)".into())
        };
        (tail, end)
    }

    fn held_back(&mut self) -> Bytes {
        self.0.finish()
    }

    fn error_event(&mut self, family: ApiFamily, error: &ApiError, out: &mut BytesMut) {
        // A partial event held back is closed first, so the error is an event of its own.
        if !out.is_empty() && !out.ends_with(b"\n\n") {
            out.put_slice(if out.ends_with(b"\n") { b"\n" } else { b"\n\n" });
        }
        out.put_slice(&sse_error_event(family, error));
    }

    fn usage(&self) -> Option<Usage> {
        self.0.usage()
    }
}

/// One SSE event larger than this ends a translated stream with an error; bounds the buffer.
const MAX_EVENT: usize = 8 * 1024 * 1024;

/// Different formats: upstream events decoded and mapped to the client's by a translator.
pub struct Translate {
    events: EventDecoder,
    translator: Box<dyn StreamTranslator>,
}

impl Translate {
    pub fn new(translator: Box<dyn StreamTranslator>) -> Translate {
        Translate { events: EventDecoder::new(MAX_EVENT), translator }
    }

    fn run(&mut self, chunk: &[u8], last: bool) -> (Bytes, Option<Result<(), String>>) {
        let mut out = BytesMut::new();
        let mut end = None;
        let translator = &mut self.translator;
        let each = |event: super::sse::SseEvent<'_>| match translator.event(event.name, event.data, &mut out) {
            Flow::Continue => true,
            Flow::Done => {
                end = Some(Ok(()));
                false
            }
            Flow::UpstreamError(message) => {
                end = Some(Err(format!("the provider reported: {message}")));
                false
            }
            Flow::Failed(message) => {
                end = Some(Err(message));
                false
            }
        };
        let decoded = if last { self.events.finish(each) } else { self.events.feed(chunk, each) };
        if let Err(error) = decoded {
            end = Some(Err(error.to_string()));
        }
        (out.freeze(), end)
    }
}

impl ChunkHandler for Translate {
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, Option<Result<(), String>>) {
        self.run(&chunk, false)
    }

    fn finish(&mut self) -> (Bytes, Result<(), String>) {
        let (out, end) = self.run(&[], true);
        let end = end.unwrap_or_else(|| Err("the stream ended before it was complete (no end-of-stream event)".into()));
        (out, end)
    }

    fn held_back(&mut self) -> Bytes {
        // An incomplete upstream event is not translated: it may be cut anywhere.
        Bytes::new()
    }

    fn error_event(&mut self, family: ApiFamily, error: &ApiError, out: &mut BytesMut) {
        if !self.translator.error_event(error, out) {
            out.extend_from_slice(&sse_error_event(family, error));
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.translator.usage()
    }
}

/// An SSE event carrying an error, framed as the client's API frames errors mid-stream.
pub fn sse_error_event(family: ApiFamily, error: &ApiError) -> Bytes {
    let body = error.body_for(family).to_string();
    let framed = match family {
        ApiFamily::Anthropic => format!("event: error\ndata: {body}\n\n"),
        ApiFamily::Responses => return crate::translate::chat_to_responses::failure_events(None, error),
        _ => format!("data: {body}\n\n"),
    };
    Bytes::from(framed)
}

/// A streamed answer on its way to the client; finishes the request's record when it ends.
pub struct Relay<H: ChunkHandler> {
    upstream: UpstreamStream,
    first: Option<Bytes>,
    handler: H,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    family: ApiFamily,
    provider: String,
    record: Option<PendingRecord>,
    finished: bool,
    /// When the first chunk arrived: the rest of the stream is upstream time.
    first_at: Instant,
}

impl<H: ChunkHandler> Relay<H> {
    pub fn new(
        upstream: UpstreamStream,
        first: Bytes,
        handler: H,
        idle_timeout: Duration,
        family: ApiFamily,
        provider: String,
        record: PendingRecord,
    ) -> Relay<H> {
        Relay {
            upstream,
            first: Some(first),
            handler,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            family,
            provider,
            record: Some(record),
            finished: false,
            first_at: Instant::now(),
        }
    }

    /// Bytes on their way to the client, kept for the usage log when it stores bodies.
    fn emit(&mut self, out: Bytes) -> Bytes {
        if let Some(record) = self.record.as_mut() {
            record.capture_response(&out);
        }
        out
    }

    /// Ends the client's stream: cleanly, or with an error event after `out`.
    fn conclude(&mut self, out: Bytes, end: Result<(), ApiError>) -> Bytes {
        let (out, outcome, message) = match end {
            Ok(()) => (out, Outcome::Success, None),
            Err(error) => {
                let kind = match error.kind() {
                    ErrorKind::UpstreamTimeout => ErrorKind::UpstreamTimeout,
                    _ => ErrorKind::StreamInterrupted,
                };
                tracing::warn!(provider = %self.provider, error = %error, "stream failed after it started");
                let mut framed = BytesMut::from(&out[..]);
                self.handler.error_event(self.family, &error, &mut framed);
                (framed.freeze(), Outcome::StreamError(kind), Some(error.to_string()))
            }
        };
        // The last bytes are kept before the record is finished.
        let out = self.emit(out);
        self.finished = true;
        if let Some(mut record) = self.record.take() {
            let usage = self.handler.usage();
            let streaming = self.first_at.elapsed();
            record.update(|r| {
                r.usage = usage;
                r.upstream_time = Some(r.upstream_time.unwrap_or_default() + streaming);
                r.error_message = message;
            });
            record.finish(200, outcome);
        }
        out
    }

    fn protocol(&self, detail: String) -> ApiError {
        ApiError::UpstreamProtocol { provider: self.provider.clone(), detail }
    }

    /// The client's next bytes for a chunk; `None` when there are none yet.
    fn handle(&mut self, chunk: Bytes) -> Option<Bytes> {
        let (out, end) = self.handler.chunk(chunk);
        if let Some(end) = end {
            let end = end.map_err(|detail| self.protocol(detail));
            return Some(self.conclude(out, end));
        }
        (!out.is_empty()).then(|| self.emit(out))
    }
}

impl<H: ChunkHandler> Stream for Relay<H> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take()
            && let Some(out) = this.handle(first)
        {
            return Poll::Ready(Some(Ok(out)));
        }
        loop {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    if let Some(out) = this.handle(chunk) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    let tail = this.handler.held_back();
                    let error = this.protocol(format!("the stream broke off: {err}"));
                    return Poll::Ready(Some(Ok(this.conclude(tail, Err(error)))));
                }
                Poll::Ready(None) => {
                    let (tail, end) = this.handler.finish();
                    let end = end.map_err(|detail| this.protocol(detail));
                    let clean = end.is_ok();
                    let out = this.conclude(tail, end);
                    return Poll::Ready(if clean && out.is_empty() { None } else { Some(Ok(out)) });
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let tail = this.handler.held_back();
                        let error =
                            ApiError::UpstreamTimeout { provider: this.provider.clone(), after: this.idle_timeout };
                        return Poll::Ready(Some(Ok(this.conclude(tail, Err(error)))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<H: ChunkHandler> Drop for Relay<H> {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            let usage = self.handler.usage();
            record.update(|r| r.usage = usage);
            // Dropping an unfinished record marks the client as gone.
        }
    }
}
