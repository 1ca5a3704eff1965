//! The server core: shared state, routes, recording, in-flight accounting and the accept loop.
//!
//! The path of a request, outermost first:
//! 1. the accept loop ([`serve`]): one task per connection in a `JoinSet`, TCP_NODELAY, HTTP/1.1
//!    and HTTP/2 (hyper-util's auto builder); aborting the loop (on [`MockUpstream`]'s drop)
//!    aborts every connection, hanging ones included;
//! 2. [`observe`]: counts the request in flight until its response body ends or is dropped,
//!    and — unless recording is disabled — buffers the body and records the request **before**
//!    anything answers it;
//! 3. the route's handler (one module per API family), which reads the model, derives the
//!    [`Behavior`] and passes through [`App::gate`] (latency, `slow-first-byte`, `hang`,
//!    `status-…`, `bad-json`) before rendering its answer.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::StatusCode;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::behavior::{Behavior, Outcome};
use crate::errors::{Family, error_response};
use crate::{MockOptions, RecordedRequest, anthropic, bench, gemini, ollama, openai, responses};

/// A running mock provider; dropping it stops the server and closes every connection.
pub struct MockUpstream {
    addr: SocketAddr,
    app: App,
    server: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a mock with default options on 127.0.0.1 and a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound (the machine, not the test, is broken).
    pub async fn start() -> MockUpstream {
        MockUpstream::start_with(MockOptions::default()).await
    }

    /// Starts a mock with `options` on 127.0.0.1 and a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start_with(options: MockOptions) -> MockUpstream {
        MockUpstream::bind(SocketAddr::from(([127, 0, 0, 1], 0)), options)
            .await
            .expect("switchyard-mock: cannot listen on 127.0.0.1")
    }

    /// Starts a mock on `addr` (port 0 picks a free one). Used by the binary.
    pub async fn bind(addr: SocketAddr, options: MockOptions) -> io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = App::new(options);
        let server = tokio::spawn(serve(listener, router(app.clone())));
        Ok(MockUpstream { addr, app, server })
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.recorded().clone()
    }

    /// How many requests were recorded.
    pub fn request_count(&self) -> usize {
        self.app.recorded().len()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.app.recorded().clear();
    }

    /// Requests being handled or whose response body is still being sent; it drops as soon as a
    /// body ends or is dropped (a client disconnecting mid-stream makes hyper drop it).
    pub fn in_flight(&self) -> usize {
        self.app.0.in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockUpstream")
            .field("addr", &self.addr)
            .field("options", &self.app.0.options)
            .finish_non_exhaustive()
    }
}

/// State shared by every handler.
#[derive(Clone)]
pub(crate) struct App(Arc<Shared>);

struct Shared {
    options: MockOptions,
    recorded: Mutex<Vec<RecordedRequest>>,
    in_flight: AtomicUsize,
    seq: AtomicU64,
    bench: bench::Bench,
    /// Model-list requests still to fail (from `MockOptions::model_list_failures`).
    model_list_failures_left: AtomicUsize,
}

impl App {
    fn new(options: MockOptions) -> App {
        App(Arc::new(Shared {
            model_list_failures_left: AtomicUsize::new(options.model_list_failures),
            options,
            recorded: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            bench: bench::Bench::new(),
        }))
    }

    pub fn options(&self) -> &MockOptions {
        &self.0.options
    }

    pub fn bench(&self) -> &bench::Bench {
        &self.0.bench
    }

