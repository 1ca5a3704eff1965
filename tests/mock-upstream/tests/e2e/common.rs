//! Helpers shared by the end-to-end tests.

use serde_json::Value;

/// One server-sent event.
#[derive(Debug)]
pub struct Sse {
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    /// The data as JSON (panics when it is not: the test then fails with the data shown).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.data))
    }
}

/// Splits an SSE body into events; every event must end with a blank line.
pub fn parse_sse(body: &str) -> Vec<Sse> {
    assert!(body.ends_with("\n\n"), "an SSE body ends with a blank line: {body:?}");
    body.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                } else {
                    panic!("unexpected SSE line {line:?} in {block:?}");
                }
            }
            Sse { event, data: data.join("\n") }
        })
        .collect()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs `body` as JSON to `base` + `path`.
pub async fn post(base: &str, path: &str, body: &Value) -> reqwest::Response {
    client().post(format!("{base}{path}")).json(body).send().await.expect("request to the mock")
}

/// POSTs and returns the status and the JSON body.
pub async fn post_json(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = post(base, path, body).await;
    let status = response.status().as_u16();
    let json = response.json().await.expect("JSON body");
    (status, json)
}

/// POSTs and returns the events of a streamed answer, after checking the content type.
pub async fn post_sse(base: &str, path: &str, body: &Value) -> Vec<Sse> {
    let response = post(base, path, body).await;
    assert_eq!(response.status(), 200);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    parse_sse(&response.text().await.expect("whole SSE body"))
}

/// GETs `base` + `path`.
pub async fn get(base: &str, path: &str) -> reqwest::Response {
    client().get(format!("{base}{path}")).send().await.expect("request to the mock")
}
