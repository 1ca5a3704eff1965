//! The usage log: one row per request in SQLite, written off the hot path.
//!
//! `UsageRecorder` is the gateway's `RequestObserver`. For each finished request it prices the
//! usage (`pricing`), updates the in-memory metrics (`crate::metrics`) and hands a row to the
//! `UsageLog`: a bounded channel into one batching writer thread (`writer`). When the channel is
//! full the row is dropped and counted, never waited for. At shutdown the writer flushes what is
//! pending. Prompts and answers are stored only when `usage.store_bodies` is on (off by default;
//! capped per body, deleted with their rows); no request header is stored but the User-Agent,
//! the client's session id and its request id.

pub mod attribution;
pub mod cache;
pub mod files;
pub mod histogram;
pub mod pricing;
pub mod query;
pub mod rollup;
mod rows;
pub mod schema;
pub mod tool_calls;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use self::pricing::PriceTable;
use self::writer::{Msg, WriterHandle};
use crate::config::UsageConfig;
use crate::metrics::Metrics;
use crate::observe::{AttemptRecord, CacheOutcome, Outcome, RequestObserver, RequestRecord, StoredBodies};

/// Rows waiting for the writer; beyond this, rows are dropped (and counted).
pub const CHANNEL_CAPACITY: usize = 65_536;
/// Stored bodies (`usage.store_bodies`) waiting for the writer, in bytes. Rows are small, bodies
/// are not: 65,536 rows with 64 KiB bodies each would be 8 GiB. Beyond this, a row is queued
/// without its bodies (counted in `bodies_dropped`); the request is never made to wait.
pub const QUEUED_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("usage log: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("usage log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("usage log: the database has schema version {found}, newer than this build's {supported}")]
    NewerSchema { found: i64, supported: i64 },
    #[error("usage log: no data directory for this user; set usage.path")]
    NoDataDir,
    #[error("usage log: the writer has stopped")]
    WriterGone,
}

/// One row of the usage log, as stored and as the API returns it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    /// The request's id (the client's `x-request-id`, else the gateway's); `None` in rows
    /// written before schema version 4.
    pub request_id: Option<Arc<str>>,
    pub ts_ms: i64,
    pub client: Option<String>,
    pub virtual_key: Option<String>,
    pub task_class: Option<String>,
    pub family: String,
    pub endpoint: String,
    pub requested_model: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub local: bool,
    pub attempts: u32,
    pub status: u16,
    pub outcome: String,
    pub error_type: Option<String>,
    /// The message of the error the request ended with, as the client got it.
    pub error_message: Option<String>,
    /// Every upstream attempt in order (`TrailAttempt`), as recorded: the writer stores it as
    /// JSON (off the request path); only `GET /api/logs/{id}` returns it, never the list or the
    /// live stream (the rows read back from the database leave it empty).
    #[serde(skip)]
    pub trail: Vec<AttemptRecord>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    /// Served locally: what the same tokens would have cost on the class's first cloud model.
    pub saved_usd: Option<f64>,
    /// The request's and the answer's bodies (`usage.store_bodies`), stored in their own table
    /// and served by `GET /api/logs/{id}/body`, never in the row's JSON.
    #[serde(skip)]
    pub bodies: Option<Box<StoredBodies>>,
    /// Whether `GET /api/logs/{id}/body` has the bodies.
    pub bodies_stored: bool,
    pub stream: bool,
    /// What the response cache did: `"hit-exact"`, `"hit-semantic"`, `"miss"`; null when it was
    /// not consulted (off or bypassed, and every row before schema version 6).
    #[serde(serialize_with = "cache::serialize")]
    pub cache: Option<CacheOutcome>,
    /// A semantic hit's cosine similarity to the stored request, to 6 decimals (`similarity`).
    pub cache_similarity: Option<f64>,
    /// On a hit: what the answer cost when it was first made (its tokens at `cost_usd`'s prices),
    /// the money the hit saved. The hit's own `cost_usd` is 0.
    pub cache_saved_usd: Option<f64>,
    pub session_id: Option<String>,
    pub user_agent: Option<String>,
}

