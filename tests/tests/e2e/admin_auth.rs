//! The admin API behind the per-install token (issue 19): refused without it, open with it as a
//! bearer token, a header or the dashboard's cookie from a one-time link; the opt-out; and the
//! provider edits a local process could abuse (a key following a new URL, a LAN server marked
//! local, local-only forced at start turned off).

use std::sync::Arc;

use gateway_core::GatewayOptions;
use gateway_core::secrets::{MemorySecretStore, SecretStore};
use gateway_core::state::LOGIN_LINK_LIFETIME;
use serde_json::{Value, json};
use switchyard_tests::switchyard_mock::MockUpstream;
use switchyard_tests::{TestGateway, gateway, gateway_raw};

async fn status_and_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

/// Every kind of admin route: reading settings, changing them, deleting keys, reading bodies.
fn admin_requests(gw: &TestGateway, client: &reqwest::Client) -> Vec<reqwest::RequestBuilder> {
    vec![
        client.get(gw.url("/api/providers")),
        client
            .put(gw.url("/api/providers/evil"))
            .json(&json!({"kind": "openai-compatible", "base_url": "http://127.0.0.1:9/v1"})),
        client.delete(gw.url("/api/providers/mock/key")),
        client.put(gw.url("/api/local-only")).json(&json!({"enabled": false})),
        client.get(gw.url("/api/logs/1/body")),
        client.get(gw.url("/api/usage/summary")),
        client.put(gw.url("/api/task-classes/coding")).json(&json!({"chain": ["evil/model"]})),
    ]
}

