//! Helpers shared by the end-to-end tests: a real gateway on a loopback port, configured from
//! TOML, in front of mock upstreams started by the test.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Config, GatewayOptions, RunningGateway, build_state, start_on};
use switchyard_mock::MockUpstream;

pub use switchyard_mock;

/// A running gateway and a client for it.
pub struct TestGateway {
    pub running: RunningGateway,
    /// Sends the gateway's admin token with every request, as the app and scripts do; a test of
    /// the admin guard itself uses `anonymous`.
    pub client: reqwest::Client,
    /// A client without the admin token.
    pub anonymous: reqwest::Client,
    /// Holds the usage log (`usage.sqlite3`) unless the test's config names another path.
    pub data_dir: tempfile::TempDir,
}

impl TestGateway {
    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.running.local_addr())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// The admin token (`None` when the test's config opened the admin API).
    pub fn admin_token(&self) -> Option<String> {
        self.running.state().admin().token().map(|token| token.secret().to_owned())
    }

    pub fn port(&self) -> u16 {
        self.running.local_addr().port()
    }

    /// POSTs JSON to a path.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("gateway reachable")
    }
}

/// Config lines for an OpenAI-compatible provider pointing at a mock.
pub fn provider_toml(name: &str, mock: &MockUpstream) -> String {
    format!(
        "[providers.{name}]\nkind = \"openai-compatible\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-test-{name}-0001\"]\n",
        mock.base_url()
    )
}

/// Starts a gateway from TOML; discovery is off unless the TOML turns it on.
pub async fn gateway(toml: &str) -> TestGateway {
    let text = format!("[discovery]\nfrom_env = false\nprobe_local = false\n{toml}");
    let config = Config::from_toml(&text, Path::new("test.toml")).expect("valid test config");
    gateway_from(config, GatewayOptions { env: Arc::new(|_: &str| None), ..GatewayOptions::default() }).await
}

/// Starts a gateway from TOML whose `[discovery]` table the test writes itself.
pub async fn gateway_raw(toml: &str, options: GatewayOptions) -> TestGateway {
    let config = Config::from_toml(toml, Path::new("test.toml")).expect("valid test config");
    gateway_from(config, options).await
}

/// The usage log goes to a fresh temporary directory unless the config says where.
pub async fn gateway_from(mut config: Config, options: GatewayOptions) -> TestGateway {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    if config.usage.path.is_none() {
        config.usage.path = Some(data_dir.path().join("usage.sqlite3"));
    }
    let state = build_state(config, options).expect("gateway state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let running = start_on(state, listener).expect("gateway starts");
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = running.state().admin().token() {
        let value = reqwest::header::HeaderValue::from_str(token.secret()).expect("a header-safe token");
        headers.insert(gateway_core::state::ADMIN_TOKEN_HEADER, value);
    }
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(headers).build().expect("client");
    let anonymous = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    TestGateway { running, client, anonymous, data_dir }
}

/// One mock and a gateway with it as provider `mock`.
pub async fn gateway_with_mock() -> (TestGateway, MockUpstream) {
    let mock = MockUpstream::start().await;
    let gw = gateway(&provider_toml("mock", &mock)).await;
    (gw, mock)
}

/// Reads an SSE body to its end and returns the `data:` payloads.
pub async fn sse_data(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.expect("stream body");
    text.lines().filter_map(|line| line.strip_prefix("data:")).map(|d| d.trim().to_owned()).collect()
}

/// The inference requests a mock received (its model-list GETs, made by the gateway's catalog
/// refresh in the background, left out).
pub fn posts(mock: &MockUpstream) -> Vec<switchyard_mock::RecordedRequest> {
    mock.requests().into_iter().filter(|r| r.method == "POST").collect()
}

/// A gateway with two mocks: `mock` (OpenAI-compatible) and `claude` (kind `anthropic`).
pub async fn gateway_with_openai_and_anthropic() -> (TestGateway, MockUpstream, MockUpstream) {
    let openai = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let toml = format!(
        "{}[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}/v1\"\nkeys = [\"sk-ant-test-0001\"]\n",
        provider_toml("mock", &openai),
        anthropic.base_url()
    );
    (gateway(&toml).await, openai, anthropic)
}
