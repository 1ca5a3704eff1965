//! The real Gemini CLI through the gateway (CLIENTS.md A.5, B.4). `scripts/test` installs it once
//! into a cache outside the repository (`scripts/install-gemini-cli`) and sets
//! `SWITCHYARD_TEST_GEMINI_CLI` to its `gemini` binary; under a plain `cargo test` the variable
//! is unset and the test says so and passes.
//!
//! Gemini CLI runs headless (`-p`) with a fresh `HOME` holding only
//! `{"security":{"auth":{"selectedType":"gemini-api-key"}}}`, `GEMINI_API_KEY`,
//! `GOOGLE_GEMINI_BASE_URL` = the gateway and `GEMINI_CLI_TRUST_WORKSPACE=true`; the model
//! (`-m`) is an OpenAI-compatible mock's, so every request is translated Gemini → OpenAI Chat
//! and the answer back, streamed: a text answer, then a function call round trip.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchyard_tests::{gateway_with_mock, posts};

fn gemini(binary: &Path, base: &str, home: &Path, model: &str, prompt: &str) -> (bool, String, String) {
    let output = Command::new(binary)
        .args(["-m", model, "-p", prompt])
        .current_dir(home)
        .env("HOME", home)
        .env("GEMINI_API_KEY", "client-key-not-forwarded")
        .env("GOOGLE_GEMINI_BASE_URL", base)
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .env("NO_COLOR", "1")
        .env_remove("GOOGLE_API_KEY")
        .env_remove("GOOGLE_CLOUD_PROJECT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("gemini runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_cli_answers_through_the_gateway() {
    let Some(binary) = std::env::var_os("SWITCHYARD_TEST_GEMINI_CLI").map(PathBuf::from) else {
        println!(
            "skipped: SWITCHYARD_TEST_GEMINI_CLI is not set (scripts/test sets it after scripts/install-gemini-cli)"
        );
        return;
    };
    let (gw, mock) = gateway_with_mock().await;
    let home = tempfile::tempdir().expect("temp home");
    std::fs::create_dir_all(home.path().join(".gemini")).expect("settings dir");
    std::fs::write(
        home.path().join(".gemini/settings.json"),
        r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#,
    )
    .expect("settings");

    let base = gw.base();
    let home_path = home.path().to_owned();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || gemini(&binary, &base, &home_path, "mock/stream-delay-5", "hi there"))
            .await
            .expect("join");
    assert!(ok, "gemini -p failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("echo:") && stdout.contains("hi there"), "stdout: {stdout}\nstderr: {stderr}");

    let sent = posts(&mock);
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|r| r.path() == "/v1/chat/completions"), "translated to OpenAI Chat");
    assert!(sent.iter().all(|r| r.header("authorization") == Some("Bearer sk-test-mock-0001")), "the provider's key");
    let main = sent.iter().find(|r| r.json()["stream"] == true).expect("a streamed request");
    assert_eq!(main.json()["model"], "stream-delay-5");
    assert_eq!(main.json()["messages"][0]["role"], "system", "Gemini CLI's systemInstruction");
    assert!(main.json()["tools"].as_array().is_some_and(|t| !t.is_empty()), "its functionDeclarations");

    let log = gw.running.state().usage().log.clone().expect("usage log");
    let rows = tokio::task::spawn_blocking(move || {
        log.flush().expect("flush");
        let reader = log.reader();
        let conn = reader.lock().expect("lock");
        let filter = gateway_core::usage::query::LogFilter { limit: 1000, ..Default::default() };
        gateway_core::usage::query::logs(&conn, &filter).expect("rows")
    })
    .await
    .expect("join");
    let streamed =
        rows.iter().find(|r| r.stream && r.family == "gemini").unwrap_or_else(|| panic!("a Gemini row: {rows:?}"));
    assert_eq!(streamed.client.as_deref(), Some("gemini-cli"), "attributed by its User-Agent");
    assert_eq!(streamed.outcome, "success");
    assert!(streamed.output_tokens.is_some_and(|n| n > 0));

    // A function call round trip: the mock's `tool` model calls Gemini CLI's first declared
    // function with arguments that do not fit it; Gemini CLI answers with a functionResponse
    // carrying the error, which reaches the mock as a `role:"tool"` message for the same call.
    let before = posts(&mock).len();
    let base = gw.base();
    let home_path = home.path().to_owned();
    let binary = PathBuf::from(std::env::var_os("SWITCHYARD_TEST_GEMINI_CLI").expect("checked above"));
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || gemini(&binary, &base, &home_path, "mock/tool", "weather?"))
            .await
            .expect("join");
    assert!(ok, "gemini -p failed:\n{stdout}\n{stderr}");
    assert!(stdout.trim_start().starts_with("tool result:"), "stdout: {stdout}\nstderr: {stderr}");
    let sent = posts(&mock);
    let followup = sent[before..]
        .iter()
        .map(|r| r.json())
        .find(|body| body["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["role"] == "tool")))
        .expect("the function's result went back upstream");
    let messages = followup["messages"].as_array().expect("messages");
    let call = messages.iter().find_map(|m| m["tool_calls"].get(0)).expect("the model's call, sent back");
    let result = messages.iter().find(|m| m["role"] == "tool").expect("the result");
    assert_eq!(result["tool_call_id"], call["id"], "the result answers that call");
}
