//! OpenAI-compatible endpoints: Chat Completions, Completions, Embeddings, models.

use serde_json::{Value, json};
use switchyard_mock::{MockOptions, MockUpstream, usage};

use crate::common::{get, post, post_json, post_sse};

fn chat(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "secret system prompt"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "world"}]},
        ],
    })
}

fn assert_chat_usage(usage: &Value) {
    assert_eq!(usage["prompt_tokens"], usage::PROMPT_TOKENS);
    assert_eq!(usage["completion_tokens"], usage::COMPLETION_TOKENS);
    assert_eq!(usage["total_tokens"], usage::PROMPT_TOKENS + usage::COMPLETION_TOKENS);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], usage::REASONING_TOKENS);
}

#[tokio::test]
async fn models_list_in_openai_shape_with_and_without_v1() {
    let mock =
        MockUpstream::start_with(MockOptions { models: vec!["a".into(), "b/c".into()], ..MockOptions::default() })
            .await;
    for path in ["/v1/models", "/models"] {
        let body: Value = get(&mock.base_url(), path).await.json().await.expect("json");
        assert_eq!(body["object"], "list");
        assert_eq!(
            body["data"],
            json!([
                {"id": "a", "object": "model", "created": 1_700_000_000, "owned_by": "mock"},
                {"id": "b/c", "object": "model", "created": 1_700_000_000, "owned_by": "mock"},
            ])
        );
    }
    let one: Value = get(&mock.base_url(), "/v1/models/b/c").await.json().await.expect("json");
    assert_eq!(one["id"], "b/c");
    assert_eq!(get(&mock.base_url(), "/v1/models/zzz").await.status(), 404);
    let default = MockUpstream::start().await;
    let body: Value = get(&default.base_url(), "/v1/models").await.json().await.expect("json");
    assert_eq!(body["data"][0]["id"], "mock-model");
}

#[tokio::test]
async fn chat_non_stream_echoes_the_last_user_message() {
    let mock = MockUpstream::start().await;
    let response = post(&mock.base_url(), "/v1/chat/completions", &chat("mock-model", false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-request-id"));
    assert!(response.headers().contains_key("content-length"));
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock-model");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hello world");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_chat_usage(&body["usage"]);
    // Without the /v1 prefix too.
    let (status, body) = post_json(&mock.base_url(), "/chat/completions", &chat("x", false)).await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "x");
}

