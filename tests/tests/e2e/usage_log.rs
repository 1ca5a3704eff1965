//! The usage log and metrics end to end: real HTTP on loopback through the gateway to the mock,
//! a real SQLite file in a temporary directory, real clients (curl, the Prometheus parser).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use gateway_core::config::UsageConfig;
use gateway_core::observe::{Outcome, RequestRecord, TracingObserver};
use gateway_core::usage::pricing::PriceTable;
use gateway_core::usage::query::{self, LogFilter};
use gateway_core::usage::{LogEntry, UsageLog, UsageRecorder};
use gateway_core::wire::Usage;
use serde_json::{Value, json};
use switchyard_mock::usage::{CACHE_WRITE_TOKENS, CACHED_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS};
use switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{TestGateway, gateway, provider_toml};

/// `mock/*` priced so that every mock answer has a known cost: (12 - 4) × 1 + 4 × 0.5 + 5 × 2
/// dollars per million tokens.
const PRICING: &str = "[pricing.\"mock/*\"]\ninput = 1.0\ncached_input = 0.5\noutput = 2.0\n";
const MOCK_COST: f64 = 20.0 / 1e6;

async fn priced_gateway() -> (TestGateway, MockUpstream) {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("{}{PRICING}", provider_toml("mock", &mock))).await;
    (gw, mock)
}

fn log(gw: &TestGateway) -> Arc<UsageLog> {
    gw.running.state().usage().log.clone().expect("the usage log is on")
}

