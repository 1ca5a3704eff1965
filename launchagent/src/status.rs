//! The status of one local server as the JSON API and the app show it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{
    external::ExternalServer, gpu::GpuReport, health::Health, manager::BackendKind, presets::ServerName,
    procs::ProcessUsage,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub name: ServerName,
    pub label: String,
    pub backend: BackendKind,
    /// Switchyard's configuration manages it.
    pub enabled: bool,
    /// Its plist or unit file exists.
    pub installed: bool,
    /// The service manager has it (bootstrapped / loaded).
    pub loaded: bool,
    pub running: bool,
    /// The service manager's own words (`running`, `waiting`, `failed (failed)`...).
    pub state: Option<String>,
    pub pid: Option<u32>,
    pub last_exit_code: Option<i32>,
    pub last_signal: Option<i32>,
    pub model: Option<String>,
    pub port: u16,
    /// Where clients reach it, e.g. `http://127.0.0.1:11434`.
    pub base_url: String,
    pub health: Health,
    pub uptime_secs: Option<u64>,
    /// CPU and memory of the server and its child processes.
    pub usage: Option<ProcessUsage>,
    pub gpu: GpuReport,
    pub definition_path: PathBuf,
    pub log_files: Vec<PathBuf>,
    pub log_tail: Vec<String>,
    /// An Ollama running outside Switchyard: use it rather than starting another.
    pub external: Option<ExternalServer>,
    /// Things worth telling the user (port taken, installed model differs from the config...).
    pub notes: Vec<String>,
    /// Set when part of the status could not be read; the other fields are best effort.
    pub error: Option<String>,
}

/// What `start` (and `install`) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum StartOutcome {
    /// Switchyard's service was started (or installed and started).
    Started,
    /// Nothing was started: an Ollama already runs outside Switchyard; use it.
    External { server: ExternalServer },
}