impl LogEntry {
    /// The row for a finished request, priced by `pricing`.
    pub fn from_record(record: &RequestRecord, pricing: &PriceTable) -> LogEntry {
        let outcome = match record.outcome {
            Outcome::Success => "success",
            Outcome::Error(_) => "error",
            Outcome::StreamError(_) => "stream_error",
            Outcome::ClientGone => "client_gone",
        };
        let error_type = crate::metrics::error_type(record.outcome);
        // A cache hit sent nothing upstream: it spent no tokens, cost 0 (not "unknown"), and saved
        // nothing by running locally; what it saved is `cache_saved_usd`.
        let hit = record.cache.is_some_and(CacheOutcome::is_hit);
        let usage = if hit { None } else { record.usage };
        let cost = match (&record.provider, &record.upstream_model, &usage) {
            (Some(provider), Some(model), Some(usage)) => pricing.cost(provider, model, record.provider_local, usage),
            _ if hit => Some(0.0),
            _ => None,
        };
        // Priced only on a hit (the record carries the saved usage then), so a request the cache
        // did not answer pays one match here.
        let cache_saved_usd = match (&record.provider, &record.upstream_model, &record.cache_saved) {
            (Some(provider), Some(model), Some(saved)) if hit => {
                pricing.cost(provider, model, record.provider_local, saved)
            }
            _ => None,
        };
        let saved = match (&record.cloud_reference, &usage) {
            (Some((provider, model)), Some(usage)) if record.provider_local => {
                pricing.price(provider, model).map(|price| price.cost(usage))
            }
            _ => None,
        };
        let ts_ms = record.started_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        LogEntry {
            id: 0,
            request_id: Some(record.request_id.clone()),
            ts_ms,
            client: record.client.clone(),
            virtual_key: record.virtual_key.as_deref().map(str::to_owned),
            task_class: record.class.clone(),
            family: record.family.as_str().to_owned(),
            endpoint: record.endpoint.to_owned(),
            requested_model: record.requested_model.clone(),
            provider: record.provider.clone(),
            model: record.upstream_model.clone(),
            local: record.provider_local,
            attempts: record.attempts,
            status: record.status,
            outcome: outcome.to_owned(),
            error_type: error_type.map(str::to_owned),
            error_message: record.error_message.clone(),
            // Only a trail worth storing is copied (see `trail_worth_storing`).
            trail: if trail_worth_storing(&record.trail) { record.trail.clone() } else { Vec::new() },
            latency_ms: millis(record.latency),
            ttft_ms: record.time_to_first_byte.map(millis),
            input_tokens: usage.map(|u| u.input_tokens),
            output_tokens: usage.map(|u| u.output_tokens),
            cached_tokens: usage.map(|u| u.cached_input_tokens),
            cache_write_tokens: usage.map(|u| u.cache_write_tokens),
            reasoning_tokens: usage.map(|u| u.reasoning_tokens),
            cost_usd: cost,
            saved_usd: saved,
            bodies: record.bodies.clone(),
            bodies_stored: record.bodies.is_some(),
            stream: record.stream,
            cache: record.cache,
            cache_similarity: record.cache_similarity.map(similarity),
            cache_saved_usd,
            session_id: record.session_id.clone(),
            user_agent: record.user_agent.clone(),
        }
    }
}

/// One upstream attempt as the log stores it (`requests.trail`, a JSON array) and
/// `GET /api/logs/{id}` returns it (`attempts_trail`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrailAttempt {
    pub provider: String,
    pub model: String,
    /// The key's reference (`env.OPENAI_API_KEY`, `secret.openai`, `****abcd`), never the key.
    pub key: Option<String>,
    /// The upstream's HTTP status, when it answered one.
    pub status: Option<u16>,
    /// The error kind (`upstream_status`, `upstream_unreachable`, ...); `None` for the attempt
    /// that served the request.
    pub error_type: Option<String>,
    pub error: Option<String>,
    pub duration_ms: f64,
}