    /// A number unique to this request, for ids (`chatcmpl-mock-7`, `req_mock_7`, …).
    pub fn next_seq(&self) -> u64 {
        self.0.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The recorded requests; a handler that panicked while holding the lock does not hide them.
    fn recorded(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.0.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits the configured latency and the model's `slow-first-byte`, then answers the
    /// behaviours that need no rendering: `hang` (never returns), `status-…`, `bad-json`.
    /// `None` means: render the normal answer.
    pub async fn gate(&self, behavior: &Behavior, family: Family, seq: u64) -> Option<Response> {
        let latency = self.0.options.latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(delay) = behavior.slow_first_byte {
            tokio::time::sleep(delay).await;
        }
        match behavior.outcome {
            Outcome::Answer => None,
            Outcome::Hang => match std::future::pending::<Infallible>().await {},
            Outcome::Status(status) => {
                let message = format!("switchyard-mock: status {} requested by the model name", status.as_u16());
                let mut response = error_response(family, status, &message);
                crate::stream::insert_request_id(response.headers_mut(), seq);
                Some(response)
            }
            Outcome::BadJson => Some(crate::stream::not_json(seq)),
        }
    }
}

/// All routes. OpenAI paths answer with and without the `/v1` prefix.
fn router(app: App) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/v1/models", get(openai::models))
        .route("/models", get(openai::models))
        .route("/v1/models/{*rest}", get(openai::model).post(gemini::generate_v1))
        .route("/models/{*rest}", get(openai::model))
        .route("/v1/chat/completions", post(openai::chat))
        .route("/chat/completions", post(openai::chat))
        .route("/v1/completions", post(openai::completions))
        .route("/completions", post(openai::completions))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/embeddings", post(openai::embeddings))
        .route("/v1/responses", post(responses::create))
        .route("/responses", post(responses::create))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1beta/models", get(gemini::models))
        .route("/v1beta/models/{*rest}", get(gemini::model).post(gemini::generate))
        .route("/api/tags", get(ollama::tags))
        .route("/api/version", get(ollama::version))
        .route("/_mock/requests", get(recorded_requests))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn root() -> &'static str {
    "switchyard-mock"
}

async fn health() -> &'static str {
    "ok"
}

/// What a test in another process (the dashboard's browser tests) can see of the recorded
/// requests: method, path, the body's `model`, the client tool header and the `authorization`
/// header (test keys only ever reach a mock), in arrival order; these look-ups excluded.
async fn recorded_requests(State(app): State<App>) -> Response {
    let list: Vec<serde_json::Value> = app
        .recorded()
        .iter()
        .filter(|r| !r.path_and_query.starts_with("/_mock/"))
        .map(|r| {
            serde_json::json!({
                "method": r.method,
                "path": r.path_and_query,
                "model": r.json().get("model").cloned().unwrap_or(serde_json::Value::Null),
                "authorization": r.header("authorization"),
            })
        })
        .collect();
    axum::Json(list).into_response()
}

async fn not_found() -> Response {
    error_response(Family::OpenAi, StatusCode::NOT_FOUND, "switchyard-mock: no such route")
}

/// Counts the request in flight, records it, runs the handler, and keeps the count until the
/// response body is done.
async fn observe(State(app): State<App>, request: Request, next: Next) -> Response {
    let guard = InFlight::enter(&app);
    let request = if app.0.options.record_disabled {
        request
    } else {
        let (parts, body) = request.into_parts();
        let body = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(body) => body,
            Err(_) => {
                return (StatusCode::BAD_REQUEST, "switchyard-mock: unreadable body").into_response();
            }
        };
        let recorded = RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect(),
            body: body.clone(),
        };
        app.recorded().push(recorded);
        Request::from_parts(parts, Body::from(body))
    };
    let response = match scripted(&app, &request) {
        Some(response) => response,
        None => next.run(request).await,
    };
    response.map(|body| Body::new(Guarded { body, guard: Some(guard) }))
}

/// The answers [`MockOptions`] script whatever the route: every POST redirected
/// (`redirect_to`), the first model-list GETs failing (`model_list_failures`).
fn scripted(app: &App, request: &Request) -> Option<Response> {
    let options = &app.0.options;
    if request.method() == http::Method::POST
        && let Some(location) = &options.redirect_to
    {
        return Some(
            Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header(http::header::LOCATION, location.as_str())
                .body(Body::empty())
                .unwrap_or_default(),
        );
    }
    let path = request.uri().path();
    let is_model_list = request.method() == http::Method::GET && (path.ends_with("/models") || path == "/api/tags");
    if is_model_list
        && app
            .0
            .model_list_failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok()
    {
        return Some(error_response(
            Family::OpenAi,
            StatusCode::SERVICE_UNAVAILABLE,
            "switchyard-mock: model list failing as scripted",
        ));
    }
    None
}

/// One request in flight; dropping it ends the count.
struct InFlight(App);

impl InFlight {
    fn enter(app: &App) -> InFlight {
        app.0.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(app.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that holds its request's [`InFlight`] until it ends, fails or is dropped.
/// It forwards the size hint, so whole bodies keep their `Content-Length`.
struct Guarded {
    body: Body,
    guard: Option<InFlight>,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Accepts connections until aborted; aborting drops the `JoinSet`, which aborts every
/// connection task.
async fn serve(listener: TcpListener, router: Router) {
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Best effort: without it small events may wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let builder = builder.clone();
                    let router = router.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                            router.clone().oneshot(request)
                        });
                        // A connection error (client gone, cut body) only ends this connection.
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    });
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
