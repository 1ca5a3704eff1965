//! Micro-benchmarks of the gateway's hot path, through gateway-core's public API:
//! - the model rewrite of a ~100 KiB chat body (`TopLevel::parse` + `rewrite`);
//! - the SSE scan of a realistic 20-chunk OpenAI stream ending with a usage chunk, in
//!   passthrough mode (`SseScanner::new(false)`) and strip mode (`SseScanner::new(true)`);
//! - `usage_in` on a content chunk (`"usage":null`) and on the usage-only chunk;
//! - one translated stream chunk each way: an OpenAI content chunk to Anthropic events (an
//!   Anthropic client, an OpenAI-compatible upstream), and an Anthropic `content_block_delta` to
//!   an OpenAI chunk (an OpenAI client, an Anthropic upstream), each mid-stream.
//!
//! - the policy stage with a virtual key among 1,000 (find by hash, admit, settle).
//! - the response cache's exact lookup on a miss (the canonical hash of the body, then the
//!   in-memory index among 10,000 entries), for a 1 KiB request and the 100 KiB one.
//! - the semantic cache's vector search: the nearest of 100,000 entries of 768 dimensions in
//!   one partition (`cache_vectors`; the issue's target is a p50 of 1 ms).
//!
//! ```sh
//! cargo bench -p switchyard-tests --bench hot_path            # full run
//! cargo bench -p switchyard-tests --bench hot_path -- --quick # a few seconds
//! cargo bench -p switchyard-tests --bench hot_path -- cache_vectors
//! ```

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway_core::pipeline::body::{BodyEdits, TopLevel};
use gateway_core::pipeline::sse::{SseScanner, usage_in};
use gateway_core::translate::{Flow, Mapper, StreamTranslator};

