//! The MCP gateway: Switchyard connects once to every configured MCP server (`connect`, kept
//! alive by `supervise`) and serves all their tools, prompts and resources together at `/mcp`
//! (`serve`), to `POST /v1/mcp/tool/execute` and to model requests (`inject`). Each tool call is
//! timed, checked against the caller's virtual key and recorded (`calls`).
//!
//! A tool is served as `<server>_<tool>` (`filesystem_read_file`); Bifrost's `<server>-<tool>`
//! finds it too. The index of served tools is rebuilt whenever a server connects, drops or
//! changes its list, and read without a lock (`ArcSwap`).

mod calls;
mod connect;
mod serve;
mod sse;
mod store;
mod supervise;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use rmcp::service::{Peer, RoleClient};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use calls::{CallError, CallOrigin, Caller, ToolAccess, result_content, result_text};
pub use serve::mcp_service;
pub use store::StoreError;

use crate::config::{EnvLookup, McpConfig, McpServerConfig, McpTransport, tool_listed};
use crate::secrets::SecretStore;
use crate::usage::UsageRecorder;

/// The separator of a served tool's name: `<server>_<tool>`.
pub const SEPARATOR: char = '_';

/// A server's connection state, as the admin API and the dashboard show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Connecting,
    Connected,
    Error,
    Disabled,
}

/// Where a server's settings come from: the config file (read-only through the API) or the
/// admin API (kept in `mcp.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Config,
    Api,
}

/// What is known of a server now.
#[derive(Clone, Debug)]
pub struct Status {
    pub state: ServerState,
    /// Why it is in `error` or `disabled`.
    pub reason: Option<String>,
    /// When the state last changed (ms since the epoch).
    pub since_ms: i64,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub resource_templates: Vec<ResourceTemplate>,
    /// The server's own name and version, and the protocol revision agreed.
    pub server_name: Option<String>,
    pub server_version: Option<String>,
    pub protocol_version: Option<String>,
    /// How many times the connection was made again after it was lost.
    pub restarts: u32,
    /// A stdio server's process id.
    pub pid: Option<u32>,
}

impl Status {
    fn new(state: ServerState, reason: Option<String>) -> Status {
        Status {
            state,
            reason,
            since_ms: crate::governance::now_ms(),
            tools: Vec::new(),
            prompts: Vec::new(),
            resources: Vec::new(),
            resource_templates: Vec::new(),
            server_name: None,
            server_version: None,
            protocol_version: None,
            restarts: 0,
            pid: None,
        }
    }
}

/// One configured server and its live connection.
pub struct ServerSlot {
    pub name: String,
    /// Bifrost's `client_id`: the name unless one was given.
    pub client_id: String,
    pub config: McpServerConfig,
    pub source: Source,
    status: Mutex<Status>,
    peer: ArcSwapOption<Peer<RoleClient>>,
    /// Ends this slot's supervisor (removed, replaced, shutdown).
    cancel: CancellationToken,
    /// Asks the supervisor to connect again now.
    reconnect: Notify,
    /// The server said its tool (or prompt, resource) list changed.
    list_changed: Notify,
}

impl ServerSlot {
    fn new(name: String, client_id: String, config: McpServerConfig, source: Source) -> Arc<ServerSlot> {
        let initial = if config.disabled {
            Status::new(ServerState::Disabled, Some("disabled in its settings".into()))
        } else {
            Status::new(ServerState::Connecting, None)
        };
        Arc::new(ServerSlot {
            name,
            client_id,
            config,
            source,
            status: Mutex::new(initial),
            peer: ArcSwapOption::empty(),
            cancel: CancellationToken::new(),
            reconnect: Notify::new(),
            list_changed: Notify::new(),
        })
    }

    pub fn status(&self) -> Status {
        match self.status.lock() {
            Ok(status) => status.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Status)) {
        let mut status = match self.status.lock() {
            Ok(status) => status,
            Err(poisoned) => poisoned.into_inner(),
        };
        change(&mut status);
    }

    fn set_state(&self, state: ServerState, reason: Option<String>) {
        self.update(|status| {
            if status.state != state || status.reason != reason {
                status.since_ms = crate::governance::now_ms();
            }
            status.state = state;
            status.reason = reason;
            if state != ServerState::Connected {
                status.tools.clear();
                status.prompts.clear();
                status.resources.clear();
                status.resource_templates.clear();
                status.pid = None;
            }
        });
    }

