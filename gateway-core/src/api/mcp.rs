//! The MCP gateway's HTTP surface:
//! - `/mcp`: the MCP endpoint (Streamable HTTP), the caller worked out here first (`caller`):
//!   the calling tool, and the virtual key with what its `mcp_configs` allow;
//! - `POST /v1/mcp/tool/execute`: one tool call in Bifrost's shape (an OpenAI tool call in, a
//!   `role: "tool"` message out; `?format=responses` for the Responses API's items);
//! - the admin API in Bifrost's paths: `GET /api/mcp/clients`, `POST /api/mcp/client`,
//!   `PUT`/`DELETE /api/mcp/client/{id}`, `POST /api/mcp/client/{id}/reconnect`; and
//!   Switchyard's own `GET /api/mcp/tools` (what is served, under which names),
//!   `GET /api/mcp/calls` (the call log) and `GET /api/mcp/stats` (calls per tool and over time).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rmcp::model::{CallToolResponse, JsonObject};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::admin_error::{AdminResult, admin};
use crate::config::{McpServerConfig, McpTransport, check_server_name};
use crate::error::ApiError;
use crate::mcp::{CallOrigin, Caller, ServerSlot, StoreError, ToolAccess};
use crate::state::AppState;
use crate::usage::tool_calls::{self, ToolCallFilter};
use crate::wire::ApiFamily;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mcp/clients", get(clients))
        .route("/mcp/client", post(create))
        .route("/mcp/client/{id}", put(update).delete(remove).get(client))
        .route("/mcp/client/{id}/reconnect", post(reconnect))
        .route("/mcp/tools", get(tools))
        .route("/mcp/calls", get(calls))
        .route("/mcp/stats", get(stats))
}

/// `/mcp` with its caller middleware (the router adds the guard around it).
pub fn endpoint(state: &AppState) -> Router<AppState> {
    let service = crate::mcp::mcp_service(state.mcp().clone(), state.max_body_bytes());
    Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(state.clone(), attach_caller))
}

/// The calling tool of each MCP session, found once: an MCP client's requests often come on new
/// connections (a POST answered as a stream is not reused), and finding the process behind a
/// new connection reads `/proc` (milliseconds), which a `tools/call` must not pay each time.
type SessionClients = std::collections::HashMap<String, (std::time::Instant, Option<String>)>;
static SESSION_CLIENTS: std::sync::LazyLock<std::sync::Mutex<SessionClients>> =
    std::sync::LazyLock::new(Default::default);
const SESSION_CLIENT_TTL: std::time::Duration = std::time::Duration::from_secs(3600);
const SESSION_CLIENTS_MAX: usize = 4096;

async fn session_client(headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<String> {
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).filter(|s| s.len() <= 256);
    if let Some(session) = session
        && let Ok(cache) = SESSION_CLIENTS.lock()
        && let Some((at, client)) = cache.get(session)
        && at.elapsed() < SESSION_CLIENT_TTL
    {
        return client.clone();
    }
    let client = crate::usage::attribution::identify(headers, peer).await.client;
    if let Some(session) = session
        && let Ok(mut cache) = SESSION_CLIENTS.lock()
    {
        if cache.len() >= SESSION_CLIENTS_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < SESSION_CLIENT_TTL);
            if cache.len() >= SESSION_CLIENTS_MAX {
                cache.clear();
            }
        }
        cache.insert(session.to_owned(), (std::time::Instant::now(), client.clone()));
    }
    client
}

async fn attach_caller(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let client = session_client(request.headers(), peer).await;
    match caller_with(&state, request.headers(), client, CallOrigin::Mcp) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            json_rpc_errors(next.run(request).await).await
        }
        Err(err) => err.into_response_for(ApiFamily::Mcp),
    }
}

