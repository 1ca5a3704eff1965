//! Rollup tables: the request log summed per minute, hour and UTC day, per (model, provider,
//! client, class, locality), with a mergeable latency histogram. The writer adds each batch to
//! them in the batch's own transaction, so they never disagree with the rows; the usage API reads
//! them instead of scanning rows, which keeps a 30-day query on a million rows in milliseconds.
//!
//! A range is answered from the coarsest tables that fit inside it, with finer ones at its
//! edges ([`pieces`]): 30 days by day reads ~30 day rows per group plus at most a day of hours
//! and an hour of minutes at each end. Ranges are resolved to whole minutes.
//!
//! Text columns hold `''` for "none" (they are part of the primary key, which must be NOT NULL).

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::LogEntry;
use super::histogram::LatencyHistogram;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    Minute,
    Hour,
    Day,
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Minute, Grain::Hour, Grain::Day];

    pub fn millis(self) -> i64 {
        match self {
            Grain::Minute => 60_000,
            Grain::Hour => 3_600_000,
            Grain::Day => 86_400_000,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Grain::Minute => "usage_minute",
            Grain::Hour => "usage_hour",
            Grain::Day => "usage_day",
        }
    }

    fn floor(self, ms: i64) -> i64 {
        ms.div_euclid(self.millis()) * self.millis()
    }

    fn ceil(self, ms: i64) -> i64 {
        let floor = self.floor(ms);
        if floor == ms { ms } else { floor.saturating_add(self.millis()) }
    }
}

/// One rollup table; the three differ only in name and in what `start_ms` is rounded to.
#[macro_export]
#[doc(hidden)]
macro_rules! rollup_table {
    ($name:literal) => {
        concat!(
            "CREATE TABLE ",
            $name,
            " (
    start_ms         INTEGER NOT NULL,   -- the bucket's start, Unix milliseconds (UTC)
    model            TEXT NOT NULL,
    provider         TEXT NOT NULL,
    client           TEXT NOT NULL,
    task_class       TEXT NOT NULL,
    local            INTEGER NOT NULL,
    requests         INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    cached_tokens    INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd         REAL NOT NULL,
    saved_usd        REAL NOT NULL,
    latency_hist     BLOB NOT NULL,      -- `histogram::LatencyHistogram`
    PRIMARY KEY (start_ms, model, provider, client, task_class, local)
) WITHOUT ROWID;
"
        )
    };
}

/// Schema version 5's rollup table: version 2's with the virtual key as a dimension, copied from
/// the version-2 table of the same name (whose rows had no key: `''`).
#[macro_export]
#[doc(hidden)]
macro_rules! rollup_table_with_key {
    ($name:literal) => {
        concat!(
            "ALTER TABLE ",
            $name,
            " RENAME TO ",
            $name,
            "_v4;\n",
            "CREATE TABLE ",
            $name,
            " (
    start_ms         INTEGER NOT NULL,
    model            TEXT NOT NULL,
    provider         TEXT NOT NULL,
    client           TEXT NOT NULL,
    task_class       TEXT NOT NULL,
    local            INTEGER NOT NULL,
    virtual_key      TEXT NOT NULL,      -- the key's id, '' for none
    requests         INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    cached_tokens    INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd         REAL NOT NULL,
    saved_usd        REAL NOT NULL,
    latency_hist     BLOB NOT NULL,
    PRIMARY KEY (start_ms, model, provider, client, task_class, local, virtual_key)
) WITHOUT ROWID;
",
            "INSERT INTO ",
            $name,
            " (start_ms, model, provider, client, task_class, local, virtual_key, requests, errors, \
input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist) \
SELECT start_ms, model, provider, client, task_class, local, '', requests, errors, input_tokens, output_tokens, \
cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist FROM ",
            $name,
            "_v4;\n",
            "DROP TABLE ",
            $name,
            "_v4;\n"
        )
    };
}

/// The schema text that creates the tables (part of a step of `schema::MIGRATIONS`).
#[macro_export]
#[doc(hidden)]
macro_rules! rollup_tables {
    () => {
        concat!(
            $crate::rollup_table!("usage_minute"),
            $crate::rollup_table!("usage_hour"),
            $crate::rollup_table!("usage_day")
        )
    };
}

