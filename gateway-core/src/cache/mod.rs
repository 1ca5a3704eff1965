//! The response cache: answers stored once they reached the client whole, and served again for
//! the same request (exact) or a near-identical one (semantic), inside the process, persisted in
//! SQLite, with nothing to install.
//!
//! - `key`: the canonical request hash (exact) and the semantic query (last user turn and its
//!   partition);
//! - `vectors`: the in-process nearest-neighbour search;
//! - `store`: the SQLite file;
//! - this module: [`ResponseCache`], the in-memory index a lookup reads (a miss never touches
//!   the file), the writer thread that stores answers after they were sent (off the request
//!   path), TTL expiry and the byte cap (least recently used out), the settings the admin API
//!   changes, and the counters of `/api/cache/stats`.
//!
//! The pipeline's cache stage (`pipeline::cache`) decides per request whether and how to look
//! up, embeds for the semantic layer, and answers hits.

pub mod key;
pub mod store;
pub mod vectors;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::config::{CacheConfig, CacheMode};
pub use key::Scope;
pub use store::{NewEntry, StoredAnswer, StoredBody};
use vectors::VectorIndex;

/// Answers waiting for the writer; beyond it new ones are not stored (and counted).
const QUEUE: usize = 256;
/// How often expired entries are deleted and hits' use times written.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// An answer larger than this is not stored (nor one over a quarter of the cap).
const MAX_ENTRY_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("response cache: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("response cache: {0}")]
    File(String),
    #[error("response cache: {0}")]
    Stopped(&'static str),
}

/// A clock in Unix milliseconds; tests pass their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// The settings in force: the config file's `[cache]`, with what the admin API changed on top.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheSettings {
    pub mode: CacheMode,
    pub ttl_secs: u64,
    pub threshold: f32,
    pub max_bytes: u64,
    pub embedding_model: Option<String>,
    pub max_conversation_messages: usize,
}

impl CacheSettings {
    fn from_config(config: &CacheConfig) -> CacheSettings {
        CacheSettings {
            mode: config.mode,
            ttl_secs: config.ttl.as_secs(),
            threshold: config.threshold,
            max_bytes: config.max_bytes,
            embedding_model: config.embedding_model.clone(),
            max_conversation_messages: config.max_conversation_messages,
        }
    }
}

/// `PUT /api/cache/config`: the settings to change; the others stay. Kept across restarts (over
/// the config file's, like the dashboard's other settings).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<CacheMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// `null` turns the semantic layer's model off; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub embedding_model: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_conversation_messages: Option<usize>,
}

mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        value.as_ref().map(|inner| inner.as_deref()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

impl SettingsUpdate {
    /// The first invalid field and why.
    pub fn invalid(&self) -> Option<(&'static str, String)> {
        if let Some(threshold) = self.threshold
            && !(threshold > 0.0 && threshold <= 1.0)
        {
            return Some(("threshold", "must be above 0 and at most 1".into()));
        }
        if self.ttl_secs == Some(0) {
            return Some(("ttl_secs", "must be at least 1".into()));
        }
        if let Some(bytes) = self.max_bytes
            && bytes < 1024 * 1024
        {
            return Some(("max_bytes", "must be at least 1048576 (1 MiB)".into()));
        }
        if let Some(Some(model)) = &self.embedding_model
            && (model.trim().is_empty() || model.len() > 256)
        {
            return Some(("embedding_model", "must name a model (`provider/model`), or be null".into()));
        }
        if self.max_conversation_messages == Some(0) {
            return Some(("max_conversation_messages", "must be at least 1".into()));
        }
        None
    }

    fn apply(&self, settings: &mut CacheSettings) {
        if let Some(mode) = self.mode {
            settings.mode = mode;
        }
        if let Some(ttl) = self.ttl_secs {
            settings.ttl_secs = ttl;
        }
        if let Some(threshold) = self.threshold {
            settings.threshold = threshold;
        }
        if let Some(bytes) = self.max_bytes {
            settings.max_bytes = bytes;
        }
        if let Some(model) = &self.embedding_model {
            settings.embedding_model = model.clone();
        }
        if let Some(max) = self.max_conversation_messages {
            settings.max_conversation_messages = max;
        }
    }

    fn merge(&mut self, newer: &SettingsUpdate) {
        let mut merged = serde_json::to_value(&*self).unwrap_or_default();
        if let (Some(into), Ok(serde_json::Value::Object(from))) = (merged.as_object_mut(), serde_json::to_value(newer))
        {
            into.extend(from);
        }
        if let Ok(update) = serde_json::from_value(merged) {
            *self = update;
        }
    }
}

/// What `/api/cache/stats` shows of the lookups since the gateway started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub hits_exact: u64,
    pub hits_semantic: u64,
    pub misses: u64,
    /// Answers not stored because the writer's queue was full.
    pub dropped_writes: u64,
}

