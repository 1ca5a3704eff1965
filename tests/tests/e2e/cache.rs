//! The response cache (issue 14) end to end: exact hits whatever the key order and whitespace,
//! misses for any answer-changing difference, streams replayed as first sent (passthrough and
//! translated), cut streams never stored, virtual keys isolated, Bifrost's cache headers as
//! Bifrost documents them, a task class moved to another model, entries kept across a restart,
//! the admin API, and the semantic layer with a real sentence-embedding model on loopback
//! (all-MiniLM-L6-v2 from PyPI, `tests/conformance/embedding_server.py`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::MockUpstream;
use switchyard_tests::{TestGateway, gateway, posts, provider_toml};

fn cache_toml(mock: &MockUpstream, cache: &str) -> String {
    format!("{}[cache]\n{cache}\n", provider_toml("mock", mock))
}

async fn post_raw(gw: &TestGateway, path: &str, body: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = gw.anonymous.post(gw.url(path)).header("content-type", "application/json").body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("gateway reachable")
}

fn cache_header(response: &reqwest::Response) -> String {
    response.headers().get("x-switchyard-cache").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// Waits until the cache's writer stored what was queued.
fn flushed(gw: &TestGateway) {
    gw.running.state().response_cache().flush();
}

#[tokio::test]
async fn exact_hits_ignore_key_order_and_whitespace_and_any_parameter_change_misses() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&cache_toml(&mock, "mode = \"exact\"")).await;
    let first = post_raw(
        &gw,
        "/v1/chat/completions",
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hello cache"}],"temperature":0.2}"#,
        &[],
    )
    .await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_header(&first), "miss");
    let first_body = first.text().await.unwrap();
    flushed(&gw);
    let again = post_raw(
        &gw,
        "/v1/chat/completions",
        "{\n  \"temperature\" : 0.2 ,\"messages\":[ {\"content\":\"hello cache\",\"role\":\"user\"} ],\n \"model\":\"mock/mock-model\", \"user\": \"someone-else\"}",
        &[],
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(cache_header(&again), "hit-exact");
    assert_eq!(again.headers()["x-switchyard-provider"], "mock");
    assert!(again.headers().get("x-switchyard-cache-id").is_some());
    assert_eq!(again.text().await.unwrap(), first_body, "the stored answer, byte for byte");
    assert_eq!(posts(&mock).len(), 1, "the hit never reached the upstream");

    // Every answer-changing difference is a miss.
    for body in [
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hello cache"}],"temperature":0.3}"#,
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hello cache!"}],"temperature":0.2}"#,
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hello cache"}],"temperature":0.2,"max_tokens":7}"#,
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"hello cache"}],"temperature":0.2,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}"#,
        r#"{"model":"mock/other-model","messages":[{"role":"user","content":"hello cache"}],"temperature":0.2}"#,
    ] {
        let response = post_raw(&gw, "/v1/chat/completions", body, &[]).await;
        assert_eq!(cache_header(&response), "miss", "{body}");
    }
    assert_eq!(posts(&mock).len(), 6);

    // Errors are never stored: the same failing request reaches the upstream each time.
    let failing = r#"{"model":"mock/status-500","messages":[{"role":"user","content":"x"}]}"#;
    for _ in 0..2 {
        assert_eq!(post_raw(&gw, "/v1/chat/completions", failing, &[]).await.status(), 500);
        flushed(&gw);
    }
    let stats: Value = gw.client.get(gw.url("/api/cache/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["hits"]["exact"], 1, "{stats}");
    assert_eq!(stats["entries"], 6, "{stats}");
    assert!(stats["bytes"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn streams_are_replayed_as_first_sent_and_cut_streams_are_never_stored() {
    let mock = MockUpstream::start().await;
    let toml = format!(
        "{}[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\n[cache]\nmode = \"exact\"\n",
        provider_toml("mock", &mock),
        mock.base_url()
    );
    let gw = gateway(&toml).await;
    // Passthrough (Chat to an OpenAI-compatible provider) and translated (Messages to the same).
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model":"mock/mock-model","stream":true,"messages":[{"role":"user","content":"stream me"}]}),
        ),
        (
            "/v1/messages",
            json!({"model":"mock/mock-model","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"stream me"}]}),
        ),
    ];
    for (path, body) in cases {
        let first = gw.anonymous.post(gw.url(path)).json(&body).send().await.unwrap();
        assert_eq!(cache_header(&first), "miss", "{path}");
        let first = first.text().await.unwrap();
        flushed(&gw);
        let mut again = gw.anonymous.post(gw.url(path)).json(&body).send().await.unwrap();
        assert_eq!(cache_header(&again), "hit-exact", "{path}");
        assert!(again.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        // Replayed chunk by chunk.
        let mut chunks = Vec::new();
        while let Some(chunk) = again.chunk().await.unwrap() {
            chunks.push(chunk);
        }
        assert!(chunks.len() > 1, "{path}: one chunk per stored chunk");
        let replayed: Vec<u8> = chunks.concat();
        assert_eq!(String::from_utf8(replayed).unwrap(), first, "{path}");
        // A stream request is not served from a whole answer, nor the other way round.
        let mut whole = body.clone();
        whole["stream"] = json!(false);
        let response = gw.anonymous.post(gw.url(path)).json(&whole).send().await.unwrap();
        assert_eq!(cache_header(&response), "miss", "{path}");
    }
    assert_eq!(posts(&mock).len(), 4);

    // A stream cut mid-way ends in an error event and is never stored.
    let cut = json!({"model":"mock/cut-mid-stream","stream":true,"messages":[{"role":"user","content":"x"}]});
    for _ in 0..2 {
        let response = gw.anonymous.post(gw.url("/v1/chat/completions")).json(&cut).send().await.unwrap();
        assert_eq!(cache_header(&response), "miss");
        let text = response.text().await.unwrap();
        assert!(text.contains("error"), "{text}");
        flushed(&gw);
    }
    assert_eq!(posts(&mock).len(), 6, "the cut stream went upstream both times");
}

#[tokio::test]
async fn virtual_keys_never_see_each_others_entries() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&cache_toml(&mock, "mode = \"exact\"")).await;
    let mut values = Vec::new();
    for id in ["vk-a", "vk-b"] {
        let response = gw
            .client
            .put(gw.url(&format!("/api/governance/virtual-keys/{id}")))
            .json(&json!({"provider_configs": [{"provider": "mock", "allowed_models": ["mock-model"]}]}))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        values.push(body["virtual_key"]["value"].as_str().unwrap().to_owned());
    }
    let body = r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"same question"}]}"#;
    let ask = |key: &str| {
        let key = key.to_owned();
        let gw = &gw;
        async move {
            let response = post_raw(gw, "/v1/chat/completions", body, &[("x-bf-vk", &key)]).await;
            assert_eq!(response.status(), 200);
            cache_header(&response)
        }
    };
    assert_eq!(ask(&values[0]).await, "miss");
    flushed(&gw);
    assert_eq!(ask(&values[0]).await, "hit-exact");
    assert_eq!(ask(&values[1]).await, "miss", "another key's entry is not served");
    assert_eq!(cache_header(&post_raw(&gw, "/v1/chat/completions", body, &[]).await), "miss", "nor a keyless request");
    assert_eq!(posts(&mock).len(), 3);
}

