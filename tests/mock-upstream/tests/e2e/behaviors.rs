//! Behaviours chosen by the model name, and the server's own options.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_mock::{MockOptions, MockUpstream};

use crate::common::{client, get, post, post_json};

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// Reads a body chunk by chunk: what arrived, and whether it ended with an error.
async fn read_all(mut response: reqwest::Response) -> (String, bool) {
    let mut received = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => return (String::from_utf8_lossy(&received).into_owned(), false),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), true),
        }
    }
}

/// Waits until `condition` holds, for at most 5 s.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn status_codes_with_error_bodies_and_retry_after() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("status-429", true)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(body["error"]["message"].is_string());

    for code in [400, 401, 500, 503] {
        let response = post(&mock.base_url(), "/v1/chat/completions", &chat(&format!("status-{code}"), false)).await;
        assert_eq!(response.status().as_u16(), code);
        assert!(!response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.expect("json");
        assert!(body["error"]["message"].is_string());
    }
    let (status, _) = post_json(&mock.base_url(), "/v1/responses", &json!({"model": "status-401", "input": "x"})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cut_mid_stream_is_an_error_on_the_client_side() {
    let mock = MockUpstream::start().await;
    let mut request = chat("cut-mid-stream", true);
    request["stream_options"] = json!({"include_usage": true});
    let response = post(&mock.base_url(), "/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let (received, failed) = read_all(response).await;
    assert!(failed, "the body must end with an error, got {received:?}");
    assert!(!received.contains("[DONE]"));
    assert_eq!(received.matches("\"content\"").count(), 2, "two content chunks: {received}");

    // Other families too.
    let anthropic = json!({"model": "cut-mid-stream", "stream": true, "max_tokens": 5,
                           "messages": [{"role": "user", "content": "hi"}]});
    let (received, failed) = read_all(post(&mock.base_url(), "/v1/messages", &anthropic).await).await;
    assert!(failed);
    assert!(received.contains("text_delta") && !received.contains("message_stop"));
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (_, failed) =
        read_all(post(&mock.base_url(), "/v1beta/models/cut-mid-stream:streamGenerateContent?alt=sse", &gemini).await)
            .await;
    assert!(failed);

    // Non-streamed: half a JSON document, then the error.
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("cut-mid-stream", false)).await;
    let (received, failed) = read_all(response).await;
    assert!(failed);
    assert!(serde_json::from_str::<Value>(&received).is_err());
}

#[tokio::test]
async fn cut_before_first_byte_sends_headers_then_fails() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("cut-before-first-byte", true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (received, failed) = read_all(response).await;
    assert!(failed);
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn hang_does_not_block_other_requests_and_is_cancelled_with_its_client() {
    let mock = MockUpstream::start().await;
    let base = mock.base_url();
    let hanging = tokio::spawn(async move { post(&base, "/v1/chat/completions", &chat("hang", true)).await });
    eventually("the hanging request to arrive", || mock.request_count() == 1).await;

    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(5),
        post_json(&mock.base_url(), "/v1/chat/completions", &chat("mock-model", false)),
    )
    .await
    .expect("an echo request next to a hanging one answers");
    assert_eq!(status, 200);
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hi");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(mock.in_flight(), 1, "the hanging request is still in flight");
    assert!(!hanging.is_finished());

    hanging.abort();
    eventually("the hanging request to be dropped", || mock.in_flight() == 0).await;
}

#[tokio::test]
async fn in_flight_drops_to_zero_when_the_client_drops_a_stream() {
    let mock = MockUpstream::start_with(MockOptions { stream_chunks: 20, ..MockOptions::default() }).await;
    let mut response = post(&mock.base_url(), "/v1/chat/completions", &chat("stream-delay-50", true)).await;
    assert_eq!(mock.in_flight(), 1);
    let first = response.chunk().await.expect("first chunk").expect("some data");
    assert!(first.starts_with(b"data: "));
    assert_eq!(mock.in_flight(), 1, "still streaming");
    drop(response);
    eventually("the dropped stream to end upstream", || mock.in_flight() == 0).await;

    // A finished exchange also leaves nothing in flight.
    post_json(&mock.base_url(), "/v1/chat/completions", &chat("m", false)).await;
    eventually("the finished exchange to end", || mock.in_flight() == 0).await;
}

#[tokio::test]
async fn slow_first_byte_and_stream_delay_pace_the_answer() {
    let mock = MockUpstream::start().await;
    let started = Instant::now();
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("slow-first-byte-300", true)).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "headers waited");
    assert_eq!(response.status(), 200);

    let started = Instant::now();
    let mut response = post(&mock.base_url(), "/v1/chat/completions", &chat("stream-delay-200", true)).await;
    let headers_after = started.elapsed();
    let mut arrivals = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        arrivals.push((started.elapsed(), chunk));
    }
    // Headers at once, then a delay before the first chunk.
    assert!(arrivals[0].0 >= headers_after + Duration::from_millis(100), "{headers_after:?} {:?}", arrivals[0].0);
    // 3 content chunks and [DONE], each after its own delay.
    assert!(started.elapsed() >= Duration::from_millis(800), "{:?}", started.elapsed());
    let body: Vec<u8> = arrivals.iter().flat_map(|(_, c)| c.to_vec()).collect();
    assert_eq!(String::from_utf8_lossy(&body).matches("\"content\"").count(), 3);
}