/// The sums of one rollup row.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    pub saved_usd: f64,
    /// Requests the response cache answered, exact or semantic.
    pub cache_hits: u64,
    /// Requests the response cache looked up and could not answer.
    pub cache_misses: u64,
    /// What the hits' answers cost when first made.
    pub cache_saved_usd: f64,
    pub latency: LatencyHistogram,
}

/// What one request adds to a rollup row.
struct Sample {
    error: bool,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    cost_usd: f64,
    saved_usd: f64,
    latency_ms: f64,
}

impl Sample {
    fn of(entry: &LogEntry) -> Sample {
        Sample {
            error: entry.outcome != "success",
            input_tokens: entry.input_tokens.unwrap_or(0),
            output_tokens: entry.output_tokens.unwrap_or(0),
            cached_tokens: entry.cached_tokens.unwrap_or(0),
            reasoning_tokens: entry.reasoning_tokens.unwrap_or(0),
            cost_usd: entry.cost_usd.unwrap_or(0.0),
            saved_usd: entry.saved_usd.unwrap_or(0.0),
            latency_ms: entry.latency_ms,
        }
    }
}

impl Totals {
    fn add(&mut self, sample: &Sample) {
        self.requests += 1;
        self.errors += u64::from(sample.error);
        self.input_tokens += sample.input_tokens;
        self.output_tokens += sample.output_tokens;
        self.cached_tokens += sample.cached_tokens;
        self.reasoning_tokens += sample.reasoning_tokens;
        self.cost_usd += sample.cost_usd;
        self.saved_usd += sample.saved_usd;
        self.latency.record(sample.latency_ms);
    }

    pub fn merge(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.cost_usd += other.cost_usd;
        self.saved_usd += other.saved_usd;
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
        self.cache_saved_usd += other.cache_saved_usd;
        self.latency.merge(&other.latency);
    }
}

/// One row read back: its bucket start, its dimensions (`None` for none) and its sums.
#[derive(Debug)]
pub struct RollupRow {
    pub start_ms: i64,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub client: Option<String>,
    pub task_class: Option<String>,
    pub local: bool,
    pub virtual_key: Option<String>,
    /// The sums; the latency histogram is left empty, its stored form is in `latency_blob`.
    pub totals: Totals,
    pub latency_blob: Vec<u8>,
}

impl RollupRow {
    /// A row whose first six columns are the bucket's start and its dimensions (empty text for
    /// none) and whose column `virtual_key_at` is the key.
    pub(super) fn read(
        row: &rusqlite::Row<'_>,
        virtual_key_at: usize,
        totals: Totals,
        latency_blob: Vec<u8>,
    ) -> rusqlite::Result<RollupRow> {
        let text = |index: usize| -> rusqlite::Result<Option<String>> {
            let value: String = row.get(index)?;
            Ok(if value.is_empty() { None } else { Some(value) })
        };
        Ok(RollupRow {
            start_ms: row.get(0)?,
            model: text(1)?,
            provider: text(2)?,
            client: text(3)?,
            task_class: text(4)?,
            local: row.get(5)?,
            virtual_key: text(virtual_key_at)?,
            totals,
            latency_blob,
        })
    }

