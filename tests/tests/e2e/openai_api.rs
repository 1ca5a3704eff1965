//! The OpenAI-compatible API through the gateway to a mock upstream on loopback: the seeds'
//! validation table, the fast path's byte-exactness, and the usage chunk handling.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockOptions, MockUpstream, usage};
use switchyard_tests::{gateway, gateway_with_mock, posts, provider_toml, sse_data};

#[tokio::test]
async fn smoke_non_streaming_chat() {
    let (gw, mock) = gateway_with_mock().await;
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "mock");
    assert_eq!(response.headers()["x-switchyard-model"], "mock-model");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hello there");
    assert_eq!(body["usage"]["prompt_tokens"], usage::PROMPT_TOKENS);
    let seen = posts(&mock);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path(), "/v1/chat/completions");
    assert_eq!(seen[0].json()["model"], "mock-model", "the provider prefix is stripped");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test-mock-0001"));
}

#[tokio::test]
async fn system_and_developer_messages_are_forwarded() {
    let (gw, mock) = gateway_with_mock().await;
    let messages = json!([
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": "hi"}
    ]);
    let response =
        gw.post_json("/v1/chat/completions", &json!({"model": "mock/mock-model", "messages": messages})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&mock)[0].json()["messages"], messages);
}

#[tokio::test]
async fn stream_reaches_the_client_before_the_upstream_finishes() {
    let mock = MockUpstream::start_with(MockOptions { stream_chunks: 4, ..MockOptions::default() }).await;
    let gw = gateway(&provider_toml("mock", &mock)).await;
    let started = Instant::now();
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/stream-delay-300", "stream": true, "messages": [{"role": "user", "content": "a b c d"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("data:"));
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    let total = started.elapsed();
    // The mock sleeps 300 ms before each of 4+ chunks: the first chunk must arrive while at
    // least three more sleeps remain upstream.
    assert!(total >= Duration::from_millis(1200), "total {total:?}");
    assert!(total - first_at >= Duration::from_millis(800), "first chunk at {first_at:?}, end at {total:?}: buffered");
    assert!(String::from_utf8_lossy(&rest).trim_end().ends_with("data: [DONE]"));
}

