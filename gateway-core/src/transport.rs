//! The upstream HTTP client of the inference path: one call, two transports.
//!
//! - Plain `http://` upstreams (vllm-mlx, Ollama, LM Studio, a box on the LAN) go straight
//!   through hyper's pooled HTTP/1 client. That is where the gateway's own cost shows, since the
//!   upstream answers in microseconds to milliseconds; reqwest's layers over the same hyper
//!   client (its redirect policy re-parses every request's URL, its builder merges header maps)
//!   were a sixth of a passthrough request's instructions.
//! - `https://` upstreams (the cloud), every upstream when an HTTP proxy is configured in the
//!   environment, and URLs with credentials in them go through reqwest: TLS (the system's on
//!   macOS, rustls elsewhere), proxies and Basic auth as users expect of it. A TLS round trip to
//!   the cloud dwarfs its layers.
//!
//! Both answers come back as one type, `http::Response<UpstreamBody>`, so everything after the
//! send (status, headers, whole or streamed body, errors) has one path.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Uri, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

/// The body of an upstream answer, whichever transport carried it.
pub type UpstreamBody = UnsyncBoxBody<Bytes, TransportError>;

const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const POOL_MAX_IDLE_PER_HOST: usize = 512;

/// Environment variables through which reqwest routes plain-HTTP requests via a proxy.
const HTTP_PROXY_VARS: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

pub struct UpstreamClient {
    /// TLS and proxies; also what the catalog and discovery use.
    general: reqwest::Client,
    plain: HyperClient<HttpConnector, Full<Bytes>>,
    /// False when a proxy variable is set: then reqwest carries plain HTTP too, through it.
    plain_direct: bool,
}

impl UpstreamClient {
    pub fn new() -> Result<UpstreamClient, String> {
        let proxied = HTTP_PROXY_VARS.iter().any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        UpstreamClient::with_proxy_env(proxied)
    }

    fn with_proxy_env(proxied: bool) -> Result<UpstreamClient, String> {
        let general = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .user_agent(USER_AGENT)
            // A redirect would carry the key and the prompt to wherever `Location` points (reqwest
            // drops `Authorization` across hosts, not `x-api-key`): a 3xx is handed back as it is,
            // and the inference path reports it as an error. hyper's client never follows.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| err.to_string())?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // The pool spawns each connection's driver task on this executor, untracked (not in
        // `state::Tasks`): a driver lives as long as its pooled connection, not a request.
        let plain = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .build(connector);
        Ok(UpstreamClient { general, plain, plain_direct: !proxied })
    }

    /// The reqwest client, for requests off the inference path (model lists, probes).
    pub fn general(&self) -> &reqwest::Client {
        &self.general
    }

    /// POSTs `body` to `url` with `headers` (the user agent is added). `uri` is the same address
    /// parsed for hyper, when the caller has it at hand.
    pub async fn post(
        &self,
        url: &Url,
        uri: Option<&Uri>,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<http::Response<UpstreamBody>, TransportError> {
        headers.entry(header::USER_AGENT).or_insert(HeaderValue::from_static(USER_AGENT));
        // Credentials in the URL (`http://user:pass@host`) become Basic auth in reqwest.
        let direct =
            self.plain_direct && url.scheme() == "http" && url.username().is_empty() && url.password().is_none();
        if direct {
            let uri = match uri {
                Some(uri) => uri.clone(),
                None => url.as_str().parse::<Uri>().map_err(|err| TransportError::new(&err))?,
            };
            // The authority as it is (no credentials, and `url` already dropped a default port):
            // hyper would format it anew for every request.
            if let Some(host) = uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
                headers.entry(header::HOST).or_insert(host);
            }
            let mut request = Request::new(Full::new(body));
            *request.method_mut() = http::Method::POST;
            *request.uri_mut() = uri;
            *request.headers_mut() = headers;
            let response = self.plain.request(request).await.map_err(|err| TransportError::new(&err))?;
            return Ok(response.map(|body| body.map_err(|err| TransportError::new(&err)).boxed_unsync()));
        }
        let response = self
            .general
            .post(url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|err| TransportError::from_reqwest(&err))?;
        let response: http::Response<reqwest::Body> = response.into();
        Ok(response.map(|body| body.map_err(|err| TransportError::from_reqwest(&err)).boxed_unsync()))
    }
}

/// Reads a whole answer off the inference path (a model list, a probe), refusing more than
/// `limit` bytes: a time limit alone lets a server send gigabytes fast. The error names the limit.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Bytes, String> {
    let too_large = || format!("the answer is larger than the limit of {limit} bytes");
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| describe(&err))? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A failure to reach the upstream or to read its answer, with its causes spelled out. Neither
/// transport's errors include headers, so no key leaks into the message.
#[derive(Debug)]
pub struct TransportError {
    detail: String,
    timeout: bool,
}

impl TransportError {
    fn new(err: &dyn StdError) -> TransportError {
        TransportError { detail: describe(err), timeout: false }
    }

    fn from_reqwest(err: &reqwest::Error) -> TransportError {
        TransportError { detail: describe(err), timeout: err.is_timeout() }
    }

