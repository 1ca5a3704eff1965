//! The accept loop: hyper-util's HTTP/1 + HTTP/2 server run by hand, because `axum::serve` has
//! no header-read timeout, no connection limit and no per-connection check. For each
//! connection, in order:
//! 1. a permit from the connection limit (`server.max_connections`), taken *before* `accept`:
//!    beyond the limit, new connections wait unaccepted in the kernel's backlog until one closes;
//! 2. TCP_NODELAY;
//! 3. the owner check (`server.allow_other_users`): a loopback peer must be a process of this
//!    OS user, looked up once per connection off the async workers (it reads /proc or libproc);
//!    another user's connection gets a 403 in its API's error shape, then is closed;
//! 4. the first bytes within `server.header_read_timeout_secs` (the HTTP/1-or-2 sniffing has no
//!    timeout of its own), then hyper's header-read timeout for every HTTP/1 request head;
//! 5. the router, with `ConnectInfo<SocketAddr>` in each request's extensions.
//!
//! Shutdown: stop accepting, let each connection finish its in-flight requests (hyper's graceful
//! shutdown), wait for them. The connections are tasks of a `JoinSet` owned by the serve future,
//! so aborting that future (the shutdown's grace ran out) closes them all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::error::ApiError;
use crate::usage::attribution;
use crate::wire::ApiFamily;

/// The listener's limits, from `[server]`.
#[derive(Clone, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Who owns the client end of a loopback connection: `(peer, local) -> uid`. Blocking.
pub type OwnerLookup = Arc<dyn Fn(SocketAddr, SocketAddr) -> Option<u32> + Send + Sync>;

/// The owner check: the uid to match and how to find a peer's. `None` serves everyone.
#[derive(Clone)]
pub struct OwnerCheck {
    pub own_uid: u32,
    pub lookup: OwnerLookup,
}

impl OwnerCheck {
    /// This platform's lookup; `None` where the platform cannot tell a peer's user.
    pub fn platform() -> Option<OwnerCheck> {
        let own_uid = attribution::own_uid()?;
        let lookup: OwnerLookup = Arc::new(|peer, local| attribution::platform_lookup().owner_uid(peer, local));
        Some(OwnerCheck { own_uid, lookup })
    }

    /// Why the connection is refused, if it is. A peer that is not on loopback is not checked:
    /// binding off loopback is refused at start (`server::remote_bind_allowed`), and remote
    /// callers will be vetted by virtual keys. A peer whose owner cannot be found is refused
    /// (fail closed): on macOS another user's processes cannot even be looked at.
    async fn refusal(&self, peer: SocketAddr, local: SocketAddr) -> Option<String> {
        if !peer.ip().is_loopback() {
            return None;
        }
        let lookup = self.lookup.clone();
        let owner = tokio::task::spawn_blocking(move || lookup(peer, local)).await.ok().flatten();
        match owner {
            Some(uid) if uid == self.own_uid => None,
            Some(uid) => Some(format!(
                "this gateway serves only its own user's programs, and this connection comes from another user's (uid {uid}); set server.allow_other_users = true to allow it"
            )),
            None => Some(
                "this gateway serves only its own user's programs, and the owner of this connection could not be found; set server.allow_other_users = true to serve every local user".to_owned(),
            ),
        }
    }
}

/// Serves `app` on `listener` until `stopping` is cancelled, then waits for the open
/// connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    owner: Option<OwnerCheck>,
    stopping: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    'accepting: loop {
        let permit = tokio::select! {
            biased;
            () = stopping.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            // Finished connections are reaped while the limit is reached.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = loop {
            tokio::select! {
                biased;
                () = stopping.cancelled() => break 'accepting,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => break accepted,
                    Err(err) => accept_failed(err).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        let _ = tcp.set_nodelay(true);
        let (app, builder, owner, stopping) = (app.clone(), builder.clone(), owner.clone(), stopping.clone());
        let header_timeout = limits.header_read_timeout;
        connections.spawn(async move {
            let _permit = permit;
            // A client that has sent nothing when the gateway stops is closed at once, not
            // waited for until its header timeout.
            let started = tokio::select! {
                started = first_bytes(&tcp, header_timeout) => started,
                () = stopping.cancelled() => false,
            };
            if !started {
                return;
            }
            let refusal = match &owner {
                Some(check) => check.refusal(peer, local).await,
                None => None,
            };
            let io = TokioIo::new(tcp);
            match refusal {
                Some(message) => {
                    tracing::warn!(%peer, "refused a connection from another user's process");
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let message = message.clone();
                        async move { Ok::<_, Infallible>(refused(&request, message)) }
                    });
                    let _ = builder.serve_connection(io, service).await;
                }
                None => {
                    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        app.clone().oneshot(request)
                    });
                    let connection = builder.serve_connection_with_upgrades(io, service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = stopping.cancelled() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                }
            }
        });
    }
    // Closed first, so new connections are refused while the open ones finish.
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Errors of one connection (reset before it was accepted) are skipped; others (out of file
/// descriptors) pause accepting for a moment instead of spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "cannot accept connections; retrying in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits (up to `timeout`) until the client has sent enough to tell HTTP/1 from HTTP/2: hyper
/// reads those bytes without a timer, so a client that connects and sends nothing would hold a
/// connection forever. False: timed out or closed.
async fn first_bytes(tcp: &TcpStream, timeout: Duration) -> bool {
    let wait = async {
        let mut buf = [0u8; 24];
        loop {
            match tcp.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n >= H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] => return true,
                // Part of the HTTP/2 preface: `peek` does not consume, so wait for the rest.
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.unwrap_or(false)
}

/// The 403 a refused connection gets, in the error shape of the API it called.
fn refused(request: &Request<Incoming>, message: String) -> Response {
    let family = ApiFamily::from_path(request.uri().path());
    let mut response = ApiError::ForbiddenPeer { message }.into_response_for(family);
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