impl TrailAttempt {
    pub fn from_attempt(attempt: &AttemptRecord) -> TrailAttempt {
        TrailAttempt {
            provider: attempt.provider.clone(),
            model: attempt.model.clone(),
            key: attempt.key.as_deref().map(str::to_owned),
            status: attempt.status,
            error_type: attempt.error.as_ref().map(|e| e.kind.as_str().to_owned()),
            error: attempt.error.as_ref().map(|e| e.message.clone()),
            duration_ms: millis(attempt.duration),
        }
    }
}

/// Whether a trail says more than its row: more than one attempt, a failed one, or the key
/// that served. A lone keyless attempt that served (a local server's every request) is its row:
/// provider, model, status; the API rebuilds it from them (`TrailAttempt::from_row`). Skipping it
/// keeps a JSON text and a copy off every such request.
pub(crate) fn trail_worth_storing(trail: &[AttemptRecord]) -> bool {
    trail.len() > 1 || trail.iter().any(|a| a.error.is_some() || a.key.is_some())
}

/// The trail as stored: a JSON array, or NULL when it says nothing the row does not.
pub(crate) fn trail_json(trail: &[AttemptRecord]) -> Option<String> {
    /// One attempt as stored, borrowing the record's strings.
    #[derive(Serialize)]
    struct Stored<'a> {
        provider: &'a str,
        model: &'a str,
        key: Option<&'a str>,
        status: Option<u16>,
        error_type: Option<&'static str>,
        error: Option<&'a str>,
        duration_ms: f64,
    }
    if trail.is_empty() || !trail_worth_storing(trail) {
        return None;
    }
    let stored: Vec<Stored<'_>> = trail
        .iter()
        .map(|a| Stored {
            provider: &a.provider,
            model: &a.model,
            key: a.key.as_deref(),
            status: a.status,
            error_type: a.error.as_ref().map(|e| e.kind.as_str()),
            error: a.error.as_ref().map(|e| e.message.as_str()),
            duration_ms: millis(a.duration),
        })
        .collect();
    serde_json::to_string(&stored).ok()
}

impl TrailAttempt {
    /// The lone attempt of a row whose trail was not stored: it served the request, with no key.
    /// Its duration is the row's time to first byte.
    pub fn from_row(entry: &LogEntry) -> Option<TrailAttempt> {
        if entry.attempts != 1 || entry.outcome == "error" {
            return None;
        }
        Some(TrailAttempt {
            provider: entry.provider.clone()?,
            model: entry.model.clone()?,
            key: None,
            status: Some(entry.status),
            error_type: None,
            error: None,
            duration_ms: entry.ttft_ms.unwrap_or(entry.latency_ms),
        })
    }
}

