//! The response body of a streamed passthrough: upstream chunks go to the client as they arrive,
//! observed by the SSE scanner on the way. A stream that fails, stalls past the idle timeout or
//! ends without its end marker (`[DONE]`, Anthropic's `message_stop`) ends with an error event,
//! never a clean finish. Dropping the relay (the
//! client went away) drops the upstream response, which cancels the upstream request.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::time::{Instant, Sleep};

use super::sse::SseScanner;
use crate::error::{ApiError, ErrorKind};
use crate::observe::{Outcome, PendingRecord};
use crate::transport::TransportError;
use crate::wire::ApiFamily;

pub struct SseRelay {
    upstream: BoxStream<'static, Result<Bytes, TransportError>>,
    first: Option<Bytes>,
    scanner: SseScanner,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    family: ApiFamily,
    provider: String,
    record: Option<PendingRecord>,
    finished: bool,
    /// When the first chunk arrived: the rest of the stream is upstream time.
    first_at: Instant,
}

impl SseRelay {
    pub fn new(
        upstream: BoxStream<'static, Result<Bytes, TransportError>>,
        first: Bytes,
        scanner: SseScanner,
        idle_timeout: Duration,
        family: ApiFamily,
        provider: String,
        record: PendingRecord,
    ) -> SseRelay {
        SseRelay {
            upstream,
            first: Some(first),
            scanner,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            family,
            provider,
            record: Some(record),
            finished: false,
            first_at: Instant::now(),
        }
    }

    fn end(&mut self, outcome: Outcome) {
        self.finished = true;
        if let Some(mut record) = self.record.take() {
            let usage = self.scanner.usage;
            let streaming = self.first_at.elapsed();
            record.update(|r| {
                r.usage = usage;
                r.upstream_time = Some(r.upstream_time.unwrap_or_default() + streaming);
            });
            record.finish(200, outcome);
        }
    }

    /// Ends the stream with an error event in the client's API shape.
    fn fail(&mut self, held_back: Bytes, error: ApiError) -> Bytes {
        let kind = match error.kind() {
            ErrorKind::UpstreamTimeout => ErrorKind::UpstreamTimeout,
            _ => ErrorKind::StreamInterrupted,
        };
        tracing::warn!(provider = %self.provider, error = %error, "stream failed after it started");
        let mut out = BytesMut::from(&held_back[..]);
        if !out.is_empty() && !out.ends_with(b"\n\n") {
            out.put_slice(if out.ends_with(b"\n") { b"\n" } else { b"\n\n" });
        }
        out.put_slice(&sse_error_event(self.family, &error));
        // The last bytes are kept before the record is finished.
        let out = self.emit(out.freeze());
        self.end(Outcome::StreamError(kind));
        out
    }

    /// Bytes on their way to the client, kept for the usage log when it stores bodies.
    fn emit(&mut self, out: Bytes) -> Bytes {
        if let Some(record) = self.record.as_mut() {
            record.capture_response(&out);
        }
        out
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

impl Stream for SseRelay {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        if let Some(first) = this.first.take() {
            let out = this.scanner.feed(first);
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(this.emit(out))));
            }
        }
        loop {
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    let out = this.scanner.feed(chunk);
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(this.emit(out))));
                }
                Poll::Ready(Some(Err(err))) => {
                    let tail = this.scanner.finish();
                    let error = ApiError::UpstreamProtocol {
                        provider: this.provider.clone(),
                        detail: format!("the stream broke off: {}", err),
                    };
                    return Poll::Ready(Some(Ok(this.fail(tail, error))));
                }
                Poll::Ready(None) => {
                    let tail = this.scanner.finish();
                    if !this.scanner.saw_done {
                        let error = ApiError::UpstreamProtocol {
                            provider: this.provider.clone(),
                            detail: "the stream ended before it was complete (no end-of-stream event)".into(),
                        };
                        return Poll::Ready(Some(Ok(this.fail(tail, error))));
                    }
                    let tail = this.emit(tail);
                    this.end(Outcome::Success);
                    return Poll::Ready(if tail.is_empty() { None } else { Some(Ok(tail)) });
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let tail = this.scanner.finish();
                        let error =
                            ApiError::UpstreamTimeout { provider: this.provider.clone(), after: this.idle_timeout };
                        return Poll::Ready(Some(Ok(this.fail(tail, error))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for SseRelay {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            let usage = self.scanner.usage;
            record.update(|r| r.usage = usage);
            // Dropping an unfinished record marks the client as gone.
        }
    }
}
