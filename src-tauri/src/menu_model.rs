//! The tray menu as plain data: `TrayState` (what the app knows) → `MenuSpec` (what the menu
//! shows). No Tauri here, so every label, check mark and grouping is unit-tested without a
//! display; `tray.rs` turns a `MenuSpec` into native menu items, and only when it changed.

use std::collections::BTreeMap;

use crate::actions::{Action, ServerOp};
use crate::setup_texts::SetupTarget;

/// The gateway as the supervisor sees it.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum GatewayStatus {
    #[default]
    Starting,
    /// Serving in this process.
    Running,
    /// Another Switchyard already serves on the port; the tray drives that one.
    Attached,
    /// It stopped answering; the supervisor restarts it after a pause.
    Restarting {
        attempt: u32,
        reason: String,
    },
    /// Something that is not Switchyard holds the port; `free` is a port that could be used.
    PortTaken {
        free: Option<u16>,
    },
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct UsageToday {
    pub requests: u64,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogModel {
    pub provider: String,
    pub model: String,
    pub local: bool,
}

impl CatalogModel {
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassState {
    pub name: String,
    /// The model the class uses now (`provider/model`), if any resolves.
    pub active: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerState {
    /// `vllm-mlx` or `ollama`.
    pub name: String,
    pub label: String,
    pub running: bool,
    pub healthy: bool,
    /// An Ollama that runs outside Switchyard (nothing to start or stop).
    pub external: bool,
    pub has_log: bool,
}

/// An MCP server's connection, as the gateway's `GET /api/mcp/clients` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum McpConnection {
    Connecting,
    Connected,
    Error,
    Disabled,
}

impl McpConnection {
    /// `connecting`, `connected`, `error`, `disabled`; anything else is unknown.
    pub fn from_key(key: &str) -> Option<McpConnection> {
        Some(match key {
            "connecting" => McpConnection::Connecting,
            "connected" => McpConnection::Connected,
            "error" => McpConnection::Error,
            "disabled" => McpConnection::Disabled,
            _ => return None,
        })
    }
}

/// One configured MCP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpServerState {
    pub name: String,
    pub connection: McpConnection,
    /// Why it is in `error` or `disabled`.
    pub reason: Option<String>,
    /// Off because local-only mode is on and the server is not on this machine.
    pub hidden_by_local_only: bool,
}

/// The longest error reason shown in the menu, in characters (the dashboard has the whole text).
const MCP_REASON_CHARS: usize = 60;

impl McpServerState {
    /// `● filesystem — connected`, `✕ web — error: <short reason>`.
    pub fn label(&self) -> String {
        let name = &self.name;
        match self.connection {
            McpConnection::Connected => format!("● {name} — connected"),
            McpConnection::Connecting => format!("○ {name} — connecting…"),
            McpConnection::Error => match self.reason.as_deref().map(short_reason).filter(|r| !r.is_empty()) {
                Some(reason) => format!("✕ {name} — error: {reason}"),
                None => format!("✕ {name} — error"),
            },
            McpConnection::Disabled if self.hidden_by_local_only => format!("– {name} — off in local-only mode"),
            McpConnection::Disabled => format!("– {name} — disabled"),
        }
    }
}

/// A reason's first line, cut to `MCP_REASON_CHARS` with an ellipsis.
fn short_reason(reason: &str) -> String {
    let line = reason.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if line.chars().count() <= MCP_REASON_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MCP_REASON_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The virtual-key budget nearest to its limit, when one is past 80 %.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetNearLimit {
    /// The key's name.
    pub key: String,
    /// Spent over the limit, 0.8 and up.
    pub share: f64,
    pub max_limit: f64,
    pub reset_duration: String,
}

impl BudgetNearLimit {
    /// Over every budget of every key (and of their provider configs) in the governance API's
    /// list: the fullest, if it is past 80 %.
    pub fn from_keys(list: &serde_json::Value) -> Option<BudgetNearLimit> {
        let mut nearest: Option<BudgetNearLimit> = None;
        for key in list["virtual_keys"].as_array().into_iter().flatten() {
            let name = key["name"].as_str().unwrap_or_default();
            let configs = key["provider_configs"].as_array().into_iter().flatten();
            let budgets = key["budgets"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(configs.flat_map(|c| c["budgets"].as_array().into_iter().flatten()));
            for budget in budgets {
                let (Some(limit), Some(used)) = (budget["max_limit"].as_f64(), budget["current_usage"].as_f64()) else {
                    continue;
                };
                let share = if limit > 0.0 { used / limit } else { 0.0 };
                if share >= 0.8 && nearest.as_ref().is_none_or(|n| share > n.share) {
                    nearest = Some(BudgetNearLimit {
                        key: name.to_owned(),
                        share,
                        max_limit: limit,
                        reset_duration: budget["reset_duration"].as_str().unwrap_or_default().to_owned(),
                    });
                }
            }
        }
        nearest
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct TrayState {
    pub gateway: GatewayStatus,
    pub port: u16,
    pub usage: Option<UsageToday>,
    pub classes: Vec<ClassState>,
    pub models: Vec<CatalogModel>,
    pub local_only: bool,
    pub servers: Vec<ServerState>,
    /// The configured MCP servers; `None` when the gateway does not say (an older Switchyard
    /// on the port), and the menu then has no MCP submenu.
    pub mcp: Option<Vec<McpServerState>>,
    pub autostart: bool,
    /// A virtual key's budget past 80 %, named on the status line.
    pub budget: Option<BudgetNearLimit>,
    /// A message the last action left for the user, with what it offers (e.g. local-only could
    /// not turn on because no local server runs: "Start Ollama and turn on local-only").
    pub notice: Option<Notice>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub offers: Vec<(String, Action)>,
}

/// The state the template icon shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IconState {
    Running,
    LocalOnly,
    Error,
}

impl TrayState {
    pub fn icon(&self) -> IconState {
        match self.gateway {
            GatewayStatus::Running | GatewayStatus::Attached if self.local_only => IconState::LocalOnly,
            GatewayStatus::Running | GatewayStatus::Attached | GatewayStatus::Starting => IconState::Running,
            _ => IconState::Error,
        }
    }

    /// The menu's first line.
    pub fn status_line(&self) -> String {
        let port = self.port;
        match &self.gateway {
            GatewayStatus::Starting => format!("Gateway starting on localhost:{port}…"),
            GatewayStatus::Running | GatewayStatus::Attached => {
                let mut line = format!("Gateway on localhost:{port}");
                if let Some(usage) = &self.usage {
                    let plural = if usage.requests == 1 { "request" } else { "requests" };
                    line.push_str(&format!(" · {} {plural} today · ${:.2}", thousands(usage.requests), usage.cost_usd));
                }
                if let Some(budget) = &self.budget {
                    let percent = (budget.share * 100.0).floor().min(999.0);
                    line.push_str(&format!(
                        " · key {} at {percent:.0} % of ${:.2}/{}",
                        budget.key, budget.max_limit, budget.reset_duration
                    ));
                }
                if self.gateway == GatewayStatus::Attached {
                    line.push_str(" (another Switchyard)");
                }
                line
            }
            GatewayStatus::Restarting { attempt, reason } => {
                format!("Gateway stopped ({reason}); restarting, attempt {attempt}…")
            }
            GatewayStatus::PortTaken { .. } => format!("Port {port} is used by another program"),
            GatewayStatus::Failed(reason) => format!("Gateway failed: {reason}"),
        }
    }

    fn serving(&self) -> bool {
        matches!(self.gateway, GatewayStatus::Running | GatewayStatus::Attached)
    }
}

/// `1204` → `1,204`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `coding` → `Coding`.
fn title(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum MenuEntry {
    /// A plain item; without an action it is a disabled label.
    Item {
        label: String,
        action: Option<Action>,
    },
    Check {
        label: String,
        checked: bool,
        action: Action,
    },
    Submenu {
        label: String,
        entries: Vec<MenuEntry>,
    },
    Separator,
}

impl MenuEntry {
    fn item(label: impl Into<String>, action: Action) -> MenuEntry {
        MenuEntry::Item { label: label.into(), action: Some(action) }
    }

    fn label(label: impl Into<String>) -> MenuEntry {
        MenuEntry::Item { label: label.into(), action: None }
    }
}

/// The whole menu. The first entry is always the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct MenuSpec {
    pub entries: Vec<MenuEntry>,
}

/// The id of the status line, so it can be relabelled in place.
pub const STATUS_ID: &str = "status";

impl MenuSpec {
    pub fn from_state(state: &TrayState) -> MenuSpec {
        let mut entries = vec![MenuEntry::label(state.status_line())];
        match &state.gateway {
            GatewayStatus::PortTaken { free } => {
                if let Some(free) = free {
                    entries.push(MenuEntry::item(format!("Use port {free} instead"), Action::UsePort(*free)));
                }
                entries.push(MenuEntry::item(format!("Try port {} again", state.port), Action::Retry));
            }
            GatewayStatus::Failed(_) => entries.push(MenuEntry::item("Try again", Action::Retry)),
            _ => {}
        }
        if let Some(notice) = &state.notice {
            entries.push(MenuEntry::Separator);
            entries.push(MenuEntry::label(notice.text.clone()));
            for (label, action) in &notice.offers {
                entries.push(MenuEntry::item(label.clone(), action.clone()));
            }
        }
        if state.serving() {
            entries.push(MenuEntry::Separator);
            for class in &state.classes {
                entries.push(class_submenu(class, &state.models));
            }
            entries.push(MenuEntry::Separator);
            entries.push(MenuEntry::Check {
                label: "Local-only mode".into(),
                checked: state.local_only,
                action: Action::SetLocalOnly(!state.local_only),
            });
            entries.push(servers_submenu(&state.servers));
            if let Some(mcp) = &state.mcp {
                entries.push(mcp_submenu(mcp));
            }
            entries.push(MenuEntry::Separator);
            entries.push(MenuEntry::item("Open dashboard…", Action::OpenDashboard));
            entries.push(MenuEntry::Submenu {
                label: "Copy setup for…".into(),
                entries: SetupTarget::ALL.iter().map(|t| MenuEntry::item(t.label(), Action::CopySetup(*t))).collect(),
            });
        }
        entries.push(MenuEntry::Separator);
        entries.push(MenuEntry::Check {
            label: "Launch at login".into(),
            checked: state.autostart,
            action: Action::SetAutostart(!state.autostart),
        });
        entries.push(MenuEntry::item("Quit Switchyard", Action::Quit));
        MenuSpec { entries }
    }

    pub fn status_text(&self) -> Option<&str> {
        match self.entries.first() {
            Some(MenuEntry::Item { label, action: None }) => Some(label),
            _ => None,
        }
    }
}

/// "Coding: ollama/qwen3:4b" → provider submenus → models, local providers marked, the active
/// model checked.
fn class_submenu(class: &ClassState, models: &[CatalogModel]) -> MenuEntry {
    let mut by_provider: BTreeMap<(bool, &str), Vec<&CatalogModel>> = BTreeMap::new();
    for model in models {
        // Local providers first (`false` sorts before `true`).
        by_provider.entry((!model.local, model.provider.as_str())).or_default().push(model);
    }
    let mut entries: Vec<MenuEntry> = by_provider
        .into_iter()
        .map(|((_, provider), list)| {
            let local = list.first().is_some_and(|m| m.local);
            let holds_active = class.active.as_deref().is_some_and(|a| list.iter().any(|m| m.id() == a));
            let mut label = if local { format!("{provider} (local)") } else { provider.to_owned() };
            if holds_active {
                label.push_str(" ●");
            }
            MenuEntry::Submenu {
                label,
                entries: list
                    .into_iter()
                    .map(|m| MenuEntry::Check {
                        label: m.model.clone(),
                        checked: class.active.as_deref() == Some(m.id().as_str()),
                        action: Action::PickModel { class: class.name.clone(), model: m.id() },
                    })
                    .collect(),
            }
        })
        .collect();
    if entries.is_empty() {
        entries.push(MenuEntry::label("No models yet: add a provider key or start a local server"));
    }
    let active = class.active.as_deref().unwrap_or("no model available");
    MenuEntry::Submenu { label: format!("{}: {active}", title(&class.name)), entries }
}

fn servers_submenu(servers: &[ServerState]) -> MenuEntry {
    let mut entries = Vec::new();
    for server in servers {
        let state = match (server.external, server.running, server.healthy) {
            (true, _, _) => "running outside Switchyard",
            (false, true, true) => "running",
            (false, true, false) => "starting",
            (false, false, _) => "stopped",
        };
        entries.push(MenuEntry::label(format!("{}: {state}", server.label)));
        if !server.external {
            let op = |label: &str, op: ServerOp| {
                MenuEntry::item(format!("   {label}"), Action::Server { name: server.name.clone(), op })
            };
            if server.running {
                entries.push(op("Stop", ServerOp::Stop));
                entries.push(op("Restart", ServerOp::Restart));
            } else {
                entries.push(op("Start", ServerOp::Start));
            }
            if server.has_log {
                entries.push(op("Open log", ServerOp::OpenLog));
            }
        }
    }
    if entries.is_empty() {
        entries.push(MenuEntry::label("Local servers cannot be managed here"));
    }
    MenuEntry::Submenu { label: "Local servers".into(), entries }
}

/// The dashboard page of MCP servers and their tools (`#/mcp`).
pub const MCP_PAGE: &str = "mcp";

/// Each server with its state, then the dashboard's MCP page (where servers are added).
fn mcp_submenu(servers: &[McpServerState]) -> MenuEntry {
    let mut entries: Vec<MenuEntry> = servers.iter().map(|server| MenuEntry::label(server.label())).collect();
    if entries.is_empty() {
        entries.push(MenuEntry::label("No MCP servers"));
    }
    entries.push(MenuEntry::Separator);
    entries.push(MenuEntry::item("Open Tools (MCP)…", Action::OpenDashboardPage(MCP_PAGE.into())));
    MenuEntry::Submenu { label: "MCP servers".into(), entries }
}

/// What to do to the native menu when the state changed.
#[derive(Clone, Debug, PartialEq)]
pub enum MenuUpdate {
    Nothing,
    /// Only the status line's text differs: relabel that one item.
    StatusText(String),
    Rebuild,
}

pub fn plan_update(old: Option<&MenuSpec>, new: &MenuSpec) -> MenuUpdate {
    let Some(old) = old else { return MenuUpdate::Rebuild };
    if old == new {
        return MenuUpdate::Nothing;
    }
    if old.entries.len() == new.entries.len()
        && old.entries[1..] == new.entries[1..]
        && let Some(text) = new.status_text()
    {
        return MenuUpdate::StatusText(text.to_owned());
    }
    MenuUpdate::Rebuild
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(provider: &str, model: &str, local: bool) -> CatalogModel {
        CatalogModel { provider: provider.into(), model: model.into(), local }
    }

    fn running_state() -> TrayState {
        TrayState {
            gateway: GatewayStatus::Running,
            port: 30080,
            usage: Some(UsageToday { requests: 1204, cost_usd: 3.1749 }),
            classes: vec![
                ClassState { name: "coding".into(), active: Some("openai/gpt-4o".into()) },
                ClassState { name: "fast".into(), active: Some("ollama/qwen3:4b".into()) },
            ],
            models: vec![
                model("openai", "gpt-4o", false),
                model("openai", "gpt-4o-mini", false),
                model("ollama", "qwen3:4b", true),
                model("anthropic", "claude-sonnet-4-5", false),
            ],
            local_only: false,
            servers: vec![
                ServerState {
                    name: "vllm-mlx".into(),
                    label: "vllm-mlx".into(),
                    running: false,
                    healthy: false,
                    external: false,
                    has_log: true,
                },
                ServerState {
                    name: "ollama".into(),
                    label: "Ollama".into(),
                    running: true,
                    healthy: true,
                    external: false,
                    has_log: false,
                },
            ],
            mcp: Some(vec![
                mcp("filesystem", McpConnection::Connected, None),
                mcp("web", McpConnection::Error, Some("connection refused by http://10.0.0.5:9000/mcp")),
            ]),
            autostart: false,
            budget: None,
            notice: None,
        }
    }

    fn mcp(name: &str, connection: McpConnection, reason: Option<&str>) -> McpServerState {
        McpServerState { name: name.into(), connection, reason: reason.map(str::to_owned), hidden_by_local_only: false }
    }

    fn labels(entries: &[MenuEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                MenuEntry::Item { label, .. } | MenuEntry::Check { label, .. } | MenuEntry::Submenu { label, .. } => {
                    label.clone()
                }
                MenuEntry::Separator => "---".into(),
            })
            .collect()
    }

    fn find<'a>(entries: &'a [MenuEntry], prefix: &str) -> &'a MenuEntry {
        entries
            .iter()
            .find(|e| match e {
                MenuEntry::Item { label, .. } | MenuEntry::Check { label, .. } | MenuEntry::Submenu { label, .. } => {
                    label.starts_with(prefix)
                }
                MenuEntry::Separator => false,
            })
            .unwrap_or_else(|| panic!("no entry starting with {prefix:?} in {entries:#?}"))
    }

    fn children(entry: &MenuEntry) -> &[MenuEntry] {
        match entry {
            MenuEntry::Submenu { entries, .. } => entries,
            other => panic!("not a submenu: {other:?}"),
        }
    }

    #[test]
    fn status_line_reads_like_the_issue_says() {
        let state = running_state();
        assert_eq!(state.status_line(), "Gateway on localhost:30080 · 1,204 requests today · $3.17");
        let one = TrayState { usage: Some(UsageToday { requests: 1, cost_usd: 0.0 }), ..state.clone() };
        assert_eq!(one.status_line(), "Gateway on localhost:30080 · 1 request today · $0.00");
        let taken = TrayState { gateway: GatewayStatus::PortTaken { free: Some(30081) }, ..state };
        assert_eq!(taken.status_line(), "Port 30080 is used by another program");
    }

    #[test]
    fn the_status_line_names_the_budget_nearest_its_limit_past_80_percent() {
        let keys = serde_json::json!({"virtual_keys": [
            {"name": "codex", "budgets": [{"max_limit": 10.0, "current_usage": 7.9, "reset_duration": "1d"}], "provider_configs": []},
            {"name": "claude-code", "budgets": [{"max_limit": 5.0, "current_usage": 1.0, "reset_duration": "1M"}],
             "provider_configs": [{"budgets": [{"max_limit": 2.0, "current_usage": 1.83, "reset_duration": "1w"}]}]},
            {"name": "ci", "budgets": [{"max_limit": 4.0, "current_usage": 3.4, "reset_duration": "1d"}], "provider_configs": []}
        ]});
        let budget = BudgetNearLimit::from_keys(&keys).unwrap();
        assert_eq!((budget.key.as_str(), budget.reset_duration.as_str()), ("claude-code", "1w"));
        let state = TrayState { budget: Some(budget), ..running_state() };
        assert_eq!(
            state.status_line(),
            "Gateway on localhost:30080 · 1,204 requests today · $3.17 · key claude-code at 91 % of $2.00/1w"
        );
        let calm = serde_json::json!({"virtual_keys": [{"name": "codex", "budgets": [{"max_limit": 10.0, "current_usage": 7.9, "reset_duration": "1d"}]}]});
        assert_eq!(BudgetNearLimit::from_keys(&calm), None);
        assert_eq!(BudgetNearLimit::from_keys(&serde_json::json!({})), None);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn class_submenus_group_by_provider_mark_local_and_check_the_active_model() {
        let spec = MenuSpec::from_state(&running_state());
        let coding = find(&spec.entries, "Coding: openai/gpt-4o");
        let providers = children(coding);
        let labels: Vec<&str> = providers
            .iter()
            .map(|p| match p {
                MenuEntry::Submenu { label, .. } => label.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(labels, ["ollama (local)", "anthropic", "openai ●"]);
        let openai = children(&providers[2]);
        assert_eq!(
            openai[0],
            MenuEntry::Check {
                label: "gpt-4o".into(),
                checked: true,
                action: Action::PickModel { class: "coding".into(), model: "openai/gpt-4o".into() }
            }
        );
        assert!(matches!(&openai[1], MenuEntry::Check { checked: false, .. }));
        let fast = children(find(&spec.entries, "Fast: ollama/qwen3:4b"));
        assert!(matches!(&children(&fast[0])[0], MenuEntry::Check { checked: true, label, .. } if label == "qwen3:4b"));
    }

    #[test]
    fn local_only_item_toggles_and_servers_offer_what_fits_their_state() {
        let mut state = running_state();
        let spec = MenuSpec::from_state(&state);
        assert_eq!(
            find(&spec.entries, "Local-only mode"),
            &MenuEntry::Check { label: "Local-only mode".into(), checked: false, action: Action::SetLocalOnly(true) }
        );
        let servers = children(find(&spec.entries, "Local servers"));
        let labels: Vec<String> = servers
            .iter()
            .map(|e| match e {
                MenuEntry::Item { label, .. } => label.trim().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(labels, ["vllm-mlx: stopped", "Start", "Open log", "Ollama: running", "Stop", "Restart"]);
        state.local_only = true;
        let spec = MenuSpec::from_state(&state);
        assert!(matches!(
            find(&spec.entries, "Local-only mode"),
            MenuEntry::Check { checked: true, action: Action::SetLocalOnly(false), .. }
        ));
        assert_eq!(state.icon(), IconState::LocalOnly);
    }

    #[test]
    fn copy_setup_lists_every_tool_and_quit_is_last() {
        let spec = MenuSpec::from_state(&running_state());
        let setup = children(find(&spec.entries, "Copy setup for…"));
        assert_eq!(setup.len(), SetupTarget::ALL.len());
        assert_eq!(spec.entries.last(), Some(&MenuEntry::item("Quit Switchyard", Action::Quit)));
        assert!(matches!(
            find(&spec.entries, "Open dashboard…"),
            MenuEntry::Item { action: Some(Action::OpenDashboard), .. }
        ));
    }

    #[test]
    fn the_mcp_submenu_lists_each_server_with_its_state_and_opens_the_mcp_page() {
        let mut state = running_state();
        let spec = MenuSpec::from_state(&state);
        let mcp_menu = children(find(&spec.entries, "MCP servers"));
        assert_eq!(
            labels(mcp_menu),
            [
                "● filesystem — connected",
                "✕ web — error: connection refused by http://10.0.0.5:9000/mcp",
                "---",
                "Open Tools (MCP)…",
            ]
        );
        // Server states are labels; the last item opens the dashboard at `#/mcp`.
        assert!(matches!(&mcp_menu[0], MenuEntry::Item { action: None, .. }));
        assert_eq!(mcp_menu[3], MenuEntry::item("Open Tools (MCP)…", Action::OpenDashboardPage("mcp".into())));
        // It sits with the local servers, after them.
        let position = |prefix: &str| spec.entries.iter().position(|e| e == find(&spec.entries, prefix));
        assert_eq!(position("MCP servers"), position("Local servers").map(|p| p + 1));

        state.mcp = Some(vec![
            mcp("everything", McpConnection::Connecting, None),
            mcp("off", McpConnection::Disabled, Some("disabled in its settings")),
            McpServerState {
                hidden_by_local_only: true,
                ..mcp("remote", McpConnection::Disabled, Some("local-only mode is on"))
            },
            mcp("bare", McpConnection::Error, None),
        ]);
        let spec = MenuSpec::from_state(&state);
        assert_eq!(
            labels(children(find(&spec.entries, "MCP servers"))),
            [
                "○ everything — connecting…",
                "– off — disabled",
                "– remote — off in local-only mode",
                "✕ bare — error",
                "---",
                "Open Tools (MCP)…",
            ]
        );
    }

    #[test]
    fn no_mcp_servers_says_so_and_an_unknown_list_hides_the_submenu() {
        let state = TrayState { mcp: Some(Vec::new()), ..running_state() };
        let spec = MenuSpec::from_state(&state);
        assert_eq!(
            labels(children(find(&spec.entries, "MCP servers"))),
            ["No MCP servers", "---", "Open Tools (MCP)…"]
        );
        let state = TrayState { mcp: None, ..running_state() };
        let spec = MenuSpec::from_state(&state);
        assert!(labels(&spec.entries).iter().all(|l| l != "MCP servers"));
        // Not serving: no MCP submenu either.
        let state = TrayState { gateway: GatewayStatus::Failed("boom".into()), ..running_state() };
        assert!(labels(&MenuSpec::from_state(&state).entries).iter().all(|l| l != "MCP servers"));
    }

    #[test]
    fn a_long_or_multi_line_error_reason_is_cut_short() {
        let long = format!("the connection failed: {}\nsecond line", "x".repeat(200));
        let label = mcp("web", McpConnection::Error, Some(&long)).label();
        let reason = label.trim_start_matches("✕ web — error: ");
        assert_eq!(reason.chars().count(), MCP_REASON_CHARS, "{label}");
        assert!(reason.starts_with("the connection failed: xxx") && reason.ends_with('…'), "{label}");
        assert!(!label.contains("second line"));
        // Multi-byte characters are cut on a character boundary.
        let label = mcp("web", McpConnection::Error, Some(&"é".repeat(100))).label();
        assert!(label.ends_with("é…"), "{label}");
        assert_eq!(short_reason("  \n  spawn failed  \n"), "spawn failed");
    }

    #[test]
    fn mcp_states_are_read_from_the_api_names() {
        assert_eq!(McpConnection::from_key("connected"), Some(McpConnection::Connected));
        assert_eq!(McpConnection::from_key("connecting"), Some(McpConnection::Connecting));
        assert_eq!(McpConnection::from_key("error"), Some(McpConnection::Error));
        assert_eq!(McpConnection::from_key("disabled"), Some(McpConnection::Disabled));
        assert_eq!(McpConnection::from_key("healthy"), None);
    }

    #[test]
    fn a_changed_mcp_state_rebuilds_the_menu() {
        let state = running_state();
        let spec = MenuSpec::from_state(&state);
        let mut reconnected = state.clone();
        reconnected.mcp =
            Some(vec![mcp("filesystem", McpConnection::Connected, None), mcp("web", McpConnection::Connected, None)]);
        assert_eq!(plan_update(Some(&spec), &MenuSpec::from_state(&reconnected)), MenuUpdate::Rebuild);
    }

    #[test]
    fn a_taken_port_offers_another_and_hides_the_routing_items() {
        let state = TrayState { gateway: GatewayStatus::PortTaken { free: Some(30081) }, ..running_state() };
        let spec = MenuSpec::from_state(&state);
        assert_eq!(
            find(&spec.entries, "Use port 30081 instead"),
            &MenuEntry::item("Use port 30081 instead", Action::UsePort(30081))
        );
        assert!(
            spec.entries.iter().all(|e| !matches!(e, MenuEntry::Check { label, .. } if label == "Local-only mode"))
        );
        assert_eq!(state.icon(), IconState::Error);
    }

    #[test]
    fn a_notice_shows_its_offers() {
        let state = TrayState {
            notice: Some(Notice {
                text: "Local-only needs a running local server".into(),
                offers: vec![(
                    "Start Ollama and turn on local-only".into(),
                    Action::StartServerForLocalOnly("ollama".into()),
                )],
            }),
            ..running_state()
        };
        let spec = MenuSpec::from_state(&state);
        assert!(
            matches!(find(&spec.entries, "Start Ollama"), MenuEntry::Item { action: Some(Action::StartServerForLocalOnly(name)), .. } if name == "ollama")
        );
    }

    #[test]
    fn updates_are_planned_from_the_difference() {
        let state = running_state();
        let spec = MenuSpec::from_state(&state);
        assert_eq!(plan_update(None, &spec), MenuUpdate::Rebuild);
        assert_eq!(plan_update(Some(&spec), &MenuSpec::from_state(&state.clone())), MenuUpdate::Nothing);
        let busier = TrayState { usage: Some(UsageToday { requests: 1205, cost_usd: 3.18 }), ..state.clone() };
        assert_eq!(
            plan_update(Some(&spec), &MenuSpec::from_state(&busier)),
            MenuUpdate::StatusText("Gateway on localhost:30080 · 1,205 requests today · $3.18".into())
        );
        let picked = TrayState {
            classes: vec![ClassState { name: "coding".into(), active: Some("openai/gpt-4o-mini".into()) }],
            ..state
        };
        assert_eq!(plan_update(Some(&spec), &MenuSpec::from_state(&picked)), MenuUpdate::Rebuild);
    }
}