#[tokio::test]
async fn chat_stream_with_include_usage_behaves_like_openai() {
    let mock = MockUpstream::start().await;
    let mut request = chat("mock-model", true);
    request["stream_options"] = json!({"include_usage": true});
    let events = post_sse(&mock.base_url(), "/v1/chat/completions", &request).await;
    let (done, chunks) = events.split_last().expect("events");
    assert_eq!(done.data, "[DONE]");
    let chunks: Vec<Value> = chunks.iter().map(|e| e.json()).collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "mock-model");
        assert!(chunk["id"].is_string() && chunk["created"].is_u64());
        assert!(chunk.as_object().expect("object").contains_key("usage"));
    }
    let (usage_chunk, content) = chunks.split_last().expect("usage chunk");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_chat_usage(&usage_chunk["usage"]);
    assert_eq!(content.len(), 3, "3 chunks by default");
    assert_eq!(content[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = content
        .iter()
        .map(|c| {
            assert!(c["usage"].is_null());
            c["choices"][0]["delta"]["content"].as_str().expect("content").to_owned()
        })
        .collect();
    assert_eq!(text, "echo: hello world");
    assert_eq!(content[2]["choices"][0]["finish_reason"], "stop");
    assert!(content[0]["choices"][0]["finish_reason"].is_null());
}

#[tokio::test]
async fn chat_stream_without_include_usage_has_no_usage_and_honours_stream_chunks() {
    let mock = MockUpstream::start_with(MockOptions { stream_chunks: 5, ..MockOptions::default() }).await;
    let events = post_sse(&mock.base_url(), "/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(events.len(), 6, "5 content chunks and [DONE]");
    for event in &events[..5] {
        let chunk = event.json();
        assert!(chunk.get("usage").is_none());
        assert_eq!(chunk["choices"].as_array().expect("choices").len(), 1);
    }
    assert_eq!(events[5].data, "[DONE]");
}

#[tokio::test]
async fn tool_streams_arguments_in_pieces_that_form_valid_json() {
    let mock = MockUpstream::start().await;
    let mut request = chat("tool", true);
    request["tools"] = json!([
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}},
    ]);
    let events = post_sse(&mock.base_url(), "/v1/chat/completions", &request).await;
    assert_eq!(events.last().expect("events").data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let calls: Vec<&Value> =
        chunks.iter().flat_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten()).collect();
    assert_eq!(calls[0]["function"]["name"], "lookup");
    assert_eq!(calls[0]["type"], "function");
    assert!(calls[0]["id"].is_string());
    let pieces: Vec<&str> =
        calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).filter(|a| !a.is_empty()).collect();
    assert!(pieces.len() >= 3, "{pieces:?}");
    let arguments: Value = serde_json::from_str(&pieces.concat()).expect("valid JSON arguments");
    assert_eq!(arguments, json!({"city": "Paris", "unit": "celsius"}));
    assert_eq!(chunks.last().expect("chunk")["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn parallel_tool_non_stream_and_fallback_name() {
    let mock = MockUpstream::start().await;
    let (_, body) = post_json(&mock.base_url(), "/v1/chat/completions", &chat("parallel-tool", false)).await;
    let message = &body["choices"][0]["message"];
    assert!(message["content"].is_null());
    let calls = message["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    let second: Value =
        serde_json::from_str(calls[1]["function"]["arguments"].as_str().expect("arguments")).expect("json");
    assert_eq!(second, json!({"city": "Oslo", "unit": "celsius"}));
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");

    // Streamed: two calls with indices 0 and 1.
    let events = post_sse(&mock.base_url(), "/v1/chat/completions", &chat("parallel-tool", true)).await;
    let mut indices: Vec<u64> = events[..events.len() - 1]
        .iter()
        .flat_map(|e| {
            e.json()["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["index"].as_u64())
                .collect::<Vec<_>>()
        })
        .collect();
    indices.dedup();
    assert_eq!(indices, vec![0, 1]);
}

#[tokio::test]
async fn tool_result_completes_the_round_trip() {
    let mock = MockUpstream::start().await;
    let request = json!({
        "model": "tool",
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    });
    let (_, body) = post_json(&mock.base_url(), "/v1/chat/completions", &request).await;
    assert_eq!(body["choices"][0]["message"]["content"], "tool result: sunny");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn reasoning_streams_reasoning_content_before_the_text() {
    let mock = MockUpstream::start().await;
    let events = post_sse(&mock.base_url(), "/v1/chat/completions", &chat("reasoning", true)).await;
    let deltas: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| e.json()["choices"][0]["delta"].clone()).collect();
    assert_eq!(deltas[0]["role"], "assistant");
    assert!(deltas[0]["reasoning_content"].is_string());
    let first_text = deltas.iter().position(|d| d["content"].is_string()).expect("text");
    assert!(first_text > 0);
    assert!(deltas[first_text..].iter().all(|d| d.get("reasoning_content").is_none()));

    let (_, body) = post_json(&mock.base_url(), "/v1/chat/completions", &chat("reasoning", false)).await;
    assert!(body["choices"][0]["message"]["reasoning_content"].is_string());
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hello world");
}

#[tokio::test]
async fn legacy_completions_stream_and_not() {
    let mock = MockUpstream::start().await;
    let request = json!({"model": "mock-model", "prompt": "say hi"});
    let (status, body) = post_json(&mock.base_url(), "/v1/completions", &request).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["choices"][0]["text"], "echo: say hi");
    assert_eq!(body["usage"]["total_tokens"], 17);

    let request = json!({"model": "mock-model", "prompt": "say hi", "stream": true,
                         "stream_options": {"include_usage": true}});
    let events = post_sse(&mock.base_url(), "/completions", &request).await;
    assert_eq!(events.last().expect("events").data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect();
    assert_eq!(text, "echo: say hi");
    assert_eq!(chunks.last().expect("usage")["usage"]["prompt_tokens"], 12);
}

#[tokio::test]
async fn embeddings_one_deterministic_vector_per_input() {
    let mock = MockUpstream::start().await;
    let (status, one) = post_json(&mock.base_url(), "/v1/embeddings", &json!({"model": "e", "input": "hello"})).await;
    assert_eq!(status, 200);
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "e");
    assert_eq!(one["usage"]["prompt_tokens"], 12);
    let vector = one["data"][0]["embedding"].as_array().expect("vector");
    assert_eq!(vector.len(), 8);

    let (_, many) =
        post_json(&mock.base_url(), "/embeddings", &json!({"model": "e", "input": ["hello", "world"]})).await;
    let data = many["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["embedding"], one["data"][0]["embedding"], "deterministic");
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(data[1]["index"], 1);

    let (_, b64) = post_json(
        &mock.base_url(),
        "/v1/embeddings",
        &json!({"model": "e", "input": "hello", "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(b64["data"][0]["embedding"].as_str().expect("base64").len(), 44, "32 bytes");

    let (status, _) = post_json(&mock.base_url(), "/v1/embeddings", &json!({"model": "e", "input": 5})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bench_model_answers_from_preserialized_bodies() {
    let mock = MockUpstream::start().await;
    let (status, body) = post_json(
        &mock.base_url(),
        "/v1/chat/completions",
        &json!({"model": "bench", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "bench");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the mock LLM.");
    assert_chat_usage(&body["usage"]);

    let events = post_sse(
        &mock.base_url(),
        "/v1/chat/completions",
        &json!({"model": "bench", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(events.last().expect("events").data, "[DONE]");
    assert_chat_usage(&events[events.len() - 2].json()["usage"]);
}
