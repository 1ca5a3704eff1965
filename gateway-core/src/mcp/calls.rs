//! A tool call through the gateway: the served name resolved to its server, the caller's key
//! checked, the call made with the server's timeout (and cancelled upstream when the caller goes
//! away or the time is up), progress passed back, and the call recorded (usage log, metrics).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, CancelledNotificationParam,
    ClientRequest, JsonObject, ProgressNotificationParam, ProgressToken, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleServer, ServiceError};
use tokio_util::sync::CancellationToken;

use super::{Hub, McpHub, ServerSlot};
use crate::usage::tool_calls::{ToolCallEntry, ToolCallStatus};

/// Where a call came from (the log's `origin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOrigin {
    /// A client of `/mcp`.
    Mcp,
    /// `POST /v1/mcp/tool/execute`.
    Execute,
    /// Agent mode, run by the gateway inside a model request.
    Agent,
}

impl CallOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOrigin::Mcp => "mcp",
            CallOrigin::Execute => "execute",
            CallOrigin::Agent => "agent",
        }
    }
}

/// Which tools a caller may see and call.
#[derive(Clone, Debug, Default)]
pub enum ToolAccess {
    /// Every served tool (no virtual key, or the gateway's own use).
    #[default]
    All,
    /// A virtual key's `mcp_configs`: per server, its tools (`["*"]` all). A server not listed
    /// is not allowed.
    Only(Vec<(String, Vec<String>)>),
}

impl ToolAccess {
    pub fn allows(&self, server: &str, tool: &str) -> bool {
        match self {
            ToolAccess::All => true,
            ToolAccess::Only(servers) => {
                servers.iter().any(|(name, tools)| name == server && crate::config::tool_listed(tools, tool))
            }
        }
    }

    pub fn allows_server(&self, server: &str) -> bool {
        match self {
            ToolAccess::All => true,
            ToolAccess::Only(servers) => servers.iter().any(|(name, tools)| name == server && !tools.is_empty()),
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    pub client: Option<String>,
    pub virtual_key: Option<String>,
    pub access: ToolAccess,
    pub origin: CallOrigin,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no tool `{0}` is served (see tools/list)")]
    UnknownTool(String),
    #[error("this virtual key may not use the tool `{0}`")]
    NotAllowed(String),
    #[error("the MCP server `{0}` is not connected")]
    NotConnected(String),
    #[error("the tool `{tool}` did not answer within {secs} s")]
    Timeout { tool: String, secs: u64 },
    #[error("the call was cancelled")]
    Cancelled,
    #[error("the MCP server `{server}` failed the call: {message}")]
    Upstream { server: String, message: String },
}

impl CallError {
    /// The JSON-RPC error code `/mcp` answers with.
    pub fn jsonrpc_code(&self) -> i32 {
        match self {
            CallError::UnknownTool(_) => -32602,
            CallError::NotAllowed(_) => -32003,
            CallError::NotConnected(_) => -32002,
            CallError::Timeout { .. } => -32001,
            CallError::Cancelled => -32800,
            CallError::Upstream { .. } => -32603,
        }
    }

    /// The HTTP status `/v1/mcp/tool/execute` answers with.
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            CallError::UnknownTool(_) => http::StatusCode::NOT_FOUND,
            CallError::NotAllowed(_) => http::StatusCode::FORBIDDEN,
            CallError::NotConnected(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            CallError::Timeout { .. } => http::StatusCode::GATEWAY_TIMEOUT,
            CallError::Cancelled => http::StatusCode::BAD_REQUEST,
            CallError::Upstream { .. } => http::StatusCode::BAD_GATEWAY,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, CallError::NotConnected(_) | CallError::Timeout { .. })
    }

    /// The error as the HTTP APIs answer it (`/v1/mcp/tool/execute`, agent mode).
    pub fn to_api_error(&self) -> crate::error::ApiError {
        let code = match self {
            CallError::UnknownTool(_) => "tool_not_found",
            CallError::NotAllowed(_) => "tool_not_allowed",
            CallError::NotConnected(_) => "mcp_server_unavailable",
            CallError::Timeout { .. } => "tool_timeout",
            CallError::Cancelled => "cancelled",
            CallError::Upstream { .. } => "mcp_server_error",
        };
        crate::error::ApiError::Tool { status: self.status_code(), code, message: self.to_string() }
    }

    fn status(&self) -> ToolCallStatus {
        match self {
            CallError::UnknownTool(_) | CallError::NotAllowed(_) => ToolCallStatus::Denied,
            CallError::Timeout { .. } => ToolCallStatus::Timeout,
            CallError::Cancelled => ToolCallStatus::Cancelled,
            CallError::NotConnected(_) | CallError::Upstream { .. } => ToolCallStatus::Error,
        }
    }
}

/// Where progress of a call goes: the `/mcp` client's session, under its own token.
pub struct ProgressSink {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

/// Progress tokens the gateway sent upstream, and whose they are.
#[derive(Default)]
pub struct ProgressRoutes(std::sync::Mutex<HashMap<(String, ProgressToken), Arc<ProgressSink>>>);

impl ProgressRoutes {
    fn insert(&self, key: (String, ProgressToken), sink: Arc<ProgressSink>) {
        if let Ok(mut routes) = self.0.lock() {
            routes.insert(key, sink);
        }
    }

