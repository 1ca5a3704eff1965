//! A plain HTTP/1.1 GET on loopback with a short timeout. Hand-written over `TcpStream` because
//! the only targets are local model servers on `http://127.0.0.1:<port>`, and an HTTP client
//! crate (with TLS) would be most of this crate's build time.

use std::{
    io::{Read, Write},
    net::{TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// The most we read of a reply: enough for a status line and a small JSON body.
const MAX_REPLY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub url: String,
    /// The server answered 2xx.
    pub ok: bool,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    /// Why it is not ok: "connection refused", "timed out", "HTTP 503"...
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The start of the body (at most 64 KiB of the reply, headers included).
    pub body: String,
}

pub fn check(url: &str, timeout: Duration) -> Health {
    let started = Instant::now();
    match get(url, timeout) {
        Ok(reply) => {
            let ok = (200..300).contains(&reply.status);
            Health {
                url: url.to_owned(),
                ok,
                status: Some(reply.status),
                latency_ms: Some(millis(started.elapsed())),
                error: (!ok).then(|| format!("HTTP {}", reply.status)),
            }
        }
        Err(error) => Health { url: url.to_owned(), ok: false, status: None, latency_ms: None, error: Some(error) },
    }
}

/// GETs `url` (plain `http://host:port/path`), giving up after `timeout` in total.
pub fn get(url: &str, timeout: Duration) -> Result<Reply, String> {
    let (host, port, path) = parse_url(url)?;
    let deadline = Instant::now() + timeout;
    let addrs = (host.as_str(), port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last_err = format!("{host} has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = describe(&e),
        }
    }
    let mut stream = stream.ok_or(last_err)?;

    let host_part = if host.contains(':') { format!("[{host}]") } else { host.clone() };
    let host_header = if port == 80 { host_part } else { format!("{host_part}:{port}") };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: switchyard-launchagent\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.set_write_timeout(Some(remaining(deadline)?)).map_err(|e| describe(&e))?;
    stream.write_all(request.as_bytes()).map_err(|e| describe(&e))?;

    // Read until the server closes (Connection: close), the cap, or the deadline.
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?)).map_err(|e| describe(&e))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_REPLY {
                    break;
                }
            }
            // A server that keeps the connection open anyway: what we have may be enough.
            Err(e) if has_headers(&buf) && is_timeout(&e) => break,
            Err(e) => return Err(describe(&e)),
        }
    }
    parse_reply(&buf)
}

fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("not a plain http:// URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`
        Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| format!("bad port in {url}"))?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

fn parse_reply(buf: &[u8]) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(buf);
    let status_line = text.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("not an HTTP reply: {:?}", truncate(status_line, 80)))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok(Reply { status, body })
}

fn has_headers(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n")
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() { Err("timed out".to_owned()) } else { Ok(left) }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ if is_timeout(e) => "timed out".to_owned(),
        _ => e.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::{net::TcpListener, thread};

    use super::*;

    /// Serves one connection with `reply`, and hands back the request it got.
    fn serve_once(reply: &'static str) -> (u16, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut req = Vec::new();
            let mut chunk = [0u8; 1024];
            while !has_headers(&req) {
                let n = conn.read(&mut chunk).expect("read");
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&chunk[..n]);
            }
            conn.write_all(reply.as_bytes()).expect("write");
            String::from_utf8_lossy(&req).into_owned()
        });
        (port, handle)
    }

    #[test]
    fn healthy_server() {
        let (port, server) =
            serve_once("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"version\":\"0.9.0\"}");
        let health = check(&format!("http://127.0.0.1:{port}/api/version"), Duration::from_secs(2));
        assert!(health.ok, "{health:?}");
        assert_eq!(health.status, Some(200));
        assert!(health.latency_ms.is_some());
        let request = server.join().expect("server");
        assert!(request.starts_with("GET /api/version HTTP/1.1\r\n"), "{request}");
        assert!(request.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
    }

    #[test]
    fn body_is_returned() {
        let (port, server) = serve_once("HTTP/1.0 200 OK\r\n\r\n{\"version\":\"0.9.0\"}");
        let reply = get(&format!("http://127.0.0.1:{port}/api/version"), Duration::from_secs(2)).expect("reply");
        assert_eq!(reply.body, "{\"version\":\"0.9.0\"}");
        server.join().expect("server");
    }

    #[test]
    fn unhealthy_status() {
        let (port, server) = serve_once("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        let health = check(&format!("http://127.0.0.1:{port}/v1/models"), Duration::from_secs(2));
        assert!(!health.ok);
        assert_eq!(health.status, Some(503));
        assert_eq!(health.error.as_deref(), Some("HTTP 503"));
        server.join().expect("server");
    }

    #[test]
    fn nothing_listening() {
        // Bind and drop to get a port that is very likely closed.
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let health = check(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(2));
        assert!(!health.ok);
        assert_eq!(health.error.as_deref(), Some("connection refused"));
    }

    #[test]
    fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let started = Instant::now();
        let health = check(&format!("http://127.0.0.1:{port}/"), Duration::from_millis(300));
        assert_eq!(health.error.as_deref(), Some("timed out"));
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
    }

    #[test]
    fn url_parsing() {
        assert_eq!(
            parse_url("http://127.0.0.1:11434/v1/models").expect("ok"),
            ("127.0.0.1".into(), 11434, "/v1/models".into())
        );
        assert_eq!(parse_url("http://localhost").expect("ok"), ("localhost".into(), 80, "/".into()));
        assert_eq!(parse_url("http://[::1]:8080/x").expect("ok"), ("::1".into(), 8080, "/x".into()));
        assert!(parse_url("https://example.invalid/").is_err());
        assert!(parse_reply(b"garbage").is_err());
    }
}
