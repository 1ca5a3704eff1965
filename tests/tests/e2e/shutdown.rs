//! Graceful shutdown: in-flight streams finish; nothing new is accepted.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use switchyard_tests::gateway_with_mock;

#[tokio::test]
async fn in_flight_streams_finish_after_shutdown_starts() {
    let (gw, _mock) = gateway_with_mock().await;
    let addr = gw.running.local_addr();
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/stream-delay-150", "stream": true, "messages": [{"role": "user", "content": "a b c d"}]}),
        )
        .await;
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let shutdown = tokio::spawn(gw.running.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no new connections once shutdown has begun");
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(text.trim_end().ends_with("data: [DONE]"), "the in-flight stream completed: {text}");
    tokio::time::timeout(Duration::from_secs(5), shutdown).await.unwrap().unwrap();
}
