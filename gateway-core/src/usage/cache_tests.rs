//! The response cache in the log: each outcome's row, what the log stores for it, its filter and
//! the rollups' sums.

use std::time::Duration;

use rusqlite::Connection;
use serde_json::json;

use super::cache::CacheFilter;
use super::query::{self, Bucket, LogFilter};
use super::*;
use crate::wire::{ApiFamily, Usage};

/// The first answer's tokens: a hit saves what they cost.
const FIRST: Usage = Usage {
    input_tokens: 1000,
    output_tokens: 100,
    cached_input_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
};

/// A request to `openai/gpt-4o` (a shipped price) that the cache answered or not.
fn record(cache: Option<CacheOutcome>) -> RequestRecord {
    let hit = cache.is_some_and(CacheOutcome::is_hit);
    RequestRecord {
        started_at: UNIX_EPOCH + Duration::from_secs(3600),
        provider: Some("openai".into()),
        upstream_model: Some("gpt-4o".into()),
        status: 200,
        outcome: Outcome::Success,
        latency: Duration::from_millis(if hit { 1 } else { 400 }),
        attempts: u32::from(!hit),
        usage: (!hit).then_some(Usage { input_tokens: 10, output_tokens: 5, ..Usage::default() }),
        cache,
        cache_saved: hit.then_some(FIRST),
        cache_similarity: (cache == Some(CacheOutcome::HitSemantic)).then_some(0.9731),
        ..RequestRecord::new("req_cache".into(), ApiFamily::OpenAi, "chat completions")
    }
}

fn first_cost(pricing: &PriceTable) -> f64 {
    pricing.cost("openai", "gpt-4o", false, &FIRST).unwrap()
}

#[test]
fn a_hit_costs_nothing_spends_no_tokens_and_saves_its_first_cost() {
    let pricing = PriceTable::default();
    let exact = LogEntry::from_record(&record(Some(CacheOutcome::HitExact)), &pricing);
    assert_eq!(exact.cache, Some(CacheOutcome::HitExact));
    assert_eq!(exact.cost_usd, Some(0.0), "a hit costs 0, not an unknown price");
    assert_eq!((exact.input_tokens, exact.output_tokens), (None, None));
    assert!(first_cost(&pricing) > 0.0);
    assert_eq!(exact.cache_saved_usd, Some(first_cost(&pricing)));
    assert_eq!(exact.cache_similarity, None);

    // Served from the cache of a local answer: nothing ran locally this time either.
    let local = RequestRecord {
        provider_local: true,
        cloud_reference: Some(("openai".into(), "gpt-4o".into())),
        usage: Some(FIRST),
        ..record(Some(CacheOutcome::HitExact))
    };
    let local = LogEntry::from_record(&local, &pricing);
    assert_eq!((local.saved_usd, local.cost_usd, local.input_tokens), (None, Some(0.0), None));

    let value = serde_json::to_value(&exact).unwrap();
    assert_eq!(value["cache"], "hit-exact");
    assert_eq!(value["cache_similarity"], json!(null));
    assert!((value["cache_saved_usd"].as_f64().unwrap() - first_cost(&pricing)).abs() < 1e-15);
}

#[test]
fn a_semantic_hit_keeps_its_similarity_and_a_miss_is_priced_as_usual() {
    let pricing = PriceTable::default();
    let semantic = LogEntry::from_record(&record(Some(CacheOutcome::HitSemantic)), &pricing);
    let value = serde_json::to_value(&semantic).unwrap();
    assert_eq!((value["cache"].clone(), value["cache_similarity"].clone()), (json!("hit-semantic"), json!(0.9731)));

    let miss = LogEntry::from_record(&record(Some(CacheOutcome::Miss)), &pricing);
    let usage = Usage { input_tokens: 10, output_tokens: 5, ..Usage::default() };
    assert_eq!(miss.cost_usd, pricing.cost("openai", "gpt-4o", false, &usage));
    assert_eq!((miss.input_tokens, miss.cache_saved_usd), (Some(10), None));
    assert_eq!(serde_json::to_value(&miss).unwrap()["cache"], "miss");

    let unseen = serde_json::to_value(LogEntry::from_record(&record(None), &pricing)).unwrap();
    assert_eq!((unseen["cache"].clone(), unseen["cache_saved_usd"].clone()), (json!(null), json!(null)));
}

