//! The real Codex CLI through the gateway (CLIENTS.md B.3). `scripts/test` installs
//! `@openai/codex` (pinned, cached outside the repository) and sets `SWITCHYARD_TEST_CODEX` to
//! its `codex` binary; without the variable (plain `cargo test`) the test says so and passes.
//!
//! Codex speaks only the Responses API (`wire_api = "responses"`). It runs offline with a fresh
//! `CODEX_HOME` whose `config.toml` points a custom provider at the gateway, in `codex exec`
//! mode, against the OpenAI-compatible mock (Responses translated to Chat Completions) and the
//! Anthropic-shaped mock (translated through Chat): a text answer, and a tool round trip (the
//! mock's `tool` model asks for `exec_command` with `echo hello-from-tool`; Codex runs it and
//! sends the output back; the mock answers `tool result: …`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use switchyard_tests::{gateway_with_openai_and_anthropic, posts};

/// The `config.toml` the README documents, with the test gateway's address.
fn write_config(home: &Path, base: &str, model: &str) {
    let config = format!(
        "model = \"{model}\"\nmodel_provider = \"switchyard\"\n\n[model_providers.switchyard]\nname = \"Switchyard\"\n\
         base_url = \"{base}/v1\"\nenv_key = \"SWITCHYARD_API_KEY\"\nwire_api = \"responses\"\n"
    );
    std::fs::write(home.join("config.toml"), config).expect("write config.toml");
}

/// Runs `codex exec --json` and returns its JSONL events.
fn codex(home: &Path, work: &Path, prompt: &str) -> Vec<Value> {
    let binary = PathBuf::from(std::env::var("SWITCHYARD_TEST_CODEX").expect("checked by the caller"));
    let output = Command::new(binary)
        .args(["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"])
        .args(["-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false"])
        .arg(prompt)
        .current_dir(work)
        .env("CODEX_HOME", home)
        .env("HOME", home)
        .env("SWITCHYARD_API_KEY", "codex-key-not-forwarded")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("codex runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "codex exec {prompt:?} failed:\n{stdout}\n{stderr}");
    stdout.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// The text of Codex's last agent message.
fn last_message(events: &[Value]) -> String {
    events
        .iter()
        .rev()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .find_map(|e| e["item"]["text"].as_str())
        .unwrap_or_else(|| panic!("no agent message in {events:#?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_through_the_gateway() {
    if std::env::var_os("SWITCHYARD_TEST_CODEX").is_none() {
        println!(
            "skipped: set SWITCHYARD_TEST_CODEX to a codex binary (scripts/test does) to run Codex against the gateway"
        );
        return;
    }
    let (gw, openai, anthropic) = gateway_with_openai_and_anthropic().await;
    let home = tempfile::tempdir().expect("temp CODEX_HOME");
    let work = tempfile::tempdir().expect("temp work dir");
    for prefix in ["mock/", "claude/"] {
        let (base, home_path, work_path) = (gw.base(), home.path().to_owned(), work.path().to_owned());
        let model = format!("{prefix}mock-model");
        let events = tokio::task::spawn_blocking(move || {
            write_config(&home_path, &base, &model);
            codex(&home_path, &work_path, "hi there")
        })
        .await
        .expect("join");
        let text = last_message(&events);
        assert!(text.starts_with("echo:") && text.contains("hi there"), "{prefix}: {text}");

        let (base, home_path, work_path) = (gw.base(), home.path().to_owned(), work.path().to_owned());
        let model = format!("{prefix}tool");
        let events = tokio::task::spawn_blocking(move || {
            write_config(&home_path, &base, &model);
            codex(&home_path, &work_path, "please run the tool")
        })
        .await
        .expect("join");
        let command = events
            .iter()
            .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
            .unwrap_or_else(|| panic!("{prefix}: Codex ran no command: {events:#?}"));
        assert!(command["item"]["aggregated_output"].as_str().unwrap_or("").contains("hello-from-tool"), "{command}");
        let text = last_message(&events);
        assert!(text.starts_with("tool result:") && text.contains("hello-from-tool"), "{prefix}: {text}");
        println!("{prefix}: Codex ran `{}`, then answered {text:?}", command["item"]["command"]);
    }
    let translated = posts(&openai);
    assert!(translated.len() >= 3 && translated.iter().all(|r| r.path() == "/v1/chat/completions"));
    assert!(translated.iter().all(|r| r.header("authorization") == Some("Bearer sk-test-mock-0001")));
    let to_anthropic = posts(&anthropic);
    assert!(to_anthropic.len() >= 3 && to_anthropic.iter().all(|r| r.path() == "/v1/messages"));
}
