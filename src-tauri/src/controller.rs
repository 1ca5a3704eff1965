//! What the tray's items and the app's commands do, without Tauri: read the gateway's state into
//! a `TrayState`, pick a class's model, switch local-only, drive the local servers. The
//! supervisor tells the controller which gateway to talk to (`set_link`); everything else goes
//! through the admin API (`admin::Admin`).

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::actions::{Action, ServerOp};
use crate::admin::{Admin, AdminError};
use crate::menu_model::{
    CatalogModel, ClassState, GatewayStatus, McpConnection, McpServerState, Notice, ServerState, TrayState, UsageToday,
};
use crate::setup_texts::SetupTarget;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("the gateway is not running ({0})")]
    NotServing(String),
    #[error("no local server named `{0}` (known: vllm-mlx, ollama)")]
    UnknownServer(String),
    #[error("{0}")]
    Desktop(String),
}

impl AppError {
    fn kind(&self) -> &'static str {
        match self {
            AppError::Admin(AdminError::Refused { .. }) => "refused",
            AppError::Admin(_) => "unreachable",
            AppError::NotServing(_) => "not_serving",
            AppError::UnknownServer(_) => "unknown_server",
            AppError::Desktop(_) => "desktop",
        }
    }
}

/// Commands answer errors as `{"kind", "code", "message"}`.
impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let code = match self {
            AppError::Admin(err) => err.code(),
            _ => None,
        };
        json!({ "kind": self.kind(), "code": code, "message": self.to_string() }).serialize(serializer)
    }
}

/// Which gateway the app drives, and in what state it is.
#[derive(Clone)]
pub struct Link {
    pub status: GatewayStatus,
    pub port: u16,
    pub admin: Option<Admin>,
}

/// What turning local-only on did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum LocalOnlyOutcome {
    Changed {
        enabled: bool,
    },
    /// No local server answers: the notice in the menu says so and offers to start one.
    NeedsLocalServer {
        reason: String,
        startable: Vec<String>,
    },
}

/// Local server states are re-read at most this often (each read runs launchctl or systemctl and
/// probes health); a server action reads them at once.
const SERVERS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Controller {
    link: Mutex<Link>,
    notice: Mutex<Option<Notice>>,
    servers: Mutex<Option<(std::time::Instant, Vec<ServerState>)>>,
    /// Wakes the tray's refresher after anything changed.
    pub changed: Notify,
}

impl Controller {
    pub fn new(port: u16) -> Arc<Controller> {
        Arc::new(Controller {
            link: Mutex::new(Link { status: GatewayStatus::Starting, port, admin: None }),
            notice: Mutex::new(None),
            servers: Mutex::new(None),
            changed: Notify::new(),
        })
    }

    /// A controller for a gateway that is already serving (tests, and the supervisor).
    pub fn serving(admin: Admin, port: u16) -> Arc<Controller> {
        let controller = Controller::new(port);
        controller.set_link(Link { status: GatewayStatus::Running, port, admin: Some(admin) });
        controller
    }

    pub fn set_link(&self, link: Link) {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
        self.changed.notify_one();
    }

