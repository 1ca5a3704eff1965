//! The one interface both service managers implement. Everything above it (presets, status, the
//! facade) is backend-agnostic.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{error::ServerError, logtail, spec::ServiceSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Launchd,
    Systemd,
}

/// What the service manager knows about one service right now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The definition file (plist or unit) exists.
    pub installed: bool,
    /// The manager has the job: bootstrapped in launchd, `LoadState=loaded` in systemd.
    pub loaded: bool,
    pub running: bool,
    /// The manager's own words: launchd `running` / `waiting` / `not running`, systemd
    /// `active (running)`, `failed (failed)`...
    pub state: Option<String>,
    pub pid: Option<u32>,
    pub last_exit_code: Option<i32>,
    pub last_signal: Option<i32>,
}

/// The last lines of one log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTail {
    pub path: PathBuf,
    pub lines: Vec<String>,
}

/// Installs and drives per-user services. Calls block (they run launchctl or systemctl); from
/// async code, call them inside `spawn_blocking`.
pub trait ServiceManager: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// Where the definition of `label` lives (plist or unit file).
    fn definition_path(&self, label: &str) -> PathBuf;

    /// Writes the definition and (re)loads it so the new definition is in effect. With
    /// `run_at_load` the server starts (or restarts, when it was running an older definition).
    fn install(&self, spec: &ServiceSpec) -> Result<(), ServerError>;

    /// Stops the service, unloads it and removes its definition. Logs are kept.
    fn uninstall(&self, label: &str) -> Result<(), ServerError>;

    /// Starts the service and marks it to start at login again.
    fn start(&self, label: &str) -> Result<(), ServerError>;

    /// Stops the service and keeps it stopped across logins, until `start`.
    fn stop(&self, label: &str) -> Result<(), ServerError>;

    /// Kills and starts it again (starts it when it was not running).
    fn restart(&self, label: &str) -> Result<(), ServerError>;

    fn status(&self, label: &str) -> Result<ServiceState, ServerError>;

    /// Whether a service Switchyard did not write is running, e.g. Homebrew's
    /// `homebrew.mxcl.ollama` (launchd, the user's gui domain) or the Ollama installer's
    /// `ollama` unit (systemd, the system manager). Used to find an Ollama that already runs.
    fn foreign_service_running(&self, label: &str) -> Result<bool, ServerError>;

    /// The last `lines` lines of each log file (from [`ServiceSpec::log_files`]); a file not
    /// written yet gives no lines.
    fn log_tail(&self, files: &[PathBuf], lines: usize) -> Result<Vec<LogTail>, ServerError> {
        files.iter().map(|path| tail_one(path, lines)).collect()
    }
}

fn tail_one(path: &Path, lines: usize) -> Result<LogTail, ServerError> {
    let lines = match logtail::tail_lines(path, lines) {
        Ok(tail) => tail.lines,
        // Not written yet: the server has not started since it was installed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ServerError::io("read", path, e)),
    };
    Ok(LogTail { path: path.to_path_buf(), lines })
}

/// Returns an error unless the definition file for `label` exists.
pub(crate) fn require_installed(manager: &dyn ServiceManager, label: &str) -> Result<PathBuf, ServerError> {
    let path = manager.definition_path(label);
    if path.is_file() { Ok(path) } else { Err(ServerError::NotInstalled { name: label.to_owned(), path }) }
}