    fn remove(&self, key: &(String, ProgressToken)) {
        if let Ok(mut routes) = self.0.lock() {
            routes.remove(key);
        }
    }

    /// Passes a server's progress notification on to the caller that asked for it.
    pub async fn forward(&self, server: &str, mut params: ProgressNotificationParam) {
        let key = (server.to_owned(), params.progress_token.clone());
        let sink = self.0.lock().ok().and_then(|routes| routes.get(&key).cloned());
        if let Some(sink) = sink {
            params.progress_token = sink.token.clone();
            if let Err(err) = sink.peer.notify_progress(params).await {
                tracing::debug!(error = %err, "could not pass MCP progress on");
            }
        }
    }
}

/// Removes a progress route when the call ends, however it ends.
struct RouteGuard<'a> {
    routes: &'a ProgressRoutes,
    key: (String, ProgressToken),
}

impl Drop for RouteGuard<'_> {
    fn drop(&mut self) {
        self.routes.remove(&self.key);
    }
}

impl McpHub {
    /// Calls a served tool. A tool that ran and failed is `Ok` with `is_error: true` (the MCP
    /// way); `Err` is a call that could not be made or finished.
    pub async fn call_tool(
        &self,
        caller: &Caller,
        served_name: &str,
        arguments: Option<JsonObject>,
        progress: Option<ProgressSink>,
        cancelled: Option<CancellationToken>,
    ) -> Result<CallToolResponse, CallError> {
        let started = Instant::now();
        let index = self.index();
        let Some(served) = index.tool(served_name) else {
            let error = CallError::UnknownTool(served_name.to_owned());
            self.0.record(caller, None, served_name, started, &error_outcome(&error), arguments.as_ref(), None);
            return Err(error);
        };
        let slot = served.server.clone();
        let tool = served.tool.name.to_string();
        if !caller.access.allows(&slot.name, &tool) {
            let error = CallError::NotAllowed(served_name.to_owned());
            self.0.record(caller, Some(&slot), &tool, started, &error_outcome(&error), arguments.as_ref(), None);
            return Err(error);
        }
        let result = self.0.call_on(&slot, &tool, arguments.clone(), progress, cancelled).await;
        let outcome = match &result {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                (ToolCallStatus::ToolError, Some(result_text(result)))
            }
            Ok(_) => (ToolCallStatus::Ok, None),
            Err(error) => error_outcome(error),
        };
        let answer = match &result {
            Ok(CallToolResponse::Complete(result)) => serde_json::to_string(result).ok(),
            Ok(_) => None,
            Err(_) => None,
        };
        self.0.record(caller, Some(&slot), &tool, started, &outcome, arguments.as_ref(), answer);
        result
    }
}

fn error_outcome(error: &CallError) -> (ToolCallStatus, Option<String>) {
    (error.status(), Some(error.to_string()))
}

/// The text of a result's content (what a tool error says).
pub fn result_text(result: &CallToolResult) -> String {
    let mut text = String::new();
    for block in &result.content {
        if let Some(t) = block.as_text() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&t.text);
        }
    }
    text
}

