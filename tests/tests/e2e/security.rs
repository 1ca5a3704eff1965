//! The findings of the security review (issue 19), end to end: what a client, a web page or an
//! upstream could do to the gateway, and what it must answer instead.

use serde_json::Value;
use switchyard_tests::{gateway_with_mock, posts};

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