#[tokio::test]
async fn bifrost_cache_headers_turn_caching_on_partition_and_clear() {
    let mock = MockUpstream::start().await;
    // Caching is off in the config: Bifrost's cache key turns it on per request.
    let gw = gateway(&provider_toml("mock", &mock)).await;
    let body = r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"bifrost"}]}"#;
    let ask = |headers: &'static [(&'static str, &'static str)]| {
        let gw = &gw;
        async move { cache_header(&post_raw(gw, "/v1/chat/completions", body, headers).await) }
    };
    assert_eq!(ask(&[]).await, "", "off: no cache header at all");
    assert_eq!(ask(&[("x-bf-cache-key", "session-1")]).await, "miss");
    flushed(&gw);
    assert_eq!(ask(&[("x-bf-cache-key", "session-1")]).await, "hit-exact");
    assert_eq!(ask(&[("x-bf-cache-key", "session-2")]).await, "miss", "another cache key, another partition");
    assert_eq!(ask(&[]).await, "", "no key, no caching");
    // `x-bf-cache-type: semantic` skips the exact layer; an unknown type bypasses the cache.
    assert_eq!(ask(&[("x-bf-cache-key", "session-1"), ("x-bf-cache-type", "semantic")]).await, "miss");
    assert_eq!(ask(&[("x-bf-cache-key", "session-1"), ("x-bf-cache-type", "fuzzy")]).await, "bypass");
    // No-store: looked up, never written.
    assert_eq!(ask(&[("x-bf-cache-key", "session-3"), ("x-bf-cache-no-store", "true")]).await, "miss");
    flushed(&gw);
    assert_eq!(ask(&[("x-bf-cache-key", "session-3")]).await, "miss");
    flushed(&gw);
    // Bifrost's clear-by-key.
    let cleared: Value =
        gw.client.delete(gw.url("/api/cache/clear-by-key/session-1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cleared["deleted"], 1, "{cleared}");
    assert_eq!(ask(&[("x-bf-cache-key", "session-1")]).await, "miss");
    flushed(&gw);
    // Bifrost's clear by id, the id a hit answers.
    let hit = post_raw(&gw, "/v1/chat/completions", body, &[("x-bf-cache-key", "session-1")]).await;
    let id = hit.headers()["x-switchyard-cache-id"].to_str().unwrap().to_owned();
    let response = gw.client.delete(gw.url(&format!("/api/cache/clear/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = gw.client.delete(gw.url(&format!("/api/cache/clear/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(ask(&[("x-bf-cache-key", "session-1")]).await, "miss");
}

#[tokio::test]
async fn own_cache_headers_are_checked_in_the_callers_shape() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&cache_toml(&mock, "mode = \"exact\"")).await;
    let response = post_raw(
        &gw,
        "/v1/chat/completions",
        r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"x"}]}"#,
        &[("x-switchyard-cache-ttl", "soon")],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("x-switchyard-cache-ttl"), "{body}");
    let response = post_raw(
        &gw,
        "/v1/messages",
        r#"{"model":"mock/mock-model","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#,
        &[("x-switchyard-cache", "sometimes")],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "Anthropic's error shape: {body}");
    assert_eq!(posts(&mock).len(), 0);
}

