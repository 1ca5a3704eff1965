//! Reading the usage log for the API: time series and today's summary from the rollup tables
//! (`rollup`), the request log with filters and cursor paging from the rows. Every query is
//! bounded by a time range or a row limit and served by a key or an index (`schema`). Blocking:
//! callers run these off the async runtime.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};
use serde::Serialize;

use super::cache::CacheFilter;
use super::rollup::{self, Grain, RollupRow, Totals};
use super::rows::{COLUMN_COUNT, COLUMNS, entry};
use super::{LogEntry, TrailAttempt, parse_trail};

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
        self.grain().millis()
    }

    /// The coarsest rollup a series of these buckets can be read from.
    fn grain(self) -> Grain {
        match self {
            Bucket::Minute => Grain::Minute,
            Bucket::Hour => Grain::Hour,
            Bucket::Day => Grain::Day,
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
    VirtualKey,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "model" => Some(GroupBy::Model),
            "provider" => Some(GroupBy::Provider),
            "client" => Some(GroupBy::Client),
            "class" => Some(GroupBy::Class),
            "locality" => Some(GroupBy::Locality),
            "virtual_key" => Some(GroupBy::VirtualKey),
            _ => None,
        }
    }

    /// The group a rollup row belongs to (`None`: the dimension was not set).
    fn of(self, row: &RollupRow) -> Option<String> {
        match self {
            GroupBy::Model => row.model.clone(),
            GroupBy::Provider => row.provider.clone(),
            GroupBy::Client => row.client.clone(),
            GroupBy::Class => row.task_class.clone(),
            GroupBy::Locality => Some(if row.local { "local" } else { "cloud" }.to_owned()),
            GroupBy::VirtualKey => row.virtual_key.clone(),
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
    /// Of the requests served locally: what they would have cost on their class's cloud model.
    pub saved_usd: f64,
    /// Requests the response cache answered (exact or semantic) and looked up in vain.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// What the cache's hits would have cost had they gone upstream.
    pub cache_saved_usd: f64,
    pub p50_latency_ms: f64,
    pub p95_latency_ms: f64,
}

/// Requests in `[from, to)` (whole minutes) per bucket, optionally per group, from the rollup
/// tables. Sums are exact; p50 and p95 come from merged histograms (within ±4.5%).
pub fn series(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
    group_by: Option<GroupBy>,
) -> rusqlite::Result<Vec<Point>> {
    let size = bucket.millis();
    let mut acc: BTreeMap<(i64, Option<String>), Totals> = BTreeMap::new();
    let mut add = |row: RollupRow| {
        let group = group_by.and_then(|g| g.of(&row));
        row.add_to(acc.entry((row.start_ms.div_euclid(size) * size, group)).or_default());
    };
    rollup::visit(conn, from_ms, to_ms, bucket.grain(), &mut add)?;
    visit_cache(conn, from_ms, to_ms, size, &mut add)?;
    Ok(acc
        .into_iter()
        .map(|((ts_ms, group), totals)| Point {
            ts_ms,
            group,
            requests: totals.requests,
            errors: totals.errors,
            input_tokens: totals.input_tokens,
            output_tokens: totals.output_tokens,
            cached_tokens: totals.cached_tokens,
            reasoning_tokens: totals.reasoning_tokens,
            cost_usd: totals.cost_usd,
            saved_usd: totals.saved_usd,
            cache_hits: totals.cache_hits,
            cache_misses: totals.cache_misses,
            cache_saved_usd: totals.cache_saved_usd,
            p50_latency_ms: totals.latency.percentile(0.50),
            p95_latency_ms: totals.latency.percentile(0.95),
        })
        .collect())
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
    pub saved_usd: f64,
    /// Requests the response cache answered (exact or semantic) and looked up in vain.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// What the cache's hits would have cost had they gone upstream.
    pub cache_saved_usd: f64,
    /// Requests served by a local provider.
    pub local_requests: u64,
    pub top_client: Option<String>,
    pub top_model: Option<String>,
}

pub fn summary(conn: &Connection, since_ms: i64) -> rusqlite::Result<Summary> {
    let mut totals = Totals::default();
    let mut local_requests = 0;
    let mut by_client: HashMap<String, u64> = HashMap::new();
    let mut by_model: HashMap<String, u64> = HashMap::new();
    // Up to the end of time: rows stamped a little ahead of this clock count too.
    rollup::visit(conn, since_ms, i64::MAX / 4, Grain::Day, &mut |row| {
        totals.merge(&row.totals);
        if row.local {
            local_requests += row.totals.requests;
        }
        if let Some(client) = row.client {
            *by_client.entry(client).or_default() += row.totals.requests;
        }
        if let Some(model) = row.model {
            *by_model.entry(model).or_default() += row.totals.requests;
        }
    })?;
    visit_cache(conn, since_ms, i64::MAX / 4, Grain::Day.millis(), &mut |row| totals.merge(&row.totals))?;
    Ok(Summary {
        since_ms,
        requests: totals.requests,
        errors: totals.errors,
        input_tokens: totals.input_tokens,
        output_tokens: totals.output_tokens,
        cached_tokens: totals.cached_tokens,
        cost_usd: totals.cost_usd,
        saved_usd: totals.saved_usd,
        cache_hits: totals.cache_hits,
        cache_misses: totals.cache_misses,
        cache_saved_usd: totals.cache_saved_usd,
        local_requests,
        top_client: top(by_client),
        top_model: top(by_model),
    })
}

/// The name with the most requests; ties go to the first name in order.
fn top(counts: HashMap<String, u64>) -> Option<String> {
    counts.into_iter().max_by(|(a, x), (b, y)| x.cmp(y).then_with(|| b.cmp(a))).map(|(name, _)| name)
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
    /// What the response cache did (`?cache=hit|exact|semantic|miss`).
    pub cache: Option<CacheFilter>,
    pub since_ms: Option<i64>,
    /// Rows with an id below this (the previous page's `next_cursor`).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// Newest first.
pub fn logs(conn: &Connection, filter: &LogFilter) -> rusqlite::Result<Vec<LogEntry>> {
    let (sql, values) = logs_query(filter);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), entry)?;
    rows.collect()
}