/// What a tool call answered, as the text a model reads: its text blocks, else its content as
/// JSON (images, resources), else its structured content.
pub fn result_content(result: &CallToolResult) -> String {
    let text = result_text(result);
    if !text.is_empty() || result.content.is_empty() && result.structured_content.is_none() {
        return text;
    }
    if !result.content.is_empty() {
        return serde_json::to_string(&result.content).unwrap_or_default();
    }
    result.structured_content.as_ref().map(serde_json::Value::to_string).unwrap_or_default()
}

impl Hub {
    async fn call_on(
        &self,
        slot: &Arc<ServerSlot>,
        tool: &str,
        arguments: Option<JsonObject>,
        progress: Option<ProgressSink>,
        cancelled: Option<CancellationToken>,
    ) -> Result<CallToolResponse, CallError> {
        let Some(peer) = slot.peer.load_full() else {
            return Err(CallError::NotConnected(slot.name.clone()));
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let timeout = slot.timeout(self.settings.tool_timeout);
        let upstream_error = |err: ServiceError| match err {
            ServiceError::Timeout { .. } => CallError::Timeout {
                tool: format!("{}{}{}", slot.name, super::SEPARATOR, tool),
                secs: timeout.as_secs(),
            },
            other => CallError::Upstream { server: slot.name.clone(), message: other.to_string() },
        };
        // The SDK gives every request its own progress token; progress arriving under it is
        // passed on to the caller (under the caller's token) while the call runs. The SDK's
        // timeout sends `notifications/cancelled` upstream when the time is up.
        let handle = peer
            .send_request_with_option(
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
                PeerRequestOptions::with_timeout(timeout),
            )
            .await
            .map_err(upstream_error)?;
        let request_id = handle.id.clone();
        let _route = progress.map(|sink| {
            let key = (slot.name.clone(), handle.progress_token.clone());
            self.progress.insert(key.clone(), Arc::new(sink));
            RouteGuard { routes: &self.progress, key }
        });
        let cancelled = cancelled.unwrap_or_default();
        let response = tokio::select! {
            () = cancelled.cancelled() => {
                let _ = peer.notify_cancelled(CancelledNotificationParam::new(Some(request_id), Some("the caller went away".into()))).await;
                return Err(CallError::Cancelled);
            }
            response = handle.await_response() => response.map_err(upstream_error)?,
        };
        match response {
            ServerResult::CallToolResult(result) => Ok(CallToolResponse::Complete(result)),
            ServerResult::InputRequiredResult(result) => Ok(CallToolResponse::InputRequired(result)),
            ServerResult::CreateTaskResult(result) => Ok(CallToolResponse::Task(result)),
            ServerResult::EmptyResult(_) => Ok(CallToolResponse::Complete(CallToolResult::success(Vec::new()))),
            _ => Err(CallError::Upstream {
                server: slot.name.clone(),
                message: "the server answered tools/call with another result".into(),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        caller: &Caller,
        slot: Option<&Arc<ServerSlot>>,
        tool: &str,
        started: Instant,
        outcome: &(ToolCallStatus, Option<String>),
        arguments: Option<&JsonObject>,
        answer: Option<String>,
    ) {
        let Some(usage) = &self.usage else { return };
        let cap = usage.body_cap();
        let keep = |text: Option<String>| -> Option<String> {
            let cap = cap?;
            let mut text = text?;
            if text.len() > cap {
                let mut cut = cap;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            Some(text)
        };
        let server = slot.map_or_else(|| "unknown".to_owned(), |s| s.name.clone());
        usage.record_tool_call(ToolCallEntry {
            id: None,
            ts_ms: crate::governance::now_ms() - started.elapsed().as_millis() as i64,
            server,
            tool: tool.to_owned(),
            client: caller.client.clone(),
            virtual_key: caller.virtual_key.clone(),
            origin: caller.origin.as_str(),
            status: outcome.0,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            error: outcome.1.clone(),
            arguments: keep(arguments.and_then(|a| serde_json::to_string(a).ok())),
            result: keep(answer),
        });
    }
}
