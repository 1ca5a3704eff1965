//! The response body of a translated stream: upstream bytes are cut into SSE events as they
//! arrive (an incomplete event waits for its end, bounded), each event goes through the
//! [`StreamTranslator`], and what it writes goes to the client at once. A stream that breaks,
//! stalls past the idle timeout, ends without its end marker or reports an error in-band ends
//! with an error event in the client's shape. Dropping the relay cancels the upstream request.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::time::{Instant, Sleep};

use super::{Flow, StreamTranslator};
use crate::error::{ApiError, ErrorKind};
use crate::observe::{Outcome, PendingRecord};
use crate::pipeline::relay::sse_error_event;
use crate::transport::TransportError;
use crate::wire::ApiFamily;

/// One SSE event larger than this ends the stream with an error; bounds the buffer.
const MAX_EVENT: usize = 8 * 1024 * 1024;

pub struct TranslatingRelay {
    upstream: BoxStream<'static, Result<Bytes, TransportError>>,
    first: Option<Bytes>,
    translator: Box<dyn StreamTranslator>,
    /// Upstream bytes not yet cut into complete lines.
    pending: BytesMut,
    /// The event being assembled: its name and data lines.
    event_name: Option<String>,
    data: Vec<u8>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    family: ApiFamily,
    provider: String,
    record: Option<PendingRecord>,
    finished: bool,
}

impl TranslatingRelay {
    pub fn new(
        upstream: BoxStream<'static, Result<Bytes, TransportError>>,
        first: Bytes,
        translator: Box<dyn StreamTranslator>,
        idle_timeout: Duration,
        family: ApiFamily,
        provider: String,
        record: PendingRecord,
    ) -> TranslatingRelay {
        TranslatingRelay {
            upstream,
            first: Some(first),
            translator,
            pending: BytesMut::new(),
            event_name: None,
            data: Vec::new(),
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            family,
            provider,
            record: Some(record),
            finished: false,
        }
    }

    /// Feeds upstream bytes; returns the client bytes and, when the stream is over, how.
    fn feed(&mut self, chunk: &[u8], out: &mut BytesMut) -> Option<Result<(), ApiError>> {
        self.pending.extend_from_slice(chunk);
        while let Some(newline) = memchr::memchr(b'\n', &self.pending) {
            let line = self.pending.split_to(newline + 1);
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                if let Some(end) = self.dispatch(out) {
                    return Some(end);
                }
            } else if let Some(data) = line.strip_prefix(b"data:") {
                let data = data.strip_prefix(b" ").unwrap_or(data);
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(data);
            } else if let Some(name) = line.strip_prefix(b"event:") {
                let name = name.strip_prefix(b" ").unwrap_or(name);
                self.event_name = Some(String::from_utf8_lossy(name).into_owned());
            }
            if self.data.len() > MAX_EVENT {
                return Some(Err(self.protocol(format!("a stream event is larger than {MAX_EVENT} bytes"))));
            }
        }
        if self.pending.len() > MAX_EVENT {
            return Some(Err(self.protocol(format!("a stream line is longer than {MAX_EVENT} bytes"))));
        }
        None
    }

    fn dispatch(&mut self, out: &mut BytesMut) -> Option<Result<(), ApiError>> {
        let name = self.event_name.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data);
        match self.translator.event(name.as_deref(), &data, out) {
            Flow::Continue => None,
            Flow::Done => Some(Ok(())),
            Flow::UpstreamError(message) => Some(Err(self.protocol(format!("the provider reported: {message}")))),
        }
    }

    fn protocol(&self, detail: String) -> ApiError {
        ApiError::UpstreamProtocol { provider: self.provider.clone(), detail }
    }

    fn end(&mut self, outcome: Outcome) {
        self.finished = true;
        if let Some(mut record) = self.record.take() {
            let usage = self.translator.usage();
            record.update(|r| r.usage = usage);
            record.finish(200, outcome);
        }
    }

    /// Bytes on their way to the client, kept for the usage log when it stores bodies.
    fn emit(&mut self, out: Bytes) -> Bytes {
        if let Some(record) = self.record.as_mut() {
            record.capture_response(&out);
        }
        out
    }

    /// Ends the client's stream: cleanly, or with an error event after what was translated.
    fn conclude(&mut self, mut out: BytesMut, end: Result<(), ApiError>) -> Bytes {
        let outcome = match end {
            Ok(()) => Outcome::Success,
            Err(error) => {
                let kind = match error.kind() {
                    ErrorKind::UpstreamTimeout => ErrorKind::UpstreamTimeout,
                    _ => ErrorKind::StreamInterrupted,
                };
                tracing::warn!(provider = %self.provider, error = %error, "translated stream failed after it started");
                if !self.translator.error_event(&error, &mut out) {
                    out.extend_from_slice(&sse_error_event(self.family, &error));
                }
                Outcome::StreamError(kind)
            }
        };
        // The last bytes are kept before the record is finished.
        let out = self.emit(out.freeze());
        self.end(outcome);
        out
    }
}

impl Stream for TranslatingRelay {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let mut out = BytesMut::new();
        if let Some(first) = this.first.take() {
            if let Some(end) = this.feed(&first, &mut out) {
                return Poll::Ready(Some(Ok(this.conclude(out, end))));
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(this.emit(out.freeze()))));
            }
        }
        loop {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    if let Some(end) = this.feed(&chunk, &mut out) {
                        return Poll::Ready(Some(Ok(this.conclude(out, end))));
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(this.emit(out.freeze()))));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    let error = this.protocol(format!("the stream broke off: {}", err));
                    return Poll::Ready(Some(Ok(this.conclude(out, Err(error)))));
                }
                Poll::Ready(None) => {
                    // A last event without its blank line still counts.
                    let end = this.feed(b"\n\n", &mut out).unwrap_or_else(|| {
                        Err(this.protocol("the stream ended before it was complete (no end-of-stream event)".into()))
                    });
                    return Poll::Ready(Some(Ok(this.conclude(out, end))));
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let error =
                            ApiError::UpstreamTimeout { provider: this.provider.clone(), after: this.idle_timeout };
                        return Poll::Ready(Some(Ok(this.conclude(out, Err(error)))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for TranslatingRelay {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            let usage = self.translator.usage();
            record.update(|r| r.usage = usage);
            // Dropping an unfinished record marks the client as gone.
        }
    }
}
