//! The Gemini API through the gateway: passed through to a Gemini-shaped mock (`gem/…`, kind
//! `gemini`), translated to an OpenAI-compatible mock (`mock/…`) and to an Anthropic-shaped one
//! (`claude/…`); OpenAI and Anthropic clients in front of the Gemini mock. Errors in Google's
//! shape, dying streams, usage rows.

use std::sync::Arc;

use gateway_core::usage::LogEntry;
use gateway_core::usage::query::{self, LogFilter};
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockUpstream, usage};
use switchyard_tests::{TestGateway, gateway, posts, provider_toml, sse_data};

struct Mocks {
    openai: MockUpstream,
    gemini: MockUpstream,
    anthropic: MockUpstream,
}

/// `mock`: OpenAI-compatible; `gem`: kind `gemini`; `claude`: kind `anthropic`; class `coding`
/// resolves to `mock/class-model`.
async fn gateway_with_all() -> (TestGateway, Mocks) {
    let openai = MockUpstream::start().await;
    let gemini = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let toml = format!(
        "{}[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\nmax_output_tokens = 4096\n\
         [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\n\
         [task_classes.coding]\nchain = [\"mock/class-model\"]\n",
        provider_toml("mock", &openai),
        gemini.base_url(),
        anthropic.base_url()
    );
    (gateway(&toml).await, Mocks { openai, gemini, anthropic })
}

async fn post_gemini(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url(path))
        .header("x-goog-api-key", "client-key-not-forwarded")
        .header("user-agent", "GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview (linux; x64)")
        .json(body)
        .send()
        .await
        .expect("gateway reachable")
}

fn hello() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]})
}

/// Every data payload of an SSE body, as JSON.
async fn sse_json(response: reqwest::Response) -> Vec<Value> {
    sse_data(response).await.iter().map(|d| serde_json::from_str(d).unwrap_or(Value::Null)).collect()
}

/// The text of the non-thought parts of Gemini chunks, joined.
fn gemini_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["thought"] != json!(true))
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

