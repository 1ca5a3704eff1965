//! Zero-config start: local servers that answer on the probed URLs become providers, Ollama
//! recognised by its own API; a model on them is then served without any config.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::GatewayOptions;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{gateway_raw, posts};

#[tokio::test]
async fn local_servers_are_found_and_served() {
    let ollama = MockUpstream::start_with(MockOptions {
        ollama: true,
        models: vec!["llama3.2:1b".into()],
        ..MockOptions::default()
    })
    .await;
    let mlx = MockUpstream::start_with(MockOptions {
        models: vec!["mlx-community/Qwen3-8B-4bit".into()],
        ..MockOptions::default()
    })
    .await;
    let toml = format!(
        "[discovery]\nfrom_env = false\nprobe_local = true\nlocal_urls = [\"{}\", \"{}\"]\n",
        ollama.base_url(),
        mlx.base_url()
    );
    let gw = gateway_raw(&toml, GatewayOptions { env: Arc::new(|_: &str| None), ..GatewayOptions::default() }).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let providers = loop {
        let body: Value = gw.client.get(gw.url("/api/providers")).send().await.unwrap().json().await.unwrap();
        let names: Vec<String> = body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["provider"]["name"].as_str().unwrap().to_owned())
            .collect();
        if names.len() == 2 || Instant::now() > deadline {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mlx_name = format!("local-{}", mlx.addr().port());
    assert!(providers.contains(&"ollama".to_owned()), "{providers:?}");
    assert!(providers.contains(&mlx_name), "{providers:?}");

    // Bare ids resolve through the catalog to the server that has them.
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "mlx-community/Qwen3-8B-4bit", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-provider"], mlx_name.as_str());
    let response = gw.post_json("/v1/chat/completions", &json!({"model": "ollama/llama3.2:1b", "messages": []})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(posts(&ollama)[0].path(), "/v1/chat/completions", "Ollama is used through its /v1 API");
    let models: Value = gw.client.get(gw.url("/v1/models")).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"ollama/llama3.2:1b"), "{ids:?}");
}
