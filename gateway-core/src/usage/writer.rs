//! The one writer: a thread that takes rows from a bounded channel and writes them in batches,
//! one transaction per batch (rows gather for `GATHER` after the first one, so under load a
//! transaction holds hundreds of rows and the writer keeps up with far more than 5,000
//! requests/s). It publishes each written row to the live stream, deletes
//! rows past the retention at start and hourly, and on close writes what is queued, then stops.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};
use tokio::sync::broadcast;

use super::{LogEntry, UsageError};
use crate::observe::StoredBodies;

/// Most rows written in one transaction.
const MAX_BATCH: usize = 4096;
/// After the first row of a batch, how long the writer lets more rows gather before it writes.
/// Each transaction rewrites every page it touches (the table's last leaf and a leaf of each of
/// six indexes), and each row sent to a waiting writer wakes its thread: without this pause, a
/// busy gateway wrote one or two rows per transaction, ~4 page writes and a thread wake-up per
/// request (~40 µs of CPU per request, on the core that serves requests). Rows still reach the
/// database and the live stream within this delay. A `Flush`, `Prune` or `Close` that finds the
/// writer idle is served at once; one sent during the pause waits for it.
const GATHER: Duration = Duration::from_millis(20);
/// How often old rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Tries per batch: a busy or locked database (another process reading it, a backup tool) or a
/// full disk often clears within a second. The writer's thread waits between tries (the
/// bounded channel keeps taking rows meanwhile); after the last, the batch is lost and counted.
pub(super) const WRITE_ATTEMPTS: u32 = 5;
/// The wait before the first retry; it doubles each time (0.1 + 0.2 + 0.4 + 0.8 s).
const RETRY_AFTER: Duration = Duration::from_millis(100);

pub enum Msg {
    Row(Box<LogEntry>),
    /// An MCP tool call.
    ToolCall(Box<super::tool_calls::ToolCallEntry>),
    /// Answer once everything queued before is written.
    Flush(Sender<()>),
    /// Delete old rows now, then answer.
    Prune(Sender<()>),
    /// Write what is queued, answer, stop.
    Close(Sender<()>),
}

pub struct WriterHandle {
    tx: SyncSender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    written: AtomicU64,
    /// Failed batch writes, retried or not.
    failures: AtomicU64,
    /// Rows lost after the last attempt.
    lost: AtomicU64,
}

pub fn spawn(
    conn: Arc<Mutex<Connection>>,
    live: broadcast::Sender<Arc<LogEntry>>,
    retention: Duration,
    capacity: usize,
    queued_body_bytes: Arc<AtomicUsize>,
) -> Result<WriterHandle, UsageError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
    let counts = Arc::new(Counts::default());
    let writer = Writer { conn, live, retention, counts: counts.clone(), queued_body_bytes };
    let thread = std::thread::Builder::new()
        .name("usage-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|source| UsageError::Io { path: "usage-writer thread".into(), source })?;
    Ok(WriterHandle { tx, thread: Mutex::new(Some(thread)), counts })
}

impl WriterHandle {
    /// Queues without waiting; false when the channel is full or the writer has stopped.
    pub fn try_send(&self, msg: Msg) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Sends a control message and waits for its answer (blocking).
    pub fn request(&self, make: fn(Sender<()>) -> Msg) -> Result<(), UsageError> {
        let (ack, done) = std::sync::mpsc::channel();
        self.tx.send(make(ack)).map_err(|_| UsageError::WriterGone)?;
        done.recv().map_err(|_| UsageError::WriterGone)
    }