async fn rows(gw: &TestGateway) -> Vec<LogEntry> {
    let log: Arc<_> = gw.running.state().usage().log.clone().expect("the usage log is on");
    tokio::task::spawn_blocking(move || {
        log.flush().unwrap();
        let reader = log.reader();
        let conn = reader.lock().unwrap();
        let mut rows = query::logs(&conn, &LogFilter { limit: 1000, ..LogFilter::default() }).unwrap();
        rows.reverse();
        rows
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn passthrough_forwards_the_clients_bytes_with_the_providers_key() {
    let (gw, mocks) = gateway_with_all().await;
    let body = "{ \"contents\" : [{\"role\":\"user\",\"parts\":[{\"text\":\"hello there\"}]}],\n  \"unknownField\": {\"kept\": [1, 2.50, null]}, \"generationConfig\": {\"maxOutputTokens\": 100000} }";
    let response = gw
        .client
        .post(gw.url("/v1beta/models/gem/gemini-2.5-flash:generateContent?key=client-key-in-query"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "gem");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["candidates"][0]["content"]["parts"][0]["text"], "echo: hello there");
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");

    let sent = posts(&mocks.gemini);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path_and_query, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(&sent[0].body[..], body.as_bytes(), "bytes untouched, unknown fields and all");
    assert_eq!(sent[0].header("x-goog-api-key"), Some("gm-provider-key-0001"));
    assert!(!sent[0].path_and_query.contains("client-key"));

    let rows = rows(&gw).await;
    let row = rows.last().unwrap();
    assert_eq!((row.family.as_str(), row.endpoint.as_str()), ("gemini", "generateContent"));
    assert_eq!(row.provider.as_deref(), Some("gem"));
    assert_eq!(row.input_tokens, Some(usage::PROMPT_TOKENS));
    assert_eq!(row.output_tokens, Some(usage::COMPLETION_TOKENS));
    assert_eq!(row.cached_tokens, Some(usage::CACHED_TOKENS));
}

#[tokio::test]
async fn passthrough_streams_sse_and_records_usage_and_the_client() {
    let (gw, mocks) = gateway_with_all().await;
    let response =
        post_gemini(&gw, "/genai/v1beta/models/gem/gemini-x-stream-delay-5:streamGenerateContent?alt=sse", &hello())
            .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let chunks = sse_json(response).await;
    assert!(chunks.len() >= 3, "{chunks:?}");
    assert_eq!(gemini_text(&chunks), "echo: hello there");
    assert_eq!(chunks.last().unwrap()["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        posts(&mocks.gemini)[0].path_and_query,
        "/v1beta/models/gemini-x-stream-delay-5:streamGenerateContent?alt=sse"
    );

    let rows = rows(&gw).await;
    let row = rows.last().unwrap();
    assert!(row.stream);
    assert_eq!(row.outcome, "success");
    assert_eq!(row.client.as_deref(), Some("gemini-cli"));
    assert_eq!(row.output_tokens, Some(usage::COMPLETION_TOKENS));
    assert!(row.ttft_ms.is_some());
}

#[tokio::test]
async fn gemini_client_to_openai_upstream_whole_answer() {
    let (gw, mocks) = gateway_with_all().await;
    let response = post_gemini(
        &gw,
        "/v1beta/models/mock/mock-model:generateContent",
        &json!({
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "look"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]},
                {"role": "model", "parts": [{"text": "thinking…", "thought": true}, {"text": "ok", "thoughtSignature": "c2ln"}]},
                {"role": "user", "parts": [{"text": "hello there"}]}
            ],
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "weather",
                "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]},
                {"googleSearch": {}}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 1000, "stopSequences": ["END"],
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "string"}}},
                "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}}
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "mock");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["candidates"][0]["content"]["role"], "model");
    assert_eq!(answer["candidates"][0]["content"]["parts"][0]["text"], "echo: hello there");
    assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
    assert_eq!(answer["usageMetadata"]["promptTokenCount"], usage::PROMPT_TOKENS);
    // Gemini counts thoughts apart from the candidates.
    assert_eq!(answer["usageMetadata"]["candidatesTokenCount"], usage::COMPLETION_TOKENS - usage::REASONING_TOKENS);
    assert_eq!(answer["usageMetadata"]["thoughtsTokenCount"], usage::REASONING_TOKENS);
    assert_eq!(answer["usageMetadata"]["cachedContentTokenCount"], usage::CACHED_TOKENS);
    assert_eq!(answer["modelVersion"], "mock/mock-model");

    let sent = posts(&mocks.openai);
    assert_eq!(sent[0].path(), "/v1/chat/completions");
    let chat = sent[0].json();
    assert_eq!(chat["model"], "mock-model");
    assert_eq!(chat["messages"][0], json!({"role": "system", "content": "be brief"}));
    assert_eq!(chat["messages"][1]["content"][1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=");
    assert_eq!(chat["messages"][2], json!({"role": "assistant", "content": "ok"}), "thoughts and signatures dropped");
    assert_eq!(chat["messages"][3], json!({"role": "user", "content": "hello there"}));
    assert_eq!(chat["tools"].as_array().unwrap().len(), 1, "Google's own tools are dropped");
    assert_eq!(chat["tools"][0]["function"]["parameters"]["properties"]["city"]["type"], "string");
    assert_eq!(chat["tool_choice"], "required");
    assert_eq!((chat["temperature"].clone(), chat["top_p"].clone()), (json!(0.2), json!(0.9)));
    assert_eq!(chat["max_tokens"], 1000);
    assert_eq!(chat["stop"], json!(["END"]));
    assert_eq!(chat["response_format"]["json_schema"]["schema"]["properties"]["a"]["type"], "string");
    assert!(chat.get("reasoning_effort").is_none());
    assert!(chat.get("stream").is_none());
}

#[tokio::test]
async fn gemini_client_to_openai_upstream_streams_text_and_function_calls() {
    let (gw, mocks) = gateway_with_all().await;
    let response =
        post_gemini(&gw, "/v1beta/models/mock/reasoning-stream-delay-5:streamGenerateContent?alt=sse", &hello()).await;
    assert_eq!(response.status(), 200);
    let chunks = sse_json(response).await;
    assert!(chunks.len() >= 4, "one chunk per upstream delta: {chunks:?}");
    assert_eq!(gemini_text(&chunks), "echo: hello there");
    assert!(chunks.iter().any(|c| c["candidates"][0]["content"]["parts"][0]["thought"] == json!(true)));
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], usage::PROMPT_TOKENS);
    let chat = posts(&mocks.openai)[0].json();
    assert_eq!(chat["stream"], true);
    assert_eq!(chat["stream_options"]["include_usage"], true);

    // A function call round trip: the call, then its response answered.
    let tools = json!([{"functionDeclarations": [{"name": "lookup", "parametersJsonSchema": {"type": "object"}}]}]);
    let response = post_gemini(
        &gw,
        "/v1beta/models/mock/tool:streamGenerateContent?alt=sse",
        &json!({"contents": [{"role": "user", "parts": [{"text": "weather?"}]}], "tools": tools}),
    )
    .await;
    let chunks = sse_json(response).await;
    let last = chunks.last().unwrap();
    let call = &last["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "lookup");
    assert_eq!(call["args"], json!({"city": "Paris", "unit": "celsius"}));
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");

    let response = post_gemini(
        &gw,
        "/v1beta/models/mock/tool:generateContent",
        &json!({"contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"output": "sunny"}}}]}
        ], "tools": tools}),
    )
    .await;
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["candidates"][0]["content"]["parts"][0]["text"], "tool result: sunny");
    let chat = posts(&mocks.openai).last().unwrap().json();
    let call_id = chat["messages"][1]["tool_calls"][0]["id"].clone();
    assert_eq!(chat["messages"][1]["tool_calls"][0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(chat["messages"][2], json!({"role": "tool", "tool_call_id": call_id, "content": "sunny"}));
}

#[tokio::test]
async fn task_class_and_gemini_client_to_anthropic_upstream() {
    let (gw, mocks) = gateway_with_all().await;
    let response = post_gemini(&gw, "/v1beta/models/coding:generateContent", &hello()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-model"], "class-model");

    let response = post_gemini(&gw, "/v1beta/models/claude/claude-x:streamGenerateContent?alt=sse", &hello()).await;
    assert_eq!(response.status(), 200);
    let chunks = sse_json(response).await;
    assert_eq!(gemini_text(&chunks), "echo: hello there");
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], usage::COMPLETION_TOKENS);
    let sent = posts(&mocks.anthropic);
    assert_eq!(sent[0].path(), "/v1/messages");
    assert_eq!(sent[0].json()["messages"][0]["content"], json!([{"type": "text", "text": "hello there"}]));
}