#[tokio::test]
async fn a_task_class_moved_to_another_model_never_serves_the_old_models_answers() {
    let mock = MockUpstream::start_with(switchyard_tests::switchyard_mock::MockOptions {
        models: vec!["model-a".into(), "model-b".into()],
        ..Default::default()
    })
    .await;
    let toml = format!(
        "{}[task_classes.pre-commit]\nchain = [\"mock/model-a\"]\ncache = \"exact\"\n",
        provider_toml("mock", &mock)
    );
    let gw = gateway(&toml).await;
    let body = r#"{"model":"pre-commit","messages":[{"role":"user","content":"review this diff"}]}"#;
    let first = post_raw(&gw, "/v1/chat/completions", body, &[]).await;
    assert_eq!(cache_header(&first), "miss", "the class turns caching on though [cache] is off");
    flushed(&gw);
    assert_eq!(cache_header(&post_raw(&gw, "/v1/chat/completions", body, &[]).await), "hit-exact");
    let response = gw
        .client
        .put(gw.url("/api/task-classes/pre-commit"))
        .json(&json!({"chain": ["mock/model-b"], "cache": "exact"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let moved = post_raw(&gw, "/v1/chat/completions", body, &[]).await;
    assert_eq!(cache_header(&moved), "miss");
    assert_eq!(moved.headers()["x-switchyard-model"], "model-b");
    let models: Vec<String> = posts(&mock).iter().map(|r| r.json()["model"].as_str().unwrap().to_owned()).collect();
    assert_eq!(models, ["model-a", "model-b"]);
}

#[tokio::test]
async fn entries_and_settings_survive_a_restart_and_the_admin_api_checks_fields() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite3");
    let toml = cache_toml(&mock, &format!("mode = \"exact\"\npath = \"{}\"", path.display()));
    let body = r#"{"model":"mock/mock-model","messages":[{"role":"user","content":"remember me"}]}"#;
    {
        let gw = gateway(&toml).await;
        assert_eq!(cache_header(&post_raw(&gw, "/v1/chat/completions", body, &[]).await), "miss");
        let response =
            gw.client.put(gw.url("/api/cache/config")).json(&json!({"threshold": 1.5})).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains("threshold"), "{error}");
        let response = gw
            .client
            .put(gw.url("/api/cache/config"))
            .json(&json!({"threshold": 0.9, "ttl_secs": 600}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let anonymous = gw.anonymous.get(gw.url("/api/cache/stats")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "the admin API needs the token");
        gw.running.shutdown().await;
    }
    let gw = gateway(&toml).await;
    assert_eq!(cache_header(&post_raw(&gw, "/v1/chat/completions", body, &[]).await), "hit-exact");
    let config: Value = gw.client.get(gw.url("/api/cache/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!((config["threshold"].as_f64().unwrap() * 100.0).round(), 90.0, "{config}");
    assert_eq!(config["ttl_secs"], 600);
    let cleared: Value = gw.client.delete(gw.url("/api/cache")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cleared["deleted"], 1);
    assert_eq!(cache_header(&post_raw(&gw, "/v1/chat/completions", body, &[]).await), "miss");
    assert_eq!(posts(&mock).len(), 2);
}

#[tokio::test]
async fn embeddings_answers_are_cached_too() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&cache_toml(&mock, "mode = \"exact\"")).await;
    let body = r#"{"model":"mock/embed-model","input":["a","b"]}"#;
    let first = post_raw(&gw, "/v1/embeddings", body, &[]).await;
    assert_eq!(cache_header(&first), "miss");
    let first = first.text().await.unwrap();
    flushed(&gw);
    let again = post_raw(&gw, "/v1/embeddings", body, &[]).await;
    assert_eq!(cache_header(&again), "hit-exact");
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(posts(&mock).len(), 1);
}

// --- The semantic layer, with a real sentence-embedding model ---------------------------------

/// `tests/conformance/embedding_server.py`: all-MiniLM-L6-v2 behind an OpenAI-compatible
/// embeddings endpoint on loopback; stops when its stdin closes (when this handle drops).
struct EmbeddingServer {
    child: Child,
    base: String,
}

impl EmbeddingServer {
    fn start() -> EmbeddingServer {
        let python = std::env::var("SWITCHYARD_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-venv/bin/python")
        });
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/embedding_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the embedding server starts (run scripts/test to prepare the venv)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_owned();
        EmbeddingServer { child, base }
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.base)).await.unwrap().json().await.unwrap()
    }
}

