//! The Anthropic Messages API through the gateway: translated to an OpenAI-compatible mock
//! (`mock/…`), passed through to an Anthropic-shaped mock (`claude/…`), and OpenAI clients in
//! front of the Anthropic mock. Errors in Anthropic's shape.

use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockUpstream, usage};
use switchyard_tests::{TestGateway, gateway, posts, provider_toml};

/// `mock`: OpenAI-compatible; `claude`: kind `anthropic` (base URL with `/v1`).
async fn gateway_with_both() -> (TestGateway, MockUpstream, MockUpstream) {
    let openai = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let toml = format!(
        "{}[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\nmax_output_tokens = 8192\n",
        provider_toml("mock", &openai),
        anthropic.base_url()
    );
    (gateway(&toml).await, openai, anthropic)
}

async fn post_anthropic(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url(path))
        .header("x-api-key", "client-key-not-forwarded")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14")
        .json(body)
        .send()
        .await
        .expect("gateway reachable")
}

/// `(event name, data)` of every SSE event.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
            let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            (name, serde_json::from_str(data).unwrap_or(Value::Null))
        })
        .collect()
}

#[tokio::test]
async fn anthropic_client_to_openai_upstream_non_streaming() {
    let (gw, openai, _anthropic) = gateway_with_both().await;
    let response = post_anthropic(
        &gw,
        "/v1/messages?beta=true",
        &json!({
            "model": "mock/mock-model", "max_tokens": 64000,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "system", "content": "mid-conversation note"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"}, {"type": "text", "text": "ok"}]},
                {"role": "user", "content": [{"type": "text", "text": "hello there"}]}
            ],
            "metadata": {"user_id": "u-1"}
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "mock/mock-model");
    assert_eq!(body["content"][0], json!({"type": "text", "text": "echo: hello there"}));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["output_tokens"], usage::COMPLETION_TOKENS);
    assert_eq!(body["usage"]["cache_read_input_tokens"], usage::CACHED_TOKENS);
    assert_eq!(body["usage"]["input_tokens"], usage::PROMPT_TOKENS - usage::CACHED_TOKENS);

    let sent = posts(&openai);
    assert_eq!(sent[0].path(), "/v1/chat/completions");
    let sent = sent[0].json();
    assert_eq!(sent["model"], "mock-model");
    assert_eq!(sent["max_tokens"], 64000, "no max_output_tokens on this provider: passed as sent");
    assert_eq!(sent["user"], "u-1");
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "system", "content": "mid-conversation note"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "hello there"}
        ]),
        "thinking stripped, system blocks joined, mid-conversation system kept in place"
    );
}

#[tokio::test]
async fn anthropic_stream_from_openai_upstream_with_tools_and_thinking() {
    let (gw, openai, _anthropic) = gateway_with_both().await;
    let response = post_anthropic(
        &gw,
        "/anthropic/v1/messages",
        &json!({
            "model": "mock/reasoning-tool", "max_tokens": 1024, "stream": true,
            "tools": [{"name": "get_weather", "description": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "weather?"}]
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let starts: Vec<&Value> =
        events.iter().filter(|(n, _)| n == "content_block_start").map(|(_, d)| &d["content_block"]).collect();
    assert_eq!(starts[0]["type"], "thinking");
    assert_eq!(starts[1]["type"], "tool_use");
    assert_eq!(starts[1]["name"], "get_weather");
    assert!(
        events.iter().any(|(_, d)| d["delta"]["type"] == "signature_delta"),
        "a synthesized signature closes the thinking block"
    );
    let arguments: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap()["city"], "Paris");
    let delta = events.iter().find(|(n, _)| n == "message_delta").map(|(_, d)| d).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], usage::COMPLETION_TOKENS);

    let sent = posts(&openai)[0].json();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
}

#[tokio::test]
async fn tool_results_become_tool_messages_before_the_user_text() {
    let (gw, openai, _anthropic) = gateway_with_both().await;
    let response = post_anthropic(
        &gw,
        "/v1/messages",
        &json!({
            "model": "mock/mock-model", "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello-from-tool", "cache_control": {"type": "ephemeral"}}
                ]}
            ]
        }),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "tool result: hello-from-tool");
    let sent = posts(&openai)[0].json();
    assert_eq!(sent["messages"][1]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(sent["messages"][2], json!({"role": "tool", "tool_call_id": "toolu_1", "content": "hello-from-tool"}));
}