/// The SDK answers what it cannot read (bad JSON, not JSON-RPC, an unknown session, a missing
/// `Accept`) with a plain-text status. A client reads JSON-RPC here, so such an answer becomes a
/// JSON-RPC error with no id, its text as the message and the same status.
async fn json_rpc_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The SDK's messages are a line; more is not read.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
    let lowered = message.to_ascii_lowercase();
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            if lowered.contains("deserialize") || lowered.contains("parse") || lowered.contains("eof") =>
        {
            -32700
        }
        StatusCode::NOT_FOUND => -32001,
        StatusCode::METHOD_NOT_ALLOWED => -32601,
        status if status.is_server_error() => -32603,
        _ => -32600,
    };
    let body = json!({ "jsonrpc": "2.0", "id": Value::Null, "error": { "code": code, "message": message } });
    let mut response = (status, Json(body)).into_response();
    for (name, value) in
        parts.headers.iter().filter(|(name, _)| name.as_str().starts_with("mcp-") || *name == http::header::ALLOW)
    {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Who is calling: the tool (as model requests are attributed) and the virtual key with the
/// MCP tools it may use. With `require_virtual_key` on, a key is needed.
pub async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    origin: CallOrigin,
) -> Result<Caller, ApiError> {
    let client = crate::usage::attribution::identify(headers, peer).await.client;
    caller_with(state, headers, client, origin)
}

/// The caller, the calling tool known.
fn caller_with(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<String>,
    origin: CallOrigin,
) -> Result<Caller, ApiError> {
    let governance = state.governance();
    let key = crate::pipeline::policy::listing_key(state, headers, None);
    let refuse =
        |status, code, message: &str| ApiError::Governance { status, code, message: message.into(), retry_after: None };
    if key.is_none() && governance.required {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "virtual_key_required",
            "a virtual key is required: send it as `Authorization: Bearer`, `x-bf-vk` or `x-switchyard-vk`",
        ));
    }
    if key.is_none() && headers.contains_key("x-bf-vk") | headers.contains_key("x-switchyard-vk") {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "virtual_key_not_found",
            "virtual key not found: it does not exist or was deleted",
        ));
    }
    let access = match &key {
        None => ToolAccess::All,
        Some(entry) if !entry.spec.is_active => {
            return Err(refuse(StatusCode::FORBIDDEN, "virtual_key_blocked", "this virtual key is inactive"));
        }
        Some(entry) => {
            let hub = state.mcp();
            ToolAccess::Only(
                entry
                    .spec
                    .mcp_configs
                    .iter()
                    .map(|config| {
                        // A key may name a server by its id; access is checked by name.
                        let name = hub
                            .slot(&config.mcp_client_name)
                            .map_or(config.mcp_client_name.clone(), |s| s.name.clone());
                        (name, config.tools_to_execute.clone())
                    })
                    .collect(),
            )
        }
    };
    Ok(Caller { client, virtual_key: key.map(|entry| entry.spec.id.clone()), access, origin })
}

// ----- POST /v1/mcp/tool/execute -----

#[derive(Deserialize)]
pub struct ExecuteQuery {
    format: Option<String>,
}

/// An OpenAI tool call (`{id, type, function: {name, arguments}}`) or a Responses
/// `function_call` item (`{type, call_id, name, arguments}`).
#[derive(Deserialize)]
struct ExecuteBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    function: Option<ExecuteFunction>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct ExecuteFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

/// Tool arguments as OpenAI sends them (a JSON string) or as an object.
pub fn arguments_object(arguments: Option<&Value>) -> Result<Option<JsonObject>, String> {
    match arguments {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err("the tool call's arguments must be a JSON object".into()),
            Err(err) => Err(format!("the tool call's arguments are not valid JSON: {err}")),
        },
        Some(_) => Err("the tool call's arguments must be a JSON object (or a string holding one)".into()),
    }
}

