//! The response cache in the usage log (schema version 6): how a row stores what the cache did,
//! how the API writes it, and the log's `?cache=` filter.
//!
//! `requests.cache_hit` holds a small integer rather than the outcome's text: the column existed
//! (unused) since version 1, an integer costs the writer nothing to bind, and a row the cache
//! never saw stays NULL, as every row before version 6 does.

use rusqlite::Connection;
use serde::Serializer;

use super::rollup::{RollupRow, Totals};
use crate::observe::CacheOutcome;

/// The cache's sums per `bucket_ms` and dimension over `[from_ms, to_ms)`, from the rows the cache
/// saw (the rollups do not carry them: schema version 6 says why), as rollup rows whose only
/// non-zero sums are the cache's.
pub(crate) fn visit(
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
        let text = |index: usize| -> rusqlite::Result<Option<String>> {
            let value: String = row.get(index)?;
            Ok(if value.is_empty() { None } else { Some(value) })
        };
        let count = |index: usize| -> rusqlite::Result<u64> { Ok(row.get::<_, i64>(index)?.max(0) as u64) };
        visit(RollupRow {
            start_ms: row.get(0)?,
            model: text(1)?,
            provider: text(2)?,
            client: text(3)?,
            task_class: text(4)?,
            local: row.get(5)?,
            virtual_key: text(6)?,
            totals: Totals {
                cache_hits: count(7)?,
                cache_misses: count(8)?,
                cache_saved_usd: row.get(9)?,
                ..Totals::default()
            },
            latency_blob: Vec::new(),
        });
    }
    Ok(())
}

/// `requests.cache_hit` of an outcome: 1 exact hit, 2 semantic hit, 0 miss (NULL: not consulted).
pub(crate) fn code(outcome: CacheOutcome) -> i64 {
    match outcome {
        CacheOutcome::Miss => 0,
        CacheOutcome::HitExact => 1,
        CacheOutcome::HitSemantic => 2,
    }
}

/// The outcome stored as `code`; a value this build does not know reads as "not consulted".
pub(crate) fn outcome(code: Option<i64>) -> Option<CacheOutcome> {
    match code? {
        0 => Some(CacheOutcome::Miss),
        1 => Some(CacheOutcome::HitExact),
        2 => Some(CacheOutcome::HitSemantic),
        _ => None,
    }
}

/// The row's `cache` field: "hit-exact", "hit-semantic", "miss", or null.
pub(crate) fn serialize<S: Serializer>(outcome: &Option<CacheOutcome>, serializer: S) -> Result<S::Ok, S::Error> {
    match outcome {
        Some(outcome) => serializer.serialize_str(outcome.as_str()),
        None => serializer.serialize_none(),
    }
}

/// `GET /api/logs?cache=`: which rows the cache answered, or looked up in vain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheFilter {
    /// Either kind of hit.
    Hit,
    Exact,
    Semantic,
    Miss,
}

impl CacheFilter {
    pub const VALUES: &'static str = "hit, exact, semantic or miss";

    pub fn parse(text: &str) -> Option<CacheFilter> {
        match text {
            "hit" => Some(CacheFilter::Hit),
            "exact" => Some(CacheFilter::Exact),
            "semantic" => Some(CacheFilter::Semantic),
            "miss" => Some(CacheFilter::Miss),
            _ => None,
        }
    }

    /// The SQL condition on `requests`. The `+` keeps SQLite off the partial index
    /// `requests_cache` here: through it the newest rows would need a sort; walking the rows
    /// newest first needs none, as for a provider.
    pub(crate) fn clause(self) -> &'static str {
        match self {
            CacheFilter::Hit => "+cache_hit IN (1, 2)",
            CacheFilter::Exact => "+cache_hit = 1",
            CacheFilter::Semantic => "+cache_hit = 2",
            CacheFilter::Miss => "+cache_hit = 0",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_the_outcome_written() {
        for outcome in [CacheOutcome::HitExact, CacheOutcome::HitSemantic, CacheOutcome::Miss] {
            assert_eq!(super::outcome(Some(code(outcome))), Some(outcome));
        }
        assert_eq!(super::outcome(None), None);
        assert_eq!(super::outcome(Some(7)), None);
        assert_eq!(CacheFilter::parse("hit"), Some(CacheFilter::Hit));
        assert_eq!(CacheFilter::parse("hit-exact"), None);
    }
}