    /// The row's sums, latency histogram included.
    pub fn add_to(&self, totals: &mut Totals) {
        totals.merge(&self.totals);
        totals.latency.merge_blob(&self.latency_blob);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key<'a> {
    start_ms: i64,
    model: &'a str,
    provider: &'a str,
    client: &'a str,
    task_class: &'a str,
    local: bool,
    virtual_key: &'a str,
}

impl<'a> Key<'a> {
    fn of(entry: &'a LogEntry, grain: Grain) -> Key<'a> {
        Key {
            start_ms: grain.floor(entry.ts_ms),
            model: entry.model.as_deref().unwrap_or(""),
            provider: entry.provider.as_deref().unwrap_or(""),
            client: entry.client.as_deref().unwrap_or(""),
            task_class: entry.task_class.as_deref().unwrap_or(""),
            local: entry.local,
            virtual_key: entry.virtual_key.as_deref().unwrap_or(""),
        }
    }
}

/// A count column (never negative).
pub(super) fn count(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(index)?.max(0) as u64)
}

/// Adds written rows to every rollup table (inside the writer's transaction).
pub fn add(conn: &Connection, entries: &[LogEntry]) -> rusqlite::Result<()> {
    add_to(conn, &Grain::ALL, entries)
}

fn add_to(conn: &Connection, grains: &[Grain], entries: &[LogEntry]) -> rusqlite::Result<()> {
    for &grain in grains {
        let mut sums: HashMap<Key<'_>, Totals> = HashMap::new();
        for entry in entries {
            sums.entry(Key::of(entry, grain)).or_default().add(&Sample::of(entry));
        }
        for (key, totals) in sums {
            upsert(conn, grain, &key, totals)?;
        }
    }
    Ok(())
}

fn upsert(conn: &Connection, grain: Grain, key: &Key<'_>, mut totals: Totals) -> rusqlite::Result<()> {
    let mut existing = conn.prepare_cached(&format!(
        "SELECT latency_hist FROM {} WHERE start_ms = ?1 AND model = ?2 AND provider = ?3 AND client = ?4 \
         AND task_class = ?5 AND local = ?6 AND virtual_key = ?7",
        grain.table()
    ))?;
    let mut rows = existing.query(params![
        key.start_ms,
        key.model,
        key.provider,
        key.client,
        key.task_class,
        key.local,
        key.virtual_key
    ])?;
    if let Some(row) = rows.next()? {
        totals.latency.merge_blob(row.get_ref(0)?.as_blob()?);
    }
    write(conn, grain, key, &totals)
}

/// Adds `totals` to the key's row (the histogram is written whole: callers merged it).
fn write(conn: &Connection, grain: Grain, key: &Key<'_>, totals: &Totals) -> rusqlite::Result<()> {
    let mut upsert = conn.prepare_cached(&format!(
        "INSERT INTO {} (start_ms, model, provider, client, task_class, local, requests, errors, input_tokens, \
         output_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist, virtual_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT (start_ms, model, provider, client, task_class, local, virtual_key) DO UPDATE SET \
         requests = requests + excluded.requests, errors = errors + excluded.errors, \
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, \
         cached_tokens = cached_tokens + excluded.cached_tokens, \
         reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_usd = cost_usd + excluded.cost_usd, \
         saved_usd = saved_usd + excluded.saved_usd, latency_hist = excluded.latency_hist",
        grain.table()
    ))?;
    upsert.execute(params![
        key.start_ms,
        key.model,
        key.provider,
        key.client,
        key.task_class,
        key.local,
        sql_int(totals.requests),
        sql_int(totals.errors),
        sql_int(totals.input_tokens),
        sql_int(totals.output_tokens),
        sql_int(totals.cached_tokens),
        sql_int(totals.reasoning_tokens),
        totals.cost_usd,
        totals.saved_usd,
        totals.latency.to_blob(),
        key.virtual_key,
    ])?;
    Ok(())
}

fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Rebuilds every rollup from the rows (after the schema step that adds the tables, and for
/// tests that insert rows with SQL). One pass in time order: each grain keeps only its current
/// bucket's sums in memory and writes them when time moves past it.
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    type OwnedKey = (String, String, String, String, bool, String);
    struct Open {
        grain: Grain,
        start_ms: i64,
        sums: HashMap<OwnedKey, Totals>,
    }
    fn close(conn: &Connection, open: &mut Open) -> rusqlite::Result<()> {
        for ((model, provider, client, task_class, local, virtual_key), totals) in open.sums.drain() {
            let key = Key {
                start_ms: open.start_ms,
                model: &model,
                provider: &provider,
                client: &client,
                task_class: &task_class,
                local,
                virtual_key: &virtual_key,
            };
            write(conn, open.grain, &key, &totals)?;
        }
        Ok(())
    }
    for grain in Grain::ALL {
        conn.execute(&format!("DELETE FROM {}", grain.table()), [])?;
    }
    let mut open: Vec<Open> =
        Grain::ALL.iter().map(|&grain| Open { grain, start_ms: i64::MIN, sums: HashMap::new() }).collect();
    let mut stmt = conn.prepare(
        "SELECT ts_ms, IFNULL(model, ''), IFNULL(provider, ''), IFNULL(client, ''), IFNULL(task_class, ''), local, \
         outcome != 'success', IFNULL(input_tokens, 0), IFNULL(output_tokens, 0), IFNULL(cached_tokens, 0), \
         IFNULL(reasoning_tokens, 0), IFNULL(cost_usd, 0), IFNULL(saved_usd, 0), latency_ms, IFNULL(virtual_key, '') \
         FROM requests ORDER BY ts_ms",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let ts_ms: i64 = row.get(0)?;
        let key: OwnedKey = (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(14)?);
        let count = |index: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(index)?.max(0) as u64) };
        let sample = Sample {
            error: row.get(6)?,
            input_tokens: count(7)?,
            output_tokens: count(8)?,
            cached_tokens: count(9)?,
            reasoning_tokens: count(10)?,
            cost_usd: row.get(11)?,
            saved_usd: row.get(12)?,
            latency_ms: row.get(13)?,
        };
        for bucket in &mut open {
            let start = bucket.grain.floor(ts_ms);
            if start != bucket.start_ms {
                close(conn, bucket)?;
                bucket.start_ms = start;
            }
            match bucket.sums.get_mut(&key) {
                Some(totals) => totals.add(&sample),
                None => bucket.sums.entry(key.clone()).or_default().add(&sample),
            }
        }
    }
    for bucket in &mut open {
        close(conn, bucket)?;
    }
    Ok(())
}

