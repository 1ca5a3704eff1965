//! The real OpenAI Python SDK as a drop-in client, at both `/v1` and `/openai`, through the
//! gateway to a mock upstream. The SDK comes from PyPI into a venv that `scripts/test` prepares
//! (`SWITCHYARD_TEST_PYTHON` names its interpreter).

use std::path::PathBuf;
use std::process::Command;

use gateway_core::usage::query::LogFilter;
use switchyard_tests::{gateway_with_mock, posts};

fn conformance_python() -> PathBuf {
    if let Ok(python) = std::env::var("SWITCHYARD_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-venv/bin/python");
    assert!(
        venv.exists(),
        "the conformance venv is missing: run `scripts/test` (it installs tests/conformance/requirements.txt), or set SWITCHYARD_TEST_PYTHON"
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk_is_a_drop_in_at_v1_and_openai() {
    let (gw, mock) = gateway_with_mock().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/openai_sdk.py");
    let python = conformance_python();
    for prefix in ["/v1", "/openai"] {
        let base = gw.url(prefix);
        let python = python.clone();
        let script = script.clone();
        let output = tokio::task::spawn_blocking(move || Command::new(python).arg(&script).arg(&base).output())
            .await
            .expect("join")
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "SDK checks failed at {prefix}:\n{stdout}\n{stderr}");
        assert!(stdout.contains("all checks passed"), "{stdout}");
        println!("{}", stdout.trim());
    }
    assert!(posts(&mock).len() >= 16, "the SDK's requests reached the upstream");

    // Every request the SDK made is in the usage log, attributed to it by its User-Agent.
    let log = gw.running.state().usage().log.clone().expect("usage log");
    let rows = tokio::task::spawn_blocking(move || {
        log.flush().unwrap();
        let reader = log.reader();
        let conn = reader.lock().unwrap();
        let filter = LogFilter { limit: 10_000, ..LogFilter::default() };
        gateway_core::usage::query::logs(&conn, &filter).unwrap()
    })
    .await
    .unwrap();
    let inference = rows.iter().filter(|r| r.endpoint != "models").count();
    assert!(inference >= 16, "{rows:#?}");
    for row in &rows {
        assert_eq!(row.client.as_deref(), Some("openai-python"), "{row:?}");
        assert!(row.user_agent.as_deref().is_some_and(|ua| ua.starts_with("OpenAI/Python")), "{row:?}");
    }
}