/// One indexed entry.
struct Slot {
    id: i64,
    expires_ms: i64,
    bytes: u64,
    used_ms: AtomicI64,
}

#[derive(Default)]
struct Index {
    by_exact: HashMap<u128, Slot>,
    by_id: HashMap<i64, u128>,
    bytes: u64,
}

impl Index {
    fn remove_id(&mut self, id: i64) -> bool {
        let Some(exact) = self.by_id.remove(&id) else { return false };
        if let Some(slot) = self.by_exact.remove(&exact) {
            self.bytes = self.bytes.saturating_sub(slot.bytes);
        }
        true
    }
}

struct Shared {
    conn: Mutex<Connection>,
    index: RwLock<Index>,
    vectors: RwLock<VectorIndex>,
    settings: ArcSwap<CacheSettings>,
    /// What the admin API changed, kept in the file.
    overrides: Mutex<SettingsUpdate>,
    clock: Clock,
    hits_exact: AtomicU64,
    hits_semantic: AtomicU64,
    misses: AtomicU64,
    dropped_writes: AtomicU64,
    entries: AtomicU64,
    bytes: AtomicU64,
    /// Hits' use times not yet written.
    touched: Mutex<Vec<(i64, i64)>>,
    /// The semantic layer's last reason for not running, logged when it changes.
    semantic_off: Mutex<Option<String>>,
}

enum Msg {
    Store(Box<NewEntry>),
    Flush(Sender<()>),
    Close(Sender<()>),
}

/// The gateway's response cache.
pub struct ResponseCache {
    shared: Arc<Shared>,
    tx: SyncSender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
    started_ms: i64,
    path: String,
}

impl ResponseCache {
    /// Opens the cache at `path` (`:memory:` keeps it in memory), loading the entries that have
    /// not expired.
    pub fn open(config: &CacheConfig, path: &Path, clock: Clock) -> Result<ResponseCache, CacheError> {
        let conn = store::open(path)?;
        let now = clock();
        let mut overrides = SettingsUpdate::default();
        if let Some(text) = store::setting(&conn, "overrides")? {
            match serde_json::from_str::<SettingsUpdate>(&text) {
                Ok(update) if update.invalid().is_none() => overrides = update,
                _ => tracing::warn!("the response cache's saved settings are unreadable; using the config file's"),
            }
        }
        let mut settings = CacheSettings::from_config(config);
        overrides.apply(&mut settings);
        let mut index = Index::default();
        let mut vectors = VectorIndex::new();
        for meta in store::load(&conn, now)? {
            if let Some((partition, vector)) = &meta.semantic {
                // A vector the index refuses (another model's length) leaves the entry exact-only.
                let _ = vectors.insert(meta.id as u64, *partition, vector);
            }
            index.bytes += meta.bytes;
            index.by_id.insert(meta.id, meta.exact);
            index.by_exact.insert(
                meta.exact,
                Slot {
                    id: meta.id,
                    expires_ms: meta.expires_ms,
                    bytes: meta.bytes,
                    used_ms: AtomicI64::new(meta.used_ms),
                },
            );
        }
        let shared = Arc::new(Shared {
            entries: AtomicU64::new(index.by_exact.len() as u64),
            bytes: AtomicU64::new(index.bytes),
            conn: Mutex::new(conn),
            index: RwLock::new(index),
            vectors: RwLock::new(vectors),
            settings: ArcSwap::from_pointee(settings),
            overrides: Mutex::new(overrides),
            clock,
            hits_exact: AtomicU64::new(0),
            hits_semantic: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            dropped_writes: AtomicU64::new(0),
            touched: Mutex::new(Vec::new()),
            semantic_off: Mutex::new(None),
        });
        // Loaded past the cap (the cap was lowered): trimmed before the first request.
        shared.evict_over_cap();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("switchyard-cache".into())
            .spawn(move || writer.run(rx))
            .map_err(|err| CacheError::File(format!("cannot start the cache's writer: {err}")))?;
        Ok(ResponseCache {
            shared,
            tx,
            thread: Mutex::new(Some(thread)),
            started_ms: now,
            path: path.display().to_string(),
        })
    }