#[tokio::test]
async fn passthrough_to_anthropic_keeps_bytes_and_forwards_version_and_beta() {
    let (gw, _openai, anthropic) = gateway_with_both().await;
    let body = r#"{"model":"claude/claude-test","max_tokens":10,"x_unknown":{"deep":[1,2]},"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}],"stream":true}"#;
    let response = gw
        .client
        .post(gw.url("/v1/messages?beta=true"))
        .header("authorization", "Bearer client-token")
        .header("anthropic-version", "2026-10-21")
        .header("anthropic-beta", "claude-code-20250219")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    assert!(!text.contains("event: error"), "{text}");
    let sent = &posts(&anthropic)[0];
    assert_eq!(sent.path(), "/v1/messages");
    assert_eq!(std::str::from_utf8(&sent.body).unwrap(), body.replace("claude/claude-test", "claude-test"));
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test-0001"));
    assert_eq!(sent.header("authorization"), None, "the client's key is not forwarded");
    assert_eq!(sent.header("anthropic-version"), Some("2026-10-21"));
    assert_eq!(sent.header("anthropic-beta"), Some("claude-code-20250219"));

    // Over the provider's max_output_tokens (8192): lowered in place, nothing else touched.
    let body = r#"{"model":"claude/claude-test","max_tokens":64000,"messages":[{"role":"user","content":"hi"}]}"#;
    let response = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent = &posts(&anthropic)[1];
    assert_eq!(
        std::str::from_utf8(&sent.body).unwrap(),
        body.replace("claude/claude-test", "claude-test").replace("64000", "8192")
    );
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"), "the default when the client sent none");
}

#[tokio::test]
async fn openai_client_to_anthropic_upstream() {
    let (gw, _openai, anthropic) = gateway_with_both().await;
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "claude/claude-test", "max_tokens": 100000,
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], usage::COMPLETION_TOKENS);
    let sent = &posts(&anthropic)[0];
    assert_eq!(sent.path(), "/v1/messages");
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let sent = sent.json();
    assert_eq!(sent["system"], "sys");
    assert_eq!(sent["max_tokens"], 8192, "clamped to max_output_tokens");

    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "claude/tool", "stream": true, "stream_options": {"include_usage": true},
                "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
                "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .await;
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "get_weather");
    let finish = chunks.iter().find_map(|c| c["choices"][0]["finish_reason"].as_str()).unwrap();
    assert_eq!(finish, "tool_calls");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], usage::COMPLETION_TOKENS);
}

#[tokio::test]
async fn count_tokens_estimated_or_forwarded() {
    let (gw, _openai, anthropic) = gateway_with_both().await;
    let request = json!({"model": "mock/m", "messages": [{"role": "user", "content": "a".repeat(400)}]});
    let response = post_anthropic(&gw, "/v1/messages/count_tokens?beta=true", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["input_tokens"], 100, "estimate: bytes of text / 4");

    let request = json!({"model": "claude/c", "messages": [{"role": "user", "content": "hi"}]});
    let response = post_anthropic(&gw, "/anthropic/v1/messages/count_tokens", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(posts(&anthropic)[0].path(), "/v1/messages/count_tokens");
}

#[tokio::test]
async fn models_in_anthropic_shape_with_the_version_header() {
    let (gw, _openai, _anthropic) = gateway_with_both().await;
    let response =
        gw.client.get(gw.url("/v1/models?limit=1000")).header("anthropic-version", "2023-06-01").send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["has_more"], false, "{body}");
    let first = &body["data"][0];
    assert_eq!(first["type"], "model", "{body}");
    assert!(first["display_name"].is_string() && first["created_at"].is_string());
    assert_eq!(body["first_id"], first["id"]);
    assert!(body["data"].as_array().unwrap().iter().any(|m| m["id"].as_str().unwrap().starts_with("claude/")));
    let body: Value = gw.client.get(gw.url("/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["object"], "list");
}

#[tokio::test]
async fn errors_in_anthropic_shape() {
    let (gw, _openai, _anthropic) = gateway_with_both().await;
    let response = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let response =
        post_anthropic(&gw, "/v1/messages", &json!({"model": "nope/nothing", "max_tokens": 1, "messages": []})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error");

    for model in ["mock/status-429", "claude/status-429"] {
        let response = post_anthropic(
            &gw,
            "/v1/messages",
            &json!({"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(response.status(), 429, "{model}");
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_error", "{model}");
    }

    for model in ["mock/cut-mid-stream", "claude/cut-mid-stream"] {
        let response = post_anthropic(
            &gw,
            "/v1/messages",
            &json!({"model": model, "max_tokens": 1, "stream": true, "messages": [{"role": "user", "content": "a b c d"}]}),
        )
        .await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let events = events(&text);
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "error", "{model}: {text}");
        assert_eq!(data["type"], "error");
        assert!(!text.contains("message_stop"), "{model}: a cut stream never ends cleanly");
    }
}
