//! The listener on real loopback sockets: the bind check, the header-read timeout, the
//! connection limit and the owner check.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

fn quiet_config(extra: &str) -> Config {
    let text = format!(
        "[discovery]\nfrom_env = false\nprobe_local = false\n[usage]\nenabled = false\n[server]\nport = 0\n{extra}"
    );
    Config::from_toml(&text, std::path::Path::new("test.toml")).unwrap()
}

async fn serving(extra: &str) -> RunningGateway {
    let state = build_state(quiet_config(extra), GatewayOptions::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_on(state, listener).unwrap()
}

fn health_request(addr: SocketAddr) -> Vec<u8> {
    format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", addr.port()).into_bytes()
}

/// Reads until the end of a response head; `None` when nothing (or not a whole head) came in time.
async fn read_head(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
        }
    };
    tokio::time::timeout(within, read).await.ok().flatten()
}

#[tokio::test]
async fn a_non_loopback_host_is_refused_before_binding() {
    let mut config = quiet_config("");
    config.server.host = "0.0.0.0".parse().unwrap();
    let state = build_state(config, GatewayOptions::default()).unwrap();
    let err = start(state).await.err().expect("refused");
    assert!(matches!(err, StartupError::RemoteBind { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("0.0.0.0") && message.contains("virtual keys") && message.contains("admin token"));
    // A listener bound by the caller is checked the same way (src-tauri binds its own).
    let state = build_state(quiet_config(""), GatewayOptions::default()).unwrap();
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    assert!(matches!(start_on(state, listener), Err(StartupError::RemoteBind { .. })));
}

#[test]
fn requiring_virtual_keys_with_the_admin_token_allows_listening_off_loopback() {
    let mut config = quiet_config("[governance]\nrequire_virtual_key = true\n");
    assert!(remote_bind_allowed(&config));
    assert!(check_bind_address(&config, "0.0.0.0".parse().unwrap()).is_ok());
    config.server.admin_auth = crate::config::AdminAuthMode::None;
    assert!(!remote_bind_allowed(&config), "an open admin API never listens off loopback");
    assert!(!remote_bind_allowed(&quiet_config("")));
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let gateway = serving("header_read_timeout_secs = 1").await;
    let addr = gateway.local_addr();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"GET /health HT").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(8), stalled.read(&mut buf)).await;
    let closed =
        matches!(read, Ok(Ok(0)) | Ok(Err(_))) || matches!(read, Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 408"));
    assert!(closed, "the stalled connection is still open after {:?}: {read:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // A client that connects and sends nothing at all is closed too.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(8), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // A prompt client is served.
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    prompt.write_all(&health_request(addr)).await.unwrap();
    let head = read_head(&mut prompt, Duration::from_secs(5)).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    let gateway = serving("max_connections = 2").await;
    let addr = gateway.local_addr();
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&health_request(addr)).await.unwrap();
        let head = read_head(&mut stream, Duration::from_secs(5)).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        open.push(stream);
    }
    // The third connects (the kernel's backlog) but is not served while two are open.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(&health_request(addr)).await.unwrap();
    assert_eq!(read_head(&mut third, Duration::from_millis(700)).await, None, "served over the limit");
    drop(open.pop());
    let head = read_head(&mut third, Duration::from_secs(5)).await.expect("served once a connection closed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    gateway.shutdown().await;
}

/// Serves the router through `accept::serve` with a made-up owner for every peer.
async fn serve_with_owner(owner_uid: Option<u32>) -> (SocketAddr, CancellationTokenGuard) {
    let state = build_state(quiet_config(""), GatewayOptions::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    state.guard().set_port(addr.port());
    let limits = accept::Limits { header_read_timeout: Duration::from_secs(5), max_connections: 16 };
    let owner = accept::OwnerCheck { own_uid: 1000, lookup: std::sync::Arc::new(move |_, _| owner_uid) };
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(accept::serve(listener, router(state), limits, Some(owner), stop.clone()));
    (addr, CancellationTokenGuard(stop))
}

struct CancellationTokenGuard(tokio_util::sync::CancellationToken);

impl Drop for CancellationTokenGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[tokio::test]
async fn another_users_connection_gets_a_403_in_its_apis_shape() {
    let client = reqwest::Client::new();
    let (addr, _stop) = serve_with_owner(Some(1001)).await;
    let answer = client.post(format!("http://{addr}/v1/messages")).body("{}").send().await.unwrap();
    assert_eq!(answer.status(), 403);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["type"], "error", "Anthropic's shape: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("allow_other_users"), "{body}");
    let answer = client.get(format!("http://{addr}/v1/models")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden_user", "{body}");

    let (addr, _stop) = serve_with_owner(None).await;
    let answer = client.get(format!("http://{addr}/health")).send().await.unwrap();
    assert_eq!(answer.status(), 403, "an owner that cannot be found is refused");

    let (addr, _stop) = serve_with_owner(Some(1000)).await;
    let answer = client.get(format!("http://{addr}/health")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
}

/// The real check: a connection from this process is this user's.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn this_users_connection_is_served_by_the_platform_check() {
    let gateway = serving("").await;
    let answer = reqwest::get(format!("http://{}/health", gateway.local_addr())).await.unwrap();
    assert_eq!(answer.status(), 200);
    gateway.shutdown().await;
}

/// The real thing where the machine allows it (root, with `runuser` and the `nobody` user, as in
/// CI): curl run as another user is refused with a 403 that says why. Skipped elsewhere; the
/// uid lookup itself is tested in `usage::attribution`.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn curl_run_as_another_user_is_refused() {
    let root = crate::usage::attribution::own_uid() == Some(0);
    let tools = ["/usr/sbin/runuser", "/usr/bin/curl"].iter().all(|p| std::path::Path::new(p).exists());
    let nobody = std::fs::read_to_string("/etc/passwd").is_ok_and(|p| p.lines().any(|l| l.starts_with("nobody:")));
    if !(root && tools && nobody) {
        eprintln!("skipped: needs root, runuser, curl and the user nobody");
        return;
    }
    let gateway = serving("").await;
    let output = tokio::process::Command::new("/usr/sbin/runuser")
        .args(["-u", "nobody", "--", "/usr/bin/curl", "-s", "-w", "\n%{http_code}"])
        .arg(format!("http://{}/v1/models", gateway.local_addr()))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.ends_with("\n403"), "{text} {}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("forbidden_user") && text.contains("uid 65534"), "{text}");
    gateway.shutdown().await;
}
