//! A request's life, as named stages run in order by [`serve`]:
//!
//! 1. **ingress** (`ingress`): the HTTP request becomes a typed `InferenceRequest`: API family
//!    and endpoint, the body under the size limit with its top level read (model, stream,
//!    fallbacks), the caller (tool, session, User-Agent, peer process), the credential it
//!    presented, a request id (the client's `x-request-id`, else a new one) and a tracing span
//!    carrying it (debug level);
//! 2. **policy** (`policy`): who may use what; empty until virtual keys, budgets and rate
//!    limits;
//! 3. **plan** (`plan`): the model asked for becomes ordered targets (task classes, fallbacks,
//!    local-only mode);
//! 4. **tools** (`tools`): MCP tools the request, its task class or its key asks for, added to
//!    its body in the client's API; agent mode's rounds after the attempts (whole answers only);
//! 5. **cache** (`cache`): an answer without an attempt, exact or semantic, keyed by the model
//!    the plan chose; a miss's answer stored once the client got it whole;
//! 6. **attempts** (`attempts`, one attempt in `send`): per target, the `RetryPolicy` decides
//!    after each failure (next key, wait, next target, give up); passthrough when the provider
//!    speaks the client's format (only `model` rewritten), else `translate` maps the request;
//!    a stream falls back only before its first chunk; every attempt goes on the trail;
//! 7. **relay** (`relay`, SSE in `sse`): a whole answer as it is, a stream chunk by chunk as it
//!    arrives, passed through or translated, usage read on the way, a failure ending in an error
//!    event in the client's shape;
//! 8. **record** (`record`): the usage row with its trail, the metrics, the log line; finished
//!    even when the client went away.
//!
//! A new stage is one module and one line in `serve`.

pub mod attempts;
pub mod body;
pub mod cache;
pub mod ingress;
pub mod plan;
pub mod policy;
pub mod record;
pub mod relay;
pub mod send;
pub mod sse;
pub mod tools;
pub mod upstream;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tracing::Instrument;

pub use self::ingress::{FromPath, TASK_HEADER};
use self::ingress::{REQUEST_ID_HEADER, Received};
use self::relay::{Passthrough, Relay, Translate, UpstreamStream};
use self::sse::SseScanner;
use crate::observe::PendingRecord;
use crate::routing::Target;
use crate::state::AppState;
use crate::translate::StreamTranslator;
use crate::wire::ApiFamily;
use crate::wire::Endpoint;
use crate::wire::Usage;

pub static PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
pub static MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");
pub static ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");
/// The upstream's own request id (the answer's `x-request-id` is the gateway's).
pub static UPSTREAM_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-switchyard-upstream-request-id");

/// Upstream response headers worth passing on to the client, as they are.
const FORWARDED_HEADERS: [&str; 3] = ["openai-processing-ms", "openai-version", "retry-after"];

/// Serves one inference request whose model and stream flag are in the body.
pub async fn forward(
    state: AppState,
    family: ApiFamily,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    serve(state, family, endpoint, parts, body, None).await
}

/// Serves one inference request: the stages, in order. The model and the stream flag come from
/// the path when `from_path` is set (Gemini), else from the body.
pub async fn serve(
    state: AppState,
    family: ApiFamily,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: Body,
    from_path: Option<FromPath>,
) -> Response {
    let id = ingress::request_id(&parts.headers);
    // At debug level: an enabled span costs the fmt subscriber ~6k instructions per request
    // (2.6 % of a passthrough request, callgrind), formatting its fields for lines that are rarely
    // written. Log lines about a request name its id themselves (`record::failed`).
    let span = tracing::debug_span!("request", id = %id);
    let mut record = PendingRecord::new(state.observer(), id.clone(), family, endpoint.as_str());
    if let Some(cap) = state.usage().body_cap() {
        record.keep_bodies(cap);
    }
    let mut response = async {
        // 1. ingress
        let received =
            match Received::read(id.clone(), family, endpoint, parts, body, from_path, state.max_body_bytes()).await {
                Ok(received) => received,
                Err(error) => return record::failed(record, &id, family, error),
            };
        record.capture_request(&received.body);
        let caller = received.caller().await;
        record.update(|r| {
            r.user_agent = caller.user_agent.clone();
            r.client = caller.client.clone();
            r.session_id = caller.session_id.clone();
        });
        let request = match received.parse(caller) {
            Ok(request) => request,
            Err(error) => return record::failed(record, &id, family, error),
        };
        record.update(|r| {
            r.requested_model = Some(request.model.to_string());
            r.stream = request.stream;
        });
        // 2. policy
        let key = match policy::check(&state, &request, &mut record) {
            Ok(key) => key,
            Err(error) => return record::failed(record, &id, family, error),
        };
        // 3. plan
        let plan = match plan::plan(&state, &request, key.as_ref(), &mut record).await {
            Ok(plan) => plan,
            Err(error) => return record::failed(record, &id, family, error),
        };
        // 4. tools: MCP tools the request or its class asks for, added to its body
        let injected = match tools::inject(&state, &request, plan.class.as_deref(), key.as_ref()) {
            Ok(injected) => injected,
            Err(error) => return record::failed(record, &id, family, error),
        };
        let with_tools;
        let request = match &injected {
            Some(injected) => match request.with_body(&injected.body) {
                Ok(changed) => {
                    with_tools = changed;
                    &with_tools
                }
                Err(error) => return record::failed(record, &id, family, error),
            },
            None => &request,
        };
        // 5. cache
        let lookup = match cache::lookup(&state, request, &plan, key.as_ref(), &mut record).await {
            Ok(lookup) => lookup,
            Err(error) => return record::failed(record, &id, family, error),
        };
        let answer = match lookup {
            cache::Lookup::Hit(answer) => *answer,
            // 6. attempts (and agent mode's rounds, when the gateway may run the tools called)
            lookup => match attempts::run(&state, request, plan, &mut record).await {
                Ok(answer) => {
                    let agent = injected.as_ref().and_then(|i| i.agent.as_ref());
                    let mut answer = match agent {
                        Some(agent) => {
                            match tools::agent_loop(&state, request, key.as_ref(), agent, answer, &mut record).await {
                                Ok(answer) => answer,
                                Err(error) => return record::failed(record, &id, family, error),
                            }
                        }
                        None => answer,
                    };
                    cache::after_attempts(lookup, &mut answer, &mut record);
                    answer
                }
                Err(error) => return record::failed(record, &id, family, error),
            },
        };
        // 7. relay (8. record: here for whole answers, by the relay when a stream ends)
        let mut response = relay(answer, family, record);
        if let Some(key) = &key {
            key.rate_limit_headers(crate::governance::now_ms(), response.headers_mut());
        }
        response
    }
    .instrument(span)
    .await;
    if let Some(value) = ingress::id_header(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
    }
    response
}

