//! What a menu item does. Each item's id is its action written as a string, so a click decodes
//! back into the action without any lookup table that could drift from the menu.

use crate::setup_texts::SetupTarget;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerOp {
    Start,
    Stop,
    Restart,
    OpenLog,
}

impl ServerOp {
    pub fn key(self) -> &'static str {
        match self {
            ServerOp::Start => "start",
            ServerOp::Stop => "stop",
            ServerOp::Restart => "restart",
            ServerOp::OpenLog => "log",
        }
    }

    pub fn from_key(key: &str) -> Option<ServerOp> {
        [ServerOp::Start, ServerOp::Stop, ServerOp::Restart, ServerOp::OpenLog].into_iter().find(|op| op.key() == key)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make `model` (`provider/model`) the class's model.
    PickModel {
        class: String,
        model: String,
    },
    /// Turn local-only mode on or off.
    SetLocalOnly(bool),
    /// Start a local server, then turn local-only on (offered when local-only found no server).
    StartServerForLocalOnly(String),
    Server {
        name: String,
        op: ServerOp,
    },
    OpenDashboard,
    /// The dashboard at one of its pages (`mcp` → `#/mcp`).
    OpenDashboardPage(String),
    CopySetup(SetupTarget),
    SetAutostart(bool),
    /// Serve on another port (offered when something else holds the configured one).
    UsePort(u16),
    /// Try the configured port again.
    Retry,
    Quit,
}

impl Action {
    /// The menu id. Class names never contain `:` (the admin API refuses them); model ids may
    /// (`ollama/qwen3:4b`), so the model comes last.
    pub fn id(&self) -> String {
        match self {
            Action::PickModel { class, model } => format!("pick:{class}:{model}"),
            Action::SetLocalOnly(on) => format!("local-only:{on}"),
            Action::StartServerForLocalOnly(name) => format!("local-only-start:{name}"),
            Action::Server { name, op } => format!("server:{}:{name}", op.key()),
            Action::OpenDashboard => "dashboard".into(),
            Action::OpenDashboardPage(page) => format!("dashboard:{page}"),
            Action::CopySetup(target) => format!("setup:{}", target.key()),
            Action::SetAutostart(on) => format!("autostart:{on}"),
            Action::UsePort(port) => format!("port:{port}"),
            Action::Retry => "retry".into(),
            Action::Quit => "quit".into(),
        }
    }

    pub fn parse(id: &str) -> Option<Action> {
        let (head, rest) = id.split_once(':').unwrap_or((id, ""));
        Some(match head {
            "pick" => {
                let (class, model) = rest.split_once(':')?;
                if class.is_empty() || model.is_empty() {
                    return None;
                }
                Action::PickModel { class: class.into(), model: model.into() }
            }
            "local-only" => Action::SetLocalOnly(rest.parse().ok()?),
            "local-only-start" if !rest.is_empty() => Action::StartServerForLocalOnly(rest.into()),
            "server" => {
                let (op, name) = rest.split_once(':')?;
                Action::Server { name: name.into(), op: ServerOp::from_key(op)? }
            }
            "dashboard" if rest.is_empty() => Action::OpenDashboard,
            "dashboard" if is_page(rest) => Action::OpenDashboardPage(rest.into()),
            "setup" => Action::CopySetup(SetupTarget::from_key(rest)?),
            "autostart" => Action::SetAutostart(rest.parse().ok()?),
            "port" => Action::UsePort(rest.parse().ok()?),
            "retry" if rest.is_empty() => Action::Retry,
            "quit" if rest.is_empty() => Action::Quit,
            _ => return None,
        })
    }
}

/// A dashboard page's name as the dashboard addresses it (`#/mcp`): lowercase letters, digits
/// and `-`, so it goes into the window's address as it is.
pub fn is_page(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_id() {
        let actions = [
            Action::PickModel { class: "coding".into(), model: "ollama/qwen3:4b".into() },
            Action::PickModel { class: "review".into(), model: "mlx-local/mlx-community/Qwen3-8B-4bit".into() },
            Action::SetLocalOnly(true),
            Action::SetLocalOnly(false),
            Action::StartServerForLocalOnly("ollama".into()),
            Action::Server { name: "vllm-mlx".into(), op: ServerOp::Restart },
            Action::Server { name: "ollama".into(), op: ServerOp::OpenLog },
            Action::OpenDashboard,
            Action::OpenDashboardPage("mcp".into()),
            Action::CopySetup(SetupTarget::CodexCli),
            Action::SetAutostart(true),
            Action::UsePort(30081),
            Action::Retry,
            Action::Quit,
        ];
        for action in actions {
            assert_eq!(Action::parse(&action.id()), Some(action.clone()), "{}", action.id());
        }
    }

    #[test]
    fn unknown_or_malformed_ids_are_refused() {
        for id in [
            "",
            "pick",
            "pick:coding",
            "pick::x/y",
            "local-only:maybe",
            "server:explode:ollama",
            "port:99999",
            "quit:now",
            "dashboard:MCP",
            "dashboard:mcp?x=1",
            "dashboard:../login",
            "setup:cursor",
            "status",
        ] {
            assert_eq!(Action::parse(id), None, "{id}");
        }
    }
}