    /// An in-memory cache with the config's settings (embedded gateways and tests).
    pub fn in_memory(config: &CacheConfig) -> Result<ResponseCache, CacheError> {
        ResponseCache::open(config, Path::new(":memory:"), system_clock())
    }

    /// Where the cache lives by default: beside the usage log, in memory when the log is.
    pub fn default_path(usage_path: Option<&Path>) -> PathBuf {
        match usage_path {
            Some(path) if path.as_os_str() == ":memory:" => PathBuf::from(":memory:"),
            Some(path) => path.with_file_name("cache.sqlite3"),
            None => crate::usage::default_path()
                .map_or_else(|| PathBuf::from(":memory:"), |p| p.with_file_name("cache.sqlite3")),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn settings(&self) -> Arc<CacheSettings> {
        self.shared.settings.load_full()
    }

    /// Changes settings (validated by the caller with [`SettingsUpdate::invalid`]) and keeps
    /// them in the file. A lower cap takes effect at once.
    pub fn update_settings(&self, update: &SettingsUpdate) -> Result<Arc<CacheSettings>, CacheError> {
        let mut overrides = self.shared.overrides.lock().map_err(|_| CacheError::Stopped("settings poisoned"))?;
        let mut merged = overrides.clone();
        merged.merge(update);
        let text = serde_json::to_string(&merged).unwrap_or_else(|_| "{}".into());
        {
            let conn = self.shared.conn.lock().map_err(|_| CacheError::Stopped("connection poisoned"))?;
            store::put_setting(&conn, "overrides", &text)?;
        }
        *overrides = merged;
        let mut settings = (**self.shared.settings.load()).clone();
        update.apply(&mut settings);
        self.shared.settings.store(Arc::new(settings));
        self.shared.evict_over_cap();
        Ok(self.settings())
    }

    pub fn now_ms(&self) -> i64 {
        (self.shared.clock)()
    }

    /// The entry stored for this exact key, if it has not expired. Never touches the file.
    pub fn find_exact(&self, exact: u128) -> Option<i64> {
        let now = self.now_ms();
        let index = self.shared.index.read().ok()?;
        let slot = index.by_exact.get(&exact)?;
        if slot.expires_ms <= now {
            return None;
        }
        Some(slot.id)
    }

    /// The nearest live entry in `partition` at `threshold` or above, with its similarity.
    pub fn find_semantic(&self, partition: u64, vector: &[f32], threshold: f32) -> Option<(i64, f32)> {
        let (id, similarity) = self.shared.vectors.read().ok()?.nearest(partition, vector, threshold)?;
        let id = id as i64;
        let now = self.now_ms();
        let index = self.shared.index.read().ok()?;
        let exact = index.by_id.get(&id)?;
        let slot = index.by_exact.get(exact)?;
        (slot.expires_ms > now).then_some((id, similarity))
    }

    /// The stored answer of entry `id`, read off the async runtime; marks it used.
    pub async fn answer(&self, id: i64) -> Option<StoredAnswer> {
        let shared = self.shared.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let conn = shared.conn.lock().ok()?;
            store::answer(&conn, id).ok().flatten()
        })
        .await
        .ok()
        .flatten()?;
        let now = self.now_ms();
        if let Ok(index) = self.shared.index.read()
            && let Some(exact) = index.by_id.get(&id)
            && let Some(slot) = index.by_exact.get(exact)
        {
            slot.used_ms.fetch_max(now, Ordering::Relaxed);
        }
        if let Ok(mut touched) = self.shared.touched.lock()
            && touched.len() < 65_536
        {
            touched.push((id, now));
        }
        Some(answer)
    }

