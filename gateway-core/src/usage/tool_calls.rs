//! MCP tool calls in the usage log: one row per call in `mcp_calls` (schema version 7), written
//! by the same writer thread as the request rows, pruned with them, and read back by the admin
//! API (`/api/mcp/calls`, `/api/mcp/stats`). Arguments and results are kept only with
//! `usage.store_bodies`, cut at `usage.max_stored_body_bytes`.

use rusqlite::{Connection, params};
use serde::Serialize;

pub use crate::observe::ToolCallStatus;

/// One call, as logged.
#[derive(Clone, Debug, Serialize)]
pub struct ToolCallEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub ts_ms: i64,
    pub server: String,
    /// The tool's own name (as its server knows it).
    pub tool: String,
    /// The calling tool (Claude Code, Codex, …), attributed as model requests are.
    pub client: Option<String>,
    pub virtual_key: Option<String>,
    /// `mcp` (through `/mcp`), `execute` (`/v1/mcp/tool/execute`) or `agent` (agent mode).
    pub origin: &'static str,
    pub status: ToolCallStatus,
    pub duration_ms: f64,
    pub error: Option<String>,
    pub arguments: Option<String>,
    pub result: Option<String>,
}

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE mcp_calls (
    id           INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    server       TEXT NOT NULL,
    tool         TEXT NOT NULL,
    client       TEXT,
    virtual_key  TEXT,
    origin       TEXT NOT NULL,
    status       TEXT NOT NULL,
    duration_ms  REAL NOT NULL,
    error        TEXT,
    arguments    TEXT,
    result       TEXT
);
CREATE INDEX mcp_calls_ts ON mcp_calls (ts_ms);
"#;

pub(crate) fn insert(conn: &mut Connection, batch: &[ToolCallEntry]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut statement = tx.prepare_cached(
            "INSERT INTO mcp_calls (ts_ms, server, tool, client, virtual_key, origin, status, duration_ms, error, arguments, result) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for call in batch {
            statement.execute(params![
                call.ts_ms,
                call.server,
                call.tool,
                call.client,
                call.virtual_key,
                call.origin,
                call.status.as_str(),
                call.duration_ms,
                call.error,
                call.arguments,
                call.result,
            ])?;
        }
    }
    tx.commit()
}

pub(crate) fn prune(conn: &Connection, cutoff_ms: i64) -> Result<usize, rusqlite::Error> {
    conn.execute("DELETE FROM mcp_calls WHERE ts_ms < ?1", [cutoff_ms])
}

/// Which calls to read.
#[derive(Clone, Debug, Default)]
pub struct ToolCallFilter {
    pub server: Option<String>,
    pub tool: Option<String>,
    pub status: Option<String>,
    pub client: Option<String>,
    pub since_ms: Option<i64>,
    /// Only calls with an id above this (the live log's next page).
    pub after_id: Option<i64>,
    pub limit: usize,
}

fn status_of(text: &str) -> ToolCallStatus {
    ToolCallStatus::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(ToolCallStatus::Error)
}

/// The newest calls first.
pub fn recent(conn: &Connection, filter: &ToolCallFilter) -> Result<Vec<ToolCallEntry>, rusqlite::Error> {
    let mut statement = conn.prepare_cached(
        "SELECT id, ts_ms, server, tool, client, virtual_key, origin, status, duration_ms, error, arguments, result \
         FROM mcp_calls \
         WHERE (?1 IS NULL OR server = ?1) AND (?2 IS NULL OR tool = ?2) AND (?3 IS NULL OR status = ?3) \
           AND (?4 IS NULL OR client = ?4) AND (?5 IS NULL OR ts_ms >= ?5) AND (?6 IS NULL OR id > ?6) \
         ORDER BY id DESC LIMIT ?7",
    )?;
    let rows = statement.query_map(
        params![
            filter.server,
            filter.tool,
            filter.status,
            filter.client,
            filter.since_ms,
            filter.after_id,
            filter.limit.clamp(1, 1000) as i64
        ],
        |row| {
            let origin: String = row.get(6)?;
            let status: String = row.get(7)?;
            Ok(ToolCallEntry {
                id: Some(row.get(0)?),
                ts_ms: row.get(1)?,
                server: row.get(2)?,
                tool: row.get(3)?,
                client: row.get(4)?,
                virtual_key: row.get(5)?,
                origin: match origin.as_str() {
                    "execute" => "execute",
                    "agent" => "agent",
                    _ => "mcp",
                },
                status: status_of(&status),
                duration_ms: row.get(8)?,
                error: row.get(9)?,
                arguments: row.get(10)?,
                result: row.get(11)?,
            })
        },
    )?;
    rows.collect()
}

