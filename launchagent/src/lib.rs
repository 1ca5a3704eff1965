//! Switchyard's local model servers (vllm-mlx and Ollama) as per-user services: launchd agents on
//! macOS, systemd user units on Linux.
//!
//! ```text
//! LocalServers (servers.rs)          facade: list / install / start / stop / restart / logs
//!   ├─ LocalServersConfig (config.rs) which servers, model, ports, venv
//!   ├─ presets.rs                     binary discovery, ServiceSpec for vllm-mlx and Ollama
//!   ├─ dyn ServiceManager (manager.rs)
//!   │    ├─ LaunchdBackend (launchd/) plist + launchctl enable/bootstrap/bootout/kickstart/print
//!   │    └─ SystemdBackend (systemd/) unit file + systemctl --user ... / show
//!   │         both shell out through dyn CommandRunner (runner.rs), so tests use fake programs
//!   └─ ServerStatus (status.rs) from: health.rs (HTTP GET), procs.rs (sysinfo), gpu.rs (ioreg),
//!        external.rs (an Ollama started elsewhere), logtail.rs (last lines of the log)
//! ```
//!
//! Every call blocks (it runs launchctl/systemctl, probes HTTP with a short timeout); async
//! callers wrap them in `tokio::task::spawn_blocking`. Nothing here depends on the gateway or on
//! Tauri.

pub mod config;
pub mod error;
pub mod external;
pub mod gpu;
pub mod health;
pub mod launchd;
pub mod logtail;
pub mod manager;
pub mod paths;
pub mod presets;
pub mod procs;
pub mod runner;
pub mod servers;
pub mod spec;
pub mod status;
pub mod systemd;

pub use config::{LocalServersConfig, OllamaConfig, VllmMlxConfig};
pub use error::{ServerError, ServerErrorKind};
pub use external::{ExternalKind, ExternalServer};
pub use gpu::GpuReport;
pub use health::Health;
pub use launchd::LaunchdBackend;
pub use manager::{BackendKind, LogTail, ServiceManager, ServiceState};
pub use paths::Paths;
pub use presets::ServerName;
pub use procs::ProcessUsage;
pub use runner::{CommandOutput, CommandRunner, SystemRunner};
pub use servers::{HostEnv, LocalServers};
pub use spec::{KeepAlive, ServiceSpec};
pub use status::{ServerStatus, StartOutcome};
pub use systemd::SystemdBackend;