fn log_of(records: &[RequestRecord]) -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    schema::configure(&conn).unwrap();
    schema::migrate(&mut conn).unwrap();
    let pricing = PriceTable::default();
    let mut rows: Vec<LogEntry> = records.iter().map(|r| LogEntry::from_record(r, &pricing)).collect();
    writer::insert(&mut conn, &mut rows).unwrap();
    conn
}

/// Oldest first: none, miss, exact, semantic.
fn outcomes() -> Vec<RequestRecord> {
    [None, Some(CacheOutcome::Miss), Some(CacheOutcome::HitExact), Some(CacheOutcome::HitSemantic)]
        .into_iter()
        .map(record)
        .collect()
}

#[test]
fn the_log_stores_each_outcome_and_filters_by_it() {
    let conn = log_of(&outcomes());
    let stored: Vec<(Option<i64>, Option<f64>, Option<f64>)> = conn
        .prepare("SELECT cache_hit, cache_similarity, cache_saved_usd FROM requests ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let codes: Vec<Option<i64>> = stored.iter().map(|s| s.0).collect();
    assert_eq!(codes, [None, Some(0), Some(1), Some(2)]);
    assert_eq!(stored[0], (None, None, None), "a request the cache never saw stores NULLs");
    assert!(stored[3].1.is_some() && stored[2].2.is_some());

    let ids = |cache: Option<CacheFilter>| -> Vec<i64> {
        let filter = LogFilter { cache, limit: 50, ..LogFilter::default() };
        query::logs(&conn, &filter).unwrap().iter().map(|e| e.id).collect()
    };
    assert_eq!(ids(None), [4, 3, 2, 1]);
    assert_eq!(ids(Some(CacheFilter::Hit)), [4, 3]);
    assert_eq!(ids(Some(CacheFilter::Exact)), [3]);
    assert_eq!(ids(Some(CacheFilter::Semantic)), [4]);
    assert_eq!(ids(Some(CacheFilter::Miss)), [2]);

    // Read back as written: what the list and the live stream serve alike.
    let semantic = query::log(&conn, 4).unwrap().unwrap();
    assert_eq!(
        (semantic.cache, semantic.cache_similarity, semantic.cost_usd),
        (Some(CacheOutcome::HitSemantic), Some(0.9731), Some(0.0))
    );
    assert_eq!(query::log(&conn, 1).unwrap().unwrap().cache, None);
}

#[test]
fn the_rollups_count_hits_and_misses_and_sum_the_savings() {
    let mut records = outcomes();
    records.push(record(Some(CacheOutcome::HitExact)));
    let conn = log_of(&records);
    let saved = 3.0 * first_cost(&PriceTable::default());

    let summary = query::summary(&conn, 0).unwrap();
    assert_eq!((summary.requests, summary.cache_hits, summary.cache_misses), (5, 3, 1));
    assert!((summary.cache_saved_usd - saved).abs() < 1e-12, "{}", summary.cache_saved_usd);

    let points = query::series(&conn, 0, 86_400_000, Bucket::Hour, None).unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!((points[0].cache_hits, points[0].cache_misses), (3, 1));
    assert!((points[0].cache_saved_usd - saved).abs() < 1e-12);
    let value = serde_json::to_value(&points[0]).unwrap();
    assert_eq!((value["cache_hits"].clone(), value["cache_misses"].clone()), (json!(3), json!(1)));

    // Summed again from the rows (the retention's edge, a log from before the rollups): the same.
    rollup::rebuild(&conn).unwrap();
    let rebuilt = query::summary(&conn, 0).unwrap();
    assert_eq!((rebuilt.cache_hits, rebuilt.cache_misses), (3, 1));
    assert!((rebuilt.cache_saved_usd - saved).abs() < 1e-12);
}

#[test]
fn the_cache_sums_read_only_the_rows_the_cache_saw() {
    // Requests the cache never saw are not in the partial index the sums read...
    let conn = log_of(&[record(None), record(None), record(Some(CacheOutcome::Miss))]);
    let indexed: i64 = conn
        .query_row("SELECT COUNT(*) FROM requests INDEXED BY requests_cache WHERE cache_hit IS NOT NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(indexed, 1);
    // ...and the rollups, which every request updates, carry nothing of the cache.
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('usage_day')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!columns.iter().any(|c| c.starts_with("cache_hit") || c.starts_with("cache_miss")), "{columns:?}");
    let summary = query::summary(&conn, 0).unwrap();
    assert_eq!((summary.requests, summary.cache_hits, summary.cache_misses), (3, 0, 1));
}
