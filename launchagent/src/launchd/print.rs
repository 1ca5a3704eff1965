//! Parses `launchctl print gui/<uid>/<label>`. The format is meant for people and not
//! documented; we read only the service block's own top-level `key = value` lines, so the nested
//! blocks (arguments, environment, endpoints) cannot be mistaken for them.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintInfo {
    /// `running`, `waiting`, `not running`, `spawn scheduled`...
    pub state: Option<String>,
    pub pid: Option<u32>,
    pub last_exit_code: Option<i32>,
    pub last_signal: Option<i32>,
    pub path: Option<String>,
    pub runs: Option<u32>,
}

impl PrintInfo {
    pub fn running(&self) -> bool {
        self.state.as_deref() == Some("running") || self.pid.is_some()
    }
}

pub fn parse_print(output: &str) -> PrintInfo {
    let mut info = PrintInfo::default();
    let mut depth = 0usize;
    for line in output.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with('{') {
            depth += 1;
            continue;
        }
        if trimmed == "}" {
            depth = depth.saturating_sub(1);
            continue;
        }
        // depth 1 is inside `gui/501/label = { ... }` and outside every nested block.
        if depth != 1 {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(" = ") else { continue };
        let value = value.trim();
        match key.trim() {
            "state" => info.state = Some(value.to_owned()),
            "pid" => info.pid = value.parse().ok(),
            "path" => info.path = Some(value.to_owned()),
            "runs" => info.runs = value.parse().ok(),
            // `0`, `78: EX_CONFIG`, or `(never exited)`.
            "last exit code" => info.last_exit_code = leading_int(value),
            // `Killed: 9`, `Terminated: 15`.
            "last terminating signal" => {
                info.last_signal = value.rsplit_once(": ").and_then(|(_, n)| n.trim().parse().ok());
            }
            _ => {}
        }
    }
    info
}

fn leading_int(value: &str) -> Option<i32> {
    let end = value
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(value.len(), |(i, _)| i);
    value[..end].parse().ok()
}

/// launchctl's way of saying the service is not loaded: exit 113 and "Could not find service".
pub fn is_not_found(code: Option<i32>, stdout: &str, stderr: &str) -> bool {
    code == Some(113) || stderr.contains("Could not find service") || stdout.contains("Could not find service")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = include_str!("../../tests/fixtures/launchctl_print_running.txt");
    const CRASHED: &str = include_str!("../../tests/fixtures/launchctl_print_exited.txt");
    const SIGNALLED: &str = include_str!("../../tests/fixtures/launchctl_print_signalled.txt");
    const NOT_FOUND: &str = include_str!("../../tests/fixtures/launchctl_print_not_found.txt");

    #[test]
    fn running_service() {
        let info = parse_print(RUNNING);
        assert_eq!(info.state.as_deref(), Some("running"));
        assert_eq!(info.pid, Some(4821));
        assert_eq!(info.last_exit_code, None, "(never exited)");
        assert_eq!(info.runs, Some(1));
        assert_eq!(info.path.as_deref(), Some("/Users/ada/Library/LaunchAgents/dev.switchyard.vllm-mlx.plist"));
        assert!(info.running());
    }

    #[test]
    fn exited_service_waiting_for_keepalive() {
        let info = parse_print(CRASHED);
        assert_eq!(info.state.as_deref(), Some("not running"));
        assert_eq!(info.pid, None);
        assert_eq!(info.last_exit_code, Some(78));
        assert_eq!(info.runs, Some(3));
        assert!(!info.running());
    }

    #[test]
    fn killed_by_signal() {
        let info = parse_print(SIGNALLED);
        assert_eq!(info.state.as_deref(), Some("waiting"));
        assert_eq!(info.last_signal, Some(9));
        assert_eq!(info.last_exit_code, None);
    }

    #[test]
    fn nested_blocks_are_ignored() {
        // Every nested block in the fixtures has keys that would be wrong at the top level.
        let text = "gui/501/x = {\n\tstate = waiting\n\tendpoints = {\n\t\t\"x\" = {\n\t\t\tpid = 77\n\
                    \t\t\tstate = running\n\t\t}\n\t}\n\tlast exit code = 1\n}\n";
        let info = parse_print(text);
        assert_eq!(info.state.as_deref(), Some("waiting"));
        assert_eq!(info.pid, None);
        assert_eq!(info.last_exit_code, Some(1));
    }

    #[test]
    fn not_found_output() {
        assert!(is_not_found(Some(113), "", NOT_FOUND));
        assert!(is_not_found(Some(1), "", NOT_FOUND), "recognised by text, whatever the code");
        assert!(!is_not_found(Some(0), RUNNING, ""));
        assert_eq!(leading_int("-1: weird"), Some(-1));
        assert_eq!(leading_int("(never exited)"), None);
    }
}
