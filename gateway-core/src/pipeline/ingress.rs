//! The ingress stage: an HTTP request becomes a typed [`InferenceRequest`]. The body is read
//! under the size limit, and only its top level is looked at (model, stream, fallbacks); the
//! caller is identified; the credential the client presented is kept for the policy stage and
//! never forwarded; the request gets its id.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::body::TopLevel;
use crate::error::ApiError;
use crate::usage::attribution::{self, Caller};
use crate::wire::ApiFamily;
use crate::wire::Endpoint;

/// The request id header: the client's own id is kept, else the gateway makes one; answered on
/// every inference response.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Picks a task class for a request that names a concrete model (or none).
pub static TASK_HEADER: HeaderName = HeaderName::from_static("x-switchyard-task");

/// A client's request id longer than this (or not printable ASCII) is replaced by the gateway's.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// What an API that names the model in its path (Gemini) says there instead of in the body.
#[derive(Clone, Debug)]
pub struct FromPath {
    pub model: String,
    pub stream: bool,
}

/// A request as it arrived: its head, its whole body, who sent it. The typed view,
/// [`InferenceRequest`], borrows from it.
pub struct Received {
    pub id: Arc<str>,
    pub family: ApiFamily,
    pub endpoint: Endpoint,
    pub headers: HeaderMap,
    pub peer: Option<SocketAddr>,
    pub from_path: Option<FromPath>,
    pub body: Bytes,
    /// `?key=` (Gemini's clients may send their key so), for the policy stage.
    pub query_key: Option<String>,
}

/// An inference request, typed: what every later stage reads.
pub struct InferenceRequest<'a> {
    pub id: &'a Arc<str>,
    pub family: ApiFamily,
    pub endpoint: Endpoint,
    /// The client's headers (passthrough carries the format's own, e.g. `anthropic-beta`).
    pub headers: &'a HeaderMap,
    /// The body as the client sent it.
    pub body: &'a Bytes,
    /// Its top-level members, borrowing the body.
    pub top: TopLevel<'a>,
    /// The model asked for: a task class, `provider/model` or a bare model id.
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// The body's Bifrost-style `fallbacks`.
    pub fallbacks: Vec<String>,
    /// `x-switchyard-task`
    pub class_header: Option<&'a str>,
    pub caller: Caller,
    /// `?key=`
    pub query_key: Option<&'a str>,
}

impl<'a> InferenceRequest<'a> {
    /// The same request with another body (the tools stage's): its top level read again, the
    /// model and the stream flag kept.
    pub fn with_body<'b>(&self, body: &'b Bytes) -> Result<InferenceRequest<'b>, ApiError>
    where
        'a: 'b,
    {
        Ok(InferenceRequest {
            id: self.id,
            family: self.family,
            endpoint: self.endpoint,
            headers: self.headers,
            body,
            top: TopLevel::parse(body)?,
            model: self.model.clone(),
            stream: self.stream,
            fallbacks: self.fallbacks.clone(),
            class_header: self.class_header,
            caller: self.caller.clone(),
            query_key: self.query_key,
        })
    }

    /// The key the client presented, for the policy stage; never forwarded upstream. Read when
    /// asked: three header lookups a request without a policy need not pay.
    pub fn credential(&self) -> Option<&str> {
        presented_credential(self.headers)
    }
}

/// The request id a response carries: the client's `x-request-id` when it is a sensible one.
pub fn request_id(headers: &HeaderMap) -> Arc<str> {
    if let Some(value) = headers.get(&REQUEST_ID_HEADER)
        && let Ok(text) = value.to_str()
        && !text.is_empty()
        && text.len() <= MAX_CLIENT_REQUEST_ID
        && text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Arc::from(text);
    }
    new_request_id()
}

/// `req_` and 24 hex digits: a random per-process prefix and a counter, unique across restarts
/// without a random draw per request.
fn new_request_id() -> Arc<str> {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u64>);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
    // Written by hand: `format!` costs several times more on every request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 28];
    id[..4].copy_from_slice(b"req_");
    for (i, byte) in id[4..20].iter_mut().enumerate() {
        *byte = HEX[((prefix >> (60 - 4 * i)) & 0xf) as usize];
    }
    for (i, byte) in id[20..].iter_mut().enumerate() {
        *byte = HEX[((count >> (28 - 4 * i)) & 0xf) as usize];
    }
    Arc::from(std::str::from_utf8(&id).unwrap_or("req_"))
}

