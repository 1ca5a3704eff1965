//! The OpenAI Responses API through the gateway: translated to an OpenAI-compatible mock
//! (`mock/…`, Chat Completions), translated through Chat to an Anthropic-shaped mock
//! (`claude/…`) and to a Gemini-shaped one (`gem/…`), and passed through untouched to a
//! provider of kind `openai` (`oai/…`, which speaks Responses itself). Errors in OpenAI's shape; usage rows in the `responses` family.

use std::sync::Arc;

use gateway_core::usage::query::{self, LogFilter};
use gateway_core::usage::{LogEntry, UsageLog};
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockUpstream, usage};
use switchyard_tests::{TestGateway, gateway, posts, provider_toml};

/// The reasoning text of the mock's `reasoning` models.
const MOCK_REASONING: &str = "The user wants an answer. Let me think it through.";

/// `mock`: OpenAI-compatible (Chat only); `claude`: kind `anthropic`; `oai`: kind `openai`.
async fn gateway_with_three() -> (TestGateway, MockUpstream, MockUpstream, MockUpstream) {
    let chat = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let openai = MockUpstream::start().await;
    let toml = format!(
        "{}[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\nmax_output_tokens = 8192\n\
         [providers.oai]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-openai-test-0001\"]\n",
        provider_toml("mock", &chat),
        anthropic.base_url(),
        openai.base_url()
    );
    (gateway(&toml).await, chat, anthropic, openai)
}

/// What Codex CLI 0.169 sends (CLIENTS.md A.4): developer-role instructions as input items,
/// function tools mixed with `namespace` and `web_search`, `store: false`, `include`.
fn codex_body(model: &str, input: Value) -> Value {
    json!({
        "model": model, "stream": true, "store": false, "tool_choice": "auto", "parallel_tool_calls": true,
        "reasoning": {"summary": "auto"}, "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "thread-1", "client_metadata": {"k": "v"},
        "input": input,
        "tools": [
            {"type": "function", "name": "exec_command", "description": "Runs a command", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "agents", "tools": []},
            {"type": "web_search", "external_web_access": false}
        ]
    })
}

fn developer_and_user(text: &str) -> Value {
    json!([
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    ])
}

async fn post_codex(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url(path))
        .bearer_auth("codex-key-not-forwarded")
        .header("accept", "text/event-stream")
        .header("originator", "codex_exec")
        .header("session-id", "codex-session-1")
        .header("user-agent", "codex_exec/0.169.0 (Debian 13; x86_64)")
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

