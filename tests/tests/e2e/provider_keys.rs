//! Keys set through the admin API go to the secret store, are used at once, and are never shown.

use std::sync::Arc;

use gateway_core::GatewayOptions;
use gateway_core::secrets::{MemorySecretStore, SecretStore};
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::MockUpstream;
use switchyard_tests::{gateway_raw, posts};

#[tokio::test]
async fn a_key_put_through_the_api_is_stored_used_and_masked() {
    let mock = MockUpstream::start().await;
    let store = Arc::new(MemorySecretStore::default());
    let toml = format!(
        "[discovery]\nfrom_env = false\nprobe_local = false\n[providers.mock]\nkind = \"openai-compatible\"\nbase_url = \"{}/v1\"\n",
        mock.base_url()
    );
    let options = GatewayOptions { env: Arc::new(|_: &str| None), secrets: store.clone(), ..GatewayOptions::default() };
    let gw = gateway_raw(&toml, options).await;
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]});

    gw.post_json("/v1/chat/completions", &chat).await;
    assert_eq!(posts(&mock)[0].header("authorization"), None, "no key yet");

    let response = gw
        .client
        .put(gw.url("/api/providers/mock/key"))
        .json(&json!({"key": "sk-from-dashboard-7777"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("sk-from-dashboard"), "{text}");
    assert!(text.contains("****7777"), "{text}");
    assert_eq!(store.get("mock").unwrap().unwrap().expose(), "sk-from-dashboard-7777");

    gw.post_json("/v1/chat/completions", &chat).await;
    assert_eq!(posts(&mock)[1].header("authorization"), Some("Bearer sk-from-dashboard-7777"));
    let listing = gw.client.get(gw.url("/api/providers")).send().await.unwrap().text().await.unwrap();
    assert!(!listing.contains("sk-from-dashboard"), "{listing}");
    assert!(listing.contains("secret.mock"), "{listing}");

    let response = gw.client.delete(gw.url("/api/providers/mock/key")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(store.get("mock").unwrap().is_none());
    gw.post_json("/v1/chat/completions", &chat).await;
    assert_eq!(posts(&mock)[2].header("authorization"), None);

    let response = gw.client.put(gw.url("/api/providers/nosuch/key")).json(&json!({"key": "k"})).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let response = gw.client.put(gw.url("/api/providers/mock/key")).body("not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_stored_key_brings_its_cloud_provider_back_at_start() {
    let store = Arc::new(MemorySecretStore::default());
    store.set("openrouter", &gateway_core::config::Secret::new("sk-or-stored-5555")).unwrap();
    let toml = "[discovery]\nfrom_env = true\nprobe_local = false\nrefresh_secs = 3600\n[usage]\nenabled = false\n";
    // No environment keys: the provider comes from the store alone. (Its catalog refresh would
    // reach the internet, so this test reads the provider list only.)
    let state = gateway_core::build_state(
        gateway_core::Config::from_toml(toml, std::path::Path::new("t.toml")).unwrap(),
        GatewayOptions { env: Arc::new(|_: &str| None), secrets: store, ..GatewayOptions::default() },
    )
    .unwrap();
    let providers = state.providers();
    let provider = providers.get("openrouter").expect("restored from the secret store");
    assert_eq!(provider.next_key().unwrap().expose(), "sk-or-stored-5555");
    assert_eq!(provider.describe().keys, vec!["secret.openrouter"]);
}

/// A provider of any kind at any base URL, added, edited and removed through the admin API (what
/// the dashboard's "Add a provider" form does), kept across a restart in the state file, its key
/// in the secret store.
#[tokio::test]
async fn a_provider_added_through_the_api_serves_survives_a_restart_and_goes_away() {
    let lan = MockUpstream::start().await;
    let declared = MockUpstream::start().await;
    let store = Arc::new(MemorySecretStore::default());
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[discovery]\nfrom_env = false\nprobe_local = false\n[routing]\nstate_file = \"{}\"\n\
         [providers.mock]\nkind = \"openai-compatible\"\nbase_url = \"{}/v1\"\n",
        dir.path().join("state.json").display(),
        declared.base_url()
    );
    let start = |store: Arc<MemorySecretStore>| {
        let options = GatewayOptions { env: Arc::new(|_: &str| None), secrets: store, ..GatewayOptions::default() };
        gateway_raw(&toml, options)
    };
    let gw = start(store.clone()).await;
    let put = |body: Value, name: &str| gw.client.put(gw.url(&format!("/api/providers/{name}"))).json(&body).send();
    let chat = json!({"model": "lan/mock-model", "messages": [{"role": "user", "content": "x"}]});

    let response = put(
        json!({"kind": "openai-compatible", "base_url": format!("{}/v1", lan.base_url()), "key": "sk-lan-secret-4321", "local": false}),
        "lan",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("sk-lan-secret"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["created"], true);
    assert_eq!(store.get("lan").unwrap().unwrap().expose(), "sk-lan-secret-4321");
    assert_eq!(gw.post_json("/v1/chat/completions", &chat).await.status(), 200);
    assert_eq!(posts(&lan)[0].header("authorization"), Some("Bearer sk-lan-secret-4321"));

    // Edited without a key: the key stays.
    let response = put(
        json!({"kind": "openai-compatible", "base_url": format!("{}/v1", lan.base_url()), "max_output_tokens": 100}),
        "lan",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["created"], false);
    gw.post_json("/v1/chat/completions", &chat).await;
    assert_eq!(posts(&lan)[1].header("authorization"), Some("Bearer sk-lan-secret-4321"));

    // Refused, with nothing changed: a bad base URL, a bad name, a provider from the config file.
    let response = put(json!({"kind": "openai-compatible", "base_url": "not a url"}), "lan2").await.unwrap();
    assert_eq!(response.status(), 400);
    let response =
        put(json!({"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}), "bad%20name").await.unwrap();
    assert_eq!(response.status(), 400);
    let response =
        put(json!({"kind": "openai-compatible", "base_url": "http://127.0.0.1:1/v1"}), "mock").await.unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "conflict");
    let response = put(json!({"kind": "acme", "base_url": "http://127.0.0.1:1/v1"}), "lan3").await.unwrap();
    assert_eq!(response.status(), 400);
    let listing: Value = gw.client.get(gw.url("/api/providers")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        listing["providers"].as_array().unwrap().iter().map(|p| p["provider"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["lan", "mock"], "{listing}");
    gw.running.shutdown().await;

    // After a restart (same state file, same secret store): back, with its key.
    let gw = start(store.clone()).await;
    assert_eq!(gw.post_json("/v1/chat/completions", &chat).await.status(), 200);
    assert_eq!(posts(&lan)[2].header("authorization"), Some("Bearer sk-lan-secret-4321"));

    let response = gw.client.delete(gw.url("/api/providers/mock")).send().await.unwrap();
    assert_eq!(response.status(), 409, "only providers added through the API are removed here");
    let response = gw.client.delete(gw.url("/api/providers/lan")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(store.get("lan").unwrap().is_none());
    assert_eq!(gw.post_json("/v1/chat/completions", &chat).await.status(), 404);
    gw.running.shutdown().await;
    let gw = start(store).await;
    assert_eq!(gw.post_json("/v1/chat/completions", &chat).await.status(), 404, "gone after a restart too");
}
