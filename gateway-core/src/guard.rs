//! The localhost security baseline. A web page can reach a loopback server: by DNS rebinding (a
//! hostile name that resolves to 127.0.0.1, the attack Ollama had a CVE for) or by a cross-site
//! request. So every request must name the gateway itself in `Host`, and a browser request must
//! come from the gateway's own origin (and a browser's `Sec-Fetch-Site` must not name another
//! site). A `Host` that cannot be read is refused, never skipped. No CORS is offered to anyone else. The names and origins
//! allowed are `state::HostGuard`; this module is the layer that checks every request against it.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures_util::future::Either;
use http::header;

use crate::state::{AppState, request_authority};
use crate::wire::ApiFamily;

/// The layer that refuses requests for another host or from another origin, in the caller's
/// shape. A plain tower layer rather than `axum::middleware::from_fn`, which boxes a future and
/// a clone of the whole router for every request.
#[derive(Clone)]
pub struct GuardLayer {
    state: AppState,
}

impl GuardLayer {
    pub fn new(state: AppState) -> GuardLayer {
        GuardLayer { state }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded { inner, state: self.state.clone() }
    }
}

#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    state: AppState,
}

impl<S> tower::Service<Request> for Guarded<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let checked = request_authority(request.headers().get(header::HOST), request.uri())
            .and_then(|authority| self.state.guard().check(authority, request.headers()));
        if let Err(error) = checked {
            tracing::warn!(%error, "refused request");
            return Either::Left(ready(Ok(error.into_response_for(ApiFamily::from_path(request.uri().path())))));
        }
        Either::Right(self.inner.call(request))
    }
}
