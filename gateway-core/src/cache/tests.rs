//! The cache's index, file, expiry and byte cap, with a clock and sizes the tests control.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;

use super::*;
use crate::wire::Usage;

fn clock() -> (Arc<AtomicI64>, Clock) {
    let now = Arc::new(AtomicI64::new(1_000_000));
    let read = now.clone();
    (now, Arc::new(move || read.load(Ordering::SeqCst)))
}

fn answer(body: &str) -> StoredAnswer {
    StoredAnswer {
        status: 200,
        content_type: Some("application/json".into()),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        local: false,
        usage: Some(Usage { input_tokens: 10, output_tokens: 5, ..Usage::default() }),
        body: StoredBody::Whole(Bytes::from(body.to_owned())),
    }
}

fn entry(exact: u128, now: i64, ttl_ms: i64, body: &str) -> NewEntry {
    NewEntry {
        exact,
        scope: Scope::default(),
        semantic: None,
        created_ms: now,
        expires_ms: now + ttl_ms,
        answer: answer(body),
    }
}

fn config(max_bytes: u64) -> CacheConfig {
    CacheConfig { mode: CacheMode::Exact, max_bytes, ..CacheConfig::default() }
}

#[tokio::test]
async fn stores_finds_and_expires() {
    let (now, clock) = clock();
    let cache = ResponseCache::open(&config(1 << 30), Path::new(":memory:"), clock).unwrap();
    assert_eq!(cache.find_exact(7), None);
    cache.store(entry(7, now.load(Ordering::SeqCst), 60_000, "{\"a\":1}"));
    cache.flush();
    let id = cache.find_exact(7).expect("stored");
    assert_eq!(cache.answer(id).await, Some(answer("{\"a\":1}")));
    assert_eq!(cache.entries(), 1);
    assert!(cache.stored_bytes() > 7);
    // At its expiry it is no longer served, and the sweep deletes it.
    now.fetch_add(60_000, Ordering::SeqCst);
    assert_eq!(cache.find_exact(7), None);
    cache.shared.sweep();
    assert_eq!(cache.entries(), 0);
    assert_eq!(cache.answer(id).await, None);
}

#[tokio::test]
async fn streams_round_trip_and_a_new_answer_replaces_the_old() {
    let (now, clock) = clock();
    let cache = ResponseCache::open(&config(1 << 30), Path::new(":memory:"), clock).unwrap();
    let mut streamed = entry(9, now.load(Ordering::SeqCst), 60_000, "");
    streamed.answer.body =
        StoredBody::Stream(vec![Bytes::from_static(b"data: 1\n\n"), Bytes::from_static(b"data: [DONE]\n\n")]);
    cache.store(streamed.clone());
    cache.flush();
    let first = cache.find_exact(9).unwrap();
    assert_eq!(cache.answer(first).await.unwrap().body, streamed.answer.body);
    cache.store(entry(9, now.load(Ordering::SeqCst), 60_000, "{}"));
    cache.flush();
    let second = cache.find_exact(9).unwrap();
    assert_ne!(first, second);
    assert_eq!(cache.entries(), 1);
    assert_eq!(cache.answer(first).await, None);
}

#[tokio::test]
async fn the_byte_cap_evicts_the_least_recently_used() {
    let (now, clock) = clock();
    // Each entry: a 1000-byte body plus the row's overhead; the cap holds four.
    let each = 1000 + store::ROW_OVERHEAD;
    let cache = ResponseCache::open(&config(4 * each + each / 2), Path::new(":memory:"), clock).unwrap();
    let body = "x".repeat(1000);
    for exact in 1..=4u128 {
        now.fetch_add(1, Ordering::SeqCst);
        cache.store(entry(exact, now.load(Ordering::SeqCst), 3_600_000, &body));
    }
    cache.flush();
    assert_eq!(cache.entries(), 4);
    // Entry 1 is served (used most recently); entry 2 is now the least recently used.
    now.fetch_add(1, Ordering::SeqCst);
    let one = cache.find_exact(1).unwrap();
    cache.answer(one).await.unwrap();
    now.fetch_add(1, Ordering::SeqCst);
    cache.store(entry(5, now.load(Ordering::SeqCst), 3_600_000, &body));
    cache.flush();
    assert!(cache.stored_bytes() <= 4 * each + each / 2);
    assert!(cache.find_exact(1).is_some(), "recently used stays");
    assert!(cache.find_exact(5).is_some(), "the newest stays");
    assert_eq!(cache.find_exact(2), None, "least recently used goes first");
}

