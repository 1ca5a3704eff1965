//! Anthropic Messages.

use serde_json::{Value, json};
use switchyard_mock::{MockOptions, MockUpstream, usage};

use crate::common::{client, post_json, post_sse};

fn request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "system": [{"type": "text", "text": "system prompt"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "claude"}]},
        ],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
    })
}

#[tokio::test]
async fn non_stream_message() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(&mock.base_url(), "/v1/messages?beta=true", &request("claude-x", false)).await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().expect("id").starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-x");
    assert_eq!(body["content"], json!([{"type": "text", "text": "echo: hello claude"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["stop_sequence"].is_null());
    assert_eq!(
        body["usage"],
        json!({
            "input_tokens": usage::PROMPT_TOKENS,
            "output_tokens": usage::COMPLETION_TOKENS,
            "cache_read_input_tokens": usage::CACHED_TOKENS,
            "cache_creation_input_tokens": 0,
        })
    );
}

#[tokio::test]
async fn stream_event_sequence() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/messages?beta=true", &request("m", true)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_deref().expect("event line")).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    for (event, kind) in data.iter().zip(&kinds) {
        assert_eq!(event["type"], *kind);
    }
    assert_eq!(data[0]["message"]["model"], "m");
    assert_eq!(data[0]["message"]["usage"]["input_tokens"], usage::PROMPT_TOKENS);
    let text: String = data
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .map(|e| {
            assert_eq!(e["delta"]["type"], "text_delta");
            e["delta"]["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(text, "echo: hello claude");
    assert_eq!(data[7]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[7]["usage"]["output_tokens"], usage::COMPLETION_TOKENS);
}

#[tokio::test]
async fn tool_use_streams_input_json_in_pieces_and_round_trips() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/messages", &request("tool", true)).await;
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    let start = data.iter().find(|e| e["type"] == "content_block_start").expect("block start");
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "Bash");
    let id = start["content_block"]["id"].as_str().expect("id").to_owned();
    let pieces: Vec<&str> = data
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    assert!(pieces.len() >= 3);
    let input: Value = serde_json::from_str(&pieces.concat()).expect("valid JSON");
    assert_eq!(input, json!({"city": "Paris", "unit": "celsius"}));
    let delta = data.iter().find(|e| e["type"] == "message_delta").expect("message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");

    let mut next = request("tool", false);
    let messages = next["messages"].as_array_mut().expect("messages");
    messages.push(json!({"role": "assistant", "content": [
        {"type": "tool_use", "id": id, "name": "Bash", "input": input}
    ]}));
    messages.push(json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "hello-from-tool"}]}
    ]}));
    let (_, body) = post_json(&mock.base_url(), "/v1/messages", &next).await;
    assert_eq!(body["content"][0]["text"], "tool result: hello-from-tool");
    assert_eq!(body["stop_reason"], "end_turn");
}

#[tokio::test]
async fn parallel_tool_use_non_stream() {
    let mock = MockUpstream::start().await;
    let (_, body) = post_json(&mock.base_url(), "/v1/messages", &request("parallel-tool", false)).await;
    let content = body["content"].as_array().expect("content");
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["type"], "tool_use");
    assert_eq!(content[1]["input"], json!({"city": "Oslo", "unit": "celsius"}));
    assert_ne!(content[0]["id"], content[1]["id"]);
    assert_eq!(body["stop_reason"], "tool_use");
}

#[tokio::test]
async fn reasoning_streams_a_thinking_block_with_signature() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/messages", &request("reasoning", true)).await;
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    assert_eq!(data[1]["content_block"]["type"], "thinking");
    assert_eq!(data[1]["index"], 0);
    let delta_types: Vec<&str> = data
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["type"].as_str())
        .collect();
    let signature = delta_types.iter().position(|t| *t == "signature_delta").expect("signature");
    assert!(delta_types[..signature].iter().all(|t| *t == "thinking_delta"));
    assert!(delta_types[signature + 1..].iter().all(|t| *t == "text_delta"));
    let text_start = data.iter().filter(|e| e["type"] == "content_block_start").nth(1).expect("text block");
    assert_eq!(text_start["index"], 1);

    let (_, body) = post_json(&mock.base_url(), "/v1/messages", &request("reasoning", false)).await;
    assert_eq!(body["content"][0]["type"], "thinking");
    assert!(body["content"][0]["signature"].is_string());
    assert_eq!(body["content"][1]["text"], "echo: hello claude");
}

#[tokio::test]
async fn count_tokens_is_body_length_over_four() {
    let mock = MockUpstream::start().await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "count me please"}]});
    let length = body.to_string().len();
    let (status, answer) = post_json(&mock.base_url(), "/v1/messages/count_tokens?beta=true", &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"input_tokens": length / 4}));
}

#[tokio::test]
async fn models_in_anthropic_shape_with_anthropic_version() {
    let mock = MockUpstream::start_with(MockOptions {
        models: vec!["claude-gw-a".into(), "claude-gw-b".into()],
        ..MockOptions::default()
    })
    .await;
    let body: Value = client()
        .get(format!("{}/v1/models?limit=1000", mock.base_url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["has_more"], false);
    assert_eq!(body["first_id"], "claude-gw-a");
    assert_eq!(body["last_id"], "claude-gw-b");
    assert_eq!(body["data"][0]["type"], "model");
    assert_eq!(body["data"][0]["display_name"], "claude-gw-a");
    assert!(body["data"][0]["created_at"].is_string());
}

#[tokio::test]
async fn errors_in_anthropic_shape() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(&mock.base_url(), "/v1/messages", &request("status-500", true)).await;
    assert_eq!(status, 500);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "api_error");
    assert!(body["error"]["message"].is_string());
    let (status, body) = post_json(&mock.base_url(), "/v1/messages", &request("status-429", false)).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "rate_limit_error");
}
