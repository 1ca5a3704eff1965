//! Google Gemini.

use serde_json::{Value, json};
use switchyard_mock::{MockUpstream, usage};

use crate::common::{get, post, post_json, post_sse};

fn request() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "system prompt"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "hello"}, {"text": "gemini"}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "read_file", "parameters": {"type": "object"}}]}],
    })
}

fn assert_full_usage(usage_metadata: &Value) {
    assert_eq!(usage_metadata["promptTokenCount"], usage::PROMPT_TOKENS);
    assert_eq!(usage_metadata["candidatesTokenCount"], usage::COMPLETION_TOKENS);
    assert_eq!(usage_metadata["totalTokenCount"], usage::PROMPT_TOKENS + usage::COMPLETION_TOKENS);
    assert_eq!(usage_metadata["cachedContentTokenCount"], usage::CACHED_TOKENS);
}

#[tokio::test]
async fn generate_content() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(&mock.base_url(), "/v1beta/models/gemini-x:generateContent", &request()).await;
    assert_eq!(status, 200);
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["content"]["parts"], json!([{"text": "echo: hello gemini"}]));
    assert_eq!(candidate["finishReason"], "STOP");
    assert_full_usage(&body["usageMetadata"]);
    assert_eq!(body["modelVersion"], "gemini-x");
}

#[tokio::test]
async fn stream_generate_content_sse() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", &request()).await;
    assert_eq!(events.len(), 3);
    let chunks: Vec<Value> = events
        .iter()
        .map(|e| {
            assert!(e.event.is_none(), "bare data lines");
            e.json()
        })
        .collect();
    let text: String =
        chunks.iter().filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect();
    assert_eq!(text, "echo: hello gemini");
    let last = chunks.last().expect("last");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_full_usage(&last["usageMetadata"]);
    assert!(chunks[0]["candidates"][0].get("finishReason").is_none());
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1beta/models/gemini-x:streamGenerateContent", &request()).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("a JSON array");
    assert_eq!(body.as_array().expect("array").len(), 3);
}

#[tokio::test]
async fn url_encoded_model_and_function_call_round_trip() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(&mock.base_url(), "/v1beta/models/mock%2Ftool:generateContent", &request()).await;
    assert_eq!(status, 200);
    assert_eq!(body["modelVersion"], "mock/tool");
    let call = &body["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "read_file");
    assert_eq!(call["args"], json!({"city": "Paris", "unit": "celsius"}));

    let mut next = request();
    let contents = next["contents"].as_array_mut().expect("contents");
    contents.push(json!({"role": "model", "parts": [{"functionCall": call.clone()}]}));
    contents.push(json!({"role": "user", "parts": [
        {"functionResponse": {"name": "read_file", "response": {"output": "hello-from-tool"}}}
    ]}));
    let events = post_sse(&mock.base_url(), "/v1beta/models/tool:streamGenerateContent?alt=sse", &next).await;
    let text: String = events
        .iter()
        .filter_map(|e| e.json()["candidates"][0]["content"]["parts"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "tool result: hello-from-tool");
}

#[tokio::test]
async fn count_tokens_and_models() {
    let mock = MockUpstream::start().await;
    let body = request();
    let (status, answer) = post_json(&mock.base_url(), "/v1beta/models/gemini-x:countTokens", &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"totalTokens": body.to_string().len() / 4}));

    let list: Value = get(&mock.base_url(), "/v1beta/models").await.json().await.expect("json");
    let model = &list["models"][0];
    assert_eq!(model["name"], "models/mock-model");
    assert_eq!(model["displayName"], "mock-model");
    assert_eq!(model["inputTokenLimit"], 1_048_576);
    assert_eq!(model["outputTokenLimit"], 65_536);
    assert_eq!(model["supportedGenerationMethods"], json!(["generateContent", "countTokens"]));
    assert_eq!(get(&mock.base_url(), "/v1beta/models/mock-model").await.status(), 200);
    assert_eq!(get(&mock.base_url(), "/v1beta/models/nope").await.status(), 404);
}

#[tokio::test]
async fn errors_in_gemini_shape() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1beta/models/status-429:generateContent", &request()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(body["error"]["message"].is_string());

    let (status, body) = post_json(&mock.base_url(), "/v1beta/models/m:unknownMethod", &request()).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
}