/// What an attempt (or the cache) answered.
pub enum Answer {
    Whole {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        usage: Option<Usage>,
    },
    /// A stored stream, replayed chunk by chunk (a cache hit).
    Replay {
        status: StatusCode,
        headers: HeaderMap,
        chunks: Vec<Bytes>,
    },
    /// A stream whose first chunk arrived.
    Stream {
        status: StatusCode,
        headers: HeaderMap,
        upstream: UpstreamStream,
        first: Bytes,
        target: Target,
        handler: StreamHandler,
    },
}

/// How a stream's chunks are handled on their way to the client.
pub enum StreamHandler {
    Passthrough(SseScanner),
    Translate(Box<dyn StreamTranslator>),
}

impl Answer {
    pub fn status(&self) -> StatusCode {
        match self {
            Answer::Whole { status, .. } | Answer::Replay { status, .. } | Answer::Stream { status, .. } => *status,
        }
    }

    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        match self {
            Answer::Whole { headers, .. } | Answer::Replay { headers, .. } | Answer::Stream { headers, .. } => headers,
        }
    }
}

/// The relay stage: the answer on its way to the client.
fn relay(answer: Answer, family: ApiFamily, record: PendingRecord) -> Response {
    match answer {
        Answer::Whole { status, headers, body, usage } => {
            record::whole(record, status, usage, &body);
            response(status, headers, Body::from(body))
        }
        Answer::Replay { status, headers, chunks } => {
            record::replayed(record, status, &chunks);
            let chunks = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>));
            response(status, headers, Body::from_stream(chunks))
        }
        Answer::Stream { status, headers, upstream, first, target, handler } => {
            let idle = target.provider.stream_idle_timeout;
            let provider = target.provider.name.clone();
            let body = match handler {
                StreamHandler::Passthrough(scanner) => {
                    Body::from_stream(Relay::new(upstream, first, Passthrough(scanner), idle, family, provider, record))
                }
                StreamHandler::Translate(translator) => Body::from_stream(Relay::new(
                    upstream,
                    first,
                    Translate::new(translator),
                    idle,
                    family,
                    provider,
                    record,
                )),
            };
            response(status, headers, body)
        }
    }
}

/// A response with the answer's headers as they are (axum's tuple form would copy them into a
/// new map).
fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The headers of an answer: the upstream's worth passing on, and which provider and model
/// served it.
fn response_headers(upstream: &HeaderMap, target: &Target) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8);
    // One pass over the upstream's headers (names are already lowercase and valid).
    for (name, value) in upstream {
        if *name == header::CONTENT_TYPE
            || FORWARDED_HEADERS.contains(&name.as_str())
            || name.as_str().starts_with("x-ratelimit-")
        {
            headers.insert(name.clone(), value.clone());
        } else if *name == REQUEST_ID_HEADER {
            headers.insert(UPSTREAM_REQUEST_ID_HEADER.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&target.provider.name) {
        headers.insert(PROVIDER_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&target.model) {
        headers.insert(MODEL_HEADER.clone(), value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers
}
