//! Routing through the gateway with mock upstreams that fail on purpose: fallbacks, retries,
//! task classes and their selectors, local-only mode, weights and the circuit breaker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::GatewayOptions;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{TestGateway, gateway, gateway_raw, posts, provider_toml, sse_data};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "route me"}]})
}

/// A provider that is down: nothing listens on its port.
fn dead_provider(name: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!(
        "[providers.{name}]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmax_retries = 0\n"
    )
}

async fn answer_text(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn failures_before_the_first_byte_fall_back_and_the_client_sees_no_error() {
    let flaky = MockUpstream::start().await;
    let good = MockUpstream::start().await;
    let gw = gateway(&format!(
        "{}first_byte_timeout_secs = 1\nmax_retries = 0\n{}{}",
        provider_toml("flaky", &flaky),
        provider_toml("good", &good),
        dead_provider("dead")
    ))
    .await;
    let cases = [
        ("dead/any", false),
        ("flaky/slow-first-byte-3000", false),
        ("flaky/status-429", false),
        ("flaky/status-500", false),
        ("flaky/cut-before-first-byte", true),
        ("flaky/stream-delay-3000", true),
    ];
    for (model, stream) in cases {
        let mut body = chat(model);
        body["fallbacks"] = json!(["good/mock-model"]);
        body["stream"] = json!(stream);
        let response = gw.post_json("/v1/chat/completions", &body).await;
        assert_eq!(response.status(), 200, "{model}");
        assert_eq!(response.headers()["x-switchyard-provider"], "good", "{model}");
        assert_eq!(response.headers()["x-switchyard-attempts"], "2", "{model}");
        if stream {
            let data = sse_data(response).await;
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{model}");
        } else {
            assert_eq!(answer_text(response).await, "echo: route me", "{model}");
        }
    }
    // The fallback list is the gateway's business: upstreams never see it.
    assert!(posts(&good).iter().all(|r| r.json().get("fallbacks").is_none()));
    // A client error is not a reason to fall back. (`flaky` failed five times above, so its
    // breaker is open now and it would be skipped; ask `good` for the error instead.)
    let mut body = chat("good/status-400");
    body["fallbacks"] = json!(["flaky/mock-model"]);
    let response = gw.post_json("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn retry_after_is_honoured_before_retrying_the_same_provider() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("{}max_retries = 1\n", provider_toml("solo", &mock))).await;
    let started = Instant::now();
    let response = gw.post_json("/v1/chat/completions", &chat("solo/status-429")).await;
    assert_eq!(response.status(), 429, "both attempts were rate limited");
    assert_eq!(posts(&mock).len(), 2, "one retry");
    assert!(started.elapsed() >= Duration::from_millis(950), "waited for Retry-After: 1 ({:?})", started.elapsed());
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test]
async fn a_rate_limited_key_moves_to_the_next_key() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!(
        "[providers.keyed]\nkind = \"openai-compatible\"\nbase_url = \"{}/v1\"\nkeys = [\"key-one-1111\", \"key-two-2222\"]\nmax_retries = 0\n",
        mock.base_url()
    ))
    .await;
    gw.post_json("/v1/chat/completions", &chat("keyed/status-429")).await;
    let seen: Vec<String> = posts(&mock).iter().map(|r| r.header("authorization").unwrap_or("").to_owned()).collect();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1], "the second attempt used the other key");
}