/// Waits until every row so far is written, then reads them all, oldest first.
async fn rows(gw: &TestGateway) -> Vec<LogEntry> {
    let log = log(gw);
    tokio::task::spawn_blocking(move || {
        log.flush().unwrap();
        let reader = log.reader();
        let conn = reader.lock().unwrap();
        let mut rows = query::logs(&conn, &LogFilter { limit: 100_000, ..LogFilter::default() }).unwrap();
        rows.reverse();
        rows
    })
    .await
    .unwrap()
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hello there"}]})
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl").args(["-sS", "--max-time", "20"]).args(args).output().expect("curl runs");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_row_per_request_with_tokens_cost_and_outcome() {
    let (gw, _mock) = priced_gateway().await;
    assert!(gw.data_dir.path().join("usage.sqlite3").exists(), "a real SQLite file");
    let plain = gw.post_json("/v1/chat/completions", &chat("mock/echo", false)).await;
    assert_eq!(plain.status(), 200);
    plain.bytes().await.unwrap();
    let streamed = gw.post_json("/v1/chat/completions", &chat("mock/echo", true)).await;
    assert_eq!(streamed.status(), 200);
    streamed.bytes().await.unwrap();
    let failed = gw.post_json("/v1/chat/completions", &chat("mock/status-500", false)).await;
    assert_eq!(failed.status(), 500);
    let missing = gw.post_json("/v1/chat/completions", &chat("nowhere/model", false)).await;
    assert_eq!(missing.status(), 404);
    let cut = gw.post_json("/v1/chat/completions", &chat("mock/cut-mid-stream", true)).await;
    cut.bytes().await.unwrap();

    let rows = rows(&gw).await;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    for (row, stream) in [(&rows[0], false), (&rows[1], true)] {
        assert_eq!(row.outcome, "success", "{row:?}");
        assert_eq!(row.status, 200);
        assert_eq!(row.stream, stream);
        assert_eq!((row.provider.as_deref(), row.model.as_deref()), (Some("mock"), Some("echo")));
        assert_eq!(row.requested_model.as_deref(), Some("mock/echo"));
        assert_eq!(row.input_tokens, Some(PROMPT_TOKENS), "{row:?}");
        assert_eq!(row.output_tokens, Some(COMPLETION_TOKENS));
        assert_eq!(row.cached_tokens, Some(CACHED_TOKENS));
        assert!((row.cost_usd.unwrap() - MOCK_COST).abs() < 1e-12, "{row:?}");
        assert_eq!(row.attempts, 1);
        assert!(row.ttft_ms.is_some() && row.latency_ms >= row.ttft_ms.unwrap());
        assert_eq!(row.error_type, None);
        assert!(row.ts_ms > 0);
    }
    let failed = &rows[2];
    assert_eq!((failed.status, failed.outcome.as_str()), (500, "error"));
    assert_eq!(failed.error_type.as_deref(), Some("upstream_status"));
    assert_eq!((failed.input_tokens, failed.cost_usd), (None, None));
    let missing = &rows[3];
    assert_eq!((missing.status, missing.error_type.as_deref()), (404, Some("model_not_found")));
    assert_eq!((missing.provider.as_deref(), missing.attempts), (None, 0));
    let cut = &rows[4];
    assert_eq!((cut.outcome.as_str(), cut.error_type.as_deref()), ("stream_error", Some("stream_interrupted")));
    // No body, no key: nothing of the prompt or the Authorization header is in the row.
    assert!(!format!("{rows:?}").contains("hello there"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribution_from_header_user_agent_and_peer_process() {
    let (gw, _mock) = priced_gateway().await;
    let body = chat("mock/echo", false).to_string();
    let url = gw.url("/v1/chat/completions");
    let response = gw
        .client
        .post(&url)
        .header("x-switchyard-client", "nightly-eval")
        .header("x-claude-code-session-id", "session-42")
        .header("authorization", "Bearer sk-never-stored-1234")
        .json(&chat("mock/echo", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    let (url2, body2) = (url.clone(), body.clone());
    tokio::task::spawn_blocking(move || {
        // The real curl, with its own User-Agent…
        curl(&[&url2, "-H", "content-type: application/json", "-d", &body2]);
        // …and without one: then the process on the other end of the connection names it.
        curl(&[&url2, "-H", "content-type: application/json", "-H", "User-Agent:", "-d", &body2]);
    })
    .await
    .unwrap();

    let rows = rows(&gw).await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert_eq!(rows[0].client.as_deref(), Some("nightly-eval"));
    assert_eq!(rows[0].session_id.as_deref(), Some("session-42"));
    assert!(!format!("{rows:?}").contains("sk-never-stored"));
    assert_eq!(rows[1].client.as_deref(), Some("curl"));
    assert!(rows[1].user_agent.as_deref().is_some_and(|ua| ua.starts_with("curl/")), "{:?}", rows[1]);
    assert_eq!(rows[2].user_agent, None, "{:?}", rows[2]);
    if cfg!(target_os = "linux") {
        assert_eq!(rows[2].client.as_deref(), Some("curl"), "found from the peer process: {:?}", rows[2]);
    }
}

fn conformance_python() -> PathBuf {
    if let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-venv/bin/python");
    assert!(venv.exists(), "the conformance venv is missing: run `scripts/test`, or set SWITCHYARD_TEST_PYTHON");
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_the_prometheus_client() {
    let (gw, _mock) = priced_gateway().await;
    for stream in [false, true, false] {
        let response = gw.post_json("/v1/chat/completions", &chat("mock/echo", stream)).await;
        response.bytes().await.unwrap();
    }
    gw.post_json("/v1/chat/completions", &chat("mock/status-503", false)).await.bytes().await.unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/metrics_parse.py");
    let python = conformance_python();
    let url = gw.url("/metrics");
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(url).output())
        .await
        .unwrap()
        .expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .iter()
            .filter(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
            .sum()
    };
    let echo = [("provider", "mock"), ("model", "echo")];
    assert_eq!(value("switchyard_requests_total", &[("provider", "mock"), ("model", "echo"), ("status", "200")]), 3.0);
    assert_eq!(value("switchyard_requests_total", &[("status", "503")]), 1.0);
    assert_eq!(value("switchyard_input_tokens_total", &echo), 3.0 * PROMPT_TOKENS as f64);
    assert_eq!(value("switchyard_output_tokens_total", &echo), 3.0 * COMPLETION_TOKENS as f64);
    assert_eq!(value("switchyard_cached_input_tokens_total", &echo), 3.0 * CACHED_TOKENS as f64);
    assert!((value("switchyard_cost_dollars_total", &echo) - 3.0 * MOCK_COST).abs() < 1e-9);
    assert_eq!(value("switchyard_request_duration_seconds_count", &echo), 3.0);
    assert_eq!(value("switchyard_request_duration_seconds_bucket", &[("model", "echo"), ("le", "+Inf")]), 3.0);
    assert_eq!(value("switchyard_time_to_first_token_seconds_count", &echo), 3.0);
    assert_eq!(value("switchyard_upstream_errors_total", &[("error_type", "upstream_status")]), 1.0);
    assert_eq!(value("switchyard_gateway_overhead_seconds_count", &[]), 3.0);
    // Three answered requests, and the 503 twice: it is retried once (`max_retries = 1`).
    assert_eq!(value("switchyard_upstream_requests_total", &[("provider", "mock")]), 5.0);
    assert_eq!(value("switchyard_upstream_latency_seconds_count", &echo), 3.0);
    assert_eq!(value("switchyard_usage_rows_dropped_total", &[]), 0.0);
    let family = |name: &str| samples.iter().find(|s| s["family"] == name).map(|s| s["type"].clone());
    assert_eq!(family("switchyard_request_duration_seconds"), Some(json!("histogram")));
    assert_eq!(family("switchyard_requests"), Some(json!("counter")));
    // The client's API and the local-only watch.
    assert_eq!(value("switchyard_requests_total", &[("api", "openai")]), 4.0);
    assert_eq!(value("switchyard_fallbacks_total", &echo), 0.0);
    assert_eq!(family("switchyard_fallbacks"), Some(json!("counter")));
    assert_eq!(value("switchyard_local_only", &[]), 0.0);
    assert_eq!(family("switchyard_local_only"), Some(json!("gauge")));
    assert_eq!(value("switchyard_local_only_cloud_attempts_total", &[]), 0.0);
    assert_eq!(family("switchyard_local_only_cloud_attempts"), Some(json!("counter")));
    // The response cache (off here): both hit types and the misses, at 0; its size, a gauge.
    assert_eq!(value("switchyard_cache_hits_total", &[("type", "exact")]), 0.0);
    assert_eq!(value("switchyard_cache_hits_total", &[("type", "semantic")]), 0.0);
    assert_eq!(family("switchyard_cache_hits"), Some(json!("counter")));
    assert_eq!(family("switchyard_cache_misses"), Some(json!("counter")));
    assert_eq!(family("switchyard_cache_bytes"), Some(json!("gauge")));
}

fn record(started_at: SystemTime, model: &str) -> RequestRecord {
    RequestRecord {
        started_at,
        requested_model: Some(format!("openai/{model}")),
        provider: Some("openai".into()),
        upstream_model: Some(model.into()),
        status: 200,
        outcome: Outcome::Success,
        usage: Some(Usage { input_tokens: 100, output_tokens: 10, cached_input_tokens: 40, ..Usage::default() }),
        latency: Duration::from_millis(30),
        time_to_first_byte: Some(Duration::from_millis(20)),
        client: Some("bench".into()),
        attempts: 1,
        upstream_time: Some(Duration::from_millis(29)),
        ..RequestRecord::new(Arc::from("req_bench"), gateway_core::wire::ApiFamily::OpenAi, "/chat/completions")
    }
}

fn recorder(dir: &tempfile::TempDir, retention_days: u32) -> UsageRecorder {
    let config = UsageConfig { path: Some(dir.path().join("usage.sqlite3")), retention_days, ..UsageConfig::default() };
    UsageRecorder::open(&config, PriceTable::default(), Arc::new(TracingObserver)).unwrap()
}

#[test]
fn ten_thousand_requests_give_ten_thousand_rows() {
    use gateway_core::observe::RequestObserver;
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, 30);
    let now = SystemTime::now();
    for i in 0..10_000 {
        recorder.record(record(now, if i % 2 == 0 { "gpt-4o" } else { "gpt-4o-mini" }));
    }
    let log = recorder.log.clone().unwrap();
    log.flush().unwrap();
    assert_eq!(log.dropped(), 0);
    assert_eq!(log.written(), 10_000);
    let reader = log.reader();
    let conn = reader.lock().unwrap();
    let summary = query::summary(&conn, 0).unwrap();
    assert_eq!(summary.requests, 10_000);
    assert_eq!(summary.input_tokens, 1_000_000);
    // gpt-4o: 60 × 2.5 + 40 × 1.25 + 10 × 10; gpt-4o-mini: 60 × 0.15 + 40 × 0.075 + 10 × 0.6 (per 1M).
    let expected = 5_000.0 * (300.0 + 18.0) / 1e6;
    assert!((summary.cost_usd - expected).abs() < 1e-6, "{}", summary.cost_usd);
}

#[test]
fn retention_deletes_what_is_old() {
    use gateway_core::observe::RequestObserver;
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, 30);
    let now = SystemTime::now();
    for days in [0u64, 1, 29, 31, 45, 400] {
        recorder.record(record(now - Duration::from_secs(days * 86_400), "gpt-4o"));
    }
    let log = recorder.log.clone().unwrap();
    log.flush().unwrap();
    let count = |log: &UsageLog| query::summary(&log.reader().lock().unwrap(), 0).unwrap().requests;
    assert_eq!(count(&log), 6);
    log.prune().unwrap();
    assert_eq!(count(&log), 3, "rows older than 30 days are gone");
    recorder.close();
    // A shorter retention applies at the next start, in the background writer.
    let recorder = self::recorder(&dir, 1);
    let log = recorder.log.clone().unwrap();
    log.flush().unwrap();
    assert_eq!(count(&log), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_api_sums_equal_the_rows() {
    let (gw, _mock) = priced_gateway().await;
    let models = ["mock/echo", "mock/reasoning", "mock/echo", "mock/status-429", "mock/echo"];
    for (i, model) in models.iter().enumerate() {
        let response = gw
            .client
            .post(gw.url("/v1/chat/completions"))
            .header("x-switchyard-client", if i % 2 == 0 { "tool-a" } else { "tool-b" })
            .json(&chat(model, i % 2 == 1))
            .send()
            .await
            .unwrap();
        response.bytes().await.unwrap();
    }
    let rows = rows(&gw).await;
    assert_eq!(rows.len(), models.len());
    let get = |path: String| {
        let client = gw.client.clone();
        async move {
            let response = client.get(path).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let to = rows.last().unwrap().ts_ms + 1;
    let series = get(gw.url(&format!("/api/usage?from=0&to={to}&bucket=day&group_by=model"))).await;
    let data = series["data"].as_array().unwrap();
    let sum = |key: &str| data.iter().map(|p| p[key].as_f64().unwrap()).sum::<f64>();
    assert_eq!(sum("requests") as usize, rows.len());
    assert_eq!(sum("errors"), 1.0);
    assert_eq!(sum("input_tokens") as u64, rows.iter().filter_map(|r| r.input_tokens).sum::<u64>());
    assert_eq!(sum("output_tokens") as u64, rows.iter().filter_map(|r| r.output_tokens).sum::<u64>());
    assert!((sum("cost_usd") - rows.iter().filter_map(|r| r.cost_usd).sum::<f64>()).abs() < 1e-12);
    let groups: Vec<&str> = data.iter().map(|p| p["group"].as_str().unwrap()).collect();
    assert!(groups.contains(&"echo") && groups.contains(&"reasoning"), "{series}");
    let from = rows[0].ts_ms - 1;
    let by_locality = get(gw.url(&format!("/api/usage?from={from}&to={to}&bucket=minute&group_by=locality"))).await;
    let local: u64 = by_locality["data"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|p| assert_eq!(p["group"], "local", "the mock is on loopback"))
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(local as usize, rows.len());
    let by_client = get(gw.url(&format!("/api/usage?from={from}&to={to}&group_by=client"))).await;
    let tool_a: u64 = by_client["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["group"] == "tool-a")
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(tool_a, 3);
    assert!(data.iter().all(|p| p["p95_latency_ms"].as_f64().unwrap() >= p["p50_latency_ms"].as_f64().unwrap()));

    let summary = get(gw.url("/api/usage/summary")).await;
    assert_eq!(summary["requests"], rows.len());
    assert_eq!(summary["top_client"], "tool-a");
    assert_eq!(summary["top_model"], "echo");

    // The log, filtered and paged by cursor.
    let first = get(gw.url("/api/logs?limit=2")).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["data"][0]["id"], rows.last().unwrap().id);
    let cursor = first["next_cursor"].as_i64().unwrap();
    let second = get(gw.url(&format!("/api/logs?limit=2&cursor={cursor}"))).await;
    assert!(second["data"][0]["id"].as_i64().unwrap() < cursor);
    let tool_b = get(gw.url("/api/logs?client=tool-b")).await;
    assert_eq!(tool_b["data"].as_array().unwrap().len(), 2);
    let errors = get(gw.url("/api/logs?status=429")).await;
    assert_eq!(errors["data"][0]["error_type"], "upstream_status");
    // No request here named a task class (the dashboard's browser tests filter real class rows).
    let by_class = get(gw.url("/api/logs?class=coding")).await;
    assert_eq!(by_class["data"].as_array().unwrap().len(), 0);
    let one = get(gw.url(&format!("/api/logs/{}", rows[0].id))).await;
    assert_eq!(one["client"], "tool-a");
    let missing = gw.client.get(gw.url("/api/logs/999999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let bad = gw.client.get(gw.url("/api/usage?bucket=week")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_locally_the_row_says_what_the_class_cloud_model_would_have_cost() {
    let cloud = MockUpstream::start_with(MockOptions { models: vec!["gpt-4o".into()], ..MockOptions::default() }).await;
    let local =
        MockUpstream::start_with(MockOptions { models: vec!["qwen3-coder".into()], ..MockOptions::default() }).await;
    let toml = format!(
        "{}local = false\n{}[task_classes.coding]\nchain = [\"cloud/gpt-4o\"]\nlocal = [\"mlx/*coder*\"]\n\
         [pricing.\"cloud/gpt-4o\"]\ninput = 2.5\ncached_input = 1.25\noutput = 10.0\n",
        provider_toml("cloud", &cloud),
        provider_toml("mlx", &local)
    );
    let gw = gateway(&toml).await;
    let send = |body: Value| {
        let request = gw.client.post(gw.url("/v1/chat/completions")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
        }
    };
    send(chat("coding", false)).await;
    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    send(chat("coding", false)).await;
    send(chat("coding", true)).await;

    let rows = rows(&gw).await;
    assert_eq!(rows.len(), 3);
    let cloud_cost =
        ((PROMPT_TOKENS - CACHED_TOKENS) as f64 * 2.5 + CACHED_TOKENS as f64 * 1.25 + COMPLETION_TOKENS as f64 * 10.0)
            / 1e6;
    assert_eq!(rows[0].provider.as_deref(), Some("cloud"));
    assert!((rows[0].cost_usd.unwrap() - cloud_cost).abs() < 1e-12);
    assert_eq!(rows[0].saved_usd, None, "served by the cloud: nothing saved");
    for row in &rows[1..] {
        assert_eq!(row.provider.as_deref(), Some("mlx"));
        assert_eq!(row.cost_usd, Some(0.0));
        assert!((row.saved_usd.unwrap() - cloud_cost).abs() < 1e-12, "{row:?}");
    }
    let summary: Value = gw.client.get(gw.url("/api/usage/summary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary["local_requests"], 2);
    assert!((summary["saved_usd"].as_f64().unwrap() - 2.0 * cloud_cost).abs() < 1e-12, "{summary}");
    let to = rows.last().unwrap().ts_ms + 1;
    let series: Value = gw
        .client
        .get(gw.url(&format!("/api/usage?from=0&to={to}&bucket=day&group_by=locality")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let local_saved: f64 = series["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["group"] == "local")
        .map(|p| p["saved_usd"].as_f64().unwrap())
        .sum();
    assert!((local_saved - 2.0 * cloud_cost).abs() < 1e-12, "{series}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_cache_writes_are_logged_and_billed_at_their_rate() {
    let anthropic = MockUpstream::start().await;
    let toml = format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\nlocal = false\n\
         [pricing.\"claude/*\"]\ninput = 1.0\ncached_input = 0.5\ncache_write = 2.0\noutput = 2.0\n",
        anthropic.base_url()
    );
    let gw = gateway(&toml).await;
    for stream in [false, true] {
        let body = json!({
            "model": "claude/claude-cache-write",
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        });
        let response = gw.client.post(gw.url("/v1/messages")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let rows = rows(&gw).await;
    assert_eq!(rows.len(), 2);
    // Anthropic's input_tokens excludes cache reads and writes; the gateway's count includes both.
    let input = PROMPT_TOKENS + CACHED_TOKENS + CACHE_WRITE_TOKENS;
    let cost = (PROMPT_TOKENS as f64 * 1.0
        + CACHED_TOKENS as f64 * 0.5
        + CACHE_WRITE_TOKENS as f64 * 2.0
        + COMPLETION_TOKENS as f64 * 2.0)
        / 1e6;
    for row in &rows {
        assert_eq!(row.input_tokens, Some(input), "{row:?}");
        assert_eq!(row.cached_tokens, Some(CACHED_TOKENS));
        assert_eq!(row.cache_write_tokens, Some(CACHE_WRITE_TOKENS));
        assert!((row.cost_usd.unwrap() - cost).abs() < 1e-12, "{row:?}");
    }
}

/// `GET /api/logs/{id}/body` of the newest row.
async fn newest_body(gw: &TestGateway) -> (u16, Value) {
    let id = rows(gw).await.last().unwrap().id;
    let response = gw.client.get(gw.url(&format!("/api/logs/{id}/body"))).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_stored_only_when_asked_and_cut_at_the_cap() {
    // Off by default: the row is there, its bodies are not.
    let (gw, _mock) = priced_gateway().await;
    let response = gw.client.post(gw.url("/v1/chat/completions")).json(&chat("mock/echo", false)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    let (status, body) = newest_body(&gw).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("store_bodies"));

    let mock = MockUpstream::start().await;
    let gw = gateway(&format!(
        "{}[usage]\nstore_bodies = true\nmax_stored_body_bytes = 4096\n",
        provider_toml("mock", &mock)
    ))
    .await;
    let sent = chat("mock/echo", false);
    let response = gw.client.post(gw.url("/v1/chat/completions")).json(&sent).send().await.unwrap();
    let answer = response.text().await.unwrap();
    assert!(rows(&gw).await.last().unwrap().bodies_stored);
    let (status, body) = newest_body(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"], sent.to_string(), "the request as the client sent it");
    assert_eq!(body["response"], answer, "the answer as the client got it");
    assert_eq!(body["truncated"], false);
    // A stream, passed through and translated (Anthropic Messages in front of the OpenAI mock):
    // the answer is the events the client got, error events included.
    let streamed = chat("mock/echo", true);
    let response = gw.client.post(gw.url("/v1/chat/completions")).json(&streamed).send().await.unwrap();
    let events = response.text().await.unwrap();
    let (_, body) = newest_body(&gw).await;
    assert_eq!(body["response"], events);
    assert!(events.contains("data: [DONE]"));
    let messages = json!({"model": "mock/echo", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = gw.client.post(gw.url("/v1/messages")).json(&messages).send().await.unwrap();
    let events = response.text().await.unwrap();
    let (_, body) = newest_body(&gw).await;
    assert_eq!(body["response"], events);
    assert!(events.contains("event: message_stop"));
    let response =
        gw.client.post(gw.url("/v1/chat/completions")).json(&chat("mock/cut-mid-stream", true)).send().await.unwrap();
    let events = response.text().await.unwrap();
    let (_, body) = newest_body(&gw).await;
    assert_eq!(body["response"], events, "the error event is kept too");
    assert!(events.contains("\"error\""), "{events}");

    // Longer than the cap: cut, and said so.
    let long = json!({"model": "mock/echo", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let response = gw.client.post(gw.url("/v1/chat/completions")).json(&long).send().await.unwrap();
    response.bytes().await.unwrap();
    let (_, body) = newest_body(&gw).await;
    assert_eq!(body["request"].as_str().unwrap().len(), 4096);
    assert_eq!(body["truncated"], true);
}

/// What the response cache did, as the gateway's observer is told it: the log's rows and filter,
/// the usage API's sums and `/metrics` (the cache itself is another module's; its records are
/// made here as it makes them: on a hit, no usage, and the first answer's tokens saved).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_outcomes_reach_the_log_the_usage_api_and_metrics() {
    use gateway_core::observe::{CacheOutcome, RequestObserver};
    let (gw, _mock) = priced_gateway().await;
    let now = SystemTime::now();
    let first = Usage { input_tokens: 1000, output_tokens: 100, ..Usage::default() };
    for cache in [Some(CacheOutcome::Miss), Some(CacheOutcome::HitExact), Some(CacheOutcome::HitSemantic), None] {
        let hit = cache.is_some_and(CacheOutcome::is_hit);
        gw.running.state().usage().record(RequestRecord {
            usage: if hit { None } else { Some(first) },
            cache,
            cache_similarity: (cache == Some(CacheOutcome::HitSemantic)).then_some(0.97),
            cache_saved: hit.then_some(first),
            ..record(now, "gpt-4o")
        });
    }
    rows(&gw).await;
    // gpt-4o's shipped price: 1000 × 2.5 + 100 × 10 dollars per million tokens.
    let first_cost = 3500.0 / 1e6;

    let (status, hits) = get_json(&gw, "/api/logs?cache=hit").await;
    assert_eq!(status, 200);
    let hits = hits["data"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 2);
    assert_eq!((hits[0]["cache"].clone(), hits[0]["cache_similarity"].clone()), (json!("hit-semantic"), json!(0.97)));
    assert_eq!((hits[1]["cache"].clone(), hits[1]["cost_usd"].clone()), (json!("hit-exact"), json!(0.0)));
    assert!((hits[1]["cache_saved_usd"].as_f64().unwrap() - first_cost).abs() < 1e-12, "{}", hits[1]);
    for (filter, expected) in [("exact", "hit-exact"), ("semantic", "hit-semantic"), ("miss", "miss")] {
        let (_, rows) = get_json(&gw, &format!("/api/logs?cache={filter}")).await;
        let cache: Vec<&Value> = rows["data"].as_array().unwrap().iter().map(|r| &r["cache"]).collect();
        assert_eq!(cache, [expected], "{filter}");
    }
    let (_, all) = get_json(&gw, "/api/logs").await;
    assert_eq!(all["data"][0]["cache"], json!(null), "the cache was not consulted");
    let (status, bad) = get_json(&gw, "/api/logs?cache=hit-exact").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["param"], "cache", "{bad}");

    let (_, summary) = get_json(&gw, "/api/usage/summary").await;
    assert_eq!((summary["cache_hits"].clone(), summary["cache_misses"].clone()), (json!(2), json!(1)));
    assert!((summary["cache_saved_usd"].as_f64().unwrap() - 2.0 * first_cost).abs() < 1e-12, "{summary}");
    let (_, series) = get_json(&gw, "/api/usage?bucket=day").await;
    let points = series["data"].as_array().unwrap();
    assert_eq!(points.iter().map(|p| p["cache_hits"].as_u64().unwrap()).sum::<u64>(), 2, "{series}");
    assert_eq!(points.iter().map(|p| p["cache_misses"].as_u64().unwrap()).sum::<u64>(), 1, "{series}");

    let metrics = gw.client.get(gw.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "switchyard_cache_hits_total{type=\"exact\"} 1\n",
        "switchyard_cache_hits_total{type=\"semantic\"} 1\n",
        "switchyard_cache_misses_total 1\n",
        "switchyard_cache_bytes 0\n",
    ] {
        assert!(metrics.contains(line), "{line:?} missing from\n{metrics}");
    }
}

/// The same with the real cache: a miss, then an exact hit of the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_hit_through_the_gateway_costs_nothing_and_saves_the_first_cost() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("{}{PRICING}[cache]\nmode = \"exact\"\n", provider_toml("mock", &mock))).await;
    for _ in 0..2 {
        gw.post_json("/v1/chat/completions", &chat("mock/echo", false)).await.bytes().await.unwrap();
        gw.running.state().response_cache().flush();
    }
    let rows = rows(&gw).await;
    let cache: Vec<Option<&str>> = rows.iter().map(|r| r.cache.map(|c| c.as_str())).collect();
    assert_eq!(cache, [Some("miss"), Some("hit-exact")]);
    assert!((rows[0].cost_usd.unwrap() - MOCK_COST).abs() < 1e-12);
    assert_eq!(rows[0].cache_saved_usd, None);
    assert_eq!((rows[1].cost_usd, rows[1].input_tokens, rows[1].model.as_deref()), (Some(0.0), None, Some("echo")));
    assert!((rows[1].cache_saved_usd.unwrap() - MOCK_COST).abs() < 1e-12, "{:?}", rows[1]);

    let (_, summary) = get_json(&gw, "/api/usage/summary").await;
    assert_eq!((summary["cache_hits"].clone(), summary["cache_misses"].clone()), (json!(1), json!(1)));
    assert!((summary["cost_usd"].as_f64().unwrap() - MOCK_COST).abs() < 1e-12, "{summary}");
    let metrics = gw.client.get(gw.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("switchyard_cache_hits_total{type=\"exact\"} 1\n"), "{metrics}");
    assert!(metrics.contains("switchyard_cache_misses_total 1\n"), "{metrics}");
    let bytes = metrics.lines().find_map(|l| l.strip_prefix("switchyard_cache_bytes ")).unwrap();
    assert!(bytes.parse::<u64>().unwrap() > 0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stream_and_shutdown_flush() {
    let (gw, _mock) = priced_gateway().await;
    let path = gw.data_dir.path().join("usage.sqlite3");
    let stream = gw.client.get(gw.url("/api/logs/stream")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut events = stream.bytes_stream();
    gw.post_json("/v1/chat/completions", &chat("mock/echo", false)).await.bytes().await.unwrap();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap().unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: log\ndata: {"), "{text}");
    assert!(text.contains("\"model\":\"echo\""), "{text}");
    // The list's fields: the request id and the error message, not the trail.
    assert!(text.contains("\"request_id\":\"req_") && text.contains("\"error_message\":null"), "{text}");
    assert!(!text.contains("trail"), "{text}");
    // The response cache is off: the row says it was not consulted.
    assert!(text.contains("\"cache\":null,\"cache_similarity\":null,\"cache_saved_usd\":null"), "{text}");

    // Rows still queued at shutdown are written before shutdown returns (no flush here), and
    // an open live stream does not hold the shutdown up.
    for _ in 0..20 {
        gw.post_json("/v1/chat/completions", &chat("mock/echo", false)).await.bytes().await.unwrap();
    }
    let TestGateway { running, data_dir, .. } = gw;
    tokio::time::timeout(Duration::from_secs(10), running.shutdown()).await.expect("shutdown is prompt");
    let reopened = UsageLog::open(&path, Duration::from_secs(86_400)).unwrap();
    assert_eq!(query::summary(&reopened.reader().lock().unwrap(), 0).unwrap().requests, 21);
    reopened.close();
    drop(data_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_give_two_hundred_rows() {
    let (gw, _mock) = priced_gateway().await;
    let gw = Arc::new(gw);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let gw = gw.clone();
            tokio::spawn(async move {
                let response = gw.post_json("/v1/chat/completions", &chat("mock/echo", i % 2 == 0)).await;
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rows = rows(&gw).await;
    assert_eq!(rows.len(), 200);
    assert!(rows.iter().all(|r| r.input_tokens == Some(PROMPT_TOKENS)));
}

/// A figure, not an assertion: how many rows a second the writer takes through `record` (run
/// with `cargo test --release -p switchyard-tests --test usage_log -- --ignored --nocapture`).
#[test]
#[ignore]
fn writer_throughput() {
    use gateway_core::observe::RequestObserver;
    let dir = tempfile::tempdir().unwrap();
    let recorder = recorder(&dir, 30);
    let log = recorder.log.clone().unwrap();
    let now = SystemTime::now();
    let rows = 200_000u64;
    let started = std::time::Instant::now();
    // In chunks well under the channel's capacity: this measures the writer, not drops.
    for _ in 0..rows / 20_000 {
        for _ in 0..20_000 {
            recorder.record(record(now, "gpt-4o"));
        }
        log.flush().unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{rows} rows in {:.2}s: {:.0} rows/s written, {} dropped",
        elapsed.as_secs_f64(),
        log.written() as f64 / elapsed.as_secs_f64(),
        log.dropped()
    );
}

/// A figure, not an assertion: the usage API's queries on a million rows over 30 days
/// (`cargo test -p switchyard-tests --test usage_log -- --ignored --nocapture query_speed`).
#[test]
#[ignore]
fn query_speed_on_a_million_rows() {
    let log = UsageLog::open(std::path::Path::new(":memory:"), Duration::from_secs(400 * 86_400)).unwrap();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
    let reader = log.reader();
    let conn = reader.lock().unwrap();
    let started = std::time::Instant::now();
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999) \
         INSERT INTO requests (ts_ms, client, family, endpoint, provider, model, status, outcome, latency_ms, \
         input_tokens, output_tokens, cost_usd, stream) \
         SELECT {now} - (i * 2592), 'tool-' || (i % 7), 'openai', 'chat completions', 'p' || (i % 3), \
         'model-' || (i % 20), 200, CASE WHEN i % 50 = 0 THEN 'error' ELSE 'success' END, (i % 997) * 1.0, \
         100, 10, 0.001, i % 2 FROM n"
    ))
    .unwrap();
    println!("1,000,000 rows inserted in {:.2}s", started.elapsed().as_secs_f64());
    // Rows inserted with SQL bypass the writer: sum them into the rollups as a migration would.
    let started = std::time::Instant::now();
    gateway_core::usage::rollup::rebuild(&conn).unwrap();
    println!("rollups rebuilt from 1,000,000 rows in {:.2}s", started.elapsed().as_secs_f64());
    let time = |label: &str, f: &dyn Fn()| {
        let started = std::time::Instant::now();
        f();
        println!("{label}: {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    };
    let day = 86_400_000;
    time("series, 30 days by day and model (1M rows)", &|| {
        let points = query::series(&conn, now - 30 * day, now + 1, query::Bucket::Day, Some(query::GroupBy::Model));
        let points = points.unwrap();
        assert!(points.len() >= 20 * 30);
        assert_eq!(points.iter().map(|p| p.requests).sum::<u64>(), 1_000_000);
    });
    time("series, last 24 h by hour and client", &|| {
        query::series(&conn, now - day, now + 1, query::Bucket::Hour, Some(query::GroupBy::Client)).unwrap();
    });
    time("summary, today", &|| {
        query::summary(&conn, now - day).unwrap();
    });
    time("logs, newest 50 of one client", &|| {
        let filter = LogFilter { client: Some("tool-3".into()), limit: 50, ..LogFilter::default() };
        assert_eq!(query::logs(&conn, &filter).unwrap().len(), 50);
    });
    time("logs, page deep in the log by cursor", &|| {
        let filter = LogFilter { before_id: Some(500_000), limit: 50, ..LogFilter::default() };
        assert_eq!(query::logs(&conn, &filter).unwrap().len(), 50);
    });
}

/// A provider that is down: nothing listens on its port.
fn dead_provider(name: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!(
        "[providers.{name}]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmax_retries = 0\n"
    )
}

async fn get_json(gw: &TestGateway, path: &str) -> (u16, Value) {
    let response = gw.client.get(gw.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_trail_is_logged_and_found_by_row_id_and_request_id() {
    let flaky = MockUpstream::start().await;
    let good = MockUpstream::start().await;
    let gw = gateway(&format!(
        "{}{}max_retries = 0\n{}",
        dead_provider("dead"),
        provider_toml("flaky", &flaky),
        provider_toml("good", &good)
    ))
    .await;

    // Down, then a 503, then an answer: three attempts.
    let mut body = chat("dead/any", false);
    body["fallbacks"] = json!(["flaky/status-503", "good/mock-model"]);
    let response = gw.post_json("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-switchyard-attempts"), "3");
    let request_id = header(&response, "x-request-id");
    assert!(request_id.starts_with("req_") && request_id.len() == 28, "{request_id}");
    response.bytes().await.unwrap();
    // A model nobody serves: no attempt at all.
    let missing = gw.post_json("/v1/chat/completions", &chat("nowhere/model", false)).await;
    assert_eq!(missing.status(), 404);
    let missing_id = header(&missing, "x-request-id");
    missing.bytes().await.unwrap();
    // The client's own id comes back and finds its row.
    let mine = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("x-request-id", "my-id-1")
        .json(&chat("good/mock-model", false))
        .send()
        .await
        .unwrap();
    assert_eq!((mine.status().as_u16(), header(&mine, "x-request-id")), (200, "my-id-1".to_owned()));
    mine.bytes().await.unwrap();
    let log = log(&gw);
    tokio::task::spawn_blocking(move || log.flush().unwrap()).await.unwrap();

    // The list: each row with its request id and error message, no trail.
    let (status, list) = get_json(&gw, "/api/logs").await;
    assert_eq!(status, 200, "{list}");
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{list}");
    assert!(listed.iter().all(|row| row.get("attempts_trail").is_none() && row.get("trail").is_none()), "{list}");
    let fell_back = listed.iter().find(|row| row["request_id"] == request_id.as_str()).expect("the fallback's row");
    assert_eq!(fell_back["error_message"], Value::Null);
    let row_id = fell_back["id"].as_i64().unwrap();

    let (status, by_row) = get_json(&gw, &format!("/api/logs/{row_id}")).await;
    assert_eq!(status, 200, "{by_row}");
    let (status, by_request) = get_json(&gw, &format!("/api/logs/{request_id}")).await;
    assert_eq!(status, 200, "{by_request}");
    assert_eq!(by_row, by_request);
    assert_eq!((by_row["id"].as_i64(), by_row["request_id"].as_str()), (Some(row_id), Some(request_id.as_str())));
    assert_eq!((by_row["attempts"].as_u64(), by_row["provider"].as_str()), (Some(3), Some("good")));
    let trail = by_row["attempts_trail"].as_array().expect("a trail");
    let summary: Vec<_> = trail
        .iter()
        .map(|a| (a["provider"].as_str(), a["model"].as_str(), a["status"].as_u64(), a["error_type"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("dead"), Some("any"), None, Some("upstream_unreachable")),
            (Some("flaky"), Some("status-503"), Some(503), Some("upstream_status")),
            (Some("good"), Some("mock-model"), Some(200), None),
        ],
        "{by_row:#}"
    );
    assert!(trail[..2].iter().all(|a| a["error"].as_str().is_some_and(|e| !e.is_empty())), "{by_row:#}");
    assert!(trail.iter().all(|a| a["duration_ms"].as_f64().is_some_and(|d| d >= 0.0)), "{by_row:#}");
    // The keys' references only: the configured literal never leaves the gateway.
    assert_eq!((trail[0]["key"].as_str(), trail[1]["key"].as_str()), (None, Some("****0001")), "{by_row:#}");
    for text in [by_row.to_string(), list.to_string()] {
        assert!(!text.contains("sk-test-"), "a key in the log: {text}");
    }

    // Failed before any attempt: the message, an empty trail.
    let (status, missing) = get_json(&gw, &format!("/api/logs/{missing_id}")).await;
    assert_eq!(status, 200, "{missing}");
    assert_eq!((missing["status"].as_u64(), missing["error_type"].as_str()), (Some(404), Some("model_not_found")));
    assert!(missing["error_message"].as_str().is_some_and(|m| m.contains("nowhere")), "{missing}");
    assert_eq!(missing["attempts_trail"], json!([]));

    let (status, mine) = get_json(&gw, "/api/logs/my-id-1").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!((mine["request_id"].as_str(), mine["model"].as_str()), (Some("my-id-1"), Some("mock-model")));
    assert_eq!(mine["attempts_trail"].as_array().map(Vec::len), Some(1));
    let (status, _) = get_json(&gw, "/api/logs/req_nobody").await;
    assert_eq!(status, 404);
}
