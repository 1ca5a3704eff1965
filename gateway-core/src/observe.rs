//! What the gateway learns about each request as it passes: usage, timings, outcome. Handlers
//! fill a `RequestRecord`; when the request is over (even if the client went away) it goes to the
//! `RequestObserver`, which the usage log and metrics implement. Nothing here blocks a request.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::ErrorKind;
use crate::wire::{ApiFamily, Usage};

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The gateway answered with an error (before or instead of an upstream answer).
    Error(ErrorKind),
    /// A stream that had started failed; the client got an error event.
    StreamError(ErrorKind),
    /// The client went away before the answer was complete.
    ClientGone,
}

/// One upstream attempt of a request: the trail the usage log keeps of retries and fallbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    pub provider: String,
    /// The model as the upstream knows it.
    pub model: String,
    /// The key's reference as the admin API shows it (`env.OPENAI_API_KEY`, `secret.openai`, or
    /// a masked literal), never the key; `None` for a keyless provider or an attempt never sent.
    pub key: Option<Arc<str>>,
    /// The upstream's HTTP status, when it answered one.
    pub status: Option<u16>,
    /// Why the attempt failed; `None` for the attempt that served the request.
    pub error: Option<AttemptError>,
    /// From the attempt's start to its answer's first byte, or to its failure.
    pub duration: Duration,
}

/// A failed attempt's error: its kind (a label) and its message (written for the caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptError {
    pub kind: ErrorKind,
    pub message: String,
}

/// One request, as the usage log will store it.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The client's `x-request-id`, else one the gateway made; answered in `x-request-id`.
    pub request_id: Arc<str>,
    pub started_at: SystemTime,
    pub family: ApiFamily,
    pub endpoint: &'static str,
    pub requested_model: Option<String>,
    /// The task class the request asked for, if any.
    pub class: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub outcome: Outcome,
    pub usage: Option<Usage>,
    pub latency: Duration,
    pub time_to_first_byte: Option<Duration>,
    pub user_agent: Option<String>,
    /// The calling tool (`usage::attribution`): header, User-Agent, or the peer process.
    pub client: Option<String>,
    /// The client's session id (`X-Claude-Code-Session-Id`, Codex `session-id`).
    pub session_id: Option<String>,
    /// Whether the provider that served it runs on this machine (local requests cost nothing).
    pub provider_local: bool,
    /// Upstream attempts made, retries and fallbacks included (0 when the request failed before
    /// reaching one).
    pub attempts: u32,
    /// Each attempt in order, skipped targets (circuit open) included.
    pub trail: Vec<AttemptRecord>,
    /// The message of the error the request ended with (an error answer, or a stream's error
    /// event), as the client got it.
    pub error_message: Option<String>,
    /// Time spent waiting on the upstream; `latency - upstream_time` is the gateway's overhead.
    pub upstream_time: Option<Duration>,
    /// The class's first cloud model (`provider`, `model`): what a request served locally would
    /// have cost there ("saved by running locally").
    pub cloud_reference: Option<(String, String)>,
    /// The request's body and the answer the client got, when `usage.store_bodies` is on.
    pub bodies: Option<Box<StoredBodies>>,
    /// The id (never the value) of the virtual key the request came with.
    pub virtual_key: Option<Arc<str>>,
    /// What the response cache did: `None` when it was not consulted (off, bypassed, an error
    /// before the cache stage).
    pub cache: Option<CacheOutcome>,
    /// A semantic hit's cosine similarity to the stored request.
    pub cache_similarity: Option<f32>,
    /// On a hit, the usage of the answer as it was first made (`provider` and `upstream_model`
    /// are that answer's): priced like `usage`, it is what the hit saved. `usage` itself is
    /// `None` on a hit (nothing was spent).
    pub cache_saved: Option<Usage>,
}

