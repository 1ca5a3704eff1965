//! Virtual keys (issue 13): Bifrost's governance API as the seeds write it, a key presented in
//! every header style on every API family, providers and models restricted per key, weights,
//! exact request limits under concurrency, budgets that persist across a restart.

use std::collections::HashMap;

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{TestGateway, gateway, posts};

async fn put_key(gw: &TestGateway, id: &str, body: Value) -> (u16, Value) {
    let response =
        gw.client.put(gw.url(&format!("/api/governance/virtual-keys/{id}"))).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn chat_with(gw: &TestGateway, model: &str, header: (&str, &str)) -> reqwest::Response {
    gw.anonymous
        .post(gw.url("/v1/chat/completions"))
        .header(header.0, header.1)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

/// `n` chat requests to `alpha/mock-model` with the key in `x-bf-vk`, all at once.
async fn fire_at_once(gw: &TestGateway, n: usize, key: &str) -> Vec<reqwest::Response> {
    join_all((0..n).map(|_| chat_with(gw, "alpha/mock-model", ("x-bf-vk", key)))).await
}

async fn two_mocks() -> (MockUpstream, MockUpstream, String) {
    let options = || MockOptions { models: vec!["mock-model".into(), "shared-model".into()], ..MockOptions::default() };
    let alpha = MockUpstream::start_with(options()).await;
    let beta = MockUpstream::start_with(options()).await;
    let toml = format!(
        "{}{}[pricing.\"alpha/mock-model\"]\ninput = 1000.0\noutput = 1000.0\n",
        switchyard_tests::provider_toml("alpha", &alpha),
        switchyard_tests::provider_toml("beta", &beta)
    );
    (alpha, beta, toml)
}

#[tokio::test]
async fn keys_are_made_as_the_seeds_write_them_and_bad_fields_are_named() {
    let (_alpha, _beta, toml) = two_mocks().await;
    let gw = gateway(&toml).await;
    let (status, body) = put_key(
        &gw,
        "vk-free",
        json!({"provider_configs": [{"provider": "alpha", "allowed_models": ["mock-model"], "weight": 1.0}],
               "budget": {"max_limit": 1.0, "reset_duration": "1d"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Virtual key created successfully");
    let key = &body["virtual_key"];
    assert_eq!(key["id"], "vk-free");
    let value = key["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("sk-sy-") && value.len() >= 6 + 64, "{value}");
    assert_eq!(key["budgets"][0]["max_limit"], 1.0);
    assert_eq!(key["budgets"][0]["reset_duration"], "1d");
    assert_eq!(key["budgets"][0]["current_usage"], 0.0);

    // The value is shown once: never again in a read, a list or an update.
    let read =
        gw.client.get(gw.url("/api/governance/virtual-keys/vk-free")).send().await.unwrap().text().await.unwrap();
    assert!(!read.contains(&value) && read.contains(&value[value.len() - 4..]), "{read}");
    let (status, updated) = put_key(&gw, "vk-free", json!({"description": "for the free tier"})).await;
    assert_eq!((status, updated["message"].as_str()), (200, Some("Virtual key updated successfully")));
    assert!(updated["virtual_key"].get("value").is_none());
    assert_eq!(updated["virtual_key"]["budgets"][0]["max_limit"], 1.0, "fields not sent are kept");

    // POST: a generated id; a name is required.
    let response = gw.client.post(gw.url("/api/governance/virtual-keys")).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let made: Value = gw
        .client
        .post(gw.url("/api/governance/virtual-keys"))
        .json(&json!({"name": "ci-bot", "allow_all_providers": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(made["virtual_key"]["id"].as_str().unwrap().starts_with("vk_"));
    let list: Value = gw
        .client
        .get(gw.url("/api/governance/virtual-keys?limit=1&offset=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (list["count"].as_u64(), list["total_count"].as_u64(), list["limit"].as_u64(), list["offset"].as_u64()),
        (Some(1), Some(2), Some(1), Some(1))
    );
    assert_eq!(list["virtual_keys"][0]["name"], "ci-bot");

    // Bad input: 400 naming the field, nothing stored.
    for (body, field) in [
        (json!({"budget": {"max_limit": -5, "reset_duration": "1d"}}), "budgets[0].max_limit"),
        (json!({"budget": {"max_limit": 5, "reset_duration": "fortnight"}}), "budget.reset_duration"),
        (json!({"provider_configs": [{"provider": "nosuch"}]}), "provider_configs[0].provider"),
        (json!({"budgett": {}}), "budgett"),
        (
            json!({"rate_limit": {"request_max_limit": -1, "request_reset_duration": "1m"}}),
            "rate_limit.request_max_limit",
        ),
    ] {
        let (status, answer) = put_key(&gw, "vk-bad", body.clone()).await;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(message.contains(field), "{body}: {message}");
    }
    let missing = gw.client.get(gw.url("/api/governance/virtual-keys/vk-bad")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // Rotation: a new value, shown once; the old one is refused at once; spend and limits stay.
    let made_value = made["virtual_key"]["value"].as_str().unwrap().to_owned();
    let made_id = made["virtual_key"]["id"].as_str().unwrap().to_owned();
    let ok = chat_with(&gw, "alpha/mock-model", ("authorization", &format!("Bearer {made_value}"))).await;
    assert_eq!(ok.status(), 200);
    let rotated: Value = gw
        .client
        .post(gw.url(&format!("/api/governance/virtual-keys/{made_id}/rotate")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_value = rotated["virtual_key"]["value"].as_str().unwrap().to_owned();
    assert_ne!(new_value, made_value);
    let old = chat_with(&gw, "alpha/mock-model", ("authorization", &format!("Bearer {made_value}"))).await;
    assert_eq!(old.status(), 401);
    let new = chat_with(&gw, "alpha/mock-model", ("authorization", &format!("Bearer {new_value}"))).await;
    assert_eq!(new.status(), 200);
    // The admin token guards the governance API too.
    let anonymous = gw.anonymous.get(gw.url("/api/governance/virtual-keys")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let deleted = gw.client.delete(gw.url("/api/governance/virtual-keys/vk-free")).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = chat_with(&gw, "alpha/mock-model", ("authorization", "Bearer vk-free")).await;
    assert_eq!(gone.status(), 401, "a deleted key, sent where only a key is expected, is refused");
}

#[tokio::test]
async fn a_key_works_in_every_header_style_on_every_api_and_limits_providers_and_models() {
    let (alpha, beta, toml) = two_mocks().await;
    let gw = gateway(&toml).await;
    let (_, body) = put_key(
        &gw,
        "vk-alpha",
        json!({"provider_configs": [{"provider": "alpha", "allowed_models": ["mock-model"]}]}),
    )
    .await;
    let value = body["virtual_key"]["value"].as_str().unwrap().to_owned();

    let bearer = format!("Bearer {value}");
    let styles: [(&str, &str); 7] = [
        ("authorization", &bearer),
        ("authorization", "Bearer vk-alpha"),
        ("x-api-key", &value),
        ("x-goog-api-key", &value),
        ("api-key", &value),
        ("x-bf-vk", "vk-alpha"),
        ("x-switchyard-vk", &value),
    ];
    for (name, header) in styles {
        let response = chat_with(&gw, "mock-model", (name, header)).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["x-switchyard-provider"], "alpha", "{name}");
    }
    // Every API family.
    let h = ("x-bf-vk", "vk-alpha");
    let post = |path: &str, body: Value| gw.anonymous.post(gw.url(path)).header(h.0, h.1).json(&body).send();
    let msgs = json!({"model": "alpha/mock-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    for (path, body) in [
        ("/v1/completions", json!({"model": "alpha/mock-model", "prompt": "hi"})),
        ("/v1/embeddings", json!({"model": "alpha/mock-model", "input": "hi"})),
        ("/v1/messages", msgs.clone()),
        ("/v1/messages/count_tokens", msgs),
        ("/v1/responses", json!({"model": "alpha/mock-model", "input": "hi"})),
        ("/v1beta/models/alpha/mock-model:generateContent", json!({"contents": [{"parts": [{"text": "hi"}]}]})),
    ] {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status(), 200, "{path}: {}", response.text().await.unwrap());
    }
    let gemini = gw
        .anonymous
        .post(gw.url(&format!("/v1beta/models/alpha/mock-model:generateContent?key={value}")))
        .json(&json!({"contents": [{"parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), 200);

    // The model lists show a key only what it may use.
    let listed: Value =
        gw.anonymous.get(gw.url("/v1/models")).header(h.0, h.1).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .filter(|id| id.contains('/'))
        .collect();
    assert_eq!(ids, ["alpha/mock-model"], "{listed}");
    let everything: Value = gw.anonymous.get(gw.url("/v1/models")).send().await.unwrap().json().await.unwrap();
    assert!(everything.to_string().contains("beta/shared-model"));
    let anthropic_list: Value = gw
        .anonymous
        .get(gw.url("/v1/models"))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", &value)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic_list["data"].as_array().unwrap().len(), 1, "{anthropic_list}");
    let gemini_list: Value =
        gw.anonymous.get(gw.url(&format!("/v1beta/models?key={value}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        gemini_list["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["baseModelId"].as_str().unwrap().contains('/'))
            .count(),
        1,
        "{gemini_list}"
    );

    // Outside the key: a model and a provider it does not allow, refused before any upstream
    // call, in the caller's shape.
    let before = posts(&beta).len();
    let response = chat_with(&gw, "beta/mock-model", h).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provider_blocked");
    let response = chat_with(&gw, "alpha/shared-model", h).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "model_blocked");
    let anthropic = gw
        .anonymous
        .post(gw.url("/v1/messages"))
        .header("x-api-key", &value)
        .json(&json!({"model": "beta/mock-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 403);
    let body: Value = anthropic.json().await.unwrap();
    assert_eq!(body["type"], "error", "Anthropic's shape: {body}");
    assert_eq!(posts(&beta).len(), before, "beta never called");
    assert!(!posts(&alpha).is_empty());

    // An unknown `sk-sy-` key is refused; a tool's own placeholder key is not a virtual key.
    let response = chat_with(&gw, "beta/mock-model", ("authorization", "Bearer sk-sy-0000")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "virtual_key_not_found");
    let response = chat_with(&gw, "beta/mock-model", ("x-api-key", "unused")).await;
    assert_eq!(response.status(), 200);

    // A disabled key is refused at once.
    put_key(&gw, "vk-alpha", json!({"is_active": false})).await;
    let response = chat_with(&gw, "mock-model", h).await;
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "virtual_key_blocked");

    // /metrics counts the key's requests under its id, never its value.
    let metrics = gw.anonymous.get(gw.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("switchyard_requests_total{") && l.contains("virtual_key=\"vk-alpha\"")),
        "{metrics}"
    );
    assert!(!metrics.contains(&value));

    // The usage log names the key by id, never by value.
    // (The log is written off the request path, in batches.)
    let mut text = String::new();
    for _ in 0..100 {
        let rows: Value = gw.client.get(gw.url("/api/logs?limit=100")).send().await.unwrap().json().await.unwrap();
        text = rows.to_string();
        if text.contains("vk-alpha") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(text.contains("\"virtual_key\":\"vk-alpha\""), "{text}");
    assert!(!text.contains(&value));
    // The usage API groups by key (the rollups carry it; the log is written in batches, so
    // the last rows may still be on their way).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let url =
        gw.url(&format!("/api/usage?from={}&to={}&bucket=hour&group_by=virtual_key", now - 3_600_000, now + 60_000));
    let (mut keyed, mut usage) = (0, Value::Null);
    for _ in 0..100 {
        usage = gw.client.get(&url).send().await.unwrap().json().await.unwrap();
        keyed = usage["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["group"] == "vk-alpha")
            .map(|p| p["requests"].as_u64().unwrap())
            .sum::<u64>();
        if keyed >= 14 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(keyed >= 14, "{usage}");
}

#[tokio::test]
async fn require_virtual_key_refuses_requests_without_one_in_their_apis_shape() {
    let (_alpha, _beta, toml) = two_mocks().await;
    let gw = gateway(&format!("[governance]\nrequire_virtual_key = true\n{toml}")).await;
    let response = chat_with(&gw, "alpha/mock-model", ("x-nothing", "1")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "virtual_key_required");
    let anthropic = gw
        .anonymous
        .post(gw.url("/v1/messages"))
        .json(&json!({"model": "alpha/mock-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 401);
    assert_eq!(anthropic.json::<Value>().await.unwrap()["error"]["type"], "authentication_error");
    put_key(&gw, "vk-any", json!({"allow_all_providers": true})).await;
    assert_eq!(chat_with(&gw, "alpha/mock-model", ("authorization", "Bearer vk-any")).await.status(), 200);
}

#[tokio::test]
async fn of_500_requests_at_once_a_key_allowing_100_a_minute_serves_exactly_100() {
    let (_alpha, _beta, toml) = two_mocks().await;
    let gw = gateway(&toml).await;
    put_key(
        &gw,
        "vk-limited",
        json!({"allow_all_providers": true, "rate_limit": {"request_max_limit": 100, "request_reset_duration": "1m"}}),
    )
    .await;
    let answers = fire_at_once(&gw, 500, "vk-limited").await;
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for answer in &answers {
        *counts.entry(answer.status().as_u16()).or_default() += 1;
    }
    assert_eq!(counts.get(&200), Some(&100), "{counts:?}");
    let served = answers.iter().find(|a| a.status() == 200).unwrap();
    assert_eq!(served.headers()["x-ratelimit-limit-requests"], "100");
    assert!(served.headers()["x-ratelimit-reset-requests"].to_str().unwrap().ends_with('s'));
    assert_eq!(counts.get(&429), Some(&400), "{counts:?}");
    let refused = answers.into_iter().find(|a| a.status() == 429).unwrap();
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "request_limited");
    let quota: Value = gw
        .anonymous
        .get(gw.url("/api/governance/virtual-keys/quota"))
        .header("x-bf-vk", "vk-limited")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quota["rate_limit"]["request_current_usage"], 100, "{quota}");
    assert_eq!(quota["rate_limit"]["request_max_limit"], 100);
}

#[tokio::test]
async fn weights_split_a_keys_traffic_and_the_others_are_fallbacks() {
    let (alpha, beta, toml) = two_mocks().await;
    let gw = gateway(&toml).await;
    put_key(
        &gw,
        "vk-split",
        json!({"provider_configs": [
            {"provider": "alpha", "allowed_models": ["shared-model"], "weight": 0.9},
            {"provider": "beta", "allowed_models": ["shared-model"], "weight": 0.1}]}),
    )
    .await;
    gw.client.post(gw.url("/api/models/refresh")).send().await.unwrap();
    for _ in 0..300 {
        let response = chat_with(&gw, "shared-model", ("x-bf-vk", "vk-split")).await;
        assert_eq!(response.status(), 200);
    }
    let (a, b) = (posts(&alpha).len(), posts(&beta).len());
    assert_eq!(a + b, 300);
    assert!((235..=300).contains(&a) && b >= 5, "alpha {a}, beta {b}");
}

#[tokio::test]
async fn a_budget_refuses_once_spent_and_a_restart_keeps_the_spend() {
    let (_alpha, _beta, toml) = two_mocks().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("governance.json");
    let config = format!("[governance]\nfile = \"{}\"\n{toml}", file.display());
    let gw = gateway(&config).await;
    // alpha/mock-model costs 17 tokens × $1000/M = $0.017 a request; $0.03 allows two.
    put_key(
        &gw,
        "vk-budget",
        json!({"allow_all_providers": true, "budget": {"max_limit": 0.03, "reset_duration": "1d"}}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(chat_with(&gw, "alpha/mock-model", ("x-bf-vk", "vk-budget")).await.status(), 200);
    }
    let refused = chat_with(&gw, "alpha/mock-model", ("x-bf-vk", "vk-budget")).await;
    assert_eq!(refused.status(), 402);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "budget_exceeded");
    gw.running.shutdown().await;

    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("sk-sy-") || saved.contains("value_hint"), "no value is stored");
    let gw = gateway(&config).await;
    let key: Value =
        gw.client.get(gw.url("/api/governance/virtual-keys/vk-budget")).send().await.unwrap().json().await.unwrap();
    let spent = key["virtual_key"]["budgets"][0]["current_usage"].as_f64().unwrap();
    assert!((spent - 0.034).abs() < 1e-9, "{key}");
    assert_eq!(chat_with(&gw, "alpha/mock-model", ("x-bf-vk", "vk-budget")).await.status(), 402);
    // reset_budget_usage starts it over.
    put_key(&gw, "vk-budget", json!({"reset_budget_usage": true})).await;
    assert_eq!(chat_with(&gw, "alpha/mock-model", ("x-bf-vk", "vk-budget")).await.status(), 200);
}

/// The seeds' "vLLM handles 90%; if vLLM is unavailable it routes to OpenAI": the heavier
/// provider is down (nothing listens on its loopback port), and the key's other provider serves.
#[tokio::test]
async fn when_the_weighted_provider_is_down_the_keys_other_provider_serves() {
    let (alpha, _beta, toml) = two_mocks().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!(
        "[providers.dead]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:{closed}/v1\"\nmax_retries = 0\n"
    );
    let gw = gateway(&format!("{toml}{dead}")).await;
    put_key(
        &gw,
        "vk-fallback",
        json!({"provider_configs": [
            {"provider": "dead", "allowed_models": ["mock-model"], "weight": 0.9},
            {"provider": "alpha", "allowed_models": ["mock-model"], "weight": 0.1}]}),
    )
    .await;
    for _ in 0..20 {
        let response = chat_with(&gw, "mock-model", ("x-bf-vk", "vk-fallback")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-provider"], "alpha");
    }
    assert_eq!(posts(&alpha).len(), 20);
}

/// A budget under concurrency: each request holds the key's typical cost while in flight, so of
/// 50 requests fired at once only those that fit are admitted; the spend passes the limit by at
/// most the last admitted request's cost.
#[tokio::test]
async fn a_budget_is_not_overrun_by_requests_fired_at_once() {
    let (alpha, _beta, toml) = two_mocks().await;
    let gw = gateway(&toml).await;
    // alpha/mock-model costs $0.017 a request; $0.05 fits two more after the first.
    put_key(
        &gw,
        "vk-tight",
        json!({"allow_all_providers": true, "budget": {"max_limit": 0.05, "reset_duration": "1d"}}),
    )
    .await;
    assert_eq!(chat_with(&gw, "alpha/mock-model", ("x-bf-vk", "vk-tight")).await.status(), 200);
    let answers = fire_at_once(&gw, 50, "vk-tight").await;
    let served = answers.iter().filter(|a| a.status() == 200).count();
    let refused = answers.iter().filter(|a| a.status() == 402).count();
    assert_eq!((served, refused), (2, 48));
    assert_eq!(posts(&alpha).len(), 3);
    let key: Value =
        gw.client.get(gw.url("/api/governance/virtual-keys/vk-tight")).send().await.unwrap().json().await.unwrap();
    let spent = key["virtual_key"]["budgets"][0]["current_usage"].as_f64().unwrap();
    assert!((spent - 0.051).abs() < 1e-9, "over by one request's cost at most: {spent}");
}
