//! Who may use the admin API (`/api/*`): the layer that asks for the admin token
//! (`state::AdminToken`), and the dashboard's way in, `/login`, which turns a one-time link or a
//! pasted token into an HttpOnly, SameSite=Strict session cookie.
//!
//! `/metrics` and `/health` stay open: Prometheus scrapes without credentials, and they hold
//! counts and names, no bodies, keys or settings. Everything under `/api/` needs the token, the
//! usage summaries included: they are small, but who calls which model is the user's business
//! and the app and dashboard hold the token anyway.

use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::{ADMIN_TOKEN_HEADER, AdminAuth, AdminRefusal, AppState, SESSION_COOKIE};
use crate::wire::ApiFamily;

/// The layer on `/api/*`: the admin token as a bearer token, the `x-switchyard-admin-token`
/// header or the dashboard's cookie, else 401 in the admin envelope saying how to get in.
pub async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let refusal = match state.admin().check(request.headers()) {
        Ok(()) => return next.run(request).await,
        Err(refusal) => refusal,
    };
    let (code, first) = match refusal {
        AdminRefusal::Missing => ("admin_token_required", "this route needs Switchyard's admin token"),
        AdminRefusal::Wrong => ("admin_token_invalid", "the admin token presented is not this gateway's"),
    };
    let message = format!(
        "{first}: send it as `Authorization: Bearer …` or `{ADMIN_TOKEN_HEADER}` (`switchyard-gateway token` prints \
         it), or open the dashboard from the menu bar or the one-time link the gateway prints at start \
         (`switchyard-gateway dashboard-url` makes a new one)"
    );
    let mut response = ApiError::Unauthorized { code, message }.into_response_for(ApiFamily::Admin);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchyard\""));
    response
}

#[derive(Deserialize)]
pub struct LoginLink {
    once: Option<String>,
}

/// `GET /login?once=…`: a one-time link from the tray or the start-up line. Good: the session
/// cookie and a redirect to the dashboard. Used, expired or forged: a page saying how to get a
/// new one, with a form for the token.
pub async fn login_link(State(state): State<AppState>, Query(link): Query<LoginLink>) -> Response {
    let token = match state.admin() {
        AdminAuth::Open => return to_dashboard(None),
        AdminAuth::Token(token) => token,
    };
    let Some(once) = link.once.filter(|once| !once.is_empty()) else {
        return login_page(StatusCode::OK, None);
    };
    match token.redeem_login_nonce(&once) {
        Ok(()) => to_dashboard(Some(token.session_value())),
        Err(err) => {
            tracing::warn!(error = %err, "refused a dashboard login link");
            login_page(StatusCode::UNAUTHORIZED, Some(&err.to_string()))
        }
    }
}

/// `POST /login` with `token=…` (the page's form): the same cookie for the pasted token. The
/// Origin guard keeps other sites' forms out.
pub async fn login_form(State(state): State<AppState>, body: Bytes) -> Response {
    let token = match state.admin() {
        AdminAuth::Open => return to_dashboard(None),
        AdminAuth::Token(token) => token,
    };
    let pasted = url::form_urlencoded::parse(&body).find(|(name, _)| name == "token").map(|(_, value)| value);
    let mut headers = http::HeaderMap::new();
    if let Some(pasted) = pasted
        && let Ok(value) = HeaderValue::from_str(pasted.trim())
    {
        headers.insert(ADMIN_TOKEN_HEADER, value);
    }
    match token.check(&headers) {
        Ok(()) => to_dashboard(Some(token.session_value())),
        Err(_) => login_page(StatusCode::UNAUTHORIZED, Some("that is not this gateway's admin token")),
    }
}

/// `POST /logout`: forgets the dashboard's cookie.
pub async fn logout() -> Response {
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn to_dashboard(session: Option<&str>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    // A session cookie (no Max-Age): it ends with the browser, and a new link starts another.
    if let Some(session) = session
        && let Ok(value) =
            HeaderValue::from_str(&format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict"))
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let problem = problem.map(|p| format!("<p class=problem>{}</p>", escape(p))).unwrap_or_default();
    let page = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<title>Switchyard: sign in</title><style>body{{font:15px system-ui,sans-serif;max-width:40em;margin:3em auto;\
padding:0 1em;line-height:1.5}}code{{background:#8882;padding:0 .3em;border-radius:3px}}.problem{{color:#b3261e}}\
input{{font:inherit;width:100%;box-sizing:border-box;padding:.4em}}button{{font:inherit;margin-top:.6em}}</style>\
<h1>Switchyard</h1>{problem}<p>The dashboard needs this gateway's admin token. To get in:</p><ul>\
<li>choose <b>Open dashboard…</b> in Switchyard's menu-bar menu, or</li>\
<li>open the one-time link the gateway printed when it started; <code>switchyard-gateway dashboard-url</code> \
prints a new one, or</li><li>paste the token (<code>switchyard-gateway token</code> prints it):</li></ul>\
<form method=post action=/login><input name=token type=password autocomplete=off \
placeholder=\"sya_…\" aria-label=\"Admin token\"><button type=submit>Sign in</button></form>"
    );
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    ];
    (status, headers, page).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