    pub fn close(&self) {
        let _ = self.request(Msg::Close);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    pub fn written(&self) -> u64 {
        self.counts.written.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.counts.failures.load(Ordering::Relaxed)
    }

    pub fn lost(&self) -> u64 {
        self.counts.lost.load(Ordering::Relaxed)
    }
}

/// The bytes a row's bodies hold while queued.
pub fn body_size(bodies: &StoredBodies) -> usize {
    bodies.request.len() + bodies.response.len()
}

struct Writer {
    conn: Arc<Mutex<Connection>>,
    live: broadcast::Sender<Arc<LogEntry>>,
    retention: Duration,
    counts: Arc<Counts>,
    /// Shared with `UsageLog::push`, which adds each queued row's body bytes.
    queued_body_bytes: Arc<AtomicUsize>,
}

impl Writer {
    fn run(self, rx: Receiver<Msg>) {
        self.prune();
        let mut next_prune = Instant::now() + PRUNE_EVERY;
        let mut batch: Vec<LogEntry> = Vec::with_capacity(256);
        let mut calls: Vec<super::tool_calls::ToolCallEntry> = Vec::new();
        let mut acks: Vec<Sender<()>> = Vec::new();
        loop {
            let wait = next_prune.saturating_duration_since(Instant::now());
            let first = match rx.recv_timeout(wait) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => {
                    self.prune();
                    next_prune = Instant::now() + PRUNE_EVERY;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if matches!(first, Msg::Row(_) | Msg::ToolCall(_)) {
                // Rows sent meanwhile queue without waking this thread (nobody waits on the channel).
                std::thread::sleep(GATHER);
            }
            let mut stop = false;
            let mut prune = false;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Row(entry) => batch.push(*entry),
                    Msg::ToolCall(call) => calls.push(*call),
                    Msg::Flush(ack) => acks.push(ack),
                    Msg::Prune(ack) => {
                        prune = true;
                        acks.push(ack);
                    }
                    Msg::Close(ack) => {
                        stop = true;
                        acks.push(ack);
                    }
                }
                if stop || batch.len() >= MAX_BATCH {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !batch.is_empty() {
                self.write(&mut batch);
            }
            if !calls.is_empty() {
                self.write_calls(&mut calls);
            }
            if prune {
                self.prune();
            }
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
            if stop {
                return;
            }
        }
    }

    /// Writes a batch in one transaction and publishes it. A failed write (the transaction was
    /// rolled back) is tried again, up to `WRITE_ATTEMPTS` times; then the batch is lost, logged
    /// as an error and counted.
    fn write(&self, batch: &mut Vec<LogEntry>) {
        let body_bytes: usize = batch.iter().filter_map(|e| e.bodies.as_deref()).map(body_size).sum();
        let mut wait = RETRY_AFTER;
        let mut attempt = 1;
        let result = loop {
            let result = match self.conn.lock() {
                Ok(mut conn) => insert(&mut conn, batch),
                Err(_) => Err(rusqlite::Error::InvalidQuery),
            };
            let Err(err) = result else { break Ok(()) };
            self.counts.failures.fetch_add(1, Ordering::Relaxed);
            if attempt >= WRITE_ATTEMPTS {
                break Err(err);
            }
            tracing::warn!(rows = batch.len(), attempt, error = %err, "usage log: could not write a batch; retrying");
            std::thread::sleep(wait);
            wait *= 2;
            attempt += 1;
        };
        match result {
            Ok(()) => {
                self.counts.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                if self.live.receiver_count() > 0 {
                    for entry in batch.drain(..) {
                        let _ = self.live.send(Arc::new(entry));
                    }
                }
            }
            Err(err) => {
                self.counts.lost.fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(rows = batch.len(), attempts = WRITE_ATTEMPTS, error = %err, "usage log: a batch could not be written; its rows are lost");
            }
        }
        batch.clear();
        // Only now are the bodies out of memory.
        self.queued_body_bytes.fetch_sub(body_bytes, Ordering::AcqRel);
    }

    /// Writes MCP tool calls in one transaction (tried again like request rows).
    fn write_calls(&self, calls: &mut Vec<super::tool_calls::ToolCallEntry>) {
        let mut wait = RETRY_AFTER;
        for attempt in 1..=WRITE_ATTEMPTS {
            let result = match self.conn.lock() {
                Ok(mut conn) => super::tool_calls::insert(&mut conn, calls),
                Err(_) => Err(rusqlite::Error::InvalidQuery),
            };
            match result {
                Ok(()) => {
                    self.counts.written.fetch_add(calls.len() as u64, Ordering::Relaxed);
                    calls.clear();
                    return;
                }
                Err(err) => {
                    self.counts.failures.fetch_add(1, Ordering::Relaxed);
                    if attempt == WRITE_ATTEMPTS {
                        tracing::error!(rows = calls.len(), error = %err, "usage log: MCP tool calls could not be written; they are lost");
                    } else {
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                }
            }
        }
        self.counts.lost.fetch_add(calls.len() as u64, Ordering::Relaxed);
        calls.clear();
    }

    fn prune(&self) {
        let cutoff = SystemTime::now()
            .checked_sub(self.retention)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        if let Ok(conn) = self.conn.lock() {
            let deleted = conn.unchecked_transaction().and_then(|tx| {
                let rows = tx.execute("DELETE FROM requests WHERE ts_ms < ?1", [cutoff])?;
                tx.execute("DELETE FROM bodies WHERE request_id NOT IN (SELECT id FROM requests)", [])?;
                let rollups = super::rollup::prune(&tx, cutoff)?;
                super::tool_calls::prune(&tx, cutoff)?;
                tx.commit()?;
                Ok((rows, rollups))
            });
            match deleted {
                Ok((0, 0)) => {}
                Ok((rows, rollups)) => tracing::info!(rows, rollups, "usage log: deleted rows past the retention"),
                Err(err) => tracing::warn!(error = %err, "usage log: could not delete old rows"),
            }
        }
    }
}

pub(crate) fn insert(conn: &mut Connection, batch: &mut [LogEntry]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO requests (ts_ms, client, virtual_key, task_class, family, endpoint, requested_model, \
             provider, model, local, attempts, status, outcome, error_type, latency_ms, ttft_ms, input_tokens, \
             output_tokens, cached_tokens, reasoning_tokens, cost_usd, stream, cache_hit, session_id, user_agent, saved_usd, cache_write_tokens, \
             request_id, error_message, trail, cache_similarity, cache_saved_usd) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
             ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)",
        )?;
        for e in batch.iter_mut() {
            stmt.execute(params![
                e.ts_ms,
                e.client,
                e.virtual_key,
                e.task_class,
                e.family,
                e.endpoint,
                e.requested_model,
                e.provider,
                e.model,
                e.local,
                e.attempts,
                e.status,
                e.outcome,
                e.error_type,
                e.latency_ms,
                e.ttft_ms,
                e.input_tokens.map(sql_int),
                e.output_tokens.map(sql_int),
                e.cached_tokens.map(sql_int),
                e.reasoning_tokens.map(sql_int),
                e.cost_usd,
                e.stream,
                // NULL, like the two cache columns below, when the cache was not consulted.
                e.cache.map(super::cache::code),
                e.session_id,
                e.user_agent,
                e.saved_usd,
                e.cache_write_tokens.map(sql_int),
                e.request_id.as_deref(),
                e.error_message,
                // Serialized here, on the writer's thread, not on the request's.
                super::trail_json(&e.trail),
                e.cache_similarity,
                e.cache_saved_usd,
            ])?;
            e.id = tx.last_insert_rowid();
            if let Some(bodies) = &e.bodies {
                tx.prepare_cached(
                    "INSERT INTO bodies (request_id, request, response, truncated) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![e.id, bodies.request, bodies.response, bodies.truncated])?;
            }
        }
    }
    // In the same transaction: the rollups never disagree with the rows.
    super::rollup::add(&tx, batch)?;
    tx.commit()
}

/// Token counts as SQLite integers (saturating; no count comes near `i64::MAX`).
fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