#[tokio::test]
async fn the_admin_api_refuses_callers_without_the_token() {
    let mock = MockUpstream::start().await;
    let gw = gateway(&switchyard_tests::provider_toml("mock", &mock)).await;
    let token = gw.admin_token().expect("the token is on by default");

    for request in admin_requests(&gw, &gw.anonymous) {
        let (status, code) = status_and_code(request.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, Some("admin_token_required")));
    }
    let wrong = gw.anonymous.get(gw.url("/api/providers")).bearer_auth("sya_not-the-token").send().await.unwrap();
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer realm=\"switchyard\"");
    let (status, code) = status_and_code(wrong).await;
    assert_eq!((status, code.as_str()), (401, Some("admin_token_invalid")));
    // Nothing above changed anything.
    let providers: Value = gw.client.get(gw.url("/api/providers")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        providers["providers"].as_array().unwrap().iter().filter_map(|p| p["provider"]["name"].as_str()).collect();
    assert_eq!(names, ["mock"]);

    // The token as a bearer token and as the header.
    let ok = gw.anonymous.get(gw.url("/api/providers")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let ok =
        gw.anonymous.get(gw.url("/api/local-only")).header("x-switchyard-admin-token", &token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    // What stays open: liveness, metrics (counts only), the dashboard's page, and inference.
    for path in ["/health", "/metrics", "/"] {
        assert_eq!(gw.anonymous.get(gw.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    let chat = json!({"model": "mock/mock-model", "messages": [{"role": "user", "content": "x"}]});
    let answer = gw.anonymous.post(gw.url("/v1/chat/completions")).json(&chat).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    // The admin token never goes upstream, even when a client sends it on an inference call.
    gw.post_json("/v1/chat/completions", &chat).await;
    for request in mock.requests() {
        assert!(request.header("x-switchyard-admin-token").is_none());
        assert!(!format!("{:?}", request.header("authorization")).contains(&token));
    }
}

#[tokio::test]
async fn a_one_time_link_gives_the_dashboard_a_cookie_and_works_once() {
    let gw = gateway("").await;
    let token = gw.running.state().admin().token().expect("token");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let link = gw.url(&format!("/login?once={}", token.login_nonce(LOGIN_LINK_LIFETIME)));

    let first = no_redirects.get(&link).send().await.unwrap();
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/");
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains(token.secret()), "the cookie is derived, not the token");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = no_redirects.get(gw.url("/api/providers")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(with_cookie.status(), 200);

    // Used once: the second visit gets the sign-in page, no cookie.
    let again = no_redirects.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 401);
    assert!(again.headers().get("set-cookie").is_none());
    assert_eq!(again.headers()["x-frame-options"], "DENY");
    let page = again.text().await.unwrap();
    assert!(page.contains("was used already") && page.contains("switchyard-gateway dashboard-url"), "{page}");
    // A forged link and a forged cookie get nothing.
    let forged = no_redirects.get(gw.url("/login?once=99999999999.00112233445566778899aabbccddeeff.00")).send().await;
    assert_eq!(forged.unwrap().status(), 401);
    let bad_cookie = no_redirects.get(gw.url("/api/providers")).header("cookie", "switchyard_admin=abc").send().await;
    assert_eq!(bad_cookie.unwrap().status(), 401);

    // The sign-in form takes the pasted token (from the gateway's own origin).
    let origin = gw.base();
    let form = no_redirects
        .post(gw.url("/login"))
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}", token.secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap(), pair);
    let wrong = no_redirects
        .post(gw.url("/login"))
        .header("origin", &origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=sya_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // Another site's form cannot sign a browser in.
    let cross = no_redirects
        .post(gw.url("/login"))
        .header("origin", "https://evil.example")
        .body(format!("token={}", token.secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn the_token_file_is_made_once_readable_by_the_user_only_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config").join("admin-token");
    let toml = format!("[server]\nadmin_token_file = \"{}\"\n", path.display());
    let first = gateway(&toml).await;
    let token = first.admin_token().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    first.running.shutdown().await;
    let second = gateway(&toml).await;
    assert_eq!(second.admin_token().unwrap(), token, "the same token after a restart");
    let ok = second.anonymous.get(second.url("/api/providers")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn admin_auth_none_opens_the_api_as_bifrost_does() {
    let gw = gateway("[server]\nadmin_auth = \"none\"\n").await;
    assert!(gw.admin_token().is_none());
    let response = gw.anonymous.get(gw.url("/api/providers")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = gw.anonymous.put(gw.url("/api/local-only")).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// Before: `PUT /api/providers/{name}` with a new `base_url` and no `key` kept the stored key,
/// and the catalog refresh that followed sent it to the new URL at once.
#[tokio::test]
async fn a_stored_key_does_not_follow_a_new_base_url() {
    let honest = MockUpstream::start().await;
    let thief = MockUpstream::start().await;
    let store = Arc::new(MemorySecretStore::default());
    let options = GatewayOptions { env: Arc::new(|_: &str| None), secrets: store.clone(), ..GatewayOptions::default() };
    let gw = gateway_raw("[discovery]\nfrom_env = false\nprobe_local = false\n", options).await;
    let put = |url: String, key: Option<&str>| {
        let mut body = json!({"kind": "openai-compatible", "base_url": url});
        if let Some(key) = key {
            body["key"] = json!(key);
        }
        gw.client.put(gw.url("/api/providers/lan")).json(&body).send()
    };
    let answer: Value =
        put(format!("{}/v1", honest.base_url()), Some("sk-lan-secret-4242")).await.unwrap().json().await.unwrap();
    assert_eq!(answer["key_dropped"], false);
    assert_eq!(store.get("lan").unwrap().unwrap().expose(), "sk-lan-secret-4242");

    let answer: Value = put(format!("{}/v1", thief.base_url()), None).await.unwrap().json().await.unwrap();
    assert_eq!(answer["key_dropped"], true, "{answer}");
    assert!(store.get("lan").unwrap().is_none(), "the key is gone from the store");
    // The catalog refresh and a request both reach the new URL, without the key.
    gw.client.post(gw.url("/api/models/refresh")).send().await.unwrap();
    let chat = json!({"model": "lan/mock-model", "messages": [{"role": "user", "content": "x"}]});
    gw.post_json("/v1/chat/completions", &chat).await;
    let seen = thief.requests();
    assert!(!seen.is_empty(), "the new URL was called");
    for request in seen {
        assert_eq!(request.header("authorization"), None, "{} {}", request.method, request.path());
    }

    // A new key in the same request is kept.
    let answer: Value =
        put(format!("{}/v1", honest.base_url()), Some("sk-lan-second-1111")).await.unwrap().json().await.unwrap();
    assert_eq!(answer["key_dropped"], false);
    assert_eq!(store.get("lan").unwrap().unwrap().expose(), "sk-lan-second-1111");
    // And an edit that keeps the URL keeps the key.
    let answer: Value = put(format!("{}/v1", honest.base_url()), None).await.unwrap().json().await.unwrap();
    assert_eq!(answer["key_dropped"], false);
    assert!(store.get("lan").unwrap().is_some());
}

/// `"local": true` on a URL off loopback would let local-only mode send prompts over the network.
/// Refused from the URL alone: 0.0.0.0 is not loopback, and nothing is connected to.
#[tokio::test]
async fn a_provider_off_loopback_cannot_be_marked_local() {
    let gw = gateway("").await;
    let response = gw
        .client
        .put(gw.url("/api/providers/lanbox"))
        .json(&json!({"kind": "openai-compatible", "base_url": "http://0.0.0.0:9/v1", "local": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("local = true"), "{body}");
    let providers: Value = gw.client.get(gw.url("/api/providers")).send().await.unwrap().json().await.unwrap();
    assert_eq!(providers["providers"], json!([]), "nothing was added");
}

#[tokio::test]
async fn local_only_forced_at_start_cannot_be_turned_off_through_the_api() {
    let gw = gateway("[routing]\nlocal_only = true\n").await;
    let response = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("--local"), "{body}");
    let view: Value = gw.client.get(gw.url("/api/local-only")).send().await.unwrap().json().await.unwrap();
    assert_eq!((view["enabled"].as_bool(), view["forced"].as_bool()), (Some(true), Some(true)));
}
