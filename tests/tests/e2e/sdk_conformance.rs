//! The real OpenAI Python SDK as a drop-in client, at both `/v1` and `/openai`, through the
//! gateway to a mock upstream; the real Anthropic Python SDK translated to an OpenAI-compatible
//! mock and passed through to an Anthropic-shaped one; the OpenAI SDK in front of Anthropic; both SDKs
//! in front of a Gemini provider (translated; Anthropic through OpenAI Chat); Google's genai SDK passed
//! through to a Gemini provider and translated to an OpenAI-compatible one; the response cache's
//! replays as each of the three SDKs parses them. The SDK comes from PyPI into a venv that
//! `scripts/test` prepares (`SWITCHYARD_TEST_PYTHON` names its interpreter).

use std::path::PathBuf;
use std::process::Command;

use gateway_core::usage::query::LogFilter;
use switchyard_tests::switchyard_mock::MockUpstream;
use switchyard_tests::{gateway_with_mock, gateway_with_openai_and_anthropic, posts};

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

/// Runs a conformance script with its arguments; panics with its output when it fails.
async fn run_script(name: &str, args: Vec<String>) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance").join(name);
    let python = conformance_python();
    let label = format!("{name} {}", args.join(" "));
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(&script).args(&args).output())
        .await
        .expect("join")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "SDK checks failed: {label}\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    println!("{label}\n{}", stdout.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_python_sdk_translated_to_openai_upstream() {
    let (gw, openai, _anthropic) = gateway_with_openai_and_anthropic().await;
    run_script("anthropic_sdk.py", vec![gw.base(), "mock/".into()]).await;
    let seen = posts(&openai);
    assert!(seen.iter().all(|r| r.path() == "/v1/chat/completions"), "translated to Chat Completions");
    assert!(seen.iter().all(|r| r.header("authorization") == Some("Bearer sk-test-mock-0001")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_python_sdk_passed_through_to_anthropic_upstream() {
    let (gw, _openai, anthropic) = gateway_with_openai_and_anthropic().await;
    run_script("anthropic_sdk.py", vec![gw.base(), "claude/".into()]).await;
    let seen = posts(&anthropic);
    let first = &seen[0];
    assert_eq!(first.path(), "/v1/messages");
    assert_eq!(first.header("x-api-key"), Some("sk-ant-test-0001"), "the provider's key, not the client's");
    assert!(first.header("anthropic-version").is_some(), "the SDK's anthropic-version is forwarded");
    let body = std::str::from_utf8(&first.body).unwrap();
    assert!(body.contains(r#""cache_control":{"type":"ephemeral"}"#), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk_translated_to_anthropic_upstream() {
    let (gw, _openai, anthropic) = gateway_with_openai_and_anthropic().await;
    run_script("openai_sdk_to_anthropic.py", vec![gw.url("/v1"), "claude/".into()]).await;
    assert!(posts(&anthropic).iter().all(|r| r.path() == "/v1/messages"), "translated to Messages");
}

/// The OpenAI SDK's `responses.create` / `responses.stream` (plain, streamed, tools, errors):
/// translated to Chat (`mock/`), through Chat to Anthropic (`claude/`) and to Gemini (`gem/`),
/// and passed through to a provider of kind `openai` (`oai/`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk_responses_api() {
    let chat = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let anthropic = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let responses = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let gemini = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let toml = format!(
        "{}[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\n\
         [providers.oai]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-openai-test-0001\"]\n\
         [providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\n",
        switchyard_tests::provider_toml("mock", &chat),
        anthropic.base_url(),
        responses.base_url(),
        gemini.base_url()
    );
    let gw = switchyard_tests::gateway(&toml).await;
    // Anthropic's input_tokens leave out the cached ones, which the Responses usage includes.
    for (prefix, input_tokens) in [("mock/", "12"), ("claude/", "16"), ("oai/", "12"), ("gem/", "12")] {
        run_script("openai_sdk_responses.py", vec![gw.url("/v1"), prefix.into(), input_tokens.into()]).await;
    }
    assert!(posts(&chat).iter().all(|r| r.path() == "/v1/chat/completions"), "translated to Chat");
    assert!(posts(&anthropic).iter().all(|r| r.path() == "/v1/messages"), "translated to Messages");
    let to_gemini = posts(&gemini);
    assert!(!to_gemini.is_empty() && to_gemini.iter().all(|r| r.path().starts_with("/v1beta/models/")), "to Gemini");
    let passed = posts(&responses);
    assert!(!passed.is_empty() && passed.iter().all(|r| r.path() == "/v1/responses"), "passed through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk_translated_to_gemini_upstream() {
    let mock = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let toml = format!(
        "[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\n",
        mock.base_url()
    );
    let gw = switchyard_tests::gateway(&toml).await;
    run_script("openai_sdk_to_anthropic.py", vec![gw.url("/v1"), "gem/".into()]).await;
    let seen = posts(&mock);
    assert!(seen.iter().all(|r| r.path().starts_with("/v1beta/models/")), "translated to Gemini");
    assert!(seen.iter().all(|r| r.header("x-goog-api-key") == Some("gm-provider-key-0001")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_python_sdk_translated_to_gemini_upstream() {
    let mock = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let toml = format!(
        "[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\n",
        mock.base_url()
    );
    let gw = switchyard_tests::gateway(&toml).await;
    run_script("anthropic_sdk.py", vec![gw.base(), "gem/".into()]).await;
    assert!(posts(&mock).iter().all(|r| r.path().starts_with("/v1beta/models/")), "translated to Gemini");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_genai_python_sdk_passed_through_and_translated() {
    let (gw, mocks) = gemini_and_openai().await;
    run_script("genai_sdk.py", vec![gw.base(), "gem/".into()]).await;
    let passed = posts(&mocks.0);
    assert!(passed.iter().all(|r| r.path().starts_with("/v1beta/models/")), "passed through");
    assert!(passed.iter().all(|r| r.header("x-goog-api-key") == Some("gm-provider-key-0001")));
    run_script("genai_sdk.py", vec![gw.base(), "mock/".into()]).await;
    assert!(posts(&mocks.1).iter().all(|r| r.path() == "/v1/chat/completions"), "translated to Chat Completions");

    let log = gw.running.state().usage().log.clone().expect("usage log");
    let rows = tokio::task::spawn_blocking(move || {
        log.flush().unwrap();
        let reader = log.reader();
        let conn = reader.lock().unwrap();
        gateway_core::usage::query::logs(&conn, &LogFilter { limit: 1000, ..LogFilter::default() }).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(rows.len(), 16, "eight calls per run: {rows:#?}");
    for row in &rows {
        assert_eq!((row.family.as_str(), row.client.as_deref()), ("gemini", Some("google-genai")), "{row:?}");
    }
}

/// A gateway with `gem` (kind `gemini`) and `mock` (OpenAI-compatible).
async fn gemini_and_openai() -> (switchyard_tests::TestGateway, (MockUpstream, MockUpstream)) {
    let gemini = MockUpstream::start().await;
    let openai = MockUpstream::start().await;
    let toml = format!(
        "[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\n{}",
        gemini.base_url(),
        switchyard_tests::provider_toml("mock", &openai)
    );
    (switchyard_tests::gateway(&toml).await, (gemini, openai))
}

/// The real OpenAI and Anthropic SDKs with virtual keys (`conformance/virtual_keys.py`):
/// `api_key="vk-free"` as Bifrost's examples send it, a key's value as the Anthropic SDK's key;
/// the mocks record where each request went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_with_virtual_keys_land_where_each_key_allows() {
    let cheap = MockUpstream::start().await;
    let premium = MockUpstream::start().await;
    let toml = format!(
        "{}{}",
        switchyard_tests::provider_toml("cheap", &cheap),
        switchyard_tests::provider_toml("premium", &premium)
    );
    let gw = switchyard_tests::gateway(&toml).await;
    let put = |id: &str, body: serde_json::Value| {
        gw.client.put(gw.url(&format!("/api/governance/virtual-keys/{id}"))).json(&body).send()
    };
    let free = serde_json::json!({
        "provider_configs": [{"provider": "cheap", "allowed_models": ["mock-model"], "weight": 1.0}],
        "rate_limit": {"request_max_limit": 3, "request_reset_duration": "1m"}
    });
    assert_eq!(put("vk-free", free).await.unwrap().status(), 200);
    let made: serde_json::Value =
        put("vk-all", serde_json::json!({"allow_all_providers": true})).await.unwrap().json().await.unwrap();
    let value = made["virtual_key"]["value"].as_str().expect("the value, once").to_owned();

    run_script("virtual_keys.py", vec![gw.base(), value]).await;
    // vk-free's three requests went to cheap; premium got only the Anthropic SDK's one.
    assert_eq!(posts(&cheap).len(), 3);
    let premium_posts = posts(&premium);
    assert_eq!(premium_posts.len(), 1);
    assert!(
        premium_posts[0].header("x-api-key").is_none()
            && premium_posts[0].header("authorization").is_some_and(|a| a.contains("sk-test-premium"))
    );
}

/// The response cache through the real SDKs (`conformance/cache_sdks.py`): each pair of equal
/// requests, streamed and whole, is a `miss` then a `hit-exact` that the OpenAI SDK (passed
/// through), the Anthropic SDK (translated) and the genai SDK (passed through to Gemini and
/// translated) parse into the same chunks as the first answer; and each pair reached its upstream
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_get_cached_streams_replayed_identically() {
    let gemini = MockUpstream::start().await;
    let openai = MockUpstream::start().await;
    let toml = format!(
        "[providers.gem]\nkind = \"gemini\"\nbase_url = \"{}/v1beta\"\nkeys = [\"gm-provider-key-0001\"]\n{}\
         [cache]\nmode = \"exact\"\n",
        gemini.base_url(),
        switchyard_tests::provider_toml("mock", &openai)
    );
    let gw = switchyard_tests::gateway(&toml).await;
    let token = gw.admin_token().expect("the admin API has a token");
    run_script("cache_sdks.py", vec![gw.base(), token, "mock/".into(), "gem/".into()]).await;

    // One upstream request per pair: the second of each was the cache's.
    let once = |mock: &MockUpstream, prompts: &[&str]| {
        let seen = posts(mock);
        let bodies: Vec<String> = seen.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
        for prompt in prompts {
            let count = bodies.iter().filter(|b| b.contains(&format!("\"{prompt}\""))).count();
            assert_eq!(count, 1, "`{prompt}` reached the upstream {count} times: {bodies:#?}");
        }
        assert_eq!(seen.len(), prompts.len(), "{bodies:#?}");
    };
    once(
        &openai,
        &[
            "cache openai stream",
            "cache openai whole",
            "cache anthropic stream",
            "cache anthropic whole",
            "cache genai stream translated",
            "cache genai whole translated",
        ],
    );
    once(&gemini, &["cache genai stream passed through", "cache genai whole passed through"]);
    let stats: serde_json::Value =
        gw.client.get(gw.url("/api/cache/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!((stats["hits"]["exact"].as_u64(), stats["misses"].as_u64()), (Some(8), Some(8)), "{stats}");
    assert_eq!(stats["entries"], 8, "{stats}");
}