/// Checks the invariants every Responses stream keeps: names equal `type`, sequence numbers
/// count up from 0, one `response.created` first and one terminal event last.
fn check_stream(events: &[(String, Value)]) {
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], json!(name), "event {i}: {data}");
        assert_eq!(data["sequence_number"], json!(i), "event {i}: {data}");
    }
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("response.created"));
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn codex_stream_translated_to_chat_upstream() {
    let (gw, chat, _anthropic, _openai) = gateway_with_three().await;
    let response = post_codex(&gw, "/v1/responses", &codex_body("mock/echo", developer_and_user("hello there"))).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(response.headers()["x-switchyard-provider"], "mock");
    let events = events(&response.text().await.unwrap());
    check_stream(&events);
    let names = names(&events);
    let prefix = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ];
    assert_eq!(names[..5], prefix, "{names:?}");
    let suffix =
        ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"];
    assert_eq!(names[names.len() - 4..], suffix, "{names:?}");
    let text: String = events
        .iter()
        .filter(|(name, _)| name == "response.output_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "echo: hello there");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "mock/echo");
    assert_eq!(completed["output"][0]["content"][0]["text"], "echo: hello there");
    assert_eq!(completed["usage"]["input_tokens"], usage::PROMPT_TOKENS);
    assert_eq!(completed["usage"]["input_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS);
    assert_eq!(completed["usage"]["output_tokens"], usage::COMPLETION_TOKENS);
    assert_eq!(completed["usage"]["total_tokens"], usage::TOTAL_TOKENS);

    let sent = posts(&chat);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path(), "/v1/chat/completions");
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-test-mock-0001"), "the gateway's key, not Codex's");
    let sent = sent[0].json();
    assert_eq!(sent["model"], "echo");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You are Codex."}, {"role": "user", "content": "hello there"}])
    );
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    let tools = sent["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1, "namespace and web_search tools are dropped: {tools:?}");
    assert_eq!(tools[0]["function"]["name"], "exec_command");
    for dropped in ["store", "include", "prompt_cache_key", "client_metadata", "reasoning", "input"] {
        assert!(sent.get(dropped).is_none(), "{dropped} is not a Chat field: {sent}");
    }
}

#[tokio::test]
async fn tool_round_trip_and_reasoning_through_chat_upstream() {
    let (gw, chat, _anthropic, _openai) = gateway_with_three().await;
    // Streamed: reasoning, then one function call to the first function tool.
    let body = codex_body("mock/reasoning-tool", developer_and_user("list files"));
    let events = events(&post_codex(&gw, "/v1/responses", &body).await.text().await.unwrap());
    check_stream(&events);
    let reasoning: String = events
        .iter()
        .filter(|(name, _)| name == "response.reasoning_text.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    assert_eq!(reasoning, MOCK_REASONING);
    let arguments: String = events
        .iter()
        .filter(|(name, _)| name == "response.function_call_arguments.delta")
        .map(|(_, data)| data["delta"].as_str().unwrap())
        .collect();
    let done: Vec<&Value> =
        events.iter().filter(|(name, _)| name == "response.output_item.done").map(|(_, data)| &data["item"]).collect();
    assert_eq!(done.len(), 2, "{done:?}");
    assert_eq!(done[0]["type"], "reasoning");
    assert_eq!(done[0]["content"][0]["text"], MOCK_REASONING);
    let call = done[1];
    assert_eq!((call["type"].as_str(), call["name"].as_str()), (Some("function_call"), Some("exec_command")));
    assert_eq!(call["arguments"], json!(arguments));
    let parsed: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(parsed["cmd"], "echo hello-from-tool", "{arguments}");
    let completed = &events.last().unwrap().1["response"];
    assert_eq!(completed["usage"]["output_tokens_details"]["reasoning_tokens"], usage::REASONING_TOKENS);
    assert_eq!(completed["output"].as_array().unwrap().len(), 2);

    // The next turn carries the call and its output, as Codex sends them; not streamed.
    let mut input = developer_and_user("list files").as_array().unwrap().clone();
    input.push(done[0].clone());
    input.push(
        json!({"type": "function_call", "call_id": call["call_id"], "name": "exec_command", "arguments": arguments}),
    );
    input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "hello-from-tool"}));
    let mut body = codex_body("mock/reasoning-tool", Value::Array(input));
    body["stream"] = json!(false);
    let response = post_codex(&gw, "/v1/responses", &body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    let message = answer["output"].as_array().unwrap().iter().find(|i| i["type"] == "message").unwrap();
    assert_eq!(message["content"][0]["text"], "tool result: hello-from-tool");

    let second = posts(&chat)[1].json();
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "reasoning items are dropped: {messages:?}");
    assert_eq!(messages[2]["tool_calls"][0]["id"], call["call_id"]);
    assert_eq!(messages[3], json!({"role": "tool", "tool_call_id": call["call_id"], "content": "hello-from-tool"}));
}

