//! Reading the usage log for the API: time series, today's summary, the request log with
//! filters and cursor paging. Every query is bounded by a time range or a row limit and served
//! by an index (`schema`). Blocking: callers run these off the async runtime.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};
use serde::Serialize;

use super::LogEntry;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Minute,
    Hour,
    Day,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        match text {
            "minute" => Some(Bucket::Minute),
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Bucket::Minute => 60_000,
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    Provider,
    Client,
    Class,
    Locality,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "model" => Some(GroupBy::Model),
            "provider" => Some(GroupBy::Provider),
            "client" => Some(GroupBy::Client),
            "class" => Some(GroupBy::Class),
            "locality" => Some(GroupBy::Locality),
            _ => None,
        }
    }

    /// The SQL expression for the group (from a fixed list: never the caller's text).
    fn column(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Provider => "provider",
            GroupBy::Client => "client",
            GroupBy::Class => "task_class",
            GroupBy::Locality => "CASE WHEN local THEN 'local' ELSE 'cloud' END",
        }
    }
}

/// One bucket (and group) of the time series.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Point {
    /// Start of the bucket, Unix milliseconds (UTC).
    pub ts_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub p50_latency_ms: f64,
    pub p95_latency_ms: f64,
}

/// Requests in `[from, to)` per bucket, optionally per group.
pub fn series(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
    group_by: Option<GroupBy>,
) -> rusqlite::Result<Vec<Point>> {
    let group = group_by.map_or("NULL", GroupBy::column);
    let sql = format!(
        "SELECT (ts_ms / ?3) * ?3, {group}, outcome != 'success', IFNULL(input_tokens, 0), IFNULL(output_tokens, 0), \
         IFNULL(cached_tokens, 0), IFNULL(reasoning_tokens, 0), IFNULL(cost_usd, 0), latency_ms \
         FROM requests WHERE ts_ms >= ?1 AND ts_ms < ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params![from_ms, to_ms, bucket.millis()])?;
    let mut acc: BTreeMap<(i64, Option<String>), (Point, Vec<f64>)> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key: (i64, Option<String>) = (row.get(0)?, row.get(1)?);
        let (point, latencies) = acc
            .entry(key.clone())
            .or_insert_with(|| (Point { ts_ms: key.0, group: key.1.clone(), ..Point::default() }, Vec::new()));
        point.requests += 1;
        point.errors += u64::from(row.get::<_, bool>(2)?);
        point.input_tokens += count(row, 3)?;
        point.output_tokens += count(row, 4)?;
        point.cached_tokens += count(row, 5)?;
        point.reasoning_tokens += count(row, 6)?;
        point.cost_usd += row.get::<_, f64>(7)?;
        latencies.push(row.get(8)?);
    }
    Ok(acc
        .into_values()
        .map(|(mut point, mut latencies)| {
            latencies.sort_by(f64::total_cmp);
            point.p50_latency_ms = percentile(&latencies, 0.50);
            point.p95_latency_ms = percentile(&latencies, 0.95);
            point
        })
        .collect())
}

/// A non-negative integer column (SQLite stores `i64`).
fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(index)?.max(0) as u64)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Totals since a moment (the start of today for the tray).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Summary {
    pub since_ms: i64,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub top_client: Option<String>,
    pub top_model: Option<String>,
}

pub fn summary(conn: &Connection, since_ms: i64) -> rusqlite::Result<Summary> {
    let mut summary = conn.query_row(
        "SELECT COUNT(*), IFNULL(SUM(outcome != 'success'), 0), IFNULL(SUM(input_tokens), 0), \
         IFNULL(SUM(output_tokens), 0), IFNULL(SUM(cached_tokens), 0), IFNULL(SUM(cost_usd), 0) \
         FROM requests WHERE ts_ms >= ?1",
        [since_ms],
        |row| {
            Ok(Summary {
                since_ms,
                requests: count(row, 0)?,
                errors: count(row, 1)?,
                input_tokens: count(row, 2)?,
                output_tokens: count(row, 3)?,
                cached_tokens: count(row, 4)?,
                cost_usd: row.get(5)?,
                top_client: None,
                top_model: None,
            })
        },
    )?;
    let top = |column: &str| -> rusqlite::Result<Option<String>> {
        let sql = format!(
            "SELECT {column} FROM requests WHERE ts_ms >= ?1 AND {column} IS NOT NULL \
             GROUP BY {column} ORDER BY COUNT(*) DESC, {column} LIMIT 1"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([since_ms])?;
        rows.next()?.map(|row| row.get(0)).transpose()
    };
    summary.top_client = top("client")?;
    summary.top_model = top("model")?;
    Ok(summary)
}

/// Filters for the request log.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub client: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// The task class the request named (`coding`, ...).
    pub task_class: Option<String>,
    pub status: Option<u16>,
    pub since_ms: Option<i64>,
    /// Rows with an id below this (the previous page's `next_cursor`).
    pub before_id: Option<i64>,
    pub limit: usize,
}

const COLUMNS: &str = "id, ts_ms, client, virtual_key, task_class, family, endpoint, requested_model, provider, \
     model, local, attempts, status, outcome, error_type, latency_ms, ttft_ms, input_tokens, output_tokens, \
     cached_tokens, reasoning_tokens, cost_usd, stream, cache_hit, session_id, user_agent";

fn entry(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
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
        cache_hit: row.get(23)?,
        session_id: row.get(24)?,
        user_agent: row.get(25)?,
    })
}

/// Newest first.
pub fn logs(conn: &Connection, filter: &LogFilter) -> rusqlite::Result<Vec<LogEntry>> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut text = |clause: &'static str, value: &Option<String>, clauses: &mut Vec<&str>| {
        if let Some(value) = value {
            clauses.push(clause);
            values.push(SqlValue::Text(value.clone()));
        }
    };
    text("client = ?", &filter.client, &mut clauses);
    text("model = ?", &filter.model, &mut clauses);
    text("provider = ?", &filter.provider, &mut clauses);
    text("task_class = ?", &filter.task_class, &mut clauses);
    if let Some(status) = filter.status {
        clauses.push("status = ?");
        values.push(SqlValue::Integer(i64::from(status)));
    }
    if let Some(since) = filter.since_ms {
        clauses.push("ts_ms >= ?");
        values.push(SqlValue::Integer(since));
    }
    if let Some(before) = filter.before_id {
        clauses.push("id < ?");
        values.push(SqlValue::Integer(before));
    }
    let filter_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    values.push(SqlValue::Integer(filter.limit as i64));
    let sql = format!("SELECT {COLUMNS} FROM requests {filter_sql} ORDER BY id DESC LIMIT ?");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), entry)?;
    rows.collect()
}

pub fn log(conn: &Connection, id: i64) -> rusqlite::Result<Option<LogEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    rows.next()?.map(entry).transpose()
}
