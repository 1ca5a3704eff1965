//! Every error the gateway can give, each in the OpenAI envelope with the right status; and
//! upstream failures reported honestly (a stream that dies is an error event, not `[DONE]`).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::MockUpstream;
use switchyard_tests::{gateway, gateway_with_mock, posts, provider_toml, sse_data};

/// Asserts the OpenAI error envelope and returns its `error` object.
async fn envelope(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error body is JSON");
    let error = body["error"].clone();
    assert!(error["message"].is_string(), "{body}");
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "{body}");
    error
}

#[tokio::test]
async fn malformed_json_and_missing_model_are_400() {
    let (gw, mock) = gateway_with_mock().await;
    let response = gw.client.post(gw.url("/v1/chat/completions")).body("{\"model\": ").send().await.unwrap();
    let error = envelope(response, 400).await;
    assert_eq!(error["code"], "invalid_json");
    let response = gw.post_json("/v1/chat/completions", &json!({"messages": []})).await;
    let error = envelope(response, 400).await;
    assert_eq!(error["param"], "model");
    let response = gw.post_json("/v1/chat/completions", &json!({"model": 42})).await;
    envelope(response, 400).await;
    let response = gw.post_json("/v1/chat/completions", &json!([1, 2])).await;
    envelope(response, 400).await;
    assert_eq!(posts(&mock).len(), 0, "nothing bad reaches the upstream");
}

#[tokio::test]
async fn unknown_provider_or_model_is_404_listing_what_exists() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "nosuch/model-x", "messages": []})).await;
    let error = envelope(response, 404).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("nosuch") && message.contains("mock"), "{message}");
    let response = gw.client.get(gw.url("/v1/not-a-route")).send().await.unwrap();
    envelope(response, 404).await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("[server]\nmax_body_bytes = 4096\n{}", provider_toml("mock", &mock))).await;
    let big = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x".repeat(10_000)}]});
    let response = gw.post_json("/v1/chat/completions", &big).await;
    let error = envelope(response, 413).await;
    assert_eq!(error["code"], "request_too_large");
    // Without a Content-Length (chunked), the limit still holds.
    let chunks =
        futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1000]))));
    let response =
        gw.client.post(gw.url("/v1/chat/completions")).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    envelope(response, 413).await;
    assert_eq!(posts(&mock).len(), 0);
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let gw = gateway(&format!(
        "[providers.dead]\nkind = \"openai-compatible\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n"
    ))
    .await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "dead/m", "messages": []})).await;
    let error = envelope(response, 502).await;
    assert_eq!(error["code"], "upstream_unreachable");
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("{}timeout_secs = 1\n", provider_toml("mock", &mock))).await;
    let started = Instant::now();
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "mock/hang", "messages": []})).await;
    let error = envelope(response, 504).await;
    assert_eq!(error["code"], "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    let response =
        gw.post_json("/v1/chat/completions", &json!({"model": "mock/hang", "stream": true, "messages": []})).await;
    envelope(response, 504).await;
}

#[tokio::test]
async fn upstream_errors_keep_their_status_and_message() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "mock/status-429", "messages": []})).await;
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    let error = envelope(response, 429).await;
    assert!(error["message"].as_str().unwrap().contains("mock"), "{error}");
    let response = gw
        .post_json("/v1/chat/completions", &json!({"model": "mock/status-500", "stream": true, "messages": []}))
        .await;
    envelope(response, 500).await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "mock/status-400", "messages": []})).await;
    envelope(response, 400).await;
}

#[tokio::test]
async fn upstream_invalid_json_is_502() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "mock/bad-json", "messages": []})).await;
    let error = envelope(response, 502).await;
    assert_eq!(error["code"], "upstream_invalid_response");
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_error_event_not_done() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw
        .post_json("/v1/chat/completions", &json!({"model": "mock/cut-mid-stream", "stream": true, "messages": [{"role": "user", "content": "a b c"}]}))
        .await;
    assert_eq!(response.status(), 200, "the stream had started");
    let data = sse_data(response).await;
    assert!(!data.iter().any(|d| d == "[DONE]"), "{data:?}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "upstream_error", "{last}");
    assert!(data.len() >= 2, "the content before the cut was delivered: {data:?}");
}

#[tokio::test]
async fn a_stream_cut_before_its_first_byte_is_a_plain_error() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/cut-before-first-byte", "stream": true, "messages": []}),
        )
        .await;
    envelope(response, 502).await;
}

#[tokio::test]
async fn a_stalled_stream_is_cut_by_the_idle_timeout() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&format!("{}stream_idle_timeout_secs = 1\n", provider_toml("mock", &mock))).await;
    let response = gw
        .post_json("/v1/chat/completions", &json!({"model": "mock/stream-delay-2500", "stream": true, "messages": []}))
        .await;
    // The first chunk itself arrives after 2.5 s, within the 600 s first-byte timeout; the gap
    // to the second chunk is longer than the 1 s idle timeout.
    let data = sse_data(response).await;
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "timeout_error", "{data:?}");
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let (gw, mock) = gateway_with_mock().await;
    let response = gw
        .post_json("/v1/chat/completions", &json!({"model": "mock/stream-delay-200", "stream": true, "messages": [{"role": "user", "content": "a b c d e f"}]}))
        .await;
    let mut body = response.bytes_stream();
    let _first = body.next().await.unwrap().unwrap();
    assert_eq!(mock.in_flight(), 1);
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(3);
    while mock.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.in_flight(), 0, "the upstream stream must be dropped when the client goes away");
}

#[tokio::test]
async fn foreign_host_or_origin_is_403() {
    let (gw, mock) = gateway_with_mock().await;
    let body = json!({"model": "mock/mock-model", "messages": []});
    let response = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("host", "evil.example:30080")
        .json(&body)
        .send()
        .await
        .unwrap();
    let error = envelope(response, 403).await;
    assert_eq!(error["code"], "forbidden_host");
    let response = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let error = envelope(response, 403).await;
    assert_eq!(error["code"], "forbidden_origin");
    // A CORS preflight from a foreign page gets no CORS headers.
    let response = gw
        .client
        .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("access-control-allow-origin").is_none());
    // The gateway's own origin is fine.
    let own = format!("http://localhost:{}", gw.port());
    let response =
        gw.client.post(gw.url("/v1/chat/completions")).header("origin", own).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&mock).len(), 1);
}

#[tokio::test]
async fn errors_never_contain_a_key() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&provider_toml("mock", &mock)).await;
    for model in ["mock/status-401", "mock/status-500", "nosuch/x"] {
        let response = gw.post_json("/v1/chat/completions", &json!({"model": model, "messages": []})).await;
        let text = response.text().await.unwrap();
        assert!(!text.contains("sk-test-mock-0001"), "{text}");
    }
}