    pub fn is_timeout(&self) -> bool {
        self.timeout
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl StdError for TransportError {}

/// An error's message followed by each cause's ("client error (Connect): tcp connect error:
/// Connection refused (os error 111)"). reqwest's message can include the URL, never headers.
pub fn describe(err: &dyn StdError) -> String {
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        // Some errors repeat their cause's text in their own.
        if !detail.ends_with(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = inner.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP/1 server: answers the first request with `answer`, returns what it read.
    async fn one_shot(answer: &'static [u8]) -> (Url, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/v1/chat/completions", listener.local_addr().unwrap())).unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"hi\"") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer).await.unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn both_transports_send_host_length_user_agent_and_read_the_answer() {
        // `proxied`: reqwest carries it (no proxy is set here, so it connects directly too).
        for proxied in [false, true] {
            let (url, server) =
                one_shot(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}")
                    .await;
            let client = UpstreamClient::with_proxy_env(proxied).unwrap();
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer sk-test"));
            let response = client.post(&url, None, headers, Bytes::from_static(b"{\"x\":\"hi\"}")).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"{\"a\":1}");
            let seen = server.await.unwrap().to_ascii_lowercase();
            assert!(seen.starts_with("post /v1/chat/completions http/1.1\r\n"), "{seen}");
            let host = format!("host: {}:{}\r\n", url.host_str().unwrap(), url.port().unwrap());
            assert!(seen.contains(&host), "{proxied}: {seen}");
            assert!(seen.contains("content-length: 10\r\n"), "{proxied}: {seen}");
            assert!(seen.contains("authorization: bearer sk-test\r\n"), "{proxied}: {seen}");
            assert!(seen.contains("user-agent: switchyard/"), "{proxied}: {seen}");
        }
    }

    #[tokio::test]
    async fn both_transports_read_a_chunked_stream() {
        for proxied in [false, true] {
            let (url, server) = one_shot(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
                  6\r\ndata: \r\n3\r\n1\n\n\r\n0\r\n\r\n",
            )
            .await;
            let client = UpstreamClient::with_proxy_env(proxied).unwrap();
            let response = client.post(&url, None, HeaderMap::new(), Bytes::from_static(b"\"hi\"")).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"data: 1\n\n", "{proxied}");
            server.await.unwrap();
        }
    }

    #[tokio::test]
    async fn whole_answers_are_read_up_to_a_limit() {
        // Declared too long, and sent chunked with no length: both stop at the limit.
        let answers: [&'static [u8]; 2] = [
            b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n01234567890123456789",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
        ];
        for answer in answers {
            let (url, server) = one_shot(answer).await;
            let client = UpstreamClient::with_proxy_env(true).unwrap();
            let response = client.general().post(url).body("\"hi\"").send().await.unwrap();
            let err = read_limited(response, 15).await.unwrap_err();
            assert!(err.contains("limit of 15 bytes"), "{err}");
            server.await.unwrap();
        }
        let (url, server) = one_shot(answers[1]).await;
        let client = UpstreamClient::with_proxy_env(true).unwrap();
        let response = client.general().post(url).body("\"hi\"").send().await.unwrap();
        assert_eq!(&read_limited(response, 20).await.unwrap()[..], b"01234567890123456789");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn neither_transport_follows_a_redirect() {
        for proxied in [false, true] {
            // Where the redirect points: must see nothing.
            let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let location = format!("http://{}/stolen", target.local_addr().unwrap());
            let answer =
                format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            let (url, server) = one_shot(Box::leak(answer.into_bytes().into_boxed_slice())).await;
            let client = UpstreamClient::with_proxy_env(proxied).unwrap();
            let response = client.post(&url, None, HeaderMap::new(), Bytes::from_static(b"\"hi\"")).await.unwrap();
            assert_eq!(response.status(), 307, "{proxied}");
            assert_eq!(response.headers()[header::LOCATION], location.as_str());
            server.await.unwrap();
            let followed = tokio::time::timeout(Duration::from_millis(200), target.accept()).await;
            assert!(followed.is_err(), "{proxied}: the redirect was followed");
        }
    }

    #[tokio::test]
    async fn credentials_in_the_url_become_basic_auth() {
        let (url, server) = one_shot(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        let mut url = url;
        url.set_username("user").unwrap();
        url.set_password(Some("pw")).unwrap();
        let client = UpstreamClient::with_proxy_env(false).unwrap();
        let response = client.post(&url, None, HeaderMap::new(), Bytes::from_static(b"\"hi\"")).await.unwrap();
        assert_eq!(response.status(), 204);
        let seen = server.await.unwrap().to_ascii_lowercase();
        assert!(seen.contains("authorization: basic dxnlcjpwdw==\r\n"), "{seen}");
        assert!(!seen.contains("user:pw@"), "{seen}");
    }

    #[tokio::test]
    async fn both_transports_report_a_refused_connection_with_its_cause() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/v1/x", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        for proxied in [false, true] {
            // `proxied`: reqwest carries it (no proxy is set here, so it connects directly too).
            let client = UpstreamClient::with_proxy_env(proxied).unwrap();
            let err = client.post(&url, None, HeaderMap::new(), Bytes::new()).await.unwrap_err();
            assert!(err.to_string().to_lowercase().contains("refused"), "{proxied}: {err}");
            assert!(!err.is_timeout());
        }
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error_not_an_end() {
        for proxied in [false, true] {
            let (url, server) = one_shot(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"partial\":").await;
            let client = UpstreamClient::with_proxy_env(proxied).unwrap();
            let response = client.post(&url, None, HeaderMap::new(), Bytes::from_static(b"\"hi\"")).await.unwrap();
            server.await.unwrap();
            let err = response.into_body().collect().await.unwrap_err();
            assert!(!err.to_string().is_empty(), "{proxied}");
        }
    }
}