/// What the response cache did for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Answered from an entry stored for the same canonical request.
    HitExact,
    /// Answered from the nearest stored entry over the similarity threshold.
    HitSemantic,
    /// Looked up, not found; the answer may be stored for the next time.
    Miss,
}

impl CacheOutcome {
    /// The value of the `x-switchyard-cache` answer header and of the log's `cache` field.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::HitExact => "hit-exact",
            CacheOutcome::HitSemantic => "hit-semantic",
            CacheOutcome::Miss => "miss",
        }
    }

    pub fn is_hit(self) -> bool {
        !matches!(self, CacheOutcome::Miss)
    }
}

impl RequestRecord {
    /// A record of a request that has only started: nothing known yet but its id and route.
    pub fn new(request_id: Arc<str>, family: ApiFamily, endpoint: &'static str) -> RequestRecord {
        RequestRecord {
            request_id,
            started_at: SystemTime::now(),
            family,
            endpoint,
            requested_model: None,
            class: None,
            provider: None,
            upstream_model: None,
            stream: false,
            status: 0,
            outcome: Outcome::ClientGone,
            usage: None,
            latency: Duration::ZERO,
            time_to_first_byte: None,
            user_agent: None,
            client: None,
            session_id: None,
            provider_local: false,
            attempts: 0,
            trail: Vec::new(),
            error_message: None,
            upstream_time: None,
            cloud_reference: None,
            bodies: None,
            virtual_key: None,
            cache: None,
            cache_similarity: None,
            cache_saved: None,
        }
    }
}

/// Told about the finished record before the observer is: the policy stage settles what the
/// request spent against its key's budgets and limits; the cache stage stores an answer that
/// reached the client whole.
pub trait FinishHook: Send {
    /// Bytes of the answer as the client gets them, in order: a whole answer's body once, a
    /// stream's chunks one call each.
    /// (`Bytes`: a hook that keeps them takes a reference count, not a copy.)
    fn answer_bytes(&mut self, _bytes: &bytes::Bytes) {}

    fn finished(self: Box<Self>, record: &RequestRecord);
}

/// Bodies kept for the usage log, each cut at `cap` bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredBodies {
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    /// A body was longer than the cap.
    pub truncated: bool,
    cap: usize,
}

impl StoredBodies {
    pub fn new(cap: usize) -> StoredBodies {
        StoredBodies { cap, ..StoredBodies::default() }
    }

    pub fn add_request(&mut self, bytes: &[u8]) {
        Self::add(&mut self.request, bytes, self.cap, &mut self.truncated);
    }

    pub fn add_response(&mut self, bytes: &[u8]) {
        Self::add(&mut self.response, bytes, self.cap, &mut self.truncated);
    }

