//! The gateway's admin API as the app calls it. The gateway the app runs itself is called
//! in-process (its router, no socket), so the tray applies exactly the rules the dashboard's
//! HTTP calls do (promoting a model in a class, refusing local-only without a local server...);
//! a gateway another Switchyard runs is called over loopback HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use gateway_core::AppState;
use gateway_core::state::{ADMIN_TOKEN_HEADER, AdminToken};
use http::{Method, Request, header};
use serde_json::Value;
use tower::ServiceExt;

/// Largest admin answer read (the catalog of a big provider is a few hundred KB).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The gateway answered with an error; `code` is its machine-readable code
    /// (`no_local_server`, `not_installed`...).
    #[error("{message}")]
    Refused { status: u16, code: Option<String>, message: String },
    #[error("cannot reach the gateway: {0}")]
    Unreachable(String),
    #[error("the gateway's answer is not JSON: {0}")]
    BadAnswer(String),
}

impl AdminError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AdminError::Refused { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub enum Admin {
    InProcess(AppState),
    /// Another Switchyard on the port; `token` is the install's admin token (its file).
    Remote {
        base: String,
        http: reqwest::Client,
        token: Option<Arc<AdminToken>>,
    },
}

/// How long the link the tray opens the dashboard with stays good: it is used at once.
const LOGIN_LINK_LIFETIME: Duration = Duration::from_secs(120);

impl Admin {
    pub fn remote(port: u16, token: Option<Arc<AdminToken>>) -> Admin {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Admin::Remote { base: format!("http://127.0.0.1:{port}"), http, token }
    }

    fn token(&self) -> Option<&AdminToken> {
        match self {
            Admin::InProcess(state) => state.admin().token(),
            Admin::Remote { token, .. } => token.as_deref(),
        }
    }

    /// The path the dashboard window opens: a one-time login link that leaves the session
    /// cookie in the webview, or `/` when the admin API is open (or the token unknown).
    pub fn dashboard_path(&self) -> String {
        match self.token() {
            Some(token) => format!("/login?once={}", token.login_nonce(LOGIN_LINK_LIFETIME)),
            None => "/".to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, AdminError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value, AdminError> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str) -> Result<Value, AdminError> {
        self.call(Method::POST, path, None).await
    }

    /// `path` starts with `/api/`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, AdminError> {
        let (status, bytes) = match self {
            Admin::InProcess(state) => in_process(state, method, path, body).await?,
            Admin::Remote { base, http, token } => {
                let mut request = http.request(method, format!("{base}{path}"));
                if let Some(token) = token {
                    request = request.header(ADMIN_TOKEN_HEADER, token.secret());
                }
                if let Some(body) = body {
                    request = request.json(&body);
                }
                let response = request.send().await.map_err(|err| AdminError::Unreachable(err.to_string()))?;
                let status = response.status().as_u16();
                let bytes = response.bytes().await.map_err(|err| AdminError::Unreachable(err.to_string()))?;
                (status, bytes)
            }
        };
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| AdminError::BadAnswer(err.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let error = &value["error"];
        Err(AdminError::Refused {
            status,
            code: error["code"].as_str().map(str::to_owned),
            message: error["message"].as_str().unwrap_or("the gateway refused").to_owned(),
        })
    }
}

async fn in_process(
    state: &AppState,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, bytes::Bytes), AdminError> {
    let body = match body {
        Some(value) => Body::from(value.to_string()),
        None => Body::empty(),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = state.admin().token() {
        request = request.header(ADMIN_TOKEN_HEADER, token.secret());
    }
    let mut request = request.body(body).map_err(|err| AdminError::Unreachable(err.to_string()))?;
    // Handlers that attribute callers read the peer address; the app is a loopback caller.
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
    let response = match gateway_core::router(state.clone()).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
        .await
        .map_err(|err| AdminError::BadAnswer(err.to_string()))?;
    Ok((status, bytes))
}
