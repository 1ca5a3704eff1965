//! The record stage: what the gateway keeps of a request once its answer is known. The usage
//! row (with the attempt trail), the metrics and the log line all come from one
//! `observe::RequestRecord`, handed to the `RequestObserver` exactly once: here for whole
//! answers and errors, by the relay when a stream ends, on drop when the client went away.

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;

use crate::error::ApiError;
use crate::observe::{Outcome, PendingRecord};
use crate::wire::ApiFamily;
use crate::wire::Usage;

/// A whole answer: its usage and body kept, the record finished.
pub fn whole(mut record: PendingRecord, status: StatusCode, usage: Option<Usage>, body: &Bytes) {
    record.update(|r| r.usage = usage);
    record.capture_response(body);
    record.finish(status.as_u16(), Outcome::Success);
}

/// A stored stream replayed (a cache hit): nothing spent, the chunks kept as the client gets
/// them.
pub fn replayed(mut record: PendingRecord, status: StatusCode, chunks: &[Bytes]) {
    for chunk in chunks {
        record.capture_response(chunk);
    }
    record.finish(status.as_u16(), Outcome::Success);
}

/// A request that failed before its answer started: logged at `warn` with its id (the client
/// sees the same message), recorded, and answered in the caller's API shape.
pub fn failed(mut record: PendingRecord, id: &str, family: ApiFamily, error: ApiError) -> Response {
    let status = error.status_code();
    let message = error.to_string();
    tracing::warn!(id, status = status.as_u16(), error = %message, "request failed");
    record.update(|r| r.error_message = Some(message));
    record.finish(status.as_u16(), Outcome::Error(error.kind()));
    error.into_response_for(family)
}