pub async fn execute(
    State(state): State<AppState>,
    Query(query): Query<ExecuteQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let family = ApiFamily::OpenAi;
    let responses = match query.format.as_deref() {
        None | Some("chat") => false,
        Some("responses") => true,
        Some(other) => {
            return ApiError::InvalidRequest {
                message: format!("unknown format `{other}`: use `chat` (the default) or `responses`"),
                param: Some("format"),
            }
            .into_response_for(family);
        }
    };
    if body.len() > state.max_body_bytes() {
        return ApiError::BodyTooLarge { limit: state.max_body_bytes() }.into_response_for(family);
    }
    let parsed: ExecuteBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(err) => return ApiError::MalformedJson(err.to_string()).into_response_for(family),
    };
    let (name, arguments, call_id) = match (parsed.function, parsed.name) {
        (Some(function), _) => (function.name, function.arguments, parsed.id.or(parsed.call_id)),
        (None, Some(name)) => (name, parsed.arguments, parsed.call_id.or(parsed.id)),
        (None, None) => {
            return ApiError::InvalidRequest {
                message: "Tool function name is required".into(),
                param: Some("function.name"),
            }
            .into_response_for(family);
        }
    };
    let arguments = match arguments_object(arguments.as_ref()) {
        Ok(arguments) => arguments,
        Err(message) => {
            return ApiError::InvalidRequest { message, param: Some("function.arguments") }.into_response_for(family);
        }
    };
    let caller = match caller(&state, &headers, Some(peer), CallOrigin::Execute).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response_for(family),
    };
    let result = match state.mcp().call_tool(&caller, &name, arguments, None, None).await {
        Ok(CallToolResponse::Complete(result)) => result,
        Ok(_) => {
            return ApiError::Tool {
                status: StatusCode::BAD_GATEWAY,
                code: "mcp_server_error",
                message: format!("the tool `{name}` asked for input or started a task; call it through /mcp"),
            }
            .into_response_for(family);
        }
        Err(err) => return err.to_api_error().into_response_for(family),
    };
    let content = crate::mcp::result_content(&result);
    let call_id = call_id.unwrap_or_default();
    let body = if responses {
        json!({ "type": "function_call_output", "call_id": call_id, "output": content })
    } else {
        json!({ "role": "tool", "content": content, "tool_call_id": call_id })
    };
    Json(body).into_response()
}

// ----- the admin API -----

/// A server as `GET /api/mcp/clients` shows it: Bifrost's `{config, tools, state}` and
/// Switchyard's own fields beside them (why it is in its state, since when, where its settings
/// come from, what it said it is).
fn client_view(slot: &ServerSlot, local_only: bool) -> Value {
    let status = slot.status();
    let config = &slot.config;
    let headers: BTreeMap<&String, String> =
        config.headers.iter().map(|(name, value)| (name, crate::config::KeyRef::parse(value).describe())).collect();
    let env: BTreeMap<&String, String> =
        config.env.iter().map(|(name, value)| (name, crate::config::KeyRef::parse(value).describe())).collect();
    let tools: Vec<Value> = status
        .tools
        .iter()
        .map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema,
                "served_as": slot.serves(&tool.name).then(|| format!("{}{}{}", slot.name, crate::mcp::SEPARATOR, tool.name)),
                "auto_execute": slot.auto_executes(&tool.name),
            })
        })
        .collect();
    json!({
        "config": {
            "client_id": slot.client_id,
            "name": slot.name,
            "connection_type": config.transport.as_str(),
            "connection_string": config.url,
            "stdio_config": config.command.as_ref().map(|command| json!({
                "command": command,
                "args": config.args,
                "envs": config.env.keys().collect::<Vec<_>>(),
            })),
            "headers": headers,
            "env": env,
            "cwd": config.cwd,
            "tools_to_execute": config.tools_to_execute,
            "tools_to_auto_execute": config.tools_to_auto_execute,
            "disabled": config.disabled,
            "tool_execution_timeout": config.tool_timeout_secs,
        },
        "tools": tools,
        "state": status.state,
        "reason": status.reason,
        "since": crate::governance::reset::rfc3339(status.since_ms),
        "source": slot.source,
        "local": slot.is_local(),
        "hidden_by_local_only": local_only && !slot.is_local(),
        "server_info": status.server_name.as_ref().map(|name| json!({"name": name, "version": status.server_version})),
        "protocol_version": status.protocol_version,
        "restarts": status.restarts,
        "pid": status.pid,
        "prompts": status.prompts.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "resources": status.resources.len(),
    })
}