/// The stored trail read back; NULL (no attempt, or a row from before schema version 4) and
/// anything unreadable give an empty trail.
pub(crate) fn parse_trail(text: Option<&str>) -> Vec<TrailAttempt> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// A similarity as the log keeps it: the record's `f32` widened to `f64` reads 0.9731 as
/// 0.9731000065803528 in the API's JSON; 6 decimals are more than an `f32` cosine means.
fn similarity(value: f32) -> f64 {
    (f64::from(value) * 1e6).round() / 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Where the log lives by default: `~/Library/Application Support/Switchyard/usage.sqlite3` on
/// macOS, `$XDG_DATA_HOME/switchyard/usage.sqlite3` on Linux.
pub fn default_path() -> Option<PathBuf> {
    let app = if cfg!(target_os = "macos") { "Switchyard" } else { "switchyard" };
    directories::BaseDirs::new().map(|dirs| dirs.data_dir().join(app).join("usage.sqlite3"))
}

/// The SQLite log: a writer thread fed by a bounded channel, and a connection for queries.
pub struct UsageLog {
    writer: WriterHandle,
    reader: Arc<Mutex<Connection>>,
    live: broadcast::Sender<Arc<LogEntry>>,
    dropped: AtomicU64,
    /// Bytes of bodies queued for the writer (the writer subtracts what it has written).
    queued_body_bytes: Arc<AtomicUsize>,
    max_queued_body_bytes: usize,
    bodies_dropped: AtomicU64,
    path: String,
}

impl UsageLog {
    /// Opens (creating and migrating) the log at `path`; `:memory:` keeps it in memory.
    pub fn open(path: &Path, retention: Duration) -> Result<UsageLog, UsageError> {
        let display = path.display().to_string();
        let (writer_conn, reader) = if display == ":memory:" {
            let mut conn = Connection::open_in_memory()?;
            schema::configure(&conn)?;
            schema::migrate(&mut conn)?;
            let shared = Arc::new(Mutex::new(conn));
            (shared.clone(), shared)
        } else {
            files::prepare(path)?;
            let mut conn = Connection::open(path)?;
            schema::configure(&conn)?;
            schema::migrate(&mut conn)?;
            // The WAL and shared-memory files exist now; an older build may have left them looser.
            files::tighten(path)?;
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )?;
            reader.busy_timeout(Duration::from_secs(5))?;
            (Arc::new(Mutex::new(conn)), Arc::new(Mutex::new(reader)))
        };
        let (live, _) = broadcast::channel(1024);
        let queued_body_bytes = Arc::new(AtomicUsize::new(0));
        let writer = writer::spawn(writer_conn, live.clone(), retention, CHANNEL_CAPACITY, queued_body_bytes.clone())?;
        Ok(UsageLog {
            writer,
            reader,
            live,
            dropped: AtomicU64::new(0),
            queued_body_bytes,
            max_queued_body_bytes: QUEUED_BODY_BYTES,
            bodies_dropped: AtomicU64::new(0),
            path: display,
        })
    }

    /// Changes the bound on queued body bytes (`QUEUED_BODY_BYTES`).
    pub fn with_body_queue_limit(mut self, bytes: usize) -> UsageLog {
        self.max_queued_body_bytes = bytes;
        self
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Queues a row; never blocks. A full channel drops the row and counts it; bodies that would
    /// take the queued bodies past their bound are dropped first (the row is kept, and counted in
    /// `bodies_dropped`).
    pub fn push(&self, mut entry: LogEntry) -> bool {
        let size = entry.bodies.as_deref().map_or(0, writer::body_size);
        if size > 0 {
            let max = self.max_queued_body_bytes;
            let reserved = self
                .queued_body_bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    queued.checked_add(size).filter(|total| *total <= max)
                })
                .is_ok();
            if !reserved {
                entry.bodies = None;
                entry.bodies_stored = false;
                self.bodies_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        let queued = entry.bodies.as_deref().map_or(0, writer::body_size);
        let sent = self.writer.try_send(Msg::Row(Box::new(entry)));
        if !sent {
            self.queued_body_bytes.fetch_sub(queued, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queues an MCP tool call; never blocks (a full channel drops it and counts it).
    pub fn push_tool_call(&self, call: tool_calls::ToolCallEntry) -> bool {
        let sent = self.writer.try_send(Msg::ToolCall(Box::new(call)));
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Rows not written: dropped because the writer could not keep up (or had stopped), or lost
    /// after every write attempt failed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.writer.lost()
    }

    /// Rows whose bodies were not stored because too many body bytes were queued.
    pub fn bodies_dropped(&self) -> u64 {
        self.bodies_dropped.load(Ordering::Relaxed)
    }

    /// Batch writes that failed (and were retried, or lost after the last attempt).
    pub fn write_failures(&self) -> u64 {
        self.writer.failures()
    }

    /// Rows written so far.
    pub fn written(&self) -> u64 {
        self.writer.written()
    }

    /// Waits until every row queued before this call is in the database. Blocking.
    pub fn flush(&self) -> Result<(), UsageError> {
        self.writer.request(Msg::Flush)
    }

    /// Deletes rows older than the retention now (the writer also does it hourly). Blocking.
    pub fn prune(&self) -> Result<(), UsageError> {
        self.writer.request(Msg::Prune)
    }

    /// Flushes and stops the writer. Blocking; later rows are dropped.
    pub fn close(&self) {
        self.writer.close();
    }

    /// New rows as they are written.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogEntry>> {
        self.live.subscribe()
    }

    /// The connection for queries (the same as the writer's for `:memory:`).
    pub fn reader(&self) -> Arc<Mutex<Connection>> {
        self.reader.clone()
    }
}

/// The gateway's observer: prices each request, counts it in the metrics, logs it.
pub struct UsageRecorder {
    pub metrics: Arc<Metrics>,
    pub log: Option<Arc<UsageLog>>,
    pricing: PriceTable,
    /// The observer the embedding program supplied (`GatewayOptions::observer`), told too.
    next: Arc<dyn RequestObserver>,
    /// Cancelled at shutdown: ends the live log streams so the server can stop.
    pub streams_closed: CancellationToken,
    body_cap: Option<usize>,
}

impl UsageRecorder {
    /// Opens the log as configured (`usage.enabled`, `usage.path`, `usage.retention_days`).
    pub fn open(
        config: &UsageConfig,
        pricing: PriceTable,
        next: Arc<dyn RequestObserver>,
    ) -> Result<UsageRecorder, UsageError> {
        let log = if config.enabled {
            let path = match &config.path {
                Some(path) => path.clone(),
                None => default_path().ok_or(UsageError::NoDataDir)?,
            };
            let retention = Duration::from_secs(u64::from(config.retention_days) * 86_400);
            let log = UsageLog::open(&path, retention)?;
            tracing::info!(path = log.path(), "usage log open");
            Some(Arc::new(log))
        } else {
            None
        };
        Ok(UsageRecorder {
            metrics: Arc::new(Metrics::default()),
            log,
            pricing,
            next,
            streams_closed: CancellationToken::new(),
            body_cap: (config.enabled && config.store_bodies).then_some(config.max_stored_body_bytes),
        })
    }

    /// How many bytes of each body to keep, when `usage.store_bodies` is on and the log is.
    pub fn body_cap(&self) -> Option<usize> {
        self.body_cap
    }

    pub fn pricing(&self) -> &PriceTable {
        &self.pricing
    }

    /// Rows dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.log.as_ref().map_or(0, |log| log.dropped())
    }
}

impl UsageRecorder {
    /// Counts an MCP tool call in the metrics and logs it.
    pub fn record_tool_call(&self, call: tool_calls::ToolCallEntry) {
        self.metrics.observe_tool_call(&call.server, &call.tool, call.status, call.duration_ms);
        if let Some(log) = &self.log {
            log.push_tool_call(call);
        }
    }
}

impl RequestObserver for UsageRecorder {
    fn record(&self, record: RequestRecord) {
        let entry = LogEntry::from_record(&record, &self.pricing);
        self.metrics.observe(&record, entry.cost_usd);
        if let Some(log) = &self.log {
            log.push(entry);
        }
        self.next.record(record);
    }

    fn close(&self) {
        if let Some(log) = &self.log {
            log.close();
        }
        self.next.close();
    }
}

#[cfg(test)]
mod log_tests;

#[cfg(test)]
mod cache_tests;

#[cfg(test)]
mod trail_tests {
    use std::time::Duration;

    use super::*;
    use crate::error::ErrorKind;
    use crate::observe::AttemptError;

    fn attempt(key: Option<&str>, error: bool) -> AttemptRecord {
        AttemptRecord {
            provider: "p".into(),
            model: "m\"x".into(),
            key: key.map(Arc::from),
            status: Some(if error { 503 } else { 200 }),
            error: error.then(|| AttemptError { kind: ErrorKind::UpstreamStatus, message: "busy".into() }),
            duration: Duration::from_millis(3),
        }
    }

    #[test]
    fn a_lone_keyless_attempt_that_served_is_not_stored() {
        assert_eq!(trail_json(&[]), None);
        assert_eq!(trail_json(&[attempt(None, false)]), None, "the row says it all");
        let keyed = trail_json(&[attempt(Some("env.KEY"), false)]).unwrap();
        let read = parse_trail(Some(&keyed));
        assert_eq!((read[0].key.as_deref(), read[0].model.as_str()), (Some("env.KEY"), "m\"x"));
        let fell_back = parse_trail(trail_json(&[attempt(None, true), attempt(None, false)]).as_deref());
        assert_eq!(fell_back.len(), 2);
        assert_eq!(
            (fell_back[0].error_type.as_deref(), fell_back[0].error.as_deref()),
            (Some("upstream_status"), Some("busy"))
        );
        assert_eq!(fell_back[1].duration_ms, 3.0);
    }
}
