//! The cache's SQLite file: one row per entry (its keys, its answer, its vector), and the
//! settings changed through the admin API. Its own file beside the usage log (`cache.sqlite3`),
//! readable by the user only, WAL, migrated in one transaction at open. Requests never wait on
//! it for a miss: the in-memory index (`super::index`) answers those; a hit reads its row.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

use super::CacheError;
use super::key::Scope;
use crate::wire::Usage;

const VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: an old id never names a new entry
    exact         BLOB NOT NULL UNIQUE,   -- the exact key, 16 bytes
    cache_key     TEXT,                   -- x-bf-cache-key (clear-by-key)
    virtual_key   TEXT,
    partition     INTEGER,                -- semantic partition, with `embedding`
    embedding     BLOB,                   -- f32 little-endian
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    used_ms       INTEGER NOT NULL,       -- last served or stored: least recently used go first
    bytes         INTEGER NOT NULL,       -- what the entry counts against max_bytes
    status        INTEGER NOT NULL,
    content_type  TEXT,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    local         INTEGER NOT NULL,
    stream        INTEGER NOT NULL,       -- body is length-prefixed chunks
    input_tokens  INTEGER, output_tokens INTEGER, cached_tokens INTEGER,
    cache_write_tokens INTEGER, reasoning_tokens INTEGER,
    body          BLOB NOT NULL
);
CREATE INDEX entries_expires ON entries (expires_ms);
CREATE INDEX entries_cache_key ON entries (cache_key) WHERE cache_key IS NOT NULL;
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"#;

/// Bytes an entry counts beyond its body and vector: its row's keys and columns.
pub const ROW_OVERHEAD: u64 = 160;

/// An answer as stored: what a hit sends back, and what the miss that made it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    /// Who served it first (a hit is logged under them, at no cost).
    pub provider: String,
    pub model: String,
    pub local: bool,
    pub usage: Option<Usage>,
    pub body: StoredBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StoredBody {
    Whole(Bytes),
    /// The chunks the client got, in order: a hit replays them one by one.
    Stream(Vec<Bytes>),
}

impl StoredBody {
    /// The bytes it takes stored (a stream's chunks with their length prefixes).
    pub fn stored_len(&self) -> usize {
        match self {
            StoredBody::Whole(body) => body.len(),
            StoredBody::Stream(chunks) => chunks.iter().map(|c| c.len() + 4).sum(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            StoredBody::Whole(body) => body.to_vec(),
            StoredBody::Stream(chunks) => {
                let mut out = Vec::with_capacity(self.stored_len());
                for chunk in chunks {
                    out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                    out.extend_from_slice(chunk);
                }
                out
            }
        }
    }

    fn decode(stream: bool, bytes: Vec<u8>) -> Option<StoredBody> {
        if !stream {
            return Some(StoredBody::Whole(Bytes::from(bytes)));
        }
        let bytes = Bytes::from(bytes);
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
            at += 4;
            chunks.push(bytes.slice(at..at.checked_add(len).filter(|end| *end <= bytes.len())?));
            at += len;
        }
        Some(StoredBody::Stream(chunks))
    }
}

/// A new entry, on its way to the file.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub exact: u128,
    pub scope: Scope,
    /// The semantic partition and the request's embedding, when the semantic layer ran.
    pub semantic: Option<(u64, Vec<f32>)>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub answer: StoredAnswer,
}

impl NewEntry {
    pub fn bytes(&self) -> u64 {
        let vector = self.semantic.as_ref().map_or(0, |(_, v)| v.len() * 4);
        (self.answer.body.stored_len() + vector) as u64 + ROW_OVERHEAD
    }
}

/// What the in-memory index needs of a stored entry (no body).
pub struct EntryMeta {
    pub id: i64,
    pub exact: u128,
    pub semantic: Option<(u64, Vec<f32>)>,
    pub expires_ms: i64,
    pub used_ms: i64,
    pub bytes: u64,
}