async fn clients(State(state): State<AppState>) -> AdminResult {
    let hub = state.mcp();
    let local_only = hub.local_only();
    let list: Vec<Value> = hub.slots().iter().map(|slot| client_view(slot, local_only)).collect();
    let count = list.len();
    Ok(Json(json!({ "clients": list, "count": count, "total_count": count, "limit": count, "offset": 0 })))
}

async fn client(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    let hub = state.mcp();
    let slot = hub.slot(&id).ok_or_else(|| admin(ApiError::NotFound { message: format!("no MCP server `{id}`") }))?;
    Ok(Json(client_view(&slot, hub.local_only())))
}

/// A server as Bifrost's API takes it, with Switchyard's `env` and `cwd` beside. Fields of
/// Bifrost's that mean nothing here are accepted and named in the answer's `warnings`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClientBody {
    client_id: Option<String>,
    name: Option<String>,
    connection_type: Option<McpTransport>,
    connection_string: Option<String>,
    stdio_config: Option<StdioBody>,
    headers: Option<BTreeMap<String, String>>,
    auth_type: Option<String>,
    tools_to_execute: Option<Vec<String>>,
    tools_to_auto_execute: Option<Vec<String>>,
    disabled: Option<bool>,
    tool_execution_timeout: Option<Value>,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<PathBuf>,
    // Bifrost's, without a meaning here.
    is_ping_available: Option<Value>,
    tool_sync_interval: Option<Value>,
    is_code_mode_client: Option<Value>,
    tool_pricing: Option<Value>,
    allow_on_all_virtual_keys: Option<Value>,
    allowed_extra_headers: Option<Value>,
    vk_configs: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StdioBody {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    /// Bifrost's: names of the gateway's variables the child gets. A child here inherits the
    /// gateway's whole environment, so these are only checked to exist.
    #[serde(default)]
    envs: Vec<String>,
}

fn parse_body(body: &Bytes) -> Result<ClientBody, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        ApiError::InvalidRequest { message: format!("`{path}`: {}", err.into_inner()), param: None }
    })
}

/// Applies a body to a server's settings (a new server's start from the defaults); returns
/// the warnings to answer with.
fn apply(
    body: ClientBody,
    config: &mut McpServerConfig,
    creating: bool,
    state: &AppState,
) -> Result<Vec<String>, ApiError> {
    let invalid = |message: String| ApiError::InvalidRequest { message, param: None };
    let mut warnings = Vec::new();
    if let Some(kind) = body.auth_type.as_deref()
        && !matches!(kind, "none" | "headers")
    {
        return Err(invalid(format!("auth_type `{kind}` is not supported: use `headers` (tokens in `headers`)")));
    }
    if let Some(kind) = body.connection_type {
        config.transport = kind;
    }
    if let Some(url) = body.connection_string {
        let url = match crate::config::KeyRef::parse(&url) {
            crate::config::KeyRef::Env(name) => (state.inner().env)(&name)
                .ok_or_else(|| invalid(format!("connection_string: the environment variable {name} is not set")))?,
            _ => url,
        };
        config.url = Some(url);
        config.command = None;
        config.args.clear();
    }
    if let Some(stdio) = body.stdio_config {
        for name in &stdio.envs {
            if (state.inner().env)(name).is_none() {
                warnings.push(format!("stdio_config.envs: {name} is not set in the gateway's environment"));
            }
        }
        config.command = Some(stdio.command);
        config.args = stdio.args;
        config.url = None;
    }
    if let Some(headers) = body.headers {
        config.headers = headers;
    }
    if let Some(env) = body.env {
        config.env = env;
    }
    if let Some(cwd) = body.cwd {
        config.cwd = Some(cwd);
    }
    match body.tools_to_execute {
        Some(tools) => config.tools_to_execute = tools,
        None if creating => {
            config.tools_to_execute = Vec::new();
            warnings.push(
                "tools_to_execute was not given: no tool of this server is served (Bifrost's rule); send [\"*\"] for all".into(),
            );
        }
        None => {}
    }
    if let Some(tools) = body.tools_to_auto_execute {
        config.tools_to_auto_execute = tools;
    }
    if let Some(disabled) = body.disabled {
        config.disabled = disabled;
    }
    if let Some(timeout) = body.tool_execution_timeout {
        config.tool_timeout_secs = match &timeout {
            Value::Number(n) => n.as_u64(),
            Value::String(text) => crate::config::parse_ttl(text).map(|d| d.as_secs()),
            Value::Null => None,
            _ => return Err(invalid("tool_execution_timeout: seconds, or a duration such as \"30s\"".into())),
        };
    }
    for (field, given) in [
        ("is_ping_available", body.is_ping_available.is_some()),
        ("tool_sync_interval", body.tool_sync_interval.is_some()),
        ("is_code_mode_client", body.is_code_mode_client.is_some()),
        ("tool_pricing", body.tool_pricing.is_some()),
        ("allow_on_all_virtual_keys", body.allow_on_all_virtual_keys.is_some()),
        ("allowed_extra_headers", body.allowed_extra_headers.is_some()),
        ("vk_configs", body.vk_configs.is_some()),
    ] {
        if given {
            warnings.push(format!("{field} is ignored here (see the README's MCP section)"));
        }
    }
    config.check().map_err(|(field, message)| invalid(format!("{field}: {message}")))?;
    Ok(warnings)
}