/// The log list's SQL and its parameters.
fn logs_query(filter: &LogFilter) -> (String, Vec<SqlValue>) {
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
        if status >= 400 {
            // Lets SQLite use the partial index of errors (it does not infer this from `= ?`).
            clauses.push("status >= 400");
        }
    }
    if let Some(cache) = filter.cache {
        clauses.push(cache.clause());
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
    (format!("SELECT {COLUMNS} FROM requests {filter_sql} ORDER BY id DESC LIMIT ?"), values)
}

pub fn log(conn: &Connection, id: i64) -> rusqlite::Result<Option<LogEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    rows.next()?.map(entry).transpose()
}

/// Which row `GET /api/logs/{id}` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogKey {
    /// The row id.
    Id(i64),
    /// A request id (`x-request-id`); when a client reused one, its newest row.
    RequestId(String),
}

/// One row with its attempts (`requests.trail`).
pub fn log_detail(conn: &Connection, key: &LogKey) -> rusqlite::Result<Option<(LogEntry, Vec<TrailAttempt>)>> {
    let detail = |row: &Row<'_>| -> rusqlite::Result<(LogEntry, Vec<TrailAttempt>)> {
        let stored: Option<String> = row.get(COLUMN_COUNT)?;
        let entry = entry(row)?;
        let mut trail = parse_trail(stored.as_deref());
        if trail.is_empty() {
            // Not stored: a lone keyless attempt that served, rebuilt from its row.
            trail.extend(TrailAttempt::from_row(&entry));
        }
        Ok((entry, trail))
    };
    match key {
        LogKey::Id(id) => {
            let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS}, trail FROM requests WHERE id = ?1"))?;
            let mut rows = stmt.query([id])?;
            rows.next()?.map(detail).transpose()
        }
        LogKey::RequestId(request_id) => {
            // No index on `request_id` (schema version 4 says why): newest rows first, so a
            // recent request is found after a few pages.
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS}, trail FROM requests WHERE request_id = ?1 ORDER BY id DESC LIMIT 1"
            ))?;
            let mut rows = stmt.query([request_id])?;
            rows.next()?.map(detail).transpose()
        }
    }
}

/// A row's stored bodies, as text (lossy where they are not UTF-8), and whether one was cut.
pub fn bodies(conn: &Connection, id: i64) -> rusqlite::Result<Option<(String, String, bool)>> {
    let mut stmt = conn.prepare_cached("SELECT request, response, truncated FROM bodies WHERE request_id = ?1")?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let text = |index: usize| -> rusqlite::Result<String> {
        Ok(String::from_utf8_lossy(row.get_ref(index)?.as_blob()?).into_owned())
    };
    Ok(Some((text(0)?, text(1)?, row.get(2)?)))
}

/// The cache's sums per `bucket_ms` and dimension over `[from_ms, to_ms)`, from the rows the cache
/// saw (the rollups do not carry them: schema version 6 says why), as rollup rows whose only
/// non-zero sums are the cache's.
fn visit_cache(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    visit: &mut dyn FnMut(RollupRow),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT (ts_ms / ?3) * ?3, IFNULL(model, ''), IFNULL(provider, ''), IFNULL(client, ''), \
         IFNULL(task_class, ''), local, IFNULL(virtual_key, ''), SUM(cache_hit > 0), SUM(cache_hit = 0), \
         TOTAL(cache_saved_usd) FROM requests INDEXED BY requests_cache \
         WHERE cache_hit IS NOT NULL AND ts_ms >= ?1 AND ts_ms < ?2 GROUP BY 1, 2, 3, 4, 5, 6, 7",
    )?;
    let mut rows = stmt.query([from_ms, to_ms, bucket_ms.max(1)])?;
    while let Some(row) = rows.next()? {
        let totals = Totals {
            cache_hits: rollup::count(row, 7)?,
            cache_misses: rollup::count(row, 8)?,
            cache_saved_usd: row.get(9)?,
            ..Totals::default()
        };
        visit(RollupRow::read(row, 6, totals, Vec::new())?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How SQLite plans the log list for `filter` on the current schema.
    fn plan(filter: &LogFilter) -> String {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::usage::schema::migrate(&mut conn).unwrap();
        let (sql, values) = logs_query(filter);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    }

    fn filter() -> LogFilter {
        LogFilter { limit: 50, ..LogFilter::default() }
    }

    #[test]
    fn the_log_list_walks_an_index_newest_first_without_sorting() {
        let by_model = plan(&LogFilter { model: Some("m".into()), ..filter() });
        assert!(by_model.contains("USING INDEX requests_model"), "{by_model}");
        let by_client = plan(&LogFilter { client: Some("c".into()), before_id: Some(9), ..filter() });
        assert!(by_client.contains("USING INDEX requests_client"), "{by_client}");
        let errors = plan(&LogFilter { status: Some(500), ..filter() });
        assert!(errors.contains("USING INDEX requests_errors"), "{errors}");
        let hits = plan(&LogFilter { cache: Some(CacheFilter::Hit), ..filter() });
        for plan in [
            by_model,
            by_client,
            errors,
            hits,
            plan(&filter()),
            plan(&LogFilter { provider: Some("p".into()), ..filter() }),
        ] {
            assert!(!plan.contains("TEMP B-TREE"), "the list is sorted instead of read in order: {plan}");
        }
    }
}
