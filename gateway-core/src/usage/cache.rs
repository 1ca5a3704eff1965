//! The response cache in the usage log (schema version 6): how a row stores what the cache did,
//! how the API writes it, and the log's `?cache=` filter.
//!
//! `requests.cache_hit` holds a small integer rather than the outcome's text: the column existed
//! (unused) since version 1, an integer costs the writer nothing to bind, and a row the cache
//! never saw stays NULL, as every row before version 6 does.

use serde::Serializer;

use crate::observe::CacheOutcome;

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