    /// Whether the server runs on this machine: a child process, or a URL on loopback. Decided
    /// from the URL alone, before any connection is made.
    pub fn is_local(&self) -> bool {
        match self.config.transport {
            McpTransport::Stdio => true,
            McpTransport::Http | McpTransport::Sse => {
                self.config.url.as_deref().is_some_and(crate::providers::is_loopback_url)
            }
        }
    }

    pub fn timeout(&self, default: Duration) -> Duration {
        self.config.tool_timeout_secs.map_or(default, Duration::from_secs)
    }

    pub fn serves(&self, tool: &str) -> bool {
        tool_listed(&self.config.tools_to_execute, tool)
    }

    pub fn auto_executes(&self, tool: &str) -> bool {
        self.serves(tool) && tool_listed(&self.config.tools_to_auto_execute, tool)
    }
}

/// A tool as served.
pub struct ServedTool {
    /// `<server>_<tool>`.
    pub name: String,
    pub server: Arc<ServerSlot>,
    /// The tool as its server describes it (its own name).
    pub tool: Tool,
}

/// Everything served now, built from the connected servers.
#[derive(Default)]
pub struct ServedIndex {
    pub tools: Vec<ServedTool>,
    by_name: HashMap<String, usize>,
    pub prompts: Vec<(String, Arc<ServerSlot>, Prompt)>,
    prompt_by_name: HashMap<String, usize>,
    pub resources: Vec<(Arc<ServerSlot>, Resource)>,
    pub resource_templates: Vec<(Arc<ServerSlot>, ResourceTemplate)>,
    resource_owner: HashMap<String, Arc<ServerSlot>>,
}

impl ServedIndex {
    fn build(slots: &[Arc<ServerSlot>]) -> ServedIndex {
        let mut index = ServedIndex::default();
        for slot in slots {
            let status = slot.status();
            if status.state != ServerState::Connected {
                continue;
            }
            for tool in status.tools {
                if !slot.serves(&tool.name) {
                    continue;
                }
                let name = format!("{}{SEPARATOR}{}", slot.name, tool.name);
                let position = index.tools.len();
                if index.by_name.contains_key(&name) {
                    continue;
                }
                index.by_name.insert(name.clone(), position);
                // Bifrost's spelling, `<server>-<tool>`.
                index.by_name.entry(format!("{}-{}", slot.name, tool.name)).or_insert(position);
                index.tools.push(ServedTool { name, server: slot.clone(), tool });
            }
            for prompt in status.prompts {
                let name = format!("{}{SEPARATOR}{}", slot.name, prompt.name);
                if index.prompt_by_name.contains_key(&name) {
                    continue;
                }
                index.prompt_by_name.insert(name.clone(), index.prompts.len());
                index.prompts.push((name, slot.clone(), prompt));
            }
            for resource in status.resources {
                // URIs are served as the servers give them (clients pass them back verbatim);
                // the first server to list one owns it.
                index.resource_owner.entry(resource.uri.clone()).or_insert_with(|| slot.clone());
                index.resources.push((slot.clone(), resource));
            }
            for template in status.resource_templates {
                index.resource_templates.push((slot.clone(), template));
            }
        }
        index
    }

    /// A served tool by its served name (either spelling).
    pub fn tool(&self, name: &str) -> Option<&ServedTool> {
        self.by_name.get(name).and_then(|i| self.tools.get(*i))
    }

    pub fn prompt(&self, name: &str) -> Option<&(String, Arc<ServerSlot>, Prompt)> {
        self.prompt_by_name.get(name).and_then(|i| self.prompts.get(*i))
    }

    /// The server that owns a resource URI: the one that listed it, else the server whose
    /// template's prefix (before the first `{`) it starts with.
    pub fn resource_owner(&self, uri: &str) -> Option<Arc<ServerSlot>> {
        if let Some(slot) = self.resource_owner.get(uri) {
            return Some(slot.clone());
        }
        self.resource_templates.iter().find_map(|(slot, template)| {
            let prefix = template.uri_template.split('{').next().unwrap_or_default();
            (!prefix.is_empty() && uri.starts_with(prefix)).then(|| slot.clone())
        })
    }
}

/// Settings every server shares.
#[derive(Clone, Debug)]
pub struct HubSettings {
    pub tool_timeout: Duration,
    pub max_agent_depth: u32,
    pub sync_interval: Duration,
}

/// The MCP gateway's state: the servers, their supervisors and the served index.
#[derive(Clone)]
pub struct McpHub(Arc<Hub>);

