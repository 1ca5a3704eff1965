//! The usage log's tables. Migrations run in one transaction at open; `PRAGMA user_version` holds
//! the schema version. The request rows have indexes for the log's commonest filters (version 3
//! says which and why); the usage API's series and summaries read the rollup tables (`rollup`).
//! Version 4 added each request's id, final error message and attempt trail; version 5 the
//! virtual key to the rollups; version 6 the response cache's outcome, similarity and savings;
//! version 7 the MCP tool calls.

use rusqlite::{Connection, Transaction};

use super::{UsageError, rollup};

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
    id               INTEGER PRIMARY KEY,
    ts_ms            INTEGER NOT NULL,   -- start of the request, Unix milliseconds
    client           TEXT,               -- the calling tool
    virtual_key      TEXT,               -- wave 2: governance
    task_class       TEXT,               -- set by routing
    family           TEXT NOT NULL,      -- openai | anthropic | gemini | admin
    endpoint         TEXT NOT NULL,
    requested_model  TEXT,
    provider         TEXT,
    model            TEXT,               -- the upstream model that served it
    local            INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    status           INTEGER NOT NULL,
    outcome          TEXT NOT NULL,      -- success | error | stream_error | client_gone
    error_type       TEXT,
    latency_ms       REAL NOT NULL,
    ttft_ms          REAL,
    input_tokens     INTEGER,
    output_tokens    INTEGER,
    cached_tokens    INTEGER,
    reasoning_tokens INTEGER,
    cost_usd         REAL,
    stream           INTEGER NOT NULL,
    cache_hit        INTEGER,            -- wave 2: the gateway's response cache
    session_id       TEXT,
    user_agent       TEXT
);
CREATE INDEX requests_ts ON requests (ts_ms);
CREATE INDEX requests_model ON requests (model, ts_ms);
CREATE INDEX requests_provider ON requests (provider, ts_ms);
CREATE INDEX requests_client ON requests (client, ts_ms);
CREATE INDEX requests_class ON requests (task_class, ts_ms);
CREATE INDEX requests_status ON requests (status, ts_ms);
"#,
    // Version 2: what running locally saved, tokens written to prompt caches, and the rollup tables, filled from the existing rows
    // right after (`migrate`).
    concat!(
        "ALTER TABLE requests ADD COLUMN saved_usd REAL;\n",
        "ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER;\n",
        // Bodies, only with `usage.store_bodies`; deleted with their rows.
        "CREATE TABLE bodies (request_id INTEGER PRIMARY KEY, request BLOB NOT NULL, response BLOB NOT NULL, \
         truncated INTEGER NOT NULL);\n",
        crate::rollup_tables!()
    ),
    // Version 3: fewer, better indexes. Every index costs each logged request a B-tree insert
    // (~3.7k instructions, a page in the WAL): a sixth of a passthrough request's CPU went to
    // the six. The series read the rollups; the log's list is `ORDER BY id DESC LIMIT n` with
    // filters, which a single-column index serves without a sort (SQLite appends the rowid to
    // every index key): `(model)` takes 0.1 ms for the newest 50 rows of one model among a
    // million, where `(model, ts_ms)` sorted every row of that model (150 ms). Errors have a
    // partial index, so successful requests pay nothing for it. Filters by provider, class or
    // a success status walk the rows newest first (the matches are common: 0.2 ms; a value
    // with no rows reads them all, ~130 ms for a million).
    r#"
DROP INDEX requests_model;
DROP INDEX requests_provider;
DROP INDEX requests_client;
DROP INDEX requests_class;
DROP INDEX requests_status;
CREATE INDEX requests_model ON requests (model);
CREATE INDEX requests_client ON requests (client);
CREATE INDEX requests_errors ON requests (status) WHERE status >= 400;
"#,
    // Version 4: what happened on the way, for the log's detail. `request_id` is the client's
    // `x-request-id` or the gateway's (answered in the same header), `error_message` the final
    // error's message as the client got it, `trail` every upstream attempt in order as a JSON
    // array (`usage::TrailAttempt`). The trail is NULL when the request never reached an
    // attempt, and when its lone attempt served it with no key (a local server's every request):
    // the row's provider, model and status say all of it, and the API rebuilds it from them.
    // Writing that JSON cost each such request ~2 % of its instructions (callgrind, paced),
    // though the writer serializes on its own thread. No index: looking a row up by request id is rare (someone pasting an id
    // from a client's log) and reads the rows newest first, which finds a recent request at
    // once; an index would cost every logged request a B-tree insert (version 3).
    r#"