/// After the rows before `cutoff_ms` were deleted: deletes the rollup buckets that end before
/// it, and sums the bucket that straddles it again from the rows that are left, so the rollups
/// keep agreeing with the rows.
pub fn prune(conn: &Connection, cutoff_ms: i64) -> rusqlite::Result<usize> {
    let mut deleted = 0;
    for grain in Grain::ALL {
        let start = grain.floor(cutoff_ms);
        deleted += conn.execute(&format!("DELETE FROM {} WHERE start_ms < ?1", grain.table()), [start])?;
        if start < cutoff_ms {
            conn.execute(&format!("DELETE FROM {} WHERE start_ms = ?1", grain.table()), [start])?;
            let left = super::rows::rows_between(conn, start, start + grain.millis())?;
            add_to(conn, &[grain], &left)?;
        }
    }
    Ok(deleted)
}

/// The pieces that cover `[from, to)` (whole minutes), coarsest first, using grains no coarser
/// than `coarsest`.
pub fn pieces(from_ms: i64, to_ms: i64, coarsest: Grain) -> Vec<(Grain, i64, i64)> {
    let grains: &[Grain] = match coarsest {
        Grain::Day => &[Grain::Day, Grain::Hour, Grain::Minute],
        Grain::Hour => &[Grain::Hour, Grain::Minute],
        Grain::Minute => &[Grain::Minute],
    };
    let mut out = Vec::new();
    if from_ms >= to_ms {
        return out;
    }
    split(Grain::Minute.floor(from_ms), Grain::Minute.ceil(to_ms), grains, &mut out);
    out
}

fn split(from: i64, to: i64, grains: &[Grain], out: &mut Vec<(Grain, i64, i64)>) {
    let Some((&grain, finer)) = grains.split_first() else { return };
    if from >= to {
        return;
    }
    if finer.is_empty() {
        out.push((grain, from, to));
        return;
    }
    let (inner_from, inner_to) = (grain.ceil(from), grain.floor(to));
    if inner_from < inner_to {
        out.push((grain, inner_from, inner_to));
        split(from, inner_from, finer, out);
        split(inner_to, to, finer, out);
    } else {
        split(from, to, finer, out);
    }
}