fn store_error(err: StoreError) -> crate::error::FamilyError {
    admin(match err.status_code() {
        StatusCode::NOT_FOUND => ApiError::NotFound { message: err.to_string() },
        StatusCode::CONFLICT => ApiError::Conflict { message: err.to_string() },
        _ => ApiError::Internal(err.to_string()),
    })
}

async fn create(State(state): State<AppState>, body: Bytes) -> AdminResult {
    let body = parse_body(&body).map_err(admin)?;
    let Some(name) = body.name.clone() else {
        return Err(admin(ApiError::InvalidRequest { message: "name is required".into(), param: Some("name") }));
    };
    check_server_name(&name).map_err(|message| admin(ApiError::InvalidRequest { message, param: Some("name") }))?;
    let client_id = body.client_id.clone();
    let mut config = McpServerConfig {
        transport: McpTransport::Stdio,
        command: None,
        args: Vec::new(),
        env: BTreeMap::new(),
        cwd: None,
        url: None,
        headers: BTreeMap::new(),
        tools_to_execute: crate::config::every_tool(),
        tools_to_auto_execute: Vec::new(),
        disabled: false,
        tool_timeout_secs: None,
    };
    if body.connection_type.is_none() {
        return Err(admin(ApiError::InvalidRequest {
            message: "connection_type is required: `stdio`, `http` or `sse`".into(),
            param: Some("connection_type"),
        }));
    }
    let warnings = apply(body, &mut config, true, &state).map_err(admin)?;
    let hub = state.mcp();
    hub.add(name.clone(), client_id, config).await.map_err(store_error)?;
    tracing::info!(server = %name, "MCP server added");
    let id = hub.slot(&name).map(|slot| slot.client_id.clone());
    Ok(Json(
        json!({ "status": "success", "message": "MCP client connected successfully", "client_id": id, "warnings": warnings }),
    ))
}

async fn update(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> AdminResult {
    let body = parse_body(&body).map_err(admin)?;
    let hub = state.mcp();
    let slot = hub.slot(&id).ok_or_else(|| admin(ApiError::NotFound { message: format!("no MCP server `{id}`") }))?;
    if body.name.as_ref().is_some_and(|name| *name != slot.name) {
        return Err(admin(ApiError::InvalidRequest {
            message: "a server's name cannot change (its tools are named after it): remove it and add it again".into(),
            param: Some("name"),
        }));
    }
    let mut config = slot.config.clone();
    let warnings = apply(body, &mut config, false, &state).map_err(admin)?;
    hub.replace(&id, config).await.map_err(store_error)?;
    tracing::info!(server = %slot.name, "MCP server changed");
    Ok(Json(json!({ "status": "success", "message": "MCP client edited successfully", "warnings": warnings })))
}

async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    state.mcp().remove(&id).await.map_err(store_error)?;
    tracing::info!(server = %id, "MCP server removed");
    Ok(Json(json!({ "status": "success", "message": "MCP client removed successfully" })))
}