#[tokio::test]
async fn openai_client_to_gemini_provider() {
    let (gw, mocks) = gateway_with_all().await;
    let request = json!({
        "model": "gem/gemini-tool", "max_tokens": 100000,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4A=="}}]}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "additionalProperties": false}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_object"},
        "reasoning_effort": "low"
    });
    let response = gw.post_json("/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap()["city"],
        "Paris"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(answer["usage"]["prompt_tokens"], usage::PROMPT_TOKENS);
    assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS);

    let sent = posts(&mocks.gemini);
    assert_eq!(sent[0].path_and_query, "/v1beta/models/gemini-tool:generateContent");
    assert_eq!(sent[0].header("x-goog-api-key"), Some("gm-provider-key-0001"));
    let body = sent[0].json();
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "be brief");
    assert_eq!(body["contents"][0]["parts"][1]["inlineData"], json!({"mimeType": "image/jpeg", "data": "/9j/4A=="}));
    assert_eq!(body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["additionalProperties"], false);
    assert_eq!(
        body["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
    );
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 4096, "clamped to the provider's max_output_tokens");
    assert_eq!(body["generationConfig"]["responseMimeType"], "application/json");
    assert_eq!(body["generationConfig"]["thinkingConfig"]["thinkingBudget"], 1024);
    assert!(body.get("model").is_none(), "the model is in the URL");

    // The round trip: the call goes back as a functionCall with the documented signature.
    let call_id = call["id"].as_str().unwrap().to_owned();
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "gem/gemini-tool", "stream": true, "stream_options": {"include_usage": true}, "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": call_id, "content": "sunny"}
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_data(response).await;
    assert_eq!(chunks.last().unwrap(), "[DONE]");
    let parsed: Vec<Value> = chunks[..chunks.len() - 1].iter().map(|c| serde_json::from_str(c).unwrap()).collect();
    let text: String = parsed.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "tool result: sunny");
    assert_eq!(parsed.iter().rev().find_map(|c| c["choices"][0]["finish_reason"].as_str()), Some("stop"));
    assert_eq!(parsed.last().unwrap()["usage"]["completion_tokens"], usage::COMPLETION_TOKENS);
    let sent = posts(&mocks.gemini).last().unwrap().clone();
    assert_eq!(sent.path_and_query, "/v1beta/models/gemini-tool:streamGenerateContent?alt=sse");
    let body = sent.json();
    assert_eq!(body["contents"][1]["role"], "model");
    assert_eq!(body["contents"][1]["parts"][0]["functionCall"]["args"], json!({"city": "Paris"}));
    assert_eq!(body["contents"][1]["parts"][0]["thoughtSignature"], "skip_thought_signature_validator");
    assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["name"], "get_weather");
    assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["response"], json!({"content": "sunny"}));
}

#[tokio::test]
async fn anthropic_client_to_gemini_provider_through_openai_chat() {
    let (gw, mocks) = gateway_with_all().await;
    let response = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gem/gemini-reasoning", "max_tokens": 512, "stream": true,
            "system": "be brief", "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta"));
    assert!(text.contains("\"thinking_delta\""), "Gemini thoughts become thinking: {text}");
    let said: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(said, "echo: hello there");
    assert!(text.contains(&format!("\"output_tokens\":{}", usage::COMPLETION_TOKENS)), "{text}");
    let body = posts(&mocks.gemini)[0].json();
    assert_eq!(body["systemInstruction"]["parts"][0]["text"], "be brief");
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 512);

    let whole = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gem/gemini-x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let whole: Value = whole.json().await.unwrap();
    assert_eq!(whole["content"][0]["text"], "echo: hi");
    assert_eq!(whole["stop_reason"], "end_turn");
}