/// A chat body of about 100 KiB in the order the OpenAI Python SDK sends it (`messages` first,
/// `model` after it), with a system prompt, a conversation, tools and a few scalar options.
fn chat_body() -> Bytes {
    let paragraph = "The quick brown fox jumps over the lazy dog; \\\"quoted\\\" text, unicode \\u00e9\\u00e8, \
                     and a newline\\n in the middle of a long line of ordinary prose. ";
    let mut messages = Vec::new();
    messages.push(format!(r#"{{"role":"system","content":"{}"}}"#, paragraph.repeat(40)));
    let mut turn = 0;
    while messages.iter().map(String::len).sum::<usize>() < 100 * 1024 {
        let (role, repeat) = if turn % 2 == 0 { ("user", 12) } else { ("assistant", 20) };
        messages.push(format!(r#"{{"role":"{role}","content":"{}"}}"#, paragraph.repeat(repeat)));
        turn += 1;
    }
    let tools = r#"[{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}]"#;
    let body = format!(
        r#"{{"messages":[{}],"model":"mock/gpt-4o-mini","temperature":0.2,"max_tokens":1024,"tools":{tools},"tool_choice":"auto","user":"bench"}}"#,
        messages.join(",")
    );
    Bytes::from(body)
}

/// A realistic OpenAI stream asked with `stream_options.include_usage`: a role chunk, 18 content
/// chunks, a finish chunk (each with `"usage":null`), the usage-only chunk and `[DONE]`. One
/// `Bytes` per event, as they usually arrive from the network.
fn openai_stream() -> Vec<Bytes> {
    let head = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":"#;
    let mut events = Vec::new();
    let mut push = |choices: String, usage: &str| {
        events.push(Bytes::from(format!("data: {head}{choices},\"usage\":{usage}}}\n\n")));
    };
    push(r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]"#.into(), "null");
    let words = [
        "Hello",
        "!",
        " How",
        " can",
        " I",
        " assist",
        " you",
        " today",
        "?",
        " I",
        " can",
        " answer",
        " questions",
        ",",
        " write",
        " code",
        " and",
        " more",
    ];
    for word in words {
        push(format!(r#"[{{"index":0,"delta":{{"content":"{word}"}},"logprobs":null,"finish_reason":null}}]"#), "null");
    }
    push(r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]"#.into(), "null");
    push(
        "[]".into(),
        r#"{"prompt_tokens":19,"completion_tokens":18,"total_tokens":37,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#,
    );
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    assert_eq!(events.len(), 22, "role + 18 content + finish + usage + [DONE]");
    events
}

fn body_rewrite(c: &mut Criterion) {
    let body = chat_body();
    let mut group = c.benchmark_group("body");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function(format!("parse+rewrite model ({} KiB)", body.len() / 1024), |b| {
        b.iter(|| {
            let top = TopLevel::parse(black_box(&body)).expect("valid body");
            let edits = BodyEdits { model: Some("gpt-4o-mini"), ..Default::default() };
            black_box(top.rewrite(&body, &edits))
        })
    });
    group.bench_function("parse only", |b| b.iter(|| black_box(TopLevel::parse(black_box(&body)).is_ok())));
    group.finish();
}

fn sse_scan(c: &mut Criterion) {
    let events = openai_stream();
    let total: usize = events.iter().map(Bytes::len).sum();
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(total as u64));
    for (name, strip) in [("scan 22 events passthrough", false), ("scan 22 events strip usage", true)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut scanner = SseScanner::new(strip);
                let mut forwarded = 0;
                for event in &events {
                    forwarded += scanner.feed(event.clone()).len();
                }
                forwarded += scanner.finish().len();
                assert!(scanner.saw_done() && scanner.usage().is_some());
                black_box(forwarded)
            })
        });
    }
    group.finish();

    let content = &events[5];
    let content = content.strip_prefix(b"data: ").unwrap_or(content);
    let usage_chunk = &events[events.len() - 2];
    let usage_chunk = usage_chunk.strip_prefix(b"data: ").unwrap_or(usage_chunk);
    assert!(usage_in(content).is_none() && usage_in(usage_chunk).is_some_and(|u| u.usage_only));
    let mut group = c.benchmark_group("usage_in");
    group
        .bench_function("content chunk (usage null)", |b| b.iter(|| black_box(usage_in(black_box(content)).is_some())));
    group.bench_function("usage-only chunk", |b| b.iter(|| black_box(usage_in(black_box(usage_chunk)).is_some())));
    group.finish();
}

/// Feeds the events before the measured one, so the translator is mid-stream (message and
/// content block already open), and checks that the measured event writes something.
fn mid_stream(
    mut translator: Box<dyn StreamTranslator>,
    prelude: &[(Option<&str>, &str)],
    event: (Option<&str>, &str),
) -> Box<dyn StreamTranslator> {
    let mut out = BytesMut::new();
    for (name, data) in prelude {
        assert_eq!(translator.event(*name, data.as_bytes(), &mut out), Flow::Continue);
    }
    out.clear();
    assert_eq!(translator.event(event.0, event.1.as_bytes(), &mut out), Flow::Continue);
    assert!(!out.is_empty(), "the measured event writes client bytes");
    translator
}

fn translated_chunk(c: &mut Criterion) {
    let head =
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","choices":"#;
    let role = format!(r#"{head}[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#);
    let content = format!(r#"{head}[{{"index":0,"delta":{{"content":" assist"}},"finish_reason":null}}]}}"#);
    let openai_to_anthropic = (None, content.as_str());
    let mut to_anthropic = mid_stream(
        Mapper::AnthropicClient { model: "mock/gpt-4o-mini".into() }.stream(),
        &[(None, role.as_str()), (None, content.as_str())],
        openai_to_anthropic,
    );

    let start = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":19,"output_tokens":1}}}"#;
    let block = r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
    let delta = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" assist"}}"#;
    let anthropic_to_openai = (Some("content_block_delta"), delta);
    let mut to_openai = mid_stream(
        Mapper::OpenAiClient { model: "claude/claude-sonnet-4-5".into(), include_usage: true }.stream(),
        &[(Some("message_start"), start), (Some("content_block_start"), block), anthropic_to_openai],
        anthropic_to_openai,
    );

    let mut group = c.benchmark_group("translate");
    let mut out = BytesMut::with_capacity(1024);
    group.bench_function("OpenAI content chunk -> Anthropic events", |b| {
        b.iter(|| {
            out.clear();
            let flow = to_anthropic.event(None, black_box(openai_to_anthropic.1.as_bytes()), &mut out);
            black_box((flow, out.len()))
        })
    });
    group.bench_function("Anthropic text delta -> OpenAI chunk", |b| {
        b.iter(|| {
            out.clear();
            let flow = to_openai.event(anthropic_to_openai.0, black_box(anthropic_to_openai.1.as_bytes()), &mut out);
            black_box((flow, out.len()))
        })
    });
    group.finish();
}

/// The policy stage's work for a request presented with a virtual key, among 1,000 keys each
/// with a request limit and a budget: find the key by its value's hash, admit it (the request
/// limit reserved, the budget checked), and settle it with a cost. The target is 2 µs.
fn virtual_key_policy(c: &mut Criterion) {
    use gateway_core::governance::spec::{BudgetSpec, KeySpec, RateLimitSpec};
    use gateway_core::governance::{Governance, now_ms, reset::ResetDuration, secret};
    let governance = Governance::open(None, false).expect("in memory");
    let mut values = Vec::new();
    for i in 0..1000 {
        let value = secret::new_value();
        let spec = KeySpec {
            id: format!("vk-{i}"),
            name: format!("key {i}"),
            description: String::new(),
            is_active: true,
            value_hash: secret::to_hex(&secret::hash(&value)),
            value_hint: secret::hint(&value),
            usable_by_id: false,
            allow_all_providers: true,
            provider_configs: Vec::new(),
            mcp_configs: Vec::new(),
            budgets: vec![BudgetSpec {
                max_limit: 1e8,
                reset_duration: ResetDuration::parse("1M").expect("duration"),
                calendar_aligned: None,
                id: None,
            }],
            rate_limit: Some(RateLimitSpec {
                request_max_limit: Some(i64::MAX / 2),
                request_reset_duration: Some(ResetDuration::parse("1m").expect("duration")),
                ..RateLimitSpec::default()
            }),
            calendar_aligned: false,
            created_at: now_ms(),
            updated_at: now_ms(),
        };
        governance.put(spec, false).expect("stored");
        values.push(value);
    }
    let value = &values[617];
    c.bench_function("policy: find, admit and settle a virtual key among 1,000", |b| {
        b.iter(|| {
            let keys = governance.keys();
            let entry = keys.find(black_box(value)).expect("known");
            let admission = governance.admit(entry, now_ms()).expect("admitted");
            admission.settle(&governance, None, true, 17, 0.000_017);
        })
    });
}

/// A small chat request (~1 KiB): a system prompt, one question, a tool, a few options.
fn small_chat_body() -> Bytes {
    Bytes::from_static(
        br#"{"model":"coding","messages":[{"role":"system","content":"You are a careful senior engineer. Answer briefly, with code where it helps, and say when you are unsure."},{"role":"user","content":"In Rust, how do I read a file line by line without loading it all into memory, and skip lines that start with a hash?"}],"temperature":0.2,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"read_file","description":"Read a file from the workspace","parameters":{"type":"object","properties":{"path":{"type":"string"},"max_lines":{"type":"integer"}},"required":["path"]}}}],"tool_choice":"auto","user":"bench"}"#,
    )
}

fn cache_exact_miss(c: &mut Criterion) {
    use gateway_core::cache::key::{RequestShape, Scope, exact};
    use gateway_core::cache::{NewEntry, ResponseCache, StoredAnswer, StoredBody};
    use gateway_core::wire::{ApiFamily, Endpoint};

    let config = gateway_core::config::CacheConfig {
        mode: gateway_core::config::CacheMode::Exact,
        ..gateway_core::config::CacheConfig::default()
    };
    let cache = ResponseCache::in_memory(&config).expect("cache");
    let now = cache.now_ms();
    for i in 0..10_000u128 {
        cache.store(NewEntry {
            exact: i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
            scope: Scope::default(),
            semantic: None,
            created_ms: now,
            expires_ms: now + 3_600_000,
            answer: StoredAnswer {
                status: 200,
                content_type: None,
                provider: "mock".into(),
                model: "m".into(),
                local: false,
                usage: None,
                body: StoredBody::Whole(Bytes::from_static(b"{}")),
            },
        });
        if i % 200 == 199 {
            cache.flush();
        }
    }
    cache.flush();
    let scope = Scope::default();
    let shape = RequestShape {
        family: ApiFamily::OpenAi,
        endpoint: Endpoint::ChatCompletions,
        stream: true,
        model: "openai/gpt-4o-mini",
        scope: &scope,
    };
    let mut group = c.benchmark_group("cache");
    for (name, body) in [("exact miss, 1 KiB request", small_chat_body()), ("exact miss, 100 KiB request", chat_body())]
    {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let key = exact(black_box(&shape), black_box(&body)).expect("a JSON body");
                black_box(cache.find_exact(key))
            })
        });
    }
    group.finish();
}