async fn reconnect(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    let hub = state.mcp();
    let slot = hub.slot(&id).ok_or_else(|| admin(ApiError::NotFound { message: format!("no MCP server `{id}`") }))?;
    if slot.config.disabled {
        return Err(admin(ApiError::InvalidRequest { message: format!("`{}` is disabled", slot.name), param: None }));
    }
    hub.reconnect(&id);
    Ok(Json(json!({ "status": "success", "message": "MCP client reconnected successfully" })))
}

/// What `/mcp` serves now (to a caller with every permission), with each tool's server.
async fn tools(State(state): State<AppState>) -> AdminResult {
    let index = state.mcp().index();
    let tools: Vec<Value> = index
        .tools
        .iter()
        .map(|served| {
            json!({
                "name": served.name,
                "server": served.server.name,
                "tool": served.tool.name,
                "description": served.tool.description,
                "parameters": served.tool.input_schema,
                "auto_execute": served.server.auto_executes(&served.tool.name),
            })
        })
        .collect();
    Ok(Json(json!({ "tools": tools, "count": tools.len() })))
}

#[derive(Deserialize)]
struct CallsQuery {
    server: Option<String>,
    tool: Option<String>,
    status: Option<String>,
    client: Option<String>,
    since: Option<i64>,
    after_id: Option<i64>,
    limit: Option<usize>,
}

fn usage_reader(
    state: &AppState,
) -> Result<std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>, crate::error::FamilyError> {
    state
        .usage()
        .log
        .as_ref()
        .map(|log| log.reader())
        .ok_or_else(|| admin(ApiError::NotFound { message: "the usage log is off ([usage] enabled = false)".into() }))
}

async fn calls(State(state): State<AppState>, Query(query): Query<CallsQuery>) -> AdminResult {
    let reader = usage_reader(&state)?;
    let filter = ToolCallFilter {
        server: query.server,
        tool: query.tool,
        status: query.status,
        client: query.client,
        since_ms: query.since,
        after_id: query.after_id,
        limit: query.limit.unwrap_or(100),
    };
    let rows = tokio::task::spawn_blocking(move || {
        let conn = reader.lock().map_err(|_| "the usage log's lock is poisoned".to_owned())?;
        tool_calls::recent(&conn, &filter).map_err(|err| err.to_string())
    })
    .await
    .map_err(|err| admin(ApiError::Internal(err.to_string())))?
    .map_err(|err| admin(ApiError::Internal(err)))?;
    Ok(Json(json!({ "calls": rows, "count": rows.len() })))
}

#[derive(Deserialize)]
struct StatsQuery {
    /// Hours back (default 24).
    hours: Option<u32>,
}

async fn stats(State(state): State<AppState>, Query(query): Query<StatsQuery>) -> AdminResult {
    let reader = usage_reader(&state)?;
    let hours = i64::from(query.hours.unwrap_or(24).clamp(1, 24 * 90));
    let since = crate::governance::now_ms() - hours * 3_600_000;
    // About 48 buckets over the span.
    let bucket = (hours * 3_600_000 / 48).max(60_000);
    let (summary, series) = tokio::task::spawn_blocking(move || {
        let conn = reader.lock().map_err(|_| "the usage log's lock is poisoned".to_owned())?;
        let summary = tool_calls::summary(&conn, since).map_err(|err| err.to_string())?;
        let series = tool_calls::series(&conn, since, bucket).map_err(|err| err.to_string())?;
        Ok::<_, String>((summary, series))
    })
    .await
    .map_err(|err| admin(ApiError::Internal(err.to_string())))?
    .map_err(|err| admin(ApiError::Internal(err)))?;
    let series: Vec<Value> =
        series.into_iter().map(|(t, calls, errors)| json!({"t": t, "calls": calls, "errors": errors})).collect();
    Ok(Json(json!({ "since": since, "bucket_ms": bucket, "tools": summary, "series": series })))
}