/// Calls `visit` for every rollup row that covers `[from, to)`, from the tables [`pieces`] picks.
pub fn visit(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    coarsest: Grain,
    visit: &mut dyn FnMut(RollupRow),
) -> rusqlite::Result<()> {
    for (grain, from, to) in pieces(from_ms, to_ms, coarsest) {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT start_ms, model, provider, client, task_class, local, requests, errors, input_tokens, \
             output_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, latency_hist, virtual_key FROM {} \
             WHERE start_ms >= ?1 AND start_ms < ?2",
            grain.table()
        ))?;
        let mut rows = stmt.query([from, to])?;
        while let Some(row) = rows.next()? {
            let count = |index: usize| count(row, index);
            let totals = Totals {
                requests: count(6)?,
                errors: count(7)?,
                input_tokens: count(8)?,
                output_tokens: count(9)?,
                cached_tokens: count(10)?,
                reasoning_tokens: count(11)?,
                cost_usd: row.get(12)?,
                saved_usd: row.get(13)?,
                latency: LatencyHistogram::default(),
                ..Totals::default()
            };
            visit(RollupRow::read(row, 15, totals, row.get_ref(14)?.as_blob()?.to_vec())?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;

    #[test]
    fn pieces_cover_the_range_once_coarsest_in_the_middle() {
        let from = 3 * DAY + 5 * HOUR + 7 * MIN + 123;
        let to = 9 * DAY + 2 * HOUR + 40 * MIN + 1;
        let pieces = pieces(from, to, Grain::Day);
        assert_eq!(pieces[0], (Grain::Day, 4 * DAY, 9 * DAY));
        // Sorted, they tile [minute floor of from, minute ceil of to) without gaps or overlaps.
        let mut spans: Vec<(i64, i64)> = pieces.iter().map(|&(_, a, b)| (a, b)).collect();
        spans.sort();
        assert_eq!(spans.first().unwrap().0, 3 * DAY + 5 * HOUR + 7 * MIN);
        assert_eq!(spans.last().unwrap().1, 9 * DAY + 2 * HOUR + 41 * MIN);
        assert!(spans.windows(2).all(|w| w[0].1 == w[1].0));
        for &(grain, a, b) in &pieces {
            assert_eq!(a % grain.millis(), 0);
            assert_eq!(b % grain.millis(), 0);
        }
        assert!(pieces.len() <= 5, "{pieces:?}");
    }

    /// Everything the rollup tables hold, in a comparable form.
    fn snapshot(conn: &Connection) -> Vec<String> {
        let mut all = Vec::new();
        for grain in Grain::ALL {
            visit(conn, i64::MIN / 4, i64::MAX / 4, grain, &mut |row| {
                let t = &row.totals;
                all.push(format!(
                    "{grain:?} {} {:?} {:?} {:?} {:?} {} {} {} {} {} {} {} {:.9} {:.9} {:?}",
                    row.start_ms,
                    row.model,
                    row.provider,
                    row.client,
                    row.task_class,
                    row.local,
                    t.requests,
                    t.errors,
                    t.input_tokens,
                    t.output_tokens,
                    t.cached_tokens,
                    t.reasoning_tokens,
                    t.cost_usd,
                    t.saved_usd,
                    row.latency_blob
                ));
            })
            .unwrap();
        }
        all.sort();
        all
    }

    fn entries() -> Vec<LogEntry> {
        (0..700u64)
            .map(|i| LogEntry {
                ts_ms: i as i64 * 37_000,
                model: Some(format!("m{}", i % 3)),
                provider: Some("p".into()),
                client: (i % 4 != 0).then(|| "tool".to_owned()),
                task_class: (i % 5 == 0).then(|| "coding".to_owned()),
                local: i % 2 == 0,
                outcome: if i % 10 == 0 { "error" } else { "success" }.into(),
                latency_ms: (i % 97) as f64 * 3.3,
                input_tokens: Some(i),
                output_tokens: Some(2 * i),
                cached_tokens: Some(i / 2),
                reasoning_tokens: None,
                cost_usd: Some(0.001),
                saved_usd: (i % 2 == 0).then_some(0.002),
                ..LogEntry::default()
            })
            .collect()
    }

    fn log() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::usage::schema::configure(&conn).unwrap();
        crate::usage::schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn rebuilding_from_the_rows_gives_what_the_writer_added_batch_by_batch() {
        let mut conn = log();
        for chunk in entries().chunks_mut(64) {
            crate::usage::writer::insert(&mut conn, chunk).unwrap();
        }
        let incremental = snapshot(&conn);
        let days: Vec<&String> = incremental.iter().filter(|r| r.starts_with("Day")).collect();
        assert!(!days.is_empty());
        rebuild(&conn).unwrap();
        assert_eq!(snapshot(&conn), incremental);
    }

    #[test]
    fn pruning_keeps_the_rollups_equal_to_the_rows_left() {
        let mut conn = log();
        let mut all = entries();
        crate::usage::writer::insert(&mut conn, &mut all).unwrap();
        // A cutoff inside a minute, an hour and a day bucket.
        let cutoff = 350 * 37_000 + 1234;
        conn.execute("DELETE FROM requests WHERE ts_ms < ?1", [cutoff]).unwrap();
        prune(&conn, cutoff).unwrap();
        let pruned = snapshot(&conn);
        rebuild(&conn).unwrap();
        assert_eq!(pruned, snapshot(&conn));
    }

    #[test]
    fn a_minute_bucket_uses_only_the_minute_table() {
        let pieces = pieces(0, 3 * DAY, Grain::Minute);
        assert_eq!(pieces, vec![(Grain::Minute, 0, 3 * DAY)]);
        assert!(super::pieces(5, 5, Grain::Day).is_empty());
    }
}
