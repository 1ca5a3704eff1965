//! The real Claude Code CLI through the gateway (CLIENTS.md B.2). `scripts/test` installs
//! `@anthropic-ai/claude-code` 2.1.197 (245 MB, once, into a cache outside the repository) and
//! sets `SWITCHYARD_TEST_CLAUDE` to its `claude` binary; without the variable (plain
//! `cargo test`) the test says so and passes at once.
//!
//! Claude Code runs offline (`CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, a fresh `HOME`) in
//! `-p` mode against an OpenAI-compatible mock (translated) and an Anthropic-shaped mock
//! (passthrough): a text answer, and a tool round trip (the mock's `tool` model calls Claude
//! Code's first tool; Claude Code sends the result back; the mock answers `tool result: …`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use switchyard_tests::{gateway_with_openai_and_anthropic, posts};

fn claude(base: &str, home: &std::path::Path, model: &str, args: &[&str]) -> String {
    let binary = PathBuf::from(std::env::var("SWITCHYARD_TEST_CLAUDE").expect("checked by the caller"));
    let output = Command::new(binary)
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("ANTHROPIC_BASE_URL", base)
        .env("ANTHROPIC_AUTH_TOKEN", "client-token-not-forwarded")
        .env("ANTHROPIC_MODEL", model)
        .env("ANTHROPIC_DEFAULT_HAIKU_MODEL", "mock/mock-model")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("claude runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "claude {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_cli_through_the_gateway() {
    if std::env::var_os("SWITCHYARD_TEST_CLAUDE").is_none() {
        println!("skipped: set SWITCHYARD_TEST_CLAUDE to a claude binary to run Claude Code against the gateway");
        return;
    }
    let (gw, openai, anthropic) = gateway_with_openai_and_anthropic().await;
    let home = tempfile::tempdir().expect("temp home");
    for prefix in ["mock/", "claude/"] {
        let base = gw.base();
        let home_path = home.path().to_owned();
        let model = format!("{prefix}mock-model");
        let text = tokio::task::spawn_blocking(move || claude(&base, &home_path, &model, &["-p", "hi there"]))
            .await
            .expect("join");
        assert!(text.contains("echo:") && text.contains("hi there"), "{prefix}: {text}");

        let base = gw.base();
        let home_path = home.path().to_owned();
        let model = format!("{prefix}tool");
        let events = tokio::task::spawn_blocking(move || {
            claude(&base, &home_path, &model, &["-p", "weather?", "--output-format", "stream-json", "--verbose"])
        })
        .await
        .expect("join");
        let result = events
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["type"] == "result")
            .unwrap_or_else(|| panic!("{prefix}: no result event in {events}"));
        assert_eq!(result["subtype"], "success", "{prefix}: {result}");
        assert_eq!(result["num_turns"], 2, "{prefix}: the tool result went back: {result}");
        assert!(result["result"].as_str().unwrap_or("").starts_with("tool result:"), "{prefix}: {result}");
    }
    let translated = posts(&openai);
    assert!(translated.iter().any(|r| r.path() == "/v1/chat/completions"));
    let passed = posts(&anthropic);
    assert!(passed.iter().any(|r| r.path() == "/v1/messages" && r.header("anthropic-beta").is_some()));
    assert!(passed.iter().all(|r| r.header("authorization").is_none()), "the client's token is not forwarded");
}

/// Claude Code with Switchyard's `/mcp` as its only MCP server: the mock model asks for the
/// namespaced tool (`mcp__switchyard__web_weather`), Claude Code calls it through the gateway,
/// the real tool (the Python SDK's server) answers, and its result goes back to the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_uses_mcp_tools_through_the_gateway() {
    if std::env::var_os("SWITCHYARD_TEST_CLAUDE").is_none() {
        println!("skipped: set SWITCHYARD_TEST_CLAUDE to a claude binary to run Claude Code against the gateway");
        return;
    }
    let python = std::env::var("SWITCHYARD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-venv/bin/python"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/mcp_http_server.py");
    let mut server = Command::new(python)
        .arg(script)
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mcp_http_server.py");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().expect("stdout")), &mut line)
        .expect("READY");
    let port: u16 = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
    let anthropic = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let gw = switchyard_tests::gateway(&format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\n\
         [mcp.servers.web]\ntype = \"http\"\nurl = \"http://127.0.0.1:{port}/mcp\"\ntools_to_execute = [\"weather\"]\n",
        anthropic.base_url()
    ))
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while gw.running.state().mcp().index().tool("web_weather").is_none() {
        assert!(std::time::Instant::now() < deadline, "the MCP server did not connect");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let home = tempfile::tempdir().expect("temp home");
    let config = serde_json::json!({"mcpServers": {"switchyard": {"type": "http", "url": gw.url("/mcp")}}}).to_string();
    let base = gw.base();
    let home_path = home.path().to_owned();
    let events = tokio::task::spawn_blocking(move || {
        claude(
            &base,
            &home_path,
            "claude/tool",
            &[
                "-p",
                "weather in Paris?",
                "--mcp-config",
                &config,
                "--strict-mcp-config",
                "--allowedTools",
                "mcp__switchyard__web_weather",
                "--output-format",
                "stream-json",
                "--verbose",
            ],
        )
    })
    .await
    .expect("join");
    let _ = server.kill();
    let _ = server.wait();
    let result = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event in {events}"));
    assert_eq!(result["subtype"], "success", "{result}");
    // Claude Code hands the model the tool's structured content (`{"result": …}`).
    let answer = result["result"].as_str().unwrap_or_default();
    assert!(
        answer.starts_with("tool result:") && answer.contains("Sunny in Paris (celsius)"),
        "the tool's real result reached the model: {events}"
    );
    // The model was offered the namespaced tool, and the call went through the gateway's log.
    let offered =
        posts(&anthropic).iter().any(|r| String::from_utf8_lossy(&r.body).contains("mcp__switchyard__web_weather"));
    assert!(offered);
    let reader = gw.running.state().usage().log.as_ref().expect("usage log").reader();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let calls = {
            let conn = reader.lock().unwrap();
            gateway_core::usage::tool_calls::recent(
                &conn,
                &gateway_core::usage::tool_calls::ToolCallFilter { limit: 10, ..Default::default() },
            )
            .unwrap()
        };
        if let Some(call) = calls.iter().find(|c| c.tool == "weather") {
            assert_eq!(call.server, "web");
            assert!(
                call.client.as_deref().unwrap_or_default().contains("claude"),
                "attributed to Claude Code: {:?}",
                call.client
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the tool call was not logged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
