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
