//! Recording of requests.

use std::time::Duration;

use serde_json::json;
use switchyard_mock::{MockOptions, MockUpstream};

use crate::common::{client, get, post};

#[tokio::test]
async fn records_exact_bytes_headers_path_and_query() {
    let mock = MockUpstream::start().await;
    let raw =
        "{ \"model\" : \"claude-x\",\n  \"max_tokens\": 5, \"messages\": [{\"role\":\"user\",\"content\":\"hé\"}] }";
    let response = client()
        .post(format!("{}/v1/messages?beta=true", mock.base_url()))
        .header("content-type", "application/json")
        .header("Anthropic-Version", "2023-06-01")
        .header("anthropic-beta", "a-1,b-2")
        .header("x-api-key", "sk-test-123")
        .body(raw)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let recorded = &requests[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path_and_query, "/v1/messages?beta=true");
    assert_eq!(recorded.path(), "/v1/messages");
    assert_eq!(&recorded.body[..], raw.as_bytes(), "exact bytes, whitespace included");
    assert_eq!(recorded.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(recorded.header("ANTHROPIC-BETA"), Some("a-1,b-2"));
    assert_eq!(recorded.header("x-api-key"), Some("sk-test-123"));
    assert!(recorded.headers.iter().all(|(name, _)| *name == name.to_lowercase()));
    assert!(recorded.headers.iter().any(|(name, _)| name == "anthropic-version"));
    assert_eq!(recorded.json()["messages"][0]["content"], "hé");
}

#[tokio::test]
async fn records_everything_in_order_before_answering() {
    let mock = MockUpstream::start().await;
    get(&mock.base_url(), "/v1/models").await;
    post(&mock.base_url(), "/v1/chat/completions", &json!({"model": "status-500", "messages": []})).await;
    get(&mock.base_url(), "/nope").await;
    let base = mock.base_url();
    let hanging =
        tokio::spawn(async move { post(&base, "/v1/messages", &json!({"model": "hang", "messages": []})).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock.request_count() < 4 {
        assert!(std::time::Instant::now() < deadline, "the hanging request is recorded while it hangs");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path_and_query.clone()).collect();
    assert_eq!(paths, ["/v1/models", "/v1/chat/completions", "/nope", "/v1/messages"]);
    assert_eq!(mock.requests()[0].method, "GET");
    assert!(mock.requests()[0].body.is_empty());
    assert!(mock.requests()[3].json()["model"] == "hang");
    hanging.abort();

    mock.clear();
    assert_eq!(mock.request_count(), 0);
    assert!(mock.requests().is_empty());
    get(&mock.base_url(), "/health").await;
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn recording_can_be_disabled() {
    let mock = MockUpstream::start_with(MockOptions { record_disabled: true, ..MockOptions::default() }).await;
    let response = post(
        &mock.base_url(),
        "/v1/chat/completions",
        &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: x");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn large_bodies_are_accepted_and_recorded_whole() {
    let mock = MockUpstream::start().await;
    let big = "x".repeat(3 * 1024 * 1024);
    let request = json!({"model": "m", "messages": [{"role": "user", "content": big}]});
    let response = post(&mock.base_url(), "/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.requests()[0].body.len(), request.to_string().len());
}