#[tokio::test]
async fn codex_driving_an_anthropic_provider() {
    let (gw, _chat, anthropic, _openai) = gateway_with_three().await;
    let mut body = codex_body("claude/tool", developer_and_user("run it"));
    body["max_output_tokens"] = json!(64000);
    let events = events(&post_codex(&gw, "/v1/responses", &body).await.text().await.unwrap());
    check_stream(&events);
    let done: Vec<&Value> =
        events.iter().filter(|(name, _)| name == "response.output_item.done").map(|(_, data)| &data["item"]).collect();
    assert_eq!(done.len(), 1, "{events:?}");
    assert_eq!(done[0]["name"], "exec_command");
    let arguments: Value = serde_json::from_str(done[0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["cmd"], "echo hello-from-tool", "the mock's command for Codex's shell tool");
    let completed = &events.last().unwrap().1;
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["usage"]["output_tokens"], usage::COMPLETION_TOKENS);
    assert_eq!(completed["response"]["usage"]["input_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS);

    let sent = posts(&anthropic);
    assert_eq!(sent[0].path(), "/v1/messages");
    assert_eq!(sent[0].header("x-api-key"), Some("sk-ant-test-0001"));
    let sent = sent[0].json();
    assert_eq!(sent["system"], "You are Codex.");
    assert_eq!(sent["max_tokens"], 8192, "clamped to the provider's max_output_tokens");
    assert_eq!(sent["tools"].as_array().unwrap().len(), 1);
    assert_eq!(sent["tools"][0]["name"], "exec_command");

    // Whole answer, with the tool result: Anthropic's text comes back as a Responses message.
    let input = json!([
        {"role": "user", "content": "run it"},
        {"type": "function_call", "call_id": "toolu_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"}
    ]);
    let mut body = codex_body("claude/echo", input);
    body["stream"] = json!(false);
    let answer: Value = post_codex(&gw, "/v1/responses", &body).await.json().await.unwrap();
    assert_eq!(answer["output"][0]["content"][0]["text"], "tool result: a.txt", "{answer}");
    // Anthropic counts cached tokens apart; the Responses client gets them inside input_tokens.
    assert_eq!(answer["usage"]["input_tokens"], usage::PROMPT_TOKENS + usage::CACHED_TOKENS);
}

/// Codex in front of a `gemini` provider: Responses → Chat → Gemini, and Gemini's chunks back
/// through Chat (`translate::chain`), streamed, whole, and cut.
#[tokio::test]
async fn codex_driving_a_gemini_provider() {
    let gemini = MockUpstream::start().await;
    let toml = format!(
        "[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\nmax_output_tokens = 4096\n",
        gemini.base_url()
    );
    let gw = gateway(&toml).await;
    let mut body = codex_body("gem/tool", developer_and_user("run it"));
    body["max_output_tokens"] = json!(64000);
    let events = events(&post_codex(&gw, "/v1/responses", &body).await.text().await.unwrap());
    check_stream(&events);
    let done: Vec<&Value> =
        events.iter().filter(|(name, _)| name == "response.output_item.done").map(|(_, data)| &data["item"]).collect();
    assert_eq!(done.len(), 1, "{events:?}");
    assert_eq!(done[0]["type"], "function_call");
    assert_eq!(done[0]["name"], "exec_command");
    let arguments: Value = serde_json::from_str(done[0]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["cmd"], "echo hello-from-tool", "the mock's command for Codex's shell tool");
    let completed = &events.last().unwrap().1;
    assert_eq!(completed["type"], "response.completed");
    let usage = &completed["response"]["usage"];
    // Gemini's promptTokenCount already includes the cached tokens, as Responses' input_tokens do.
    assert_eq!(usage["input_tokens"], usage::PROMPT_TOKENS, "{usage}");
    assert_eq!(usage["output_tokens"], usage::COMPLETION_TOKENS, "{usage}");
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], usage::CACHED_TOKENS, "{usage}");

    let sent = posts(&gemini);
    assert_eq!(sent[0].path_and_query, "/v1beta/models/tool:streamGenerateContent?alt=sse");
    assert_eq!(sent[0].header("x-goog-api-key"), Some("gm-provider-key-0001"));
    assert_eq!(sent[0].header("authorization"), None, "Codex's key is not forwarded");
    let sent = sent[0].json();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "You are Codex.");
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 4096, "clamped to the provider's max_output_tokens");
    let declarations = sent["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert_eq!(declarations.len(), 1, "non-function tools dropped: {declarations:?}");
    assert_eq!(declarations[0]["name"], "exec_command");

    // Whole answer, with the tool result: the output goes back as a functionResponse.
    let input = json!([
        {"role": "user", "content": "run it"},
        {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
    ]);
    let mut body = codex_body("gem/echo", input);
    body["stream"] = json!(false);
    let answer: Value = post_codex(&gw, "/v1/responses", &body).await.json().await.unwrap();
    assert_eq!(answer["object"], "response", "{answer}");
    assert_eq!(answer["output"][0]["content"][0]["text"], "tool result: a.txt", "{answer}");
    assert_eq!(answer["usage"]["input_tokens"], usage::PROMPT_TOKENS);
    let sent = posts(&gemini)[1].clone();
    assert_eq!(sent.path(), "/v1beta/models/echo:generateContent");
    let contents = sent.json()["contents"].clone();
    assert_eq!(contents[1]["parts"][0]["functionCall"]["name"], "exec_command", "{contents}");
    assert_eq!(contents[2]["parts"][0]["functionResponse"]["name"], "exec_command", "{contents}");

    // A stream that dies upstream ends with the failure of the response already begun.
    let body = codex_body("gem/cut-mid-stream", developer_and_user("hello"));
    let cut = self::events(&post_codex(&gw, "/v1/responses", &body).await.text().await.unwrap());
    let names = names(&cut);
    assert!(!names.contains(&"response.completed"), "{names:?}");
    assert_eq!(names[names.len() - 2..], ["error", "response.failed"], "{names:?}");
    assert_eq!(cut.last().unwrap().1["response"]["id"], cut[0].1["response"]["id"]);
}

#[tokio::test]
async fn passthrough_to_a_provider_that_speaks_responses() {
    let (gw, chat, _anthropic, openai) = gateway_with_three().await;
    // Unusual spacing and unknown fields: only `model` may change on the way.
    let raw = r#"{"model":  "oai/echo", "input": [{"role":"user","content":"hello there"}], "store": true, "x_unknown": {"keep": [1, 2]}, "max_output_tokens": 50}"#;
    let response = gw
        .client
        .post(gw.url("/openai/v1/responses"))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "response");
    let sent = posts(&openai);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path(), "/v1/responses");
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-openai-test-0001"));
    assert_eq!(String::from_utf8_lossy(&sent[0].body), raw.replacen(r#""oai/echo""#, r#""echo""#, 1));
    assert!(posts(&chat).is_empty());

    // Streamed: the upstream's events come back as they were sent.
    let body = codex_body("oai/echo", developer_and_user("hi"));
    let response = post_codex(&gw, "/openai/responses", &body).await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap().0, "response.completed");
    assert_eq!(events.last().unwrap().1["response"]["usage"]["input_tokens"], usage::PROMPT_TOKENS);
    assert_eq!(posts(&openai)[1].json()["tools"].as_array().unwrap().len(), 3, "nothing dropped on passthrough");
}