impl Drop for EmbeddingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn semantic_toml(mock: &MockUpstream, embedder: &EmbeddingServer, local: bool) -> String {
    format!(
        "{}[providers.minilm]\nkind = \"openai-compatible\"\nbase_url = \"{}/v1\"\nlocal = {local}\n\
         [cache]\nmode = \"semantic\"\nthreshold = 0.85\nembedding_model = \"minilm/all-minilm-l6-v2\"\n",
        provider_toml("mock", mock),
        embedder.base
    )
}

fn chat(text: &str) -> String {
    json!({"model": "mock/mock-model", "messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": text}]})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_hits_for_paraphrases_and_misses_for_unrelated_prompts_with_a_real_model() {
    let embedder = tokio::task::spawn_blocking(EmbeddingServer::start).await.unwrap();
    let mock = MockUpstream::start().await;
    let gw = gateway(&semantic_toml(&mock, &embedder, true)).await;
    let first = post_raw(&gw, "/v1/chat/completions", &chat("How do I reverse a list in Python?"), &[]).await;
    assert_eq!(cache_header(&first), "miss");
    let first = first.text().await.unwrap();
    flushed(&gw);
    let paraphrase =
        post_raw(&gw, "/v1/chat/completions", &chat("What's the way to reverse a Python list?"), &[]).await;
    assert_eq!(cache_header(&paraphrase), "hit-semantic");
    let similarity: f64 = paraphrase.headers()["x-switchyard-cache-similarity"].to_str().unwrap().parse().unwrap();
    assert!((0.85..1.0).contains(&similarity), "{similarity}");
    assert_eq!(paraphrase.text().await.unwrap(), first, "the stored answer");
    for unrelated in ["What is the capital of France?", "Write a haiku about autumn leaves"] {
        let response = post_raw(&gw, "/v1/chat/completions", &chat(unrelated), &[]).await;
        assert_eq!(cache_header(&response), "miss", "{unrelated}");
    }
    // A stricter per-request threshold turns the paraphrase into a miss.
    let strict = post_raw(
        &gw,
        "/v1/chat/completions",
        &chat("What's the way to reverse a Python list?"),
        &[("x-switchyard-cache-threshold", "0.999")],
    )
    .await;
    assert_eq!(cache_header(&strict), "miss");
    // Another system prompt is another conversation: never matched.
    let other_system = json!({"model": "mock/mock-model", "messages": [{"role": "system", "content": "Answer at length."}, {"role": "user", "content": "How do I reverse a list in Python?"}]});
    let response = post_raw(&gw, "/v1/chat/completions", &other_system.to_string(), &[]).await;
    assert_eq!(cache_header(&response), "miss");
    let stats = embedder.stats().await;
    assert_eq!(stats["requests"], 6, "one embedding per lookup that missed exactly: {stats}");
    assert_eq!(posts(&mock).len(), 5, "only the paraphrase was served from the cache");
    let cache_stats: Value = gw.client.get(gw.url("/api/cache/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cache_stats["hits"]["semantic"], 1, "{cache_stats}");
    assert_eq!(cache_stats["semantic"]["active"], true, "{cache_stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_only_mode_uses_only_a_local_embedding_model() {
    let embedder = tokio::task::spawn_blocking(EmbeddingServer::start).await.unwrap();
    let mock = MockUpstream::start().await;
    // The embedding provider counts as cloud (`local = false`), the chat provider as local.
    let gw = gateway(&semantic_toml(&mock, &embedder, false)).await;
    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true})).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let first = post_raw(&gw, "/v1/chat/completions", &chat("How do I reverse a list in Python?"), &[]).await;
    assert_eq!(first.status(), 200);
    assert_eq!(cache_header(&first), "miss");
    flushed(&gw);
    let paraphrase =
        post_raw(&gw, "/v1/chat/completions", &chat("What's the way to reverse a Python list?"), &[]).await;
    assert_eq!(cache_header(&paraphrase), "miss", "no semantic layer without a local embedding model");
    // The exact layer still works.
    let exact = post_raw(&gw, "/v1/chat/completions", &chat("How do I reverse a list in Python?"), &[]).await;
    assert_eq!(cache_header(&exact), "hit-exact");
    assert_eq!(embedder.stats().await["requests"], 0, "not one byte to the cloud embedding model");
    let stats: Value = gw.client.get(gw.url("/api/cache/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["semantic"]["active"], false);
    assert!(stats["semantic"]["reason"].as_str().unwrap().contains("is not local"), "{stats}");
}