/// Calls per server and tool since a time: count, by status, and latency.
#[derive(Clone, Debug, Serialize)]
pub struct ToolCallSummary {
    pub server: String,
    pub tool: String,
    pub calls: u64,
    pub errors: u64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub last_ms: i64,
}

pub fn summary(conn: &Connection, since_ms: i64) -> Result<Vec<ToolCallSummary>, rusqlite::Error> {
    let mut statement = conn.prepare_cached(
        "SELECT server, tool, COUNT(*), SUM(status <> 'ok'), AVG(duration_ms), MAX(duration_ms), MAX(ts_ms) \
         FROM mcp_calls WHERE ts_ms >= ?1 GROUP BY server, tool ORDER BY COUNT(*) DESC",
    )?;
    let rows = statement.query_map([since_ms], |row| {
        Ok(ToolCallSummary {
            server: row.get(0)?,
            tool: row.get(1)?,
            calls: row.get::<_, i64>(2)?.max(0) as u64,
            errors: row.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
            avg_ms: row.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
            max_ms: row.get::<_, Option<f64>>(5)?.unwrap_or(0.0),
            last_ms: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// Calls per time bucket (for the dashboard's chart): `(bucket start ms, calls, errors)`.
pub fn series(conn: &Connection, since_ms: i64, bucket_ms: i64) -> Result<Vec<(i64, u64, u64)>, rusqlite::Error> {
    let bucket = bucket_ms.max(1000);
    let mut statement = conn.prepare_cached(
        "SELECT (ts_ms / ?2) * ?2 AS bucket, COUNT(*), SUM(status <> 'ok') FROM mcp_calls \
         WHERE ts_ms >= ?1 GROUP BY bucket ORDER BY bucket",
    )?;
    let rows = statement.query_map(params![since_ms, bucket], |row| {
        Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u64, row.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(server: &str, tool: &str, status: ToolCallStatus, ts_ms: i64) -> ToolCallEntry {
        ToolCallEntry {
            id: None,
            ts_ms,
            server: server.into(),
            tool: tool.into(),
            client: Some("claude-code".into()),
            virtual_key: None,
            origin: "mcp",
            status,
            duration_ms: 2.5,
            error: (status != ToolCallStatus::Ok).then(|| "boom".into()),
            arguments: None,
            result: None,
        }
    }

    #[test]
    fn calls_are_written_read_summed_and_pruned() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        insert(
            &mut conn,
            &[
                entry("fs", "read_file", ToolCallStatus::Ok, 1_000),
                entry("fs", "read_file", ToolCallStatus::Timeout, 2_000),
                entry("web", "fetch", ToolCallStatus::Ok, 3_000),
            ],
        )
        .unwrap();
        let all = recent(&conn, &ToolCallFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].server, "web", "newest first");
        let timeouts =
            recent(&conn, &ToolCallFilter { status: Some("timeout".into()), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(timeouts.len(), 1);
        assert_eq!(timeouts[0].status, ToolCallStatus::Timeout);
        let after = recent(&conn, &ToolCallFilter { after_id: all[1].id, limit: 10, ..Default::default() }).unwrap();
        assert_eq!(after.len(), 1);
        let sums = summary(&conn, 0).unwrap();
        assert_eq!((sums[0].server.as_str(), sums[0].calls, sums[0].errors), ("fs", 2, 1));
        let buckets = series(&conn, 0, 2_000).unwrap();
        assert_eq!(buckets, vec![(0, 1, 0), (2_000, 2, 1)]);
        assert_eq!(prune(&conn, 2_500).unwrap(), 2);
    }
}