    /// Queues an answer for storing; never blocks (a full queue drops it, counted).
    pub fn store(&self, entry: NewEntry) {
        let cap = self.settings().max_bytes;
        if entry.bytes() > MAX_ENTRY_BYTES.min(cap / 4) {
            return;
        }
        match self.tx.try_send(Msg::Store(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped_writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits until the answers queued so far are stored (tests, shutdown).
    pub fn flush(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Stores what is queued, writes the hits' use times and stops the writer. Blocks; called
    /// once at shutdown.
    pub fn close(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Close(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(10));
        }
        if let Ok(mut thread) = self.thread.lock()
            && let Some(thread) = thread.take()
        {
            let _ = thread.join();
        }
    }

    pub fn count_hit(&self, semantic: bool) {
        let counter = if semantic { &self.shared.hits_semantic } else { &self.shared.hits_exact };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_miss(&self) {
        self.shared.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counters(&self) -> Counters {
        Counters {
            hits_exact: self.shared.hits_exact.load(Ordering::Relaxed),
            hits_semantic: self.shared.hits_semantic.load(Ordering::Relaxed),
            misses: self.shared.misses.load(Ordering::Relaxed),
            dropped_writes: self.shared.dropped_writes.load(Ordering::Relaxed),
        }
    }

    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// Bytes the stored entries take (bodies, keys and vectors), for `switchyard_cache_bytes`.
    pub fn stored_bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    /// Entries stored.
    pub fn entries(&self) -> u64 {
        self.shared.entries.load(Ordering::Relaxed)
    }

    /// Notes why the semantic layer did not run (`None`: it ran); logged once per new reason.
    pub fn note_semantic(&self, reason: Option<String>) {
        let Ok(mut last) = self.shared.semantic_off.lock() else { return };
        if *last != reason {
            if let Some(reason) = &reason {
                tracing::warn!("semantic cache lookups are skipped: {reason}");
            } else if last.is_some() {
                tracing::info!("semantic cache lookups run again");
            }
            *last = reason;
        }
    }

    /// Why the semantic layer did not run last time, if it did not.
    pub fn semantic_off(&self) -> Option<String> {
        self.shared.semantic_off.lock().ok().and_then(|r| r.clone())
    }

    /// Deletes every entry; returns how many there were. Blocks (SQLite).
    pub fn clear(&self) -> Result<u64, CacheError> {
        let ids: Vec<i64> = self.shared.index.read().map(|i| i.by_id.keys().copied().collect()).unwrap_or_default();
        {
            let conn = self.shared.conn.lock().map_err(|_| CacheError::Stopped("connection poisoned"))?;
            conn.execute("DELETE FROM entries", [])?;
        }
        self.shared.forget(&ids);
        Ok(ids.len() as u64)
    }

    /// Deletes one entry; `false` when there is no such entry. Blocks (SQLite).
    pub fn clear_id(&self, id: i64) -> Result<bool, CacheError> {
        let known = self.shared.index.read().map(|i| i.by_id.contains_key(&id)).unwrap_or(false);
        {
            let conn = self.shared.conn.lock().map_err(|_| CacheError::Stopped("connection poisoned"))?;
            store::delete(&conn, &[id])?;
        }
        self.shared.forget(&[id]);
        Ok(known)
    }

    /// Deletes the entries stored under a cache key (`x-bf-cache-key`); returns how many.
    pub fn clear_cache_key(&self, cache_key: &str) -> Result<u64, CacheError> {
        let ids = {
            let conn = self.shared.conn.lock().map_err(|_| CacheError::Stopped("connection poisoned"))?;
            let ids = store::ids_with_cache_key(&conn, cache_key)?;
            store::delete(&conn, &ids)?;
            ids
        };
        self.shared.forget(&ids);
        Ok(ids.len() as u64)
    }
}

impl Shared {
    fn run(self: Arc<Self>, rx: Receiver<Msg>) {
        let mut next_sweep = std::time::Instant::now() + SWEEP_EVERY;
        loop {
            let wait = next_sweep.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(wait) {
                Ok(Msg::Store(entry)) => self.write(&entry),
                Ok(Msg::Flush(done)) => {
                    let _ = done.send(());
                }
                Ok(Msg::Close(done)) => {
                    while let Ok(Msg::Store(entry)) = rx.try_recv() {
                        self.write(&entry);
                    }
                    self.sweep();
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.sweep();
                    next_sweep = std::time::Instant::now() + SWEEP_EVERY;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.sweep();
                    return;
                }
            }
        }
    }

    fn write(&self, entry: &NewEntry) {
        let bytes = entry.bytes();
        let id = {
            let Ok(conn) = self.conn.lock() else { return };
            match store::insert(&conn, entry, bytes) {
                Ok(id) => id,
                Err(err) => {
                    tracing::warn!(error = %err, "could not store an answer in the response cache");
                    return;
                }
            }
        };
        if let Ok(mut index) = self.index.write() {
            // The same request stored again replaces its older entry.
            let replaced = index.by_exact.get(&entry.exact).map(|slot| slot.id);
            if let Some(old) = replaced {
                index.remove_id(old);
                if let Ok(mut vectors) = self.vectors.write() {
                    vectors.remove(old as u64);
                }
            }
            index.by_id.insert(id, entry.exact);
            index.by_exact.insert(
                entry.exact,
                Slot { id, expires_ms: entry.expires_ms, bytes, used_ms: AtomicI64::new(entry.created_ms) },
            );
            index.bytes += bytes;
            self.publish(&index);
        }
        if let Some((partition, vector)) = &entry.semantic
            && let Ok(mut vectors) = self.vectors.write()
            && let Err(err) = vectors.insert(id as u64, *partition, vector)
        {
            tracing::debug!(error = %err, "an answer's vector was not indexed; it is served to exact matches only");
        }
        self.evict_over_cap();
    }

    fn publish(&self, index: &Index) {
        self.entries.store(index.by_exact.len() as u64, Ordering::Relaxed);
        self.bytes.store(index.bytes, Ordering::Relaxed);
    }

    /// Drops entries from memory (their rows are gone already).
    fn forget(&self, ids: &[i64]) {
        if let Ok(mut index) = self.index.write() {
            for id in ids {
                index.remove_id(*id);
            }
            self.publish(&index);
        }
        if let Ok(mut vectors) = self.vectors.write() {
            for id in ids {
                vectors.remove(*id as u64);
            }
        }
    }

    /// Deletes the least recently used entries until the rest fit the cap (down to nine tenths
    /// of it, so a full cache does not evict on every store).
    fn evict_over_cap(&self) {
        let cap = self.settings.load().max_bytes;
        let victims: Vec<i64> = {
            let Ok(index) = self.index.read() else { return };
            if index.bytes <= cap {
                return;
            }
            let mut by_age: Vec<(i64, i64, u64)> = index
                .by_exact
                .values()
                .map(|slot| (slot.used_ms.load(Ordering::Relaxed), slot.id, slot.bytes))
                .collect();
            by_age.sort_unstable();
            let target = cap - cap / 10;
            let mut bytes = index.bytes;
            by_age
                .into_iter()
                .take_while(|(_, _, size)| {
                    let over = bytes > target;
                    bytes = bytes.saturating_sub(*size);
                    over
                })
                .map(|(_, id, _)| id)
                .collect()
        };
        self.delete(&victims);
    }

    /// Deletes expired entries and writes the hits' use times.
    fn sweep(&self) {
        let now = (self.clock)();
        let expired: Vec<i64> = self
            .index
            .read()
            .map(|index| index.by_exact.values().filter(|slot| slot.expires_ms <= now).map(|slot| slot.id).collect())
            .unwrap_or_default();
        self.delete(&expired);
        let touched = self.touched.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        if !touched.is_empty()
            && let Ok(conn) = self.conn.lock()
            && let Err(err) = store::touch(&conn, &touched)
        {
            tracing::debug!(error = %err, "could not write the response cache's use times");
        }
    }

    fn delete(&self, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        if let Ok(conn) = self.conn.lock()
            && let Err(err) = store::delete(&conn, ids)
        {
            tracing::warn!(error = %err, "could not delete response cache entries");
            return;
        }
        self.forget(ids);
    }
}

/// Time to live of an entry stored now.
pub fn expires_at(now_ms: i64, ttl: Duration) -> i64 {
    now_ms.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests;
