//! The `switchyard-mock` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::get;

/// Kills the child when the test ends, passing or not.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_the_mock_with_its_options() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_switchyard-mock"))
            .args(["--port", "0", "--models", "a,b", "--ollama", "--no-record", "--stream-chunks", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("task")
    .expect("a line on stderr");
    let base = line
        .trim()
        .strip_prefix("switchyard-mock listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let models: Value = get(&base, "/v1/models").await.json().await.expect("json");
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(get(&base, "/api/version").await.status(), 200);
    let body = crate::common::client()
        .post(format!("{base}/v1/chat/completions"))
        .json(&serde_json::json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let events = crate::common::parse_sse(&body);
    assert_eq!(events.len(), 3, "2 chunks and [DONE]");
}