#[tokio::test]
async fn a_stream_that_dies_upstream_ends_with_response_failed() {
    let (gw, _chat, _anthropic, openai) = gateway_with_three().await;
    for model in ["mock/cut-mid-stream", "claude/cut-mid-stream", "oai/cut-mid-stream"] {
        let response = post_codex(&gw, "/v1/responses", &codex_body(model, developer_and_user("hello"))).await;
        assert_eq!(response.status(), 200, "{model}");
        let events = events(&response.text().await.unwrap());
        let names = names(&events);
        assert!(!names.contains(&"response.completed"), "{model}: {names:?}");
        assert_eq!(names[names.len() - 2..], ["error", "response.failed"], "{model}: {names:?}");
        let failed = &events.last().unwrap().1["response"];
        assert_eq!(failed["status"], "failed");
        assert!(failed["error"]["message"].as_str().unwrap().contains("stream"), "{failed}");
        if model != "oai/cut-mid-stream" {
            // Translated: the failure belongs to the response the client already has.
            assert_eq!(failed["id"], events[0].1["response"]["id"], "{model}");
        }
    }
    assert_eq!(posts(&openai).len(), 1);
}

#[tokio::test]
async fn errors_in_openai_shape() {
    let (gw, chat, _anthropic, _openai) = gateway_with_three().await;
    let response = gw
        .post_json("/v1/responses", &json!({"model": "mock/echo", "input": "more", "previous_response_id": "resp_1"}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "previous_response_id");
    assert!(body["error"]["message"].as_str().unwrap().contains("store: false"));
    assert!(posts(&chat).is_empty(), "refused before any upstream call");

    let response = gw.post_json("/v1/responses", &json!({"model": "nowhere/model", "input": "hi"})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");

    let response = gw.post_json("/v1/responses", &json!({"model": "mock/status-429", "input": "hi"})).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");

    let response = gw.client.post(gw.url("/v1/responses")).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let response = gw.client.get(gw.url("/v1/responses")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn usage_rows_in_the_responses_family_attributed_to_codex() {
    let (gw, _chat, _anthropic, _openai) = gateway_with_three().await;
    for (model, stream) in [("mock/echo", true), ("mock/echo", false), ("claude/echo", true), ("oai/echo", true)] {
        let mut body = codex_body(model, developer_and_user("hello"));
        body["stream"] = json!(stream);
        let response = post_codex(&gw, "/v1/responses", &body).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let log: Arc<UsageLog> = gw.running.state().usage().log.clone().expect("the usage log is on");
    let rows: Vec<LogEntry> = tokio::task::spawn_blocking(move || {
        log.flush().unwrap();
        let reader = log.reader();
        let conn = reader.lock().unwrap();
        let mut rows = query::logs(&conn, &LogFilter { limit: 100, ..LogFilter::default() }).unwrap();
        rows.reverse();
        rows
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 4, "{rows:#?}");
    for row in &rows {
        // The Anthropic mock's 12 input tokens exclude its 4 cached ones; the others include them.
        let input = if row.provider.as_deref() == Some("claude") { 16 } else { usage::PROMPT_TOKENS };
        assert_eq!(row.family, "responses", "{row:?}");
        assert_eq!(row.endpoint, "responses");
        assert_eq!(row.outcome, "success", "{row:?}");
        assert_eq!(row.client.as_deref(), Some("codex"));
        assert_eq!(row.session_id.as_deref(), Some("codex-session-1"));
        assert_eq!(row.input_tokens, Some(input), "{row:?}");
        assert_eq!(row.output_tokens, Some(usage::COMPLETION_TOKENS), "{row:?}");
        assert_eq!(row.cached_tokens, Some(usage::CACHED_TOKENS), "{row:?}");
    }
    let providers: Vec<_> = rows.iter().map(|r| r.provider.as_deref().unwrap()).collect();
    assert_eq!(providers, ["mock", "mock", "claude", "oai"]);
    let metrics = gw.client.get(gw.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("codex"), "the client shows in the metrics");
}

#[tokio::test]
async fn task_classes_fallbacks_and_local_only_as_for_chat() {
    // `cloud` speaks Responses itself (kind `openai`), `mlx` is a local Chat server: one request's
    // attempts may pass through on one target and be translated on the next.
    let cloud = MockUpstream::start().await;
    let local = MockUpstream::start().await;
    let toml = format!(
        "[providers.cloud]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-cloud-0001\"]\nlocal = false\nmax_retries = 0\n\
         {}[task_classes.coding]\nchain = [\"cloud/status-503\", \"mlx/echo\"]\nlocal = [\"mlx/echo\"]\n",
        cloud.base_url(),
        provider_toml("mlx", &local)
    );
    let gw = gateway(&toml).await;
    let response = post_codex(&gw, "/v1/responses", &codex_body("coding", developer_and_user("hello class"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], "mlx");
    assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    let events = events(&response.text().await.unwrap());
    check_stream(&events);
    assert_eq!(events.last().unwrap().1["response"]["output"][0]["content"][0]["text"], "echo: hello class");
    assert_eq!(posts(&cloud)[0].path(), "/v1/responses", "the first attempt passed through");
    assert_eq!(posts(&local)[0].path(), "/v1/chat/completions", "the fallback was translated");

    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true, "force": true})).send().await;
    assert_eq!(response.unwrap().status(), 200);
    cloud.clear();
    for stream in [true, false] {
        let mut body = codex_body("cloud/echo", developer_and_user("stay local"));
        body["stream"] = json!(stream);
        let response = post_codex(&gw, "/v1/responses", &body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-provider"], "mlx", "local-only: the class's local chain");
        response.bytes().await.unwrap();
    }
    assert!(posts(&cloud).is_empty(), "nothing reached the cloud while local-only");
}