#[tokio::test]
async fn task_classes_resolve_selectors_and_follow_the_pickers() {
    let mock = MockUpstream::start_with(MockOptions {
        models: vec!["claude-sonnet-4-20250514".into(), "claude-sonnet-4-5-20250929".into(), "gpt-4o".into()],
        ..MockOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let toml = format!(
        "[discovery]\nfrom_env = false\nprobe_local = false\n[routing]\nstate_file = \"{}\"\n[task_classes.coding]\nchain = [\"mock/claude-sonnet-*\", \"mock/gpt-4o\"]\n{}",
        state_file.display(),
        provider_toml("mock", &mock)
    );
    let options = || GatewayOptions { env: Arc::new(|_: &str| None), ..GatewayOptions::default() };
    let gw = gateway_raw(&toml, options()).await;

    for model in ["coding", "task:coding"] {
        let response = gw.post_json("/v1/chat/completions", &chat(model)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-model"], "claude-sonnet-4-5-20250929", "newest first");
    }
    let mut request = gw.client.post(gw.url("/v1/chat/completions")).json(&json!({"messages": [], "model": "coding"}));
    request = request.header("x-switchyard-task", "coding");
    assert_eq!(request.send().await.unwrap().status(), 200);

    let classes: Value = gw.client.get(gw.url("/api/task-classes")).send().await.unwrap().json().await.unwrap();
    let coding = classes["classes"].as_array().unwrap().iter().find(|c| c["name"] == "coding").unwrap().clone();
    assert_eq!(coding["model"], "mock/claude-sonnet-4-5-20250929");
    let names: Vec<&str> = classes["classes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for built_in in ["research", "coding", "review", "pre-commit"] {
        assert!(names.contains(&built_in), "{names:?}");
    }

    // Picking a model in the tray: the next `coding` request goes there.
    let response =
        gw.client.put(gw.url("/api/task-classes/coding")).json(&json!({"model": "mock/gpt-4o"})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
    assert_eq!(response.headers()["x-switchyard-model"], "gpt-4o");
    assert_eq!(posts(&mock).last().unwrap().json()["model"], "gpt-4o");

    // A new class, then a restart: both survive in the state file.
    let response = gw
        .client
        .put(gw.url("/api/task-classes/docs"))
        .json(&json!({"chain": ["mock/claude-sonnet-4-20250514"], "description": "docs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    gw.running.shutdown().await;
    let gw = gateway_raw(&toml, options()).await;
    let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
    assert_eq!(response.headers()["x-switchyard-model"], "gpt-4o", "the pick survived a restart");
    let response = gw.post_json("/v1/chat/completions", &chat("docs")).await;
    assert_eq!(response.headers()["x-switchyard-model"], "claude-sonnet-4-20250514");

    let response =
        gw.client.put(gw.url("/api/task-classes/bad")).json(&json!({"chain": ["no-slash"]})).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn weights_share_the_load() {
    let heavy = MockUpstream::start().await;
    let light = MockUpstream::start().await;
    let toml = format!(
        "{}{}[task_classes.bulk]\nchain = [{{ model = \"heavy/mock-model\", weight = 3 }}, {{ model = \"light/mock-model\", weight = 1 }}]\n",
        provider_toml("heavy", &heavy),
        provider_toml("light", &light)
    );
    let gw = Arc::new(gateway(&toml).await);
    const N: usize = 2000;
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let gw: Arc<TestGateway> = gw.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..N / 20 {
                let response = gw.post_json("/v1/chat/completions", &chat("bulk")).await;
                assert_eq!(response.status(), 200, "worker {worker}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let heavy_share = posts(&heavy).len() as f64 / N as f64;
    assert_eq!(posts(&heavy).len() + posts(&light).len(), N);
    // Expected 0.75; the binomial standard deviation over 2,000 draws is about 0.0097, so
    // ±0.04 is a four-sigma tolerance.
    assert!((heavy_share - 0.75).abs() < 0.04, "heavy got {heavy_share:.3} of the load");
}

#[tokio::test]
async fn the_circuit_breaker_opens_and_recovers() {
    let flaky = MockUpstream::start().await;
    let good = MockUpstream::start().await;
    let toml = format!(
        "{}max_retries = 0\n{}[task_classes.steady]\nchain = [\"flaky/status-500\", \"good/mock-model\"]\n",
        provider_toml("flaky", &flaky),
        provider_toml("good", &good)
    );
    let gw = gateway(&toml).await;
    for _ in 0..5 {
        let response = gw.post_json("/v1/chat/completions", &chat("steady")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    }
    assert_eq!(posts(&flaky).len(), 5);
    // Open: the failing provider is skipped.
    for _ in 0..5 {
        let response = gw.post_json("/v1/chat/completions", &chat("steady")).await;
        assert_eq!(response.headers()["x-switchyard-attempts"], "1");
    }
    assert_eq!(posts(&flaky).len(), 5, "no request while the breaker is open");
    // After the cool-down one request probes it.
    let providers = gw.running.state().providers();
    providers.get("flaky").unwrap().breaker.expire_cool_down();
    gw.post_json("/v1/chat/completions", &chat("steady")).await;
    assert_eq!(posts(&flaky).len(), 6, "one probe");
    gw.post_json("/v1/chat/completions", &chat("steady")).await;
    assert_eq!(posts(&flaky).len(), 6, "the failed probe opened it again");
}

#[tokio::test]
async fn local_only_never_reaches_the_cloud() {
    let cloud = MockUpstream::start_with(MockOptions { models: vec!["gpt-4o".into()], ..MockOptions::default() }).await;
    let local =
        MockUpstream::start_with(MockOptions { models: vec!["qwen3-coder".into()], ..MockOptions::default() }).await;
    // The "cloud" mock is on loopback too; `local = false` makes it count as cloud.
    let toml = format!(
        "{}local = false\n{}[task_classes.coding]\nchain = [\"cloud/gpt-4o\"]\nlocal = [\"mlx/*coder*\"]\n",
        provider_toml("cloud", &cloud),
        provider_toml("mlx", &local)
    );
    let gw = gateway(&toml).await;
    let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
    assert_eq!(response.headers()["x-switchyard-provider"], "cloud");

    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true})).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    cloud.clear();

    let mut requests = vec![chat("coding"), chat("cloud/gpt-4o"), chat("gpt-4o"), chat("task:coding")];
    let mut with_fallbacks = chat("cloud/gpt-4o");
    with_fallbacks["fallbacks"] = json!(["cloud/gpt-4o"]);
    requests.push(with_fallbacks);
    for body in &requests {
        for stream in [false, true] {
            let mut body = body.clone();
            body["stream"] = json!(stream);
            let response = gw.post_json("/v1/chat/completions", &body).await;
            assert_eq!(response.status(), 200, "{body}");
            assert_eq!(response.headers()["x-switchyard-provider"], "mlx", "{body}");
            assert_eq!(response.headers()["x-switchyard-model"], "qwen3-coder", "{body}");
            response.bytes().await.unwrap();
        }
    }
    let response = gw.post_json("/v1/embeddings", &json!({"model": "cloud/gpt-4o", "input": "x"})).await;
    assert_eq!(response.status(), 200);
    // The Anthropic API too: a Claude Code request naming a cloud model is served locally
    // (translated to the local server's OpenAI API).
    for stream in [false, true] {
        let body = json!({"model": "cloud/gpt-4o", "max_tokens": 64000, "stream": stream,
                          "messages": [{"role": "user", "content": "hi"}]});
        let response = gw
            .client
            .post(gw.url("/v1/messages?beta=true"))
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-provider"], "mlx");
        response.bytes().await.unwrap();
    }
    let response = gw
        .client
        .post(gw.url("/v1/messages/count_tokens"))
        .json(&json!({"model": "cloud/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    gw.client.post(gw.url("/api/models/refresh")).send().await.unwrap();
    gw.client.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(cloud.request_count(), 0, "not one request reached the cloud: {:?}", cloud.requests());

    let status: Value = gw.client.get(gw.url("/api/local-only")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["cloud_attempts_while_local"], 0);

    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
    assert_eq!(response.headers()["x-switchyard-provider"], "cloud");
}

#[tokio::test]
async fn local_only_refuses_to_turn_on_without_a_local_server_unless_forced() {
    let cloud = MockUpstream::start().await;
    let gw = gateway(&format!("{}local = false\n", provider_toml("cloud", &cloud))).await;
    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true})).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_local_server");
    let response =
        gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true, "force": true})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    cloud.clear();
    let response = gw.post_json("/v1/chat/completions", &chat("cloud/mock-model")).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "local_only");
    assert_eq!(cloud.request_count(), 0);
}