#[tokio::test]
async fn tool_calls_stream_their_arguments() {
    let (gw, _mock) = gateway_with_mock().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/tool", "stream": true, "tools": tools, "tool_choice": "auto", "parallel_tool_calls": true,
                    "messages": [{"role": "user", "content": "weather in Paris?"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let data = sse_data(response).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let mut arguments = String::new();
    let mut pieces = 0;
    let mut name = None;
    let mut finish = None;
    for event in &data[..data.len() - 1] {
        let chunk: Value = serde_json::from_str(event).unwrap();
        if let Some(call) = chunk["choices"][0]["delta"]["tool_calls"].get(0) {
            if let Some(n) = call["function"]["name"].as_str() {
                name = Some(n.to_owned());
            }
            if let Some(a) = call["function"]["arguments"].as_str() {
                arguments.push_str(a);
                pieces += 1;
            }
        }
        if let Some(f) = chunk["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    assert_eq!(name.as_deref(), Some("get_weather"));
    assert!(pieces >= 3, "arguments arrived in {pieces} pieces");
    let parsed: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(parsed["city"], "Paris");
    assert_eq!(finish.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn parallel_tool_calls_non_streaming() {
    let (gw, _mock) = gateway_with_mock().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/parallel-tool", "tools": tools, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    let calls = body["choices"][0]["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0]["id"], calls[1]["id"]);
}

#[tokio::test]
async fn hundred_concurrent_requests_each_get_their_own_answer() {
    let (gw, mock) = gateway_with_mock().await;
    let gw = std::sync::Arc::new(gw);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            let stream = i % 2 == 0;
            let response = gw
                .post_json(
                    "/v1/chat/completions",
                    &json!({"model": "mock/mock-model", "stream": stream, "messages": [{"role": "user", "content": format!("request number {i}")}]}),
                )
                .await;
            assert_eq!(response.status(), 200);
            let text = if stream {
                let mut text = String::new();
                for event in sse_data(response).await {
                    if event == "[DONE]" {
                        continue;
                    }
                    let chunk: Value = serde_json::from_str(&event).unwrap();
                    text.push_str(chunk["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
                }
                text
            } else {
                let body: Value = response.json().await.unwrap();
                body["choices"][0]["message"]["content"].as_str().unwrap().to_owned()
            };
            assert_eq!(text.trim(), format!("echo: request number {i}"));
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(posts(&mock).len(), 100);
}

#[tokio::test]
async fn large_body_with_unknown_fields_is_forwarded_byte_for_byte() {
    let (gw, mock) = gateway_with_mock().await;
    let filler = "x".repeat(512 * 1024);
    // Odd spacing, key order, unicode escapes and unknown fields: none may change.
    let body = format!(
        "{{ \"messages\" : [{{\"role\":\"user\",\"content\":\"{filler}\"}}],\n  \"model\":\"mock/mock-model\" , \"x_vendor\": {{\"a\": [1, 2.50, null, \"\\u00e9\"]}}, \"temperature\": 0.70, \"response_format\": {{\"type\":\"json_object\"}} }}"
    );
    let response = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = &posts(&mock)[0];
    let expected = body.replace("\"mock/mock-model\"", "\"mock-model\"");
    assert_eq!(seen.body.len(), expected.len());
    assert!(seen.body == expected.as_bytes(), "the upstream must receive the client's bytes with only `model` changed");
}

#[tokio::test]
async fn stream_usage_is_requested_upstream_and_hidden_from_clients_that_did_not_ask() {
    let (gw, mock) = gateway_with_mock().await;
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/mock-model", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let data = sse_data(response).await;
    assert_eq!(posts(&mock)[0].json()["stream_options"]["include_usage"], true, "the gateway asks upstream for usage");
    assert!(data.iter().all(|d| !d.contains("\"prompt_tokens\"")), "the client did not ask for usage: {data:?}");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));

    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mock/mock-model", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let data = sse_data(response).await;
    let usage_chunk = data.iter().find(|d| d.contains("\"prompt_tokens\"")).expect("the client asked for usage");
    let usage_chunk: Value = serde_json::from_str(usage_chunk).unwrap();
    assert_eq!(usage_chunk["usage"]["completion_tokens"], usage::COMPLETION_TOKENS);
}

#[tokio::test]
async fn sdk_prefixes_embeddings_completions_and_models() {
    let mock =
        MockUpstream::start_with(MockOptions { models: vec!["m1".into(), "org/m2".into()], ..MockOptions::default() })
            .await;
    let gw = gateway(&provider_toml("local", &mock)).await;
    for prefix in ["/v1", "/openai", "/openai/v1"] {
        let response = gw
            .post_json(
                &format!("{prefix}/chat/completions"),
                &json!({"model": "local/m1", "messages": [{"role": "user", "content": "p"}]}),
            )
            .await;
        assert_eq!(response.status(), 200, "{prefix}");
        let models: Value =
            gw.client.get(gw.url(&format!("{prefix}/models"))).send().await.unwrap().json().await.unwrap();
        let ids: Vec<&str> = models["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["owned_by"] != "switchyard")
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["local/m1", "local/org/m2"], "{prefix}");
        let classes = models["data"].as_array().unwrap().iter().filter(|m| m["owned_by"] == "switchyard").count();
        assert_eq!(classes, 4, "the built-in task classes are listed as models");
    }
    let response = gw.post_json("/v1/embeddings", &json!({"model": "local/m1", "input": ["a", "b"]})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    let response = gw.post_json("/v1/completions", &json!({"model": "local/m1", "prompt": "def fib("})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["choices"][0]["text"].is_string());
    let response =
        gw.post_json("/v1/completions", &json!({"model": "local/m1", "prompt": "def fib(", "stream": true})).await;
    let data = sse_data(response).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));

    // A model id with slashes, unprefixed, goes to the one provider that lists it.
    let response = gw
        .post_json("/v1/chat/completions", &json!({"model": "org/m2", "messages": [{"role": "user", "content": "p"}]}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&mock).last().unwrap().json()["model"], "org/m2");
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "local/org/m2", "messages": [{"role": "user", "content": "p"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&mock).last().unwrap().json()["model"], "org/m2");
}

#[tokio::test]
async fn bare_model_ids_resolve_or_name_the_candidates() {
    let a = MockUpstream::start_with(MockOptions {
        models: vec!["shared".into(), "only-a".into()],
        ..MockOptions::default()
    })
    .await;
    let b = MockUpstream::start_with(MockOptions { models: vec!["shared".into()], ..MockOptions::default() }).await;
    let gw = gateway(&format!("{}{}", provider_toml("alpha", &a), provider_toml("beta", &b))).await;
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "only-a", "messages": []})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&a).len(), 1);

    let response = gw.post_json("/v1/chat/completions", &json!({"model": "shared", "messages": []})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("alpha/shared") && message.contains("beta/shared"), "{message}");

    let response = gw.post_json("/v1/chat/completions", &json!({"model": "nowhere", "messages": []})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("alpha/only-a"), "the error lists what exists: {message}");
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn health_and_head_answer_at_once() {
    let (gw, _mock) = gateway_with_mock().await;
    let response = gw.client.head(gw.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn admin_api_never_shows_a_key() {
    let (gw, _mock) = gateway_with_mock().await;
    let text = gw.client.get(gw.url("/api/providers")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("sk-test-mock-0001"), "{text}");
    assert!(text.contains("****0001"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["providers"][0]["provider"]["local"], true);
}
