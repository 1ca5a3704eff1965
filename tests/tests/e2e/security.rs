//! The findings of the security review (issue 19), end to end: what a client, a web page or an
//! upstream could do to the gateway, and what it must answer instead.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_tests::switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{gateway, gateway_with_mock, posts, provider_toml};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn duplicate_top_level_keys_are_refused_in_each_apis_shape() {
    let (gw, mock) = gateway_with_mock().await;
    let body =
        r#"{"model":"mock/mock-model","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"max_tokens":999999}"#;
    let response = gw.client.post(gw.url("/v1/chat/completions")).body(body).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_tokens") && message.contains("duplicate"), "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");

    let response = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error", "Anthropic's shape: {error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("max_tokens"), "{error}");
    assert!(posts(&mock).is_empty(), "nothing reaches the upstream");
}

#[tokio::test]
async fn an_upstream_redirect_is_an_error_and_never_followed() {
    // Where the redirect points: a second mock that must see nothing.
    let elsewhere = MockUpstream::start().await;
    let location = format!("{}/v1/chat/completions", elsewhere.base_url());
    let redirecting =
        MockUpstream::start_with(MockOptions { redirect_to: Some(location.clone()), ..MockOptions::default() }).await;
    // `plain` goes through hyper's client, `basic` (credentials in the URL) through reqwest's.
    let with_credentials = redirecting.base_url().replace("http://", "http://user:pw@");
    let toml = format!(
        "{}[providers.basic]\nkind = \"openai-compatible\"\nbase_url = \"{with_credentials}/v1\"\nkeys = [\"sk-test-basic\"]\n",
        provider_toml("plain", &redirecting)
    );
    let gw = gateway(&toml).await;
    for provider in ["plain", "basic"] {
        let request = serde_json::json!({"model": format!("{provider}/mock-model"), "messages": [{"role": "user", "content": "secret prompt"}]});
        let response = gw.post_json("/v1/chat/completions", &request).await;
        assert_eq!(response.status(), 502, "{provider}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(&location), "{provider}: {error}");
        assert_eq!(error["error"]["code"], "upstream_redirect", "{provider}: {error}");
    }
    assert_eq!(posts(&redirecting).len(), 2, "one attempt each: a redirect is not retried");
    assert!(elsewhere.requests().is_empty(), "the key and prompt never went to the Location");
}

/// Sends raw bytes to the gateway and returns the status line of the answer.
async fn raw_status(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_host_that_is_not_text_is_refused() {
    let (gw, _mock) = gateway_with_mock().await;
    let addr = gw.running.local_addr();
    let ok = raw_status(addr, b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(ok.contains(" 200 "), "{ok}");
    let bad = raw_status(addr, b"GET /v1/models HTTP/1.1\r\nHost: evil.example\xff\r\nConnection: close\r\n\r\n").await;
    assert!(bad.contains(" 403 "), "{bad}");
}

#[tokio::test]
async fn browsers_on_other_sites_are_refused_by_sec_fetch_site() {
    let (gw, _mock) = gateway_with_mock().await;
    for (site, status) in [("cross-site", 403), ("same-site", 403), ("same-origin", 200), ("none", 200)] {
        let response = gw.client.get(gw.url("/v1/models")).header("sec-fetch-site", site).send().await.unwrap();
        assert_eq!(response.status(), status, "{site}");
        if status == 403 {
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["code"], "forbidden_site", "{error}");
        }
    }
}

#[tokio::test]
async fn usage_queries_with_nonsense_times_are_400() {
    let (gw, _mock) = gateway_with_mock().await;
    for query in [
        "to=-9223372036854775808",
        "from=-9223372036854775808&to=9223372036854775807",
        "from=5&to=1",
        "from=0&to=9223372036854775807&bucket=day",
    ] {
        let response = gw.client.get(gw.url(&format!("/api/usage?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{query}: {error}");
    }
    let response = gw.client.get(gw.url("/api/logs?since=-1")).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_dashboard_cannot_be_framed() {
    let (gw, _mock) = gateway_with_mock().await;
    for path in ["/", "/assets/no-such-file.js"] {
        let response = gw.client.get(gw.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn a_model_list_that_failed_at_start_is_fetched_again_within_seconds() {
    // The provider's first model lists fail (its server was not ready: two, as the refresh at
    // start and a request's wait for the catalog may both ask); the refresh interval is the
    // default five minutes, so only a retry can find its models this soon.
    let mock = MockUpstream::start_with(MockOptions { model_list_failures: 2, ..MockOptions::default() }).await;
    let gw = gateway(&provider_toml("late", &mock)).await;
    let started = Instant::now();
    let listed = loop {
        let models: Value = gw.client.get(gw.url("/v1/models")).send().await.unwrap().json().await.unwrap();
        let ids: Vec<String> =
            models["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect();
        if ids.iter().any(|id| id.contains("mock-model")) {
            break true;
        }
        if started.elapsed() > Duration::from_secs(8) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(listed, "the model did not appear after the failed first fetch");
    let lists = mock.requests().iter().filter(|r| r.method == "GET" && r.path().ends_with("/models")).count();
    assert!(lists >= 3, "{lists}");
}