#[tokio::test]
async fn entries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let (now, clock) = clock();
    {
        let cache = ResponseCache::open(&config(1 << 30), &path, clock.clone()).unwrap();
        let mut semantic = entry(3, now.load(Ordering::SeqCst), 60_000, "{\"kept\":true}");
        semantic.semantic = Some((42, vec![1.0, 0.0, 0.0]));
        cache.store(semantic);
        cache.store(entry(4, now.load(Ordering::SeqCst), 10, "{\"short\":true}"));
        cache.update_settings(&SettingsUpdate { threshold: Some(0.8), ..SettingsUpdate::default() }).unwrap();
        cache.close();
    }
    now.fetch_add(1000, Ordering::SeqCst);
    let cache = ResponseCache::open(&config(1 << 30), &path, clock).unwrap();
    let id = cache.find_exact(3).expect("kept across the restart");
    assert_eq!(cache.answer(id).await.unwrap().body, StoredBody::Whole(Bytes::from_static(b"{\"kept\":true}")));
    assert_eq!(cache.find_exact(4), None, "expired while stopped");
    assert_eq!(cache.entries(), 1);
    assert_eq!(cache.find_semantic(42, &[0.9, 0.1, 0.0], 0.9).map(|(id, _)| id), Some(id));
    assert_eq!(cache.find_semantic(43, &[0.9, 0.1, 0.0], 0.9), None, "another partition");
    assert_eq!(cache.settings().threshold, 0.8, "settings changed through the API are kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn clears_by_id_key_and_all() {
    let (now, clock) = clock();
    let cache = ResponseCache::open(&config(1 << 30), Path::new(":memory:"), clock).unwrap();
    let t = now.load(Ordering::SeqCst);
    let mut keyed = entry(1, t, 60_000, "{}");
    keyed.scope.cache_key = Some("session-1".into());
    cache.store(keyed.clone());
    keyed.exact = 2;
    cache.store(keyed);
    cache.store(entry(3, t, 60_000, "{}"));
    cache.flush();
    assert_eq!(cache.clear_cache_key("session-1").unwrap(), 2);
    assert_eq!(cache.clear_cache_key("session-1").unwrap(), 0);
    let three = cache.find_exact(3).unwrap();
    assert!(cache.clear_id(three).unwrap());
    assert!(!cache.clear_id(three).unwrap());
    cache.store(entry(4, t, 60_000, "{}"));
    cache.flush();
    assert_eq!(cache.clear().unwrap(), 1);
    assert_eq!((cache.entries(), cache.stored_bytes()), (0, 0));
}

#[test]
fn settings_updates_are_checked_and_merged() {
    let bad: SettingsUpdate = serde_json::from_str(r#"{"threshold":1.5}"#).unwrap();
    assert_eq!(bad.invalid().map(|(field, _)| field), Some("threshold"));
    assert!(serde_json::from_str::<SettingsUpdate>(r#"{"mode":"sometimes"}"#).is_err());
    assert!(serde_json::from_str::<SettingsUpdate>(r#"{"colour":"red"}"#).is_err());
    let mut kept: SettingsUpdate = serde_json::from_str(r#"{"mode":"exact","embedding_model":"ollama/e"}"#).unwrap();
    kept.merge(&serde_json::from_str(r#"{"embedding_model":null,"ttl_secs":60}"#).unwrap());
    let mut settings = CacheSettings::from_config(&CacheConfig::default());
    kept.apply(&mut settings);
    assert_eq!((settings.mode, settings.ttl_secs, settings.embedding_model), (CacheMode::Exact, 60, None));
}