/// The id as a header value (it was checked to be visible ASCII, or made so).
pub fn id_header(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(id).ok()
}

impl Received {
    /// Reads the request's head and body (refusing more than `limit` bytes: 413).
    pub async fn read(
        id: Arc<str>,
        family: ApiFamily,
        endpoint: Endpoint,
        parts: http::request::Parts,
        body: Body,
        from_path: Option<FromPath>,
        limit: usize,
    ) -> Result<Received, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let body = read_body(body, &parts.headers, limit).await?;
        let query_key = parts.uri.query().filter(|q| q.contains("key=")).and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes()).find(|(name, _)| name == "key").map(|(_, v)| v.into_owned())
        });
        Ok(Received { id, family, endpoint, headers: parts.headers, peer, from_path, body, query_key })
    }

    /// Who is calling: a tool's header or User-Agent, else the peer process (looked up once per
    /// connection, off the runtime's threads).
    pub async fn caller(&self) -> Caller {
        attribution::identify(&self.headers, self.peer).await
    }

    /// The typed view: the body's top level read, the model and stream flag found (in the path
    /// for Gemini), the fallbacks listed.
    pub fn parse(&self, caller: Caller) -> Result<InferenceRequest<'_>, ApiError> {
        let top = TopLevel::parse(&self.body)?;
        let (model, stream) = match &self.from_path {
            Some(path) => (Cow::Borrowed(path.model.as_str()), path.stream),
            None => (top.required_str("model")?, self.endpoint.streams() && top.flag("stream")?),
        };
        let fallbacks = top.string_list("fallbacks")?;
        Ok(InferenceRequest {
            id: &self.id,
            family: self.family,
            endpoint: self.endpoint,
            headers: &self.headers,
            body: &self.body,
            top,
            model,
            stream,
            fallbacks,
            class_header: self.headers.get(&TASK_HEADER).and_then(|v| v.to_str().ok()),
            caller,
            query_key: self.query_key.as_deref(),
        })
    }
}

static ANTHROPIC_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");
static GOOGLE_KEY_HEADER: HeaderName = HeaderName::from_static("x-goog-api-key");

/// The key the client sent in its API's own header: `Authorization: Bearer`, `x-api-key`
/// (Anthropic) or `x-goog-api-key` (Gemini).
pub fn presented_credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    [&ANTHROPIC_KEY_HEADER, &GOOGLE_KEY_HEADER]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Reads the client's body, refusing more than `limit` bytes (413).
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::BodyTooLarge { limit }),
        Err(err) => Err(ApiError::invalid(format!("could not read the request body: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_clients_when_sensible() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(&*request_id(&headers), "abc-123");
        headers.insert("x-request-id", HeaderValue::from_static("has space"));
        assert!(request_id(&headers).starts_with("req_"));
        let long = "x".repeat(MAX_CLIENT_REQUEST_ID + 1);
        headers.insert("x-request-id", HeaderValue::from_str(&long).unwrap());
        assert!(request_id(&headers).starts_with("req_"));
        let (a, b) = (request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 24);
        assert!(a[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{a}");
        let (ca, cb) = (u32::from_str_radix(&a[20..], 16).unwrap(), u32::from_str_radix(&b[20..], 16).unwrap());
        assert_eq!(cb, ca + 1, "a counter after a per-process prefix: {a} {b}");
        assert_eq!(a[..20], b[..20]);
    }

    #[test]
    fn the_presented_credential_is_read_from_each_apis_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_credential(&headers), None);
        headers.insert("x-goog-api-key", HeaderValue::from_static("AIza-1"));
        assert_eq!(presented_credential(&headers), Some("AIza-1"));
        headers.insert("x-api-key", HeaderValue::from_static("sk-ant-2"));
        assert_eq!(presented_credential(&headers), Some("sk-ant-2"));
        headers.insert("authorization", HeaderValue::from_static("Bearer sk-3"));
        assert_eq!(presented_credential(&headers), Some("sk-3"));
    }
}
