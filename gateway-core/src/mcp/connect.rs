//! One connection to one MCP server, made with the official SDK (`rmcp`): a child process on
//! stdio, Streamable HTTP, or the older HTTP+SSE (`sse`, Switchyard's own transport: the SDK
//! dropped it). The handshake (protocol revision, capabilities) is the SDK's.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex, Weak};

use rmcp::ServiceExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio::io::AsyncBufReadExt;

use super::{Hub, ServerSlot, store};
use crate::config::McpTransport;

/// The most lines of a stdio server's stderr kept, to say why it failed.
const STDERR_LINES: usize = 20;
const STDERR_LINE_BYTES: usize = 400;

/// Told by the server: its lists changed, a call progressed.
pub struct UpstreamHandler {
    slot: Weak<ServerSlot>,
    hub: Weak<Hub>,
}

impl rmcp::ClientHandler for UpstreamHandler {
    fn get_info(&self) -> ClientConfig {
        let mut info = Implementation::new("switchyard", env!("CARGO_PKG_VERSION"));
        info.title = Some("Switchyard MCP gateway".into());
        ClientConfig::new(ClientCapabilities::default(), info)
    }

    fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) -> impl Future<Output = ()> + Send + '_ {
        self.lists_changed();
        std::future::ready(())
    }

    fn on_prompt_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.lists_changed();
        std::future::ready(())
    }

    fn on_resource_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.lists_changed();
        std::future::ready(())
    }

    fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        let hub = self.hub.upgrade();
        let server = self.slot.upgrade().map(|slot| slot.name.clone());
        async move {
            if let (Some(hub), Some(server)) = (hub, server) {
                hub.progress.forward(&server, params).await;
            }
        }
    }
}

impl UpstreamHandler {
    fn lists_changed(&self) {
        if let Some(slot) = self.slot.upgrade() {
            slot.list_changed.notify_one();
        }
    }
}

/// A live connection.
pub struct Upstream {
    pub running: RunningService<RoleClient, UpstreamHandler>,
    pub pid: Option<u32>,
    /// A stdio server's last stderr lines.
    pub stderr: Option<StderrTail>,
}

/// The last lines a child wrote to stderr (bounded).
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == STDERR_LINES {
                lines.pop_front();
            }
            let mut line = line.trim_end().to_owned();
            if line.len() > STDERR_LINE_BYTES {
                let mut cut = STDERR_LINE_BYTES;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            lines.push_back(line);
        }
    }

    /// The last non-empty line, for an error's reason.
    pub fn last(&self) -> Option<String> {
        self.0.lock().ok()?.iter().rev().find(|l| !l.trim().is_empty()).cloned()
    }
}

/// Connects and completes the handshake.
pub async fn connect(hub: &Arc<Hub>, slot: &Arc<ServerSlot>) -> Result<Upstream, String> {
    let handler = UpstreamHandler { slot: Arc::downgrade(slot), hub: Arc::downgrade(hub) };
    let config = &slot.config;
    match config.transport {
        McpTransport::Stdio => {
            let program = config.command.as_deref().unwrap_or_default();
            let mut command = tokio::process::Command::new(program);
            command.args(&config.args).kill_on_drop(true);
            for (name, value) in &config.env {
                let value = store::resolve(value, hub.env.as_ref(), hub.secrets.as_ref())
                    .map_err(|err| format!("environment variable {name}: {err}"))?;
                command.env(name, value.expose());
            }
            if let Some(dir) = &config.cwd {
                command.current_dir(dir);
            }
            let (transport, stderr) = TokioChildProcess::builder(command)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|err| format!("cannot start `{program}`: {err}"))?;
            let pid = transport.id();
            let tail = StderrTail::default();
            if let Some(stderr) = stderr {
                let tail = tail.clone();
                let name = slot.name.clone();
                tokio::spawn(async move {
                    let mut lines = tokio::io::BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        tracing::debug!(server = %name, "mcp stderr: {line}");
                        tail.push(&line);
                    }
                });
            }
            match handler.serve(transport).await {
                Ok(running) => Ok(Upstream { running, pid, stderr: Some(tail) }),
                Err(err) => {
                    // Give the child's last words a moment to arrive: they usually say why.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    Err(match tail.last() {
                        Some(line) => format!("the server did not start: {err} (stderr: {line})"),
                        None => format!("the server did not start: {err}"),
                    })
                }
            }
        }
        McpTransport::Http => {
            let url = config.url.clone().unwrap_or_default();
            let headers = headers(hub, slot)?;
            let transport_config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
            let transport = StreamableHttpClientTransport::with_client(http_client(hub)?, transport_config);
            let running = handler.serve(transport).await.map_err(|err| format!("cannot connect: {err}"))?;
            Ok(Upstream { running, pid: None, stderr: None })
        }
        McpTransport::Sse => {
            let url = config.url.clone().unwrap_or_default();
            let headers = headers(hub, slot)?;
            let transport = super::sse::SseTransport::connect(http_client(hub)?, &url, headers).await?;
            let running = handler.serve(transport).await.map_err(|err| format!("cannot connect: {err}"))?;
            Ok(Upstream { running, pid: None, stderr: None })
        }
    }
}

fn headers(hub: &Hub, slot: &ServerSlot) -> Result<HashMap<http::HeaderName, http::HeaderValue>, String> {
    let mut out = HashMap::new();
    for (name, value) in &slot.config.headers {
        let header =
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("`{name}` is not a header name"))?;
        let value = store::resolve(value, hub.env.as_ref(), hub.secrets.as_ref())
            .map_err(|err| format!("header {name}: {err}"))?;
        let mut value = http::HeaderValue::from_str(value.expose())
            .map_err(|_| format!("header {name}: the value is not a valid header value"))?;
        value.set_sensitive(true);
        out.insert(header, value);
    }
    Ok(out)
}

/// The HTTP client for MCP servers: no overall timeout (streams stay open), a connect timeout,
/// and the fixed name resolutions of `HubOptions::resolve`.
fn http_client(hub: &Hub) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")));
    for (host, address) in &hub.resolve {
        builder = builder.resolve(host, *address);
    }
    builder.build().map_err(|err| format!("cannot build an HTTP client: {err}"))
}
