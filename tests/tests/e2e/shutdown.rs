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

/// Tasks spawned by admin actions are tracked: shutdown cancels them and waits, even when they
/// are stuck on an upstream that never answers (here a catalog refresh after a key is set).
#[tokio::test]
async fn shutdown_ends_the_tasks_admin_actions_spawned() {
    // Accepts connections (the kernel's backlog does) and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let toml = format!(
        "[providers.silent]\nkind = \"openai-compatible\"\nbase_url = \"http://{}/v1\"\n",
        silent.local_addr().unwrap()
    );
    let gw = switchyard_tests::gateway(&toml).await;
    let response = gw
        .client
        .put(gw.url("/api/providers/silent/key"))
        .json(&json!({"key": "sk-silent-0001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let state = gw.running.state().clone();
    let tracker = state.tasks().tracker().clone();
    // The server, the background refresher and the admin action's catalog refresh.
    assert!(tracker.len() >= 3, "tracked tasks: {}", tracker.len());
    tokio::time::timeout(Duration::from_secs(5), gw.running.shutdown()).await.expect("shutdown is prompt");
    assert!(tracker.is_closed(), "shutdown closed the tracker");
    assert!(tracker.is_empty(), "no tracked task outlived shutdown: {}", tracker.len());
}