ALTER TABLE requests ADD COLUMN request_id TEXT;
ALTER TABLE requests ADD COLUMN error_message TEXT;
ALTER TABLE requests ADD COLUMN trail TEXT;
"#,
    // Version 5: the virtual key as a rollup dimension (`/api/usage?group_by=virtual_key`). The
    // rollups are rebuilt table by table with the key in their primary key; rows from before
    // had no key. The request rows had the column from the start.
    concat!(
        crate::rollup_table_with_key!("usage_minute"),
        crate::rollup_table_with_key!("usage_hour"),
        crate::rollup_table_with_key!("usage_day")
    ),
    // Version 6: the response cache (`usage::cache`). `cache_hit`, there from the start, gets its
    // values (1 exact hit, 2 semantic hit, 0 miss, NULL not consulted); a semantic hit's
    // similarity and what a hit saved (its answer's first cost) are new. A request the cache did
    // not see binds NULL to all three. The rollups do not count the cache: three more columns
    // rewritten in each of the three upserts per row cost every request ~4k instructions on the
    // writer (callgrind), cache on or off. The cache's sums are read from the rows the cache
    // saw instead, through a partial index that the others never touch.
    concat!(
        "ALTER TABLE requests ADD COLUMN cache_similarity REAL;\n",
        "ALTER TABLE requests ADD COLUMN cache_saved_usd REAL;\n",
        "CREATE INDEX requests_cache ON requests (cache_hit) WHERE cache_hit IS NOT NULL;\n"
    ),
    // Version 7: MCP tool calls, one row each (`usage::tool_calls`).
    super::tool_calls::SCHEMA,
];

/// The version that added the rollup tables.
const ROLLUPS: i64 = 2;

pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Connection settings for every connection: WAL, `synchronous=NORMAL`, a busy timeout.
pub fn configure(conn: &Connection) -> Result<(), UsageError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // `journal_mode` answers with a row; in-memory databases stay in `memory` mode.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(())
}

/// Brings the schema up to date, all steps in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), UsageError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > VERSION {
        return Err(UsageError::NewerSchema { found: current, supported: VERSION });
    }
    for step in &MIGRATIONS[current as usize..] {
        tx.execute_batch(step)?;
    }
    if current > 0 && current < ROLLUPS {
        // A log from before the rollups: sum what it holds (once; seconds for a million rows).
        rollup::rebuild(&tx)?;
    }
    set_version(&tx)?;
    tx.commit()?;
    Ok(())
}

