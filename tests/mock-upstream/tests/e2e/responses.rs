//! OpenAI Responses API.

use serde_json::{Value, json};
use switchyard_mock::{MockUpstream, usage};

use crate::common::{post_json, post_sse};

fn request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "store": false,
        "input": [
            {"role": "developer", "content": "system prompt"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]},
        ],
        "tools": [
            {"type": "web_search"},
            {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        ],
    })
}

fn assert_usage(usage: &Value) {
    assert_eq!(usage["input_tokens"], usage::PROMPT_TOKENS);
    assert_eq!(usage["output_tokens"], usage::COMPLETION_TOKENS);
    assert_eq!(usage["total_tokens"], usage::PROMPT_TOKENS + usage::COMPLETION_TOKENS);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], usage::REASONING_TOKENS);
}

#[tokio::test]
async fn non_stream_response_object() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(&mock.base_url(), "/v1/responses", &request("gw-model", false)).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "gw-model");
    let output = body["output"].as_array().expect("output");
    assert_eq!(output.len(), 1);
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["content"][0]["type"], "output_text");
    assert_eq!(output[0]["content"][0]["text"], "echo: hi there");
    assert_usage(&body["usage"]);
}

#[tokio::test]
async fn stream_event_sequence_ends_with_completed() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/responses", &request("gw-model", true)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_deref().expect("event line")).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    for (i, (event, kind)) in data.iter().zip(&kinds).enumerate() {
        assert_eq!(event["type"], *kind, "data.type matches the event line");
        assert_eq!(event["sequence_number"], i);
    }
    let text: String =
        data.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect();
    assert_eq!(text, "echo: hi there");
    let completed = &data.last().expect("completed")["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], "echo: hi there");
    assert_usage(&completed["usage"]);
}

#[tokio::test]
async fn tool_call_streams_arguments_and_round_trips() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/responses", &request("tool", true)).await;
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    let pieces: Vec<&str> = data
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert!(pieces.len() >= 3);
    let arguments: Value = serde_json::from_str(&pieces.concat()).expect("valid JSON");
    assert_eq!(arguments["cmd"], "echo hello-from-tool", "Codex's shell tool gets a command that echoes");
    let done = data.iter().find(|e| e["type"] == "response.output_item.done").expect("item done");
    assert_eq!(done["item"]["type"], "function_call");
    assert_eq!(done["item"]["name"], "exec_command", "first function tool");
    let call_id = done["item"]["call_id"].as_str().expect("call_id").to_owned();

    let mut next = request("tool", false);
    let input = next["input"].as_array_mut().expect("input");
    input.push(done["item"].clone());
    input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "hello-from-tool"}));
    let (_, body) = post_json(&mock.base_url(), "/v1/responses", &next).await;
    assert_eq!(body["output"][0]["content"][0]["text"], "tool result: hello-from-tool");
}

#[tokio::test]
async fn string_input_and_reasoning_item() {
    let mock = MockUpstream::start().await;
    let (_, body) = post_json(&mock.base_url(), "/responses", &json!({"model": "reasoning", "input": "plain"})).await;
    assert_eq!(body["output"][0]["type"], "reasoning");
    assert_eq!(body["output"][1]["content"][0]["text"], "echo: plain");
}