pub struct Hub {
    servers: RwLock<BTreeMap<String, Arc<ServerSlot>>>,
    index: ArcSwap<ServedIndex>,
    /// Bumped whenever the served index changes; `/mcp` sessions tell their clients.
    generation: watch::Sender<u64>,
    pub settings: HubSettings,
    file: Option<PathBuf>,
    secrets: Arc<dyn SecretStore>,
    env: Arc<EnvLookup>,
    /// Host names resolved to fixed addresses by the HTTP client (tests map a far-away name to
    /// loopback; nothing leaves the machine).
    resolve: Vec<(String, SocketAddr)>,
    local_only: AtomicBool,
    local_only_changed: watch::Sender<bool>,
    stopping: CancellationToken,
    tracker: TaskTracker,
    usage: Option<Arc<UsageRecorder>>,
    progress: calls::ProgressRoutes,
    /// Serializes changes to the server list and its file.
    edits: tokio::sync::Mutex<()>,
}

/// What `McpHub::open` needs.
pub struct HubOptions {
    pub secrets: Arc<dyn SecretStore>,
    pub env: Arc<EnvLookup>,
    pub usage: Option<Arc<UsageRecorder>>,
    pub local_only: bool,
    pub resolve: Vec<(String, SocketAddr)>,
}

impl McpHub {
    /// Reads the servers of the config file and of `mcp.json`; connects nothing yet (`start`).
    pub fn open(config: &McpConfig, file: Option<PathBuf>, options: HubOptions) -> Result<McpHub, StoreError> {
        let mut servers = BTreeMap::new();
        for (name, server) in &config.servers {
            servers.insert(name.clone(), ServerSlot::new(name.clone(), name.clone(), server.clone(), Source::Config));
        }
        if let Some(path) = &file {
            for saved in store::read(path)? {
                if servers.contains_key(&saved.name) {
                    tracing::warn!(server = %saved.name, "mcp.json: a server of this name is in the config file; the file's one is used");
                    continue;
                }
                servers.insert(
                    saved.name.clone(),
                    ServerSlot::new(saved.name, saved.client_id, saved.config, Source::Api),
                );
            }
        }
        let (generation, _) = watch::channel(0);
        let (local_only_changed, _) = watch::channel(options.local_only);
        Ok(McpHub(Arc::new(Hub {
            servers: RwLock::new(servers),
            index: ArcSwap::from_pointee(ServedIndex::default()),
            generation,
            settings: HubSettings {
                tool_timeout: Duration::from_secs(config.tool_timeout_secs),
                max_agent_depth: config.max_agent_depth,
                sync_interval: Duration::from_secs(config.sync_interval_secs),
            },
            file,
            secrets: options.secrets,
            env: options.env,
            resolve: options.resolve,
            local_only: AtomicBool::new(options.local_only),
            local_only_changed,
            stopping: CancellationToken::new(),
            tracker: TaskTracker::new(),
            usage: options.usage,
            progress: calls::ProgressRoutes::default(),
            edits: tokio::sync::Mutex::new(()),
        })))
    }

    /// Starts a supervisor for every server (needs a Tokio runtime).
    pub fn start(&self) {
        for slot in self.slots() {
            self.spawn_supervisor(slot);
        }
    }

    fn spawn_supervisor(&self, slot: Arc<ServerSlot>) {
        let hub = self.0.clone();
        self.0.tracker.spawn(supervise::run(hub, slot));
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.0
    }

    pub fn settings(&self) -> &HubSettings {
        &self.0.settings
    }

    /// Every server, by name.
    pub fn slots(&self) -> Vec<Arc<ServerSlot>> {
        self.0.slots()
    }

    pub fn slot(&self, name_or_id: &str) -> Option<Arc<ServerSlot>> {
        let servers = self.0.servers.read().ok()?;
        servers.get(name_or_id).cloned().or_else(|| servers.values().find(|s| s.client_id == name_or_id).cloned())
    }

    pub fn index(&self) -> Arc<ServedIndex> {
        self.0.index.load_full()
    }