#[tokio::test]
async fn count_tokens_exact_on_passthrough_estimated_when_translated() {
    let (gw, mocks) = gateway_with_all().await;
    let body =
        json!({"contents": [{"role": "user", "parts": [{"text": "a fairly long prompt to count, forty bytes"}]}]});
    let exact: Value = post_gemini(&gw, "/v1beta/models/gem/gemini-x:countTokens", &body).await.json().await.unwrap();
    let sent = posts(&mocks.gemini);
    assert_eq!(sent[0].path(), "/v1beta/models/gemini-x:countTokens");
    assert_eq!(exact["totalTokens"], sent[0].body.len() / 4, "the mock's count, passed through");

    let response = post_gemini(&gw, "/v1beta/models/mock/any:countTokens", &body).await;
    assert_eq!(response.status(), 200);
    let estimate: Value = response.json().await.unwrap();
    assert_eq!(estimate["totalTokens"], 42_u64.div_ceil(4));
    assert!(posts(&mocks.openai).is_empty(), "an estimate makes no upstream call");
}

#[tokio::test]
async fn errors_come_in_googles_shape() {
    let (gw, _mocks) = gateway_with_all().await;
    let check = |body: Value, code: u16, status: &str| {
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["status"], status, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    let response = post_gemini(&gw, "/v1beta/models/nobody/none:generateContent", &hello()).await;
    assert_eq!(response.status(), 404);
    check(response.json().await.unwrap(), 404, "NOT_FOUND");

    let response = gw
        .client
        .post(gw.url("/v1beta/models/mock/m:generateContent"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    check(response.json().await.unwrap(), 400, "INVALID_ARGUMENT");

    let response = post_gemini(&gw, "/v1beta/models/mock/m:streamGenerateContent", &hello()).await;
    assert_eq!(response.status(), 400);
    check(response.json().await.unwrap(), 400, "INVALID_ARGUMENT");

    let response = post_gemini(&gw, "/v1beta/models/mock/m:embedEverything", &hello()).await;
    assert_eq!(response.status(), 404);
    check(response.json().await.unwrap(), 404, "NOT_FOUND");

    for model in ["gem/gemini-status-429", "mock/status-429"] {
        let response = post_gemini(&gw, &format!("/v1beta/models/{model}:generateContent"), &hello()).await;
        assert_eq!(response.status(), 429, "{model}");
        check(response.json().await.unwrap(), 429, "RESOURCE_EXHAUSTED");
    }
}

#[tokio::test]
async fn a_dying_stream_ends_with_an_error_event() {
    let (gw, _mocks) = gateway_with_all().await;
    for model in ["gem/gemini-cut-mid-stream", "mock/cut-mid-stream"] {
        let response =
            post_gemini(&gw, &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"), &hello()).await;
        assert_eq!(response.status(), 200, "{model}");
        let chunks = sse_json(response).await;
        let last = chunks.last().unwrap();
        assert!(last["error"]["message"].as_str().is_some(), "{model}: {chunks:?}");
        assert!(last["error"]["status"].as_str().is_some(), "{model}: {last}");
        assert!(
            chunks.iter().all(|c| c["candidates"][0].get("finishReason").is_none()),
            "{model}: never a clean end: {chunks:?}"
        );
    }
    let rows = rows(&gw).await;
    assert_eq!(rows.iter().filter(|r| r.outcome == "stream_error").count(), 2, "{rows:?}");
}

#[tokio::test]
async fn model_list_in_geminis_shape() {
    let (gw, _mocks) = gateway_with_all().await;
    let list: Value = gw.client.get(gw.url("/v1beta/models")).send().await.unwrap().json().await.unwrap();
    let models = list["models"].as_array().unwrap();
    let gem = models
        .iter()
        .find(|m| m["name"].as_str().is_some_and(|n| n.starts_with("models/gem/")))
        .expect("the gemini provider's models are listed");
    assert_eq!(gem["inputTokenLimit"], 1_048_576, "from the provider's models.list");
    assert_eq!(gem["outputTokenLimit"], 65_536);
    assert!(models.iter().any(|m| m["name"] == "models/coding"), "task classes are models too");
    let name = gem["name"].as_str().unwrap().to_owned();
    let one: Value = gw.client.get(gw.url(&format!("/v1beta/{name}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["name"], name.as_str());
    let missing = gw.client.get(gw.url("/v1beta/models/nope/nada")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND");
}