/// A seeded generator (SplitMix64), so every run searches the same vectors without a
/// dependency on `rand` here.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn unit_vector(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// `base` (a unit vector) moved toward noise until their cosine is about `similarity`.
fn near_duplicate(rng: &mut SplitMix, base: &[f32], similarity: f32) -> Vec<f32> {
    let noise = unit_vector((0..base.len()).map(|_| rng.unit()).collect());
    let along: f32 = noise.iter().zip(base).map(|(n, b)| n * b).sum();
    let side = unit_vector(noise.iter().zip(base).map(|(n, b)| n - along * b).collect());
    let across = (1.0 - similarity * similarity).sqrt();
    base.iter().zip(&side).map(|(b, s)| similarity * b + across * s).collect()
}

/// The semantic cache's lookup at the issue's size, everything in one partition (the worst
/// case): 100,000 entries of 768 dimensions in 200 clusters, one in ten a near-duplicate
/// (cosine 0.85 to 0.99) of an earlier entry. Queries alternate between near-duplicates of
/// stored entries (cosine 0.8 to 0.99: hits at 0.8) and fresh vectors (misses). The per-lookup
/// p50 and p99 are printed before criterion's own measurement.
fn cache_vectors(c: &mut Criterion) {
    use gateway_core::cache::vectors::VectorIndex;
    const ENTRIES: usize = 100_000;
    const DIMENSIONS: usize = 768;
    const PARTITION: u64 = 0x5eed;
    let mut rng = SplitMix(14);
    let centroids: Vec<Vec<f32>> =
        (0..200).map(|_| unit_vector((0..DIMENSIONS).map(|_| rng.unit()).collect())).collect();
    let mut stored: Vec<Vec<f32>> = Vec::with_capacity(ENTRIES);
    let mut index = VectorIndex::new();
    let started = std::time::Instant::now();
    for id in 0..ENTRIES {
        let vector = if id % 10 == 9 {
            let similarity = 0.85 + 0.14 * (rng.unit() + 1.0) / 2.0;
            let target = rng.below(id);
            near_duplicate(&mut rng, &stored[target], similarity)
        } else {
            let spread = 0.5 + 0.3 * (rng.unit() + 1.0) / 2.0;
            let centroid = rng.below(centroids.len());
            near_duplicate(&mut rng, &centroids[centroid], spread)
        };
        index.insert(id as u64, PARTITION, &vector).expect("a valid vector");
        stored.push(vector);
    }
    let per_insert = started.elapsed() / ENTRIES as u32;
    let queries: Vec<Vec<f32>> = (0..64)
        .map(|i| {
            if i % 2 == 0 {
                let similarity = 0.8 + 0.19 * (rng.unit() + 1.0) / 2.0;
                let target = rng.below(ENTRIES);
                near_duplicate(&mut rng, &stored[target], similarity)
            } else {
                unit_vector((0..DIMENSIONS).map(|_| rng.unit()).collect())
            }
        })
        .collect();
    let hits = queries.iter().filter(|q| index.nearest(PARTITION, q, 0.8).is_some()).count();
    assert!(hits >= 32, "every near-duplicate query finds its entry ({hits} hits of 64)");
    // Recall against an exact f32 scan of every entry: the same answer at 0.8 and at 0.95.
    for (i, query) in queries.iter().enumerate() {
        let unit = unit_vector(query.clone());
        let (best, best_similarity) = stored
            .iter()
            .enumerate()
            .map(|(id, v)| (id as u64, unit.iter().zip(&unit_vector(v.clone())).map(|(a, b)| a * b).sum::<f32>()))
            .fold((0, f32::MIN), |best, e| if e.1 > best.1 { e } else { best });
        for threshold in [0.8, 0.95] {
            let found = index.nearest(PARTITION, query, threshold);
            if best_similarity >= threshold + 1e-4 {
                assert_eq!(found.map(|(id, _)| id), Some(best), "query {i} at {threshold}: the exact best");
            } else if best_similarity < threshold - 1e-4 {
                assert_eq!(found, None, "query {i} at {threshold}: nothing reaches it");
            }
        }
    }

    let mut lookups: Vec<Duration> = (0..512)
        .map(|i| {
            let started = std::time::Instant::now();
            black_box(index.nearest(PARTITION, black_box(&queries[i % queries.len()]), 0.8));
            started.elapsed()
        })
        .collect();
    lookups.sort();
    eprintln!(
        "cache_vectors: {ENTRIES} x {DIMENSIONS} in one partition, {:.0} MiB, insert {per_insert:?} each; \
         nearest p50 {:?}, p99 {:?}",
        index.memory_bytes() as f64 / (1024.0 * 1024.0),
        lookups[lookups.len() / 2],
        lookups[lookups.len() * 99 / 100],
    );

    let mut group = c.benchmark_group("cache_vectors");
    let mut next = 0;
    group.bench_function("nearest of 100,000 x 768 (one partition)", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            black_box(index.nearest(PARTITION, black_box(&queries[next]), 0.8))
        })
    });
    group.finish();

    let started = std::time::Instant::now();
    for id in (0..ENTRIES as u64).step_by(100) {
        index.remove(id);
    }
    eprintln!("cache_vectors: remove {:?} each", started.elapsed() / (ENTRIES as u32 / 100));
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = body_rewrite, sse_scan, translated_chunk, virtual_key_policy, cache_exact_miss, cache_vectors
}
criterion_main!(benches);