fn set_version(tx: &Transaction<'_>) -> Result<(), UsageError> {
    tx.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// Writes a log as a build at schema `version` would have: its migrations, its version, and
    /// the given rows.
    fn at_version(conn: &mut Connection, version: usize, rows: &[&str]) {
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..version] {
            tx.execute_batch(step).unwrap();
        }
        tx.execute_batch(&format!("PRAGMA user_version = {version}")).unwrap();
        for row in rows {
            tx.execute(row, []).unwrap();
        }
        tx.commit().unwrap();
    }

    use super::*;
    use crate::error::ErrorKind;
    use crate::observe::{AttemptError, AttemptRecord, CacheOutcome};
    use crate::usage::{LogEntry, query, writer};

    #[test]
    fn migrates_once_and_refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, VERSION);
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        assert!(matches!(migrate(&mut conn), Err(UsageError::NewerSchema { found: 99, .. })));
    }

    /// A log written by a version 4 build: its rollups keep their sums (under no key), and new
    /// rows are summed per virtual key.
    #[test]
    fn a_version_4_log_gains_the_virtual_key_in_its_rollups() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        {
            at_version(
                &mut conn,
                4,
                &["INSERT INTO usage_hour (start_ms, model, provider, client, task_class, local, requests, errors, \
                 input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist) \
                 VALUES (3600000, 'm', 'p', '', '', 0, 7, 1, 70, 7, 0, 0, 0.5, 0, x'')"],
            );
        }
        migrate(&mut conn).unwrap();
        let entry = |ts_ms, key: Option<&str>| LogEntry {
            ts_ms,
            family: "openai".into(),
            endpoint: "chat".into(),
            model: Some("m".into()),
            provider: Some("p".into()),
            status: 200,
            outcome: "success".into(),
            virtual_key: key.map(str::to_owned),
            ..LogEntry::default()
        };
        let mut rows = [entry(3_700_000, Some("vk-a")), entry(3_800_000, Some("vk-a")), entry(3_900_000, None)];
        writer::insert(&mut conn, &mut rows).unwrap();
        let points =
            query::series(&conn, 0, 2 * 3_600_000, query::Bucket::Hour, Some(query::GroupBy::VirtualKey)).unwrap();
        let by_key: Vec<(Option<&str>, u64)> = points.iter().map(|p| (p.group.as_deref(), p.requests)).collect();
        assert_eq!(by_key, [(None, 8), (Some("vk-a"), 2)]);
    }

    /// A log written by a version 5 build: its rows and rollup buckets survive and count no cache
    /// (NULL in the rows); new rows carry what the cache did, and the sums read them.
    #[test]
    fn a_version_5_log_gains_the_cache_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            configure(&conn).unwrap();
            at_version(
                &mut conn,
                5,
                &[
                    "INSERT INTO requests (ts_ms, family, endpoint, provider, model, attempts, status, outcome, latency_ms, \
                 stream, cost_usd) VALUES (3700000, 'openai', 'chat', 'p', 'm', 1, 200, 'success', 5.0, 0, 0.25)",
                    "INSERT INTO usage_hour (start_ms, model, provider, client, task_class, local, virtual_key, requests, \
                 errors, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist) \
                 VALUES (3600000, 'm', 'p', '', '', 0, '', 1, 0, 10, 1, 0, 0, 0.25, 0, x'')",
                ],
            );
        }
        let mut conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, VERSION);
        let old = query::log(&conn, 1).unwrap().unwrap();
        assert_eq!(
            (old.model.as_deref(), old.cost_usd, old.cache, old.cache_similarity, old.cache_saved_usd),
            (Some("m"), Some(0.25), None, None, None)
        );
        let before = query::series(&conn, 0, 2 * 3_600_000, query::Bucket::Hour, None).unwrap();
        assert_eq!((before[0].requests, before[0].cache_hits, before[0].cache_misses), (1, 0, 0));

        let entry = |cache, saved| LogEntry {
            ts_ms: 3_800_000,
            family: "openai".into(),
            endpoint: "chat".into(),
            model: Some("m".into()),
            provider: Some("p".into()),
            status: 200,
            outcome: "success".into(),
            cache: Some(cache),
            cache_saved_usd: saved,
            ..LogEntry::default()
        };
        let mut rows = [entry(CacheOutcome::HitExact, Some(0.5)), entry(CacheOutcome::Miss, None)];
        writer::insert(&mut conn, &mut rows).unwrap();
        let hour = query::series(&conn, 0, 2 * 3_600_000, query::Bucket::Hour, None).unwrap();
        assert_eq!(hour.len(), 1, "the old bucket and the new rows are one row");
        assert_eq!((hour[0].requests, hour[0].cache_hits, hour[0].cache_misses), (3, 1, 1));
        assert!((hour[0].cache_saved_usd - 0.5).abs() < 1e-12);
        assert!((hour[0].cost_usd - 0.25).abs() < 1e-12);
        let hit = query::log(&conn, 2).unwrap().unwrap();
        assert_eq!((hit.cache, hit.cache_saved_usd), (Some(CacheOutcome::HitExact), Some(0.5)));
    }

    /// A log written by a version 3 build: its rows survive, gain the new columns (NULL), and
    /// new rows carry the id, the error message and the trail.
    #[test]
    fn a_version_3_log_migrates_to_version_4() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            configure(&conn).unwrap();
            at_version(
                &mut conn,
                3,
                &[
                    "INSERT INTO requests (ts_ms, family, endpoint, provider, model, attempts, status, outcome, latency_ms, stream) \
                 VALUES (1000, 'openai', 'chat', 'p', 'm', 1, 200, 'success', 5.0, 0)",
                ],
            );
        }
        let mut conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, VERSION);
        let old = query::log_detail(&conn, &query::LogKey::Id(1)).unwrap().unwrap();
        assert_eq!(
            (old.0.model.as_deref(), old.0.request_id.clone(), old.0.error_message.clone()),
            (Some("m"), None, None)
        );
        // No trail before version 4: a lone attempt that served is rebuilt from the row.
        assert_eq!(old.1.len(), 1);
        assert_eq!((old.1[0].provider.as_str(), old.1[0].status, old.1[0].key.as_deref()), ("p", Some(200), None));

        let attempt = |provider: &str, status, error: Option<ErrorKind>| AttemptRecord {
            provider: provider.into(),
            model: "m".into(),
            key: Some("env.KEY".into()),
            status,
            error: error.map(|kind| AttemptError { kind, message: format!("{provider} failed") }),
            duration: Duration::from_millis(12),
        };
        let mut rows = [LogEntry {
            ts_ms: 2000,
            request_id: Some("req_abc".into()),
            family: "openai".into(),
            endpoint: "chat".into(),
            status: 200,
            outcome: "success".into(),
            attempts: 2,
            trail: vec![attempt("a", Some(503), Some(ErrorKind::UpstreamStatus)), attempt("b", Some(200), None)],
            ..LogEntry::default()
        }];
        writer::insert(&mut conn, &mut rows).unwrap();
        let (row, trail) = query::log_detail(&conn, &query::LogKey::RequestId("req_abc".into())).unwrap().unwrap();
        assert_eq!(row.id, 2);
        assert_eq!(row.request_id.as_deref(), Some("req_abc"));
        assert_eq!(trail.len(), 2);
        assert_eq!(
            (trail[0].provider.as_str(), trail[0].status, trail[0].error_type.as_deref(), trail[0].error.as_deref()),
            ("a", Some(503), Some("upstream_status"), Some("a failed"))
        );
        assert_eq!(
            (trail[1].status, trail[1].error_type.as_deref(), trail[1].key.as_deref()),
            (Some(200), None, Some("env.KEY"))
        );
        assert!((trail[1].duration_ms - 12.0).abs() < 1e-9);
        assert!(query::log_detail(&conn, &query::LogKey::RequestId("req_none".into())).unwrap().is_none());
    }
}