pub fn open(path: &Path) -> Result<Connection, CacheError> {
    let in_memory = path.as_os_str() == ":memory:";
    let mut conn = if in_memory {
        Connection::open_in_memory()?
    } else {
        crate::usage::files::prepare(path).map_err(|err| CacheError::File(err.to_string()))?;
        Connection::open(path)?
    };
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > VERSION {
        return Err(CacheError::File(format!(
            "{} was written by a newer Switchyard (schema {current}, this build knows {VERSION})",
            path.display()
        )));
    }
    if current < 1 {
        tx.execute_batch(SCHEMA)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    tx.commit()?;
    if !in_memory {
        crate::usage::files::tighten(path).map_err(|err| CacheError::File(err.to_string()))?;
    }
    Ok(conn)
}

pub fn insert(conn: &Connection, entry: &NewEntry, bytes: u64) -> rusqlite::Result<i64> {
    let answer = &entry.answer;
    let usage = answer.usage;
    let (partition, embedding) = match &entry.semantic {
        Some((partition, vector)) => {
            (Some(*partition as i64), Some(vector.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>()))
        }
        None => (None, None),
    };
    // A request stored again (its entry had expired, or two misses raced) replaces the old row.
    conn.execute("DELETE FROM entries WHERE exact = ?1", [entry.exact.to_le_bytes()])?;
    conn.execute(
        "INSERT INTO entries (exact, cache_key, virtual_key, partition, embedding, created_ms, expires_ms, used_ms, \
         bytes, status, content_type, provider, model, local, stream, input_tokens, output_tokens, cached_tokens, \
         cache_write_tokens, reasoning_tokens, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        params![
            entry.exact.to_le_bytes(),
            entry.scope.cache_key,
            entry.scope.virtual_key,
            partition,
            embedding,
            entry.created_ms,
            entry.expires_ms,
            bytes as i64,
            answer.status,
            answer.content_type,
            answer.provider,
            answer.model,
            answer.local,
            matches!(answer.body, StoredBody::Stream(_)),
            usage.map(|u| u.input_tokens as i64),
            usage.map(|u| u.output_tokens as i64),
            usage.map(|u| u.cached_input_tokens as i64),
            usage.map(|u| u.cache_write_tokens as i64),
            usage.map(|u| u.reasoning_tokens as i64),
            answer.body.encode(),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The answer of entry `id`, if it is still there.
pub fn answer(conn: &Connection, id: i64) -> rusqlite::Result<Option<StoredAnswer>> {
    conn.query_row(
        "SELECT status, content_type, provider, model, local, stream, input_tokens, output_tokens, cached_tokens, \
         cache_write_tokens, reasoning_tokens, body FROM entries WHERE id = ?1",
        [id],
        |row| {
            let input: Option<i64> = row.get(6)?;
            let usage = input.map(|input| -> rusqlite::Result<Usage> {
                let n = |i: usize| row.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0).max(0) as u64);
                Ok(Usage {
                    input_tokens: input.max(0) as u64,
                    output_tokens: n(7)?,
                    cached_input_tokens: n(8)?,
                    cache_write_tokens: n(9)?,
                    reasoning_tokens: n(10)?,
                })
            });
            let stream: bool = row.get(5)?;
            let body: Vec<u8> = row.get(11)?;
            Ok((
                StoredAnswer {
                    status: row.get(0)?,
                    content_type: row.get(1)?,
                    provider: row.get(2)?,
                    model: row.get(3)?,
                    local: row.get(4)?,
                    usage: usage.transpose()?,
                    body: StoredBody::Whole(Bytes::new()),
                },
                stream,
                body,
            ))
        },
    )
    .optional()
    .map(|found| {
        found.and_then(|(mut answer, stream, body)| {
            answer.body = StoredBody::decode(stream, body)?;
            Some(answer)
        })
    })
}

/// Every entry's metadata, for the index at start (expired ones are deleted first).
pub fn load(conn: &Connection, now_ms: i64) -> rusqlite::Result<Vec<EntryMeta>> {
    conn.execute("DELETE FROM entries WHERE expires_ms <= ?1", [now_ms])?;
    let mut statement =
        conn.prepare("SELECT id, exact, partition, embedding, expires_ms, used_ms, bytes FROM entries")?;
    let rows = statement.query_map([], |row| {
        let exact: Vec<u8> = row.get(1)?;
        let partition: Option<i64> = row.get(2)?;
        let embedding: Option<Vec<u8>> = row.get(3)?;
        Ok((row.get(0)?, exact, partition, embedding, row.get(4)?, row.get(5)?, row.get::<_, i64>(6)?))
    })?;
    let mut metas = Vec::new();
    for row in rows {
        let (id, exact, partition, embedding, expires_ms, used_ms, bytes) = row?;
        let Ok(exact) = <[u8; 16]>::try_from(exact.as_slice()) else { continue };
        let semantic = match (partition, embedding) {
            (Some(partition), Some(bytes)) => Some((
                partition as u64,
                bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            )),
            _ => None,
        };
        metas.push(EntryMeta {
            id,
            exact: u128::from_le_bytes(exact),
            semantic,
            expires_ms,
            used_ms,
            bytes: bytes.max(0) as u64,
        });
    }
    Ok(metas)
}

pub fn delete(conn: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut statement = tx.prepare_cached("DELETE FROM entries WHERE id = ?1")?;
        for id in ids {
            statement.execute([id])?;
        }
    }
    tx.commit()
}

pub fn touch(conn: &Connection, touched: &[(i64, i64)]) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut statement = tx.prepare_cached("UPDATE entries SET used_ms = MAX(used_ms, ?2) WHERE id = ?1")?;
        for (id, used_ms) in touched {
            statement.execute([id, used_ms])?;
        }
    }
    tx.commit()
}

/// The ids of the entries stored under a cache key.
pub fn ids_with_cache_key(conn: &Connection, cache_key: &str) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare("SELECT id FROM entries WHERE cache_key = ?1")?;
    statement.query_map([cache_key], |row| row.get(0))?.collect()
}

pub fn setting(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |row| row.get(0)).optional()
}

pub fn put_setting(conn: &Connection, name: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [name, value],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_bodies_round_trip() {
        let body = StoredBody::Stream(vec![Bytes::from_static(b"data: 1\n\n"), Bytes::new(), Bytes::from_static(b"x")]);
        assert_eq!(StoredBody::decode(true, body.encode()), Some(body));
        // A cut record is refused, not read past its end.
        let mut cut = StoredBody::Stream(vec![Bytes::from_static(b"abcdef")]).encode();
        cut.truncate(7);
        assert_eq!(StoredBody::decode(true, cut), None);
    }
}