    fn add(into: &mut Vec<u8>, bytes: &[u8], cap: usize, truncated: &mut bool) {
        let room = cap.saturating_sub(into.len());
        if bytes.len() > room {
            *truncated = true;
        }
        into.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

pub trait RequestObserver: Send + Sync {
    /// Called once per request, off the response path; must not block.
    fn record(&self, record: RequestRecord);

    /// Writes out what is pending and stops; called once at shutdown, after the last request.
    /// May block (the server calls it off the async runtime).
    fn close(&self) {}
}

/// Logs each request at debug level; the default until the usage log is attached.
pub struct TracingObserver;

impl RequestObserver for TracingObserver {
    fn record(&self, record: RequestRecord) {
        tracing::debug!(
            id = %record.request_id,
            endpoint = record.endpoint,
            provider = record.provider.as_deref().unwrap_or("-"),
            model = record.upstream_model.as_deref().unwrap_or("-"),
            status = record.status,
            outcome = ?record.outcome,
            latency_ms = record.latency.as_secs_f64() * 1000.0,
            input_tokens = record.usage.map(|u| u.input_tokens),
            output_tokens = record.usage.map(|u| u.output_tokens),
            "request"
        );
    }
}

/// A record being filled in; finished exactly once, by `finish` or on drop.
pub struct PendingRecord {
    record: Option<RequestRecord>,
    started: Instant,
    observer: Arc<dyn RequestObserver>,
    hooks: Vec<Box<dyn FinishHook>>,
}

impl PendingRecord {
    pub fn new(
        observer: Arc<dyn RequestObserver>,
        request_id: Arc<str>,
        family: ApiFamily,
        endpoint: &'static str,
    ) -> PendingRecord {
        PendingRecord {
            record: Some(RequestRecord::new(request_id, family, endpoint)),
            started: Instant::now(),
            observer,
            hooks: Vec::new(),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Runs `hook` with the finished record, once (hooks run in the order they were added).
    pub fn on_finish(&mut self, hook: Box<dyn FinishHook>) {
        self.hooks.push(hook);
    }

    /// Edits the record in place.
    pub fn update(&mut self, edit: impl FnOnce(&mut RequestRecord)) {
        if let Some(record) = self.record.as_mut() {
            edit(record);
        }
    }

    /// Keeps the request's and the answer's bodies, up to `cap` bytes each (`usage.store_bodies`).
    pub fn keep_bodies(&mut self, cap: usize) {
        self.update(|r| r.bodies = Some(Box::new(StoredBodies::new(cap))));
    }

    /// Adds to the stored request body, when bodies are kept.
    pub fn capture_request(&mut self, bytes: &[u8]) {
        if let Some(bodies) = self.record.as_mut().and_then(|r| r.bodies.as_mut()) {
            bodies.add_request(bytes);
        }
    }

    /// Adds bytes the client received to the stored answer, when bodies are kept, and shows
    /// them to the hooks.
    pub fn capture_response(&mut self, bytes: &bytes::Bytes) {
        if let Some(bodies) = self.record.as_mut().and_then(|r| r.bodies.as_mut()) {
            bodies.add_response(bytes);
        }
        for hook in &mut self.hooks {
            hook.answer_bytes(bytes);
        }
    }

    pub fn mark_first_byte(&mut self) {
        let elapsed = self.started.elapsed();
        self.update(|r| r.time_to_first_byte = Some(elapsed));
    }

    pub fn finish(mut self, status: u16, outcome: Outcome) {
        self.complete(status, outcome);
    }

    fn complete(&mut self, status: u16, outcome: Outcome) {
        if let Some(mut record) = self.record.take() {
            record.status = status;
            record.outcome = outcome;
            record.latency = self.started.elapsed();
            for hook in self.hooks.drain(..) {
                hook.finished(&record);
            }
            self.observer.record(record);
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        // Dropped unfinished: the client disconnected (the response body was dropped) before
        // the answer was complete.
        let status = self.record.as_ref().map_or(0, |r| r.status);
        self.complete(if status == 0 { 499 } else { status }, Outcome::ClientGone);
    }
}

/// How an MCP tool call ended (the usage log's `mcp_calls.status`, the metrics' label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// The tool ran and answered.
    Ok,
    /// The tool ran and answered with `isError: true`.
    ToolError,
    /// The call could not be made or failed in the protocol (server down, JSON-RPC error).
    Error,
    /// No answer within the tool timeout.
    Timeout,
    /// The caller's key may not use the tool, or no such tool is served.
    Denied,
    /// The caller went away first.
    Cancelled,
}

impl ToolCallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolCallStatus::Ok => "ok",
            ToolCallStatus::ToolError => "tool_error",
            ToolCallStatus::Error => "error",
            ToolCallStatus::Timeout => "timeout",
            ToolCallStatus::Denied => "denied",
            ToolCallStatus::Cancelled => "cancelled",
        }
    }

    pub const ALL: [ToolCallStatus; 6] = [
        ToolCallStatus::Ok,
        ToolCallStatus::ToolError,
        ToolCallStatus::Error,
        ToolCallStatus::Timeout,
        ToolCallStatus::Denied,
        ToolCallStatus::Cancelled,
    ];
}
