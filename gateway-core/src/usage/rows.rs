//! Reading `requests` rows back into log entries: shared by the log queries (`query`) and the
//! rollups, which sum rows again at the retention's edge (`rollup::prune`).

use rusqlite::{Connection, Row};

use super::LogEntry;

/// The columns [`entry`] reads, in its order.
pub(super) const COLUMNS: &str = "id, ts_ms, client, virtual_key, task_class, family, endpoint, requested_model, provider, \
     model, local, attempts, status, outcome, error_type, latency_ms, ttft_ms, input_tokens, output_tokens, \
     cached_tokens, reasoning_tokens, cost_usd, stream, cache_hit, session_id, user_agent, saved_usd, cache_write_tokens, \
     EXISTS (SELECT 1 FROM bodies WHERE request_id = requests.id), request_id, error_message, cache_similarity, \
     cache_saved_usd";

/// How many columns [`COLUMNS`] names: a query that selects more after them reads them from here on.
pub(super) const COLUMN_COUNT: usize = 33;

/// A `requests` row selected with [`COLUMNS`], as a log entry.
pub(super) fn entry(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    Ok(LogEntry {
        id: row.get(0)?,
        ts_ms: row.get(1)?,
        client: row.get(2)?,
        virtual_key: row.get(3)?,
        task_class: row.get(4)?,
        family: row.get(5)?,
        endpoint: row.get(6)?,
        requested_model: row.get(7)?,
        provider: row.get(8)?,
        model: row.get(9)?,
        local: row.get(10)?,
        attempts: row.get(11)?,
        status: row.get(12)?,
        outcome: row.get(13)?,
        error_type: row.get(14)?,
        latency_ms: row.get(15)?,
        ttft_ms: row.get(16)?,
        input_tokens: row.get::<_, Option<i64>>(17)?.map(|v| v.max(0) as u64),
        output_tokens: row.get::<_, Option<i64>>(18)?.map(|v| v.max(0) as u64),
        cached_tokens: row.get::<_, Option<i64>>(19)?.map(|v| v.max(0) as u64),
        reasoning_tokens: row.get::<_, Option<i64>>(20)?.map(|v| v.max(0) as u64),
        cost_usd: row.get(21)?,
        stream: row.get(22)?,
        cache: super::cache::outcome(row.get(23)?),
        session_id: row.get(24)?,
        user_agent: row.get(25)?,
        saved_usd: row.get(26)?,
        cache_write_tokens: row.get::<_, Option<i64>>(27)?.map(|v| v.max(0) as u64),
        bodies: None,
        bodies_stored: row.get(28)?,
        request_id: row.get::<_, Option<String>>(29)?.map(std::sync::Arc::from),
        error_message: row.get(30)?,
        trail: Vec::new(),
        cache_similarity: row.get(31)?,
        cache_saved_usd: row.get(32)?,
    })
}

/// Every row with `from <= ts_ms < to` (re-summing a rollup bucket at the retention's edge).
pub(super) fn rows_between(conn: &Connection, from_ms: i64, to_ms: i64) -> rusqlite::Result<Vec<LogEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2"))?;
    let rows = stmt.query_map([from_ms, to_ms], entry)?;
    rows.collect()
}