    pub fn link(&self) -> Link {
        self.link.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn port(&self) -> u16 {
        self.link().port
    }

    /// Where the dashboard window starts: a one-time login link while a gateway is linked.
    pub fn dashboard_path(&self) -> String {
        self.link().admin.map(|admin| admin.dashboard_path()).unwrap_or_else(|| "/".to_owned())
    }

    fn set_notice(&self, notice: Option<Notice>) {
        *self.notice.lock().unwrap_or_else(PoisonError::into_inner) = notice;
        self.changed.notify_one();
    }

    /// A line for the menu (an action's result or why it failed), replacing the previous one.
    pub fn report(&self, text: String) {
        self.set_notice(Some(Notice { text, offers: Vec::new() }));
    }

    fn admin(&self) -> Result<Admin, AppError> {
        let link = self.link();
        let state = TrayState { gateway: link.status, port: link.port, ..TrayState::default() };
        link.admin.ok_or_else(|| AppError::NotServing(state.status_line()))
    }

    /// Everything the menu shows, read from the gateway. Parts that cannot be read are left
    /// empty rather than failing the whole menu.
    pub async fn read_state(&self, autostart: bool) -> TrayState {
        let link = self.link();
        let notice = self.notice.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut state = TrayState { gateway: link.status, port: link.port, autostart, notice, ..TrayState::default() };
        let Some(admin) = link.admin else { return state };
        let cached = self
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < SERVERS_MAX_AGE)
            .map(|(_, servers)| servers.clone());
        let read_servers = async {
            match &cached {
                Some(_) => None,
                None => Some(admin.get("/api/local-servers").await),
            }
        };
        let (classes, models, usage, servers, keys, mcp) = tokio::join!(
            admin.get("/api/task-classes"),
            admin.get("/api/models"),
            admin.get("/api/usage/summary"),
            read_servers,
            admin.get("/api/governance/virtual-keys"),
            admin.get("/api/mcp/clients"),
        );
        if let Ok(mcp) = mcp {
            state.mcp = Some(mcp["clients"].as_array().into_iter().flatten().filter_map(mcp_server_state).collect());
        }
        if let Ok(keys) = keys {
            state.budget = crate::menu_model::BudgetNearLimit::from_keys(&keys);
        }
        if let Ok(classes) = classes {
            state.local_only = classes["local_only"].as_bool().unwrap_or(false);
            state.classes = classes["classes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some(ClassState {
                        name: c["name"].as_str()?.to_owned(),
                        active: c["model"].as_str().map(str::to_owned),
                    })
                })
                .collect();
        }
        if let Ok(models) = models {
            state.models = models["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    Some(CatalogModel {
                        provider: m["provider"].as_str()?.to_owned(),
                        model: m["model"].as_str()?.to_owned(),
                        local: m["local"].as_bool().unwrap_or(false),
                    })
                })
                .collect();
        }
        if let Ok(usage) = usage {
            state.usage = Some(UsageToday {
                requests: usage["requests"].as_u64().unwrap_or(0),
                cost_usd: usage["cost_usd"].as_f64().unwrap_or(0.0),
            });
        }
        match (cached, servers) {
            (Some(servers), _) => state.servers = servers,
            (None, Some(Ok(servers))) => {
                state.servers = servers["servers"].as_array().into_iter().flatten().filter_map(server_state).collect();
                *self.servers.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((std::time::Instant::now(), state.servers.clone()));
            }
            (None, _) => {}
        }
        state
    }

    /// The tool's own virtual key for "Copy setup for…", when virtual keys are in use (at least
    /// one exists): the key named after the tool gets a new value (the copy is the one place it
    /// is shown), or is made, allowed every provider. `None` when no key exists: the setup then
    /// carries a placeholder the gateway ignores.
    pub async fn tool_key(&self, target: SetupTarget) -> Result<Option<String>, AppError> {
        let admin = self.admin()?;
        let keys = admin.get("/api/governance/virtual-keys").await?;
        let list = keys["virtual_keys"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            return Ok(None);
        }
        let name = target.key();
        let answer = match list.iter().find(|k| k["name"] == name).and_then(|k| k["id"].as_str()) {
            Some(id) => {
                admin.call(http::Method::POST, &format!("/api/governance/virtual-keys/{id}/rotate"), None).await?
            }
            None => {
                let body = json!({
                    "name": name,
                    "description": format!("{target}'s own key, made by Copy setup"),
                    "allow_all_providers": true,
                });
                admin.call(http::Method::POST, "/api/governance/virtual-keys", Some(body)).await?
            }
        };
        Ok(answer["virtual_key"]["value"].as_str().map(str::to_owned))
    }

    /// Makes `model` the class's model: the primary of its chain, or of its local chain when
    /// local-only is on and the model is local (what the class uses in that mode).
    pub async fn pick_model(&self, class: &str, model: &str) -> Result<Value, AppError> {
        let admin = self.admin()?;
        let local_only = admin.get("/api/local-only").await?["enabled"].as_bool().unwrap_or(false);
        let models = admin.get("/api/models").await?;
        let is_local = models["data"].as_array().into_iter().flatten().any(|m| m["id"] == model && m["local"] == true);
        let body = if local_only && is_local { json!({ "local_model": model }) } else { json!({ "model": model }) };
        let answer = admin.put(&format!("/api/task-classes/{class}"), body).await?;
        self.changed.notify_one();
        Ok(answer)
    }

    /// Turning local-only on while no local server answers does not force it: the menu says why
    /// and offers to start the servers that could be started.
    pub async fn set_local_only(&self, enabled: bool) -> Result<LocalOnlyOutcome, AppError> {
        let admin = self.admin()?;
        match admin.put("/api/local-only", json!({ "enabled": enabled })).await {
            Ok(_) => {
                self.set_notice(None);
                Ok(LocalOnlyOutcome::Changed { enabled })
            }
            Err(err) if err.code() == Some("no_local_server") => {
                let servers = admin.get("/api/local-servers").await.ok();
                let startable: Vec<ServerState> = servers
                    .as_ref()
                    .and_then(|s| s["servers"].as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(server_state)
                    .filter(|s| !s.running && !s.external)
                    .collect();
                let reason = "Local-only is off: no local server answers with a model".to_owned();
                let offers = startable
                    .iter()
                    .map(|s| {
                        (
                            format!("Start {} and turn on local-only", s.label),
                            Action::StartServerForLocalOnly(s.name.clone()),
                        )
                    })
                    .collect();
                self.set_notice(Some(Notice { text: reason.clone(), offers }));
                Ok(LocalOnlyOutcome::NeedsLocalServer {
                    reason,
                    startable: startable.into_iter().map(|s| s.name).collect(),
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    pub async fn server(&self, name: &str, op: ServerOp) -> Result<Value, AppError> {
        if !matches!(name, "vllm-mlx" | "ollama") {
            return Err(AppError::UnknownServer(name.to_owned()));
        }
        let admin = self.admin()?;
        let answer = match op {
            ServerOp::Start | ServerOp::Stop | ServerOp::Restart => {
                admin.post(&format!("/api/local-servers/{name}/{}", op.key())).await?
            }
            ServerOp::OpenLog => admin.get(&format!("/api/local-servers/{name}")).await?,
        };
        *self.servers.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.changed.notify_one();
        Ok(answer)
    }

    /// Starts the server, waits (up to a minute) for local-only to accept it, then turns it on.
    pub async fn start_server_for_local_only(&self, name: &str) -> Result<LocalOnlyOutcome, AppError> {
        self.server(name, ServerOp::Start).await?;
        let mut outcome = self.set_local_only(true).await?;
        for _ in 0..30 {
            if matches!(outcome, LocalOnlyOutcome::Changed { .. }) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            outcome = self.set_local_only(true).await?;
        }
        Ok(outcome)
    }

    /// The log files of a server, for "Open log".
    pub async fn log_files(&self, name: &str) -> Result<Vec<String>, AppError> {
        let status = self.server(name, ServerOp::OpenLog).await?;
        Ok(status["log_files"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(str::to_owned)).collect())
    }
}

fn server_state(status: &Value) -> Option<ServerState> {
    let name = status["name"].as_str()?.to_owned();
    Some(ServerState {
        label: status["label"].as_str().unwrap_or(&name).to_owned(),
        running: status["running"].as_bool().unwrap_or(false),
        healthy: status["health"]["ok"].as_bool().unwrap_or(false),
        external: !status["external"].is_null(),
        has_log: status["log_files"].as_array().is_some_and(|f| !f.is_empty()),
        name,
    })
}

/// A server of `GET /api/mcp/clients`; one in a state this app does not know shows as connecting.
fn mcp_server_state(client: &Value) -> Option<McpServerState> {
    let name = client["config"]["name"].as_str()?.to_owned();
    Some(McpServerState {
        name,
        connection: client["state"].as_str().and_then(McpConnection::from_key).unwrap_or(McpConnection::Connecting),
        reason: client["reason"].as_str().map(str::to_owned),
        hidden_by_local_only: client["hidden_by_local_only"].as_bool().unwrap_or(false),
    })
}