    /// Changes whenever the served index does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.generation.subscribe()
    }

    pub fn is_empty(&self) -> bool {
        self.0.servers.read().map(|s| s.is_empty()).unwrap_or(true)
    }

    /// Local-only mode turned on or off: servers off this machine are disconnected (and their
    /// tools leave the index) while it is on, and connected again after.
    pub fn set_local_only(&self, on: bool) {
        self.0.local_only.store(on, Ordering::Relaxed);
        self.0.local_only_changed.send_replace(on);
    }

    pub fn local_only(&self) -> bool {
        self.0.local_only.load(Ordering::Relaxed)
    }

    /// Asks a server to connect again now (after an error, or to pick up a restarted server).
    pub fn reconnect(&self, name_or_id: &str) -> bool {
        match self.slot(name_or_id) {
            Some(slot) => {
                slot.reconnect.notify_one();
                true
            }
            None => false,
        }
    }

    /// Adds a server (through the admin API: kept in `mcp.json`, its secrets in the OS store).
    pub async fn add(
        &self,
        name: String,
        client_id: Option<String>,
        config: McpServerConfig,
    ) -> Result<(), StoreError> {
        let _edit = self.0.edits.lock().await;
        if self.slot(&name).is_some() {
            return Err(StoreError::Exists(name));
        }
        let client_id = client_id.filter(|id| !id.trim().is_empty()).unwrap_or_else(|| name.clone());
        if self.slot(&client_id).is_some() {
            return Err(StoreError::Exists(client_id));
        }
        let config = store::keep_secrets(self.0.secrets.as_ref(), &client_id, config)?;
        let slot = ServerSlot::new(name.clone(), client_id, config, Source::Api);
        if let Ok(mut servers) = self.0.servers.write() {
            servers.insert(name, slot.clone());
        }
        self.0.save()?;
        self.spawn_supervisor(slot);
        Ok(())
    }

    /// Replaces a server's settings (its connection is made again).
    pub async fn replace(&self, name_or_id: &str, config: McpServerConfig) -> Result<(), StoreError> {
        let _edit = self.0.edits.lock().await;
        let Some(old) = self.slot(name_or_id) else { return Err(StoreError::NotFound(name_or_id.to_owned())) };
        if old.source == Source::Config {
            return Err(StoreError::FromConfigFile(old.name.clone()));
        }
        let config = store::keep_secrets(self.0.secrets.as_ref(), &old.client_id, config)?;
        let slot = ServerSlot::new(old.name.clone(), old.client_id.clone(), config, Source::Api);
        if let Ok(mut servers) = self.0.servers.write() {
            servers.insert(old.name.clone(), slot.clone());
        }
        old.cancel.cancel();
        self.0.save()?;
        self.spawn_supervisor(slot);
        Ok(())
    }

    /// Removes a server added through the API; its connection ends and its tools leave.
    pub async fn remove(&self, name_or_id: &str) -> Result<(), StoreError> {
        let _edit = self.0.edits.lock().await;
        let Some(old) = self.slot(name_or_id) else { return Err(StoreError::NotFound(name_or_id.to_owned())) };
        if old.source == Source::Config {
            return Err(StoreError::FromConfigFile(old.name.clone()));
        }
        if let Ok(mut servers) = self.0.servers.write() {
            servers.remove(&old.name);
        }
        old.cancel.cancel();
        store::forget_secrets(self.0.secrets.as_ref(), &old.config);
        self.0.save()?;
        self.0.rebuild_index();
        Ok(())
    }

    /// Ends every connection (stdio servers are stopped) and waits, up to `limit`.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.0.stopping.cancel();
        self.0.tracker.close();
        tokio::time::timeout(limit, self.0.tracker.wait()).await.is_ok()
    }
}

impl Hub {
    fn slots(&self) -> Vec<Arc<ServerSlot>> {
        self.servers.read().map(|s| s.values().cloned().collect()).unwrap_or_default()
    }

    fn is_current(&self, slot: &Arc<ServerSlot>) -> bool {
        self.servers.read().is_ok_and(|s| s.get(&slot.name).is_some_and(|current| Arc::ptr_eq(current, slot)))
    }

    /// Rebuilds the served index from the servers' states and tells `/mcp` sessions.
    fn rebuild_index(&self) {
        let index = ServedIndex::build(&self.slots());
        self.index.store(Arc::new(index));
        self.generation.send_modify(|g| *g += 1);
    }

    fn save(&self) -> Result<(), StoreError> {
        let Some(path) = &self.file else { return Ok(()) };
        let saved: Vec<store::SavedServer> = self
            .slots()
            .into_iter()
            .filter(|slot| slot.source == Source::Api)
            .map(|slot| store::SavedServer {
                name: slot.name.clone(),
                client_id: slot.client_id.clone(),
                config: slot.config.clone(),
            })
            .collect();
        store::write(path, &saved)
    }

    fn local_only(&self) -> bool {
        self.local_only.load(Ordering::Relaxed)
    }
}
