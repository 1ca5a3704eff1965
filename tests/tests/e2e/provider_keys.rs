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
