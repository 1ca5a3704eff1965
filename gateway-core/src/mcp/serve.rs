//! `/mcp`: Switchyard as one MCP server with every connected server's tools, prompts and
//! resources, over Streamable HTTP (the SDK's server: sessions, the GET stream, every protocol
//! revision it speaks). Each request's caller (the calling tool, the virtual key and what the
//! key may use) is worked out by the surface before the SDK sees the request, and arrives here
//! in the HTTP request's extensions.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode, ErrorData, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, Prompt, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::calls::{CallOrigin, Caller, ProgressSink, ToolAccess};
use super::{McpHub, ServedIndex};

/// The SDK's handler for one `/mcp` session.
#[derive(Clone)]
pub struct GatewayServer {
    hub: McpHub,
}

/// The `/mcp` service, mounted by the router. `max_body_bytes` bounds a request body; Host and
/// Origin are checked by the gateway's own guard before (the SDK's check is off so the names
/// the gateway is configured to answer to work here too).
pub fn mcp_service(hub: McpHub, max_body_bytes: usize) -> StreamableHttpService<GatewayServer, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(max_body_bytes)
        .with_cancellation_token(hub.0.stopping.child_token())
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    StreamableHttpService::new(
        move || Ok(GatewayServer { hub: hub.clone() }),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// The caller the surface attached to the HTTP request; without one (a request that did not
/// come through the router), nothing is allowed.
fn caller(context: &RequestContext<RoleServer>) -> Caller {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .unwrap_or(Caller {
            client: None,
            virtual_key: None,
            access: ToolAccess::Only(Vec::new()),
            origin: CallOrigin::Mcp,
        })
}

fn served_tools(index: &ServedIndex, access: &ToolAccess) -> Vec<Tool> {
    index
        .tools
        .iter()
        .filter(|served| access.allows(&served.server.name, &served.tool.name))
        .map(|served| {
            let mut tool = served.tool.clone();
            tool.name = served.name.clone().into();
            tool
        })
        .collect()
}

fn error(code: i32, message: String) -> ErrorData {
    ErrorData::new(ErrorCode(code), message, None)
}

impl rmcp::ServerHandler for GatewayServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_resources()
            .build();
        let mut info = ServerConfig::new(capabilities);
        let mut implementation = Implementation::new("switchyard", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("Switchyard MCP gateway".into());
        info.server_info = implementation;
        info.instructions =
            Some("Every MCP server configured in Switchyard, in one place: tools are named <server>_<tool>.".into());
        info
    }

    fn on_initialized(&self, context: NotificationContext<RoleServer>) -> impl Future<Output = ()> + Send + '_ {
        // Tell this session's client when the served tools change, for as long as it is open.
        let mut changes = self.hub.subscribe();
        let stopping = self.hub.0.stopping.clone();
        let peer = context.peer;
        tokio::spawn(async move {
            changes.mark_unchanged();
            loop {
                tokio::select! {
                    () = stopping.cancelled() => break,
                    changed = changes.changed() => {
                        if changed.is_err() || peer.is_transport_closed() {
                            break;
                        }
                        // Changes in a burst (a server and its lists) are told once.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        changes.mark_unchanged();
                        if peer.notify_tool_list_changed().await.is_err() {
                            break;
                        }
                    }
                    () = tokio::time::sleep(Duration::from_secs(60)) => {
                        if peer.is_transport_closed() {
                            break;
                        }
                    }
                }
            }
        });
        std::future::ready(())
    }

    fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let tools = served_tools(&self.hub.index(), &caller.access);
        std::future::ready(Ok(ListToolsResult::with_all_items(tools)))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let index = self.hub.index();
        index.tool(name).map(|served| {
            let mut tool = served.tool.clone();
            tool.name = served.name.clone().into();
            tool
        })
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let progress =
            context.meta.get_progress_token().map(|token| ProgressSink { peer: context.peer.clone(), token });
        let cancelled = context.ct.clone();
        async move {
            self.hub
                .call_tool(&caller, &request.name, request.arguments, progress, Some(cancelled))
                .await
                .map_err(|err| error(err.jsonrpc_code(), err.to_string()))
        }
    }

    fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let index = self.hub.index();
        let prompts: Vec<Prompt> = index
            .prompts
            .iter()
            .filter(|(_, slot, _)| caller.access.allows_server(&slot.name))
            .map(|(name, _, prompt)| {
                let mut prompt = prompt.clone();
                prompt.name = name.clone();
                prompt
            })
            .collect();
        std::future::ready(Ok(ListPromptsResult::with_all_items(prompts)))
    }

    fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResponse, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let index = self.hub.index();
        async move {
            let Some((_, slot, prompt)) = index.prompt(&request.name) else {
                return Err(error(-32602, format!("no prompt `{}` is served", request.name)));
            };
            if !caller.access.allows_server(&slot.name) {
                return Err(error(-32003, format!("this virtual key may not use the prompt `{}`", request.name)));
            }
            let Some(peer) = slot.peer.load_full() else {
                return Err(error(-32002, format!("the MCP server `{}` is not connected", slot.name)));
            };
            request.name = prompt.name.clone();
            let timeout = slot.timeout(self.hub.settings().tool_timeout);
            match tokio::time::timeout(timeout, peer.get_prompt(request)).await {
                Ok(Ok(result)) => Ok(GetPromptResponse::Complete(result)),
                Ok(Err(err)) => Err(error(-32603, format!("the MCP server `{}` failed: {err}", slot.name))),
                Err(_) => Err(error(-32001, format!("the MCP server `{}` did not answer in time", slot.name))),
            }
        }
    }

    fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let index = self.hub.index();
        let resources = index
            .resources
            .iter()
            .filter(|(slot, _)| caller.access.allows_server(&slot.name))
            .map(|(_, resource)| resource.clone())
            .collect();
        std::future::ready(Ok(ListResourcesResult::with_all_items(resources)))
    }

    fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let index = self.hub.index();
        let templates = index
            .resource_templates
            .iter()
            .filter(|(slot, _)| caller.access.allows_server(&slot.name))
            .map(|(_, template)| template.clone())
            .collect();
        std::future::ready(Ok(ListResourceTemplatesResult::with_all_items(templates)))
    }

    fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResponse, ErrorData>> + Send + '_ {
        let caller = caller(&context);
        let index = self.hub.index();
        async move {
            let Some(slot) = index.resource_owner(&request.uri) else {
                return Err(error(-32002, format!("no served resource has the URI `{}`", request.uri)));
            };
            if !caller.access.allows_server(&slot.name) {
                return Err(error(-32003, format!("this virtual key may not read `{}`", request.uri)));
            }
            let Some(peer) = slot.peer.load_full() else {
                return Err(error(-32002, format!("the MCP server `{}` is not connected", slot.name)));
            };
            let timeout = slot.timeout(self.hub.settings().tool_timeout);
            match tokio::time::timeout(timeout, peer.read_resource(request)).await {
                Ok(Ok(result)) => Ok(ReadResourceResponse::Complete(result)),
                Ok(Err(err)) => Err(error(-32603, format!("the MCP server `{}` failed: {err}", slot.name))),
                Err(_) => Err(error(-32001, format!("the MCP server `{}` did not answer in time", slot.name))),
            }
        }
    }
}