#[tokio::test]
async fn bad_json_and_malformed_request_bodies() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("bad-json", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "this is not json");

    let send = |path: &'static str| {
        let url = format!("{}{path}", mock.base_url());
        async move {
            let response = client()
                .post(url)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("an error body in JSON"))
        }
    };
    for path in ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"] {
        let (status, body) = send(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{path}");
    }
    let (status, body) = send("/v1/messages").await;
    assert_eq!(status, 400);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (status, body) = send("/v1/messages/count_tokens").await;
    assert_eq!((status, body["type"].as_str()), (400, Some("error")));
    let (status, body) = send("/v1beta/models/m:generateContent").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn latency_applies_to_inference_not_to_lists() {
    let mock =
        MockUpstream::start_with(MockOptions { latency: Duration::from_millis(500), ..MockOptions::default() }).await;
    let started = Instant::now();
    get(&mock.base_url(), "/v1/models").await;
    assert!(started.elapsed() < Duration::from_millis(500));
    let started = Instant::now();
    post_json(&mock.base_url(), "/v1/chat/completions", &chat("bench", false)).await;
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn ollama_endpoints_only_when_enabled_and_health() {
    let plain = MockUpstream::start().await;
    assert_eq!(get(&plain.base_url(), "/api/tags").await.status(), 404);
    assert_eq!(get(&plain.base_url(), "/api/version").await.status(), 404);
    assert_eq!(get(&plain.base_url(), "/health").await.status(), 200);
    assert_eq!(get(&plain.base_url(), "/no/such/route").await.status(), 404);
    let head = client().head(plain.base_url()).send().await.expect("HEAD /");
    assert_eq!(head.status(), 200);

    let ollama = MockUpstream::start_with(MockOptions {
        ollama: true,
        models: vec!["llama3:8b".into()],
        ..MockOptions::default()
    })
    .await;
    let tags: Value = get(&ollama.base_url(), "/api/tags").await.json().await.expect("json");
    assert_eq!(
        tags,
        json!({"models": [{"name": "llama3:8b", "model": "llama3:8b", "size": 1, "details": {"family": "mock"}}]})
    );
    let version: Value = get(&ollama.base_url(), "/api/version").await.json().await.expect("json");
    assert_eq!(version, json!({"version": "0.12.0"}));
}

#[tokio::test]
async fn dropping_the_mock_stops_the_server_and_its_connections() {
    let mock = MockUpstream::start().await;
    let base = mock.base_url();
    let hanging = tokio::spawn({
        let base = base.clone();
        async move { client().post(format!("{base}/v1/chat/completions")).json(&chat("hang", false)).send().await }
    });
    eventually("the hanging request to arrive", || mock.request_count() == 1).await;
    drop(mock);
    let outcome = tokio::time::timeout(Duration::from_secs(5), hanging)
        .await
        .expect("the hanging connection is closed by the drop")
        .expect("task");
    assert!(outcome.is_err(), "no answer, a closed connection");
    let after = client().get(format!("{base}/health")).timeout(Duration::from_secs(2)).send().await;
    assert!(after.is_err(), "nothing listens any more");
}
