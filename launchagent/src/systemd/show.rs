//! Parses `systemctl show -p ...`: one `Key=Value` per line, documented and stable.

use std::collections::HashMap;

/// The properties we ask for, in one `show` call.
pub const PROPERTIES: &str =
    "LoadState,ActiveState,SubState,MainPID,ExecMainCode,ExecMainStatus,UnitFileState,ExecMainStartTimestampMonotonic";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShowInfo {
    /// `loaded`, `not-found`, `bad-setting`...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`...
    pub active_state: String,
    /// `running`, `dead`, `failed`, `auto-restart`...
    pub sub_state: String,
    pub main_pid: Option<u32>,
    pub last_exit_code: Option<i32>,
    pub last_signal: Option<i32>,
    /// `enabled`, `disabled`...
    pub unit_file_state: String,
}

impl ShowInfo {
    pub fn loaded(&self) -> bool {
        self.load_state == "loaded"
    }

    pub fn running(&self) -> bool {
        self.active_state == "active" && self.main_pid.is_some()
    }

    pub fn state_text(&self) -> Option<String> {
        match (self.active_state.is_empty(), self.sub_state.is_empty()) {
            (true, _) => None,
            (false, true) => Some(self.active_state.clone()),
            (false, false) => Some(format!("{} ({})", self.active_state, self.sub_state)),
        }
    }
}

pub fn parse_show(output: &str) -> ShowInfo {
    let props: HashMap<&str, &str> = output.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| props.get(k).copied().unwrap_or_default().to_owned();
    let main_pid = props.get("MainPID").and_then(|v| v.parse::<u32>().ok()).filter(|&p| p > 0);
    let status = props.get("ExecMainStatus").and_then(|v| v.parse::<i32>().ok());
    // ExecMainCode is the waitid() si_code: 1 = exited (status is an exit code), 2 = killed,
    // 3 = dumped core (status is a signal number), 0 = has not exited.
    let (last_exit_code, last_signal) = match props.get("ExecMainCode").copied() {
        Some("1") => (status, None),
        Some("2") | Some("3") => (None, status),
        _ => (None, None),
    };
    ShowInfo {
        load_state: get("LoadState"),
        active_state: get("ActiveState"),
        sub_state: get("SubState"),
        main_pid,
        last_exit_code,
        last_signal,
        unit_file_state: get("UnitFileState"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_unit() {
        let info = parse_show(include_str!("../../tests/fixtures/systemctl_show_running.txt"));
        assert!(info.loaded());
        assert!(info.running());
        assert_eq!(info.main_pid, Some(23817));
        assert_eq!(info.last_exit_code, None);
        assert_eq!(info.state_text().as_deref(), Some("active (running)"));
        assert_eq!(info.unit_file_state, "enabled");
    }

    #[test]
    fn failed_unit() {
        let info = parse_show(include_str!("../../tests/fixtures/systemctl_show_failed.txt"));
        assert!(info.loaded());
        assert!(!info.running());
        assert_eq!(info.main_pid, None);
        assert_eq!(info.last_exit_code, Some(2));
        assert_eq!(info.state_text().as_deref(), Some("failed (failed)"));
    }

    #[test]
    fn killed_unit_reports_the_signal() {
        let info = parse_show(
            "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nMainPID=0\nExecMainCode=2\nExecMainStatus=9\n",
        );
        assert_eq!(info.last_signal, Some(9));
        assert_eq!(info.last_exit_code, None);
    }

    #[test]
    fn unknown_unit() {
        let info = parse_show(include_str!("../../tests/fixtures/systemctl_show_not_found.txt"));
        assert!(!info.loaded());
        assert!(!info.running());
        assert_eq!(info.state_text().as_deref(), Some("inactive (dead)"));
    }
}
