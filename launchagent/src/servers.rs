//! [`LocalServers`]: the facade the gateway's admin API, the app and the CLI call.
//!
//! A status is assembled in this order, each step best effort (a failure becomes a note or the
//! `error` field, never a missing server):
//! manifest (what was installed) → service manager state → health GET → processes (CPU, RSS,
//! uptime) → GPU → Ollama started elsewhere → log tail.

use std::{
    cell::OnceCell,
    collections::HashSet,
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{
    config::LocalServersConfig,
    error::ServerError,
    external::{self, Evidence, ExternalServer, HOMEBREW_OLLAMA_LABEL, SYSTEM_OLLAMA_UNIT},
    gpu::{self, GpuReport},
    health,
    launchd::LaunchdBackend,
    manager::{BackendKind, LogTail, ServiceManager, ServiceState},
    paths::{Paths, remove_if_exists, write_atomic},
    presets::{self, OLLAMA_STANDARD_PORT, ServerName},
    procs::{self, ProcInfo, ProcessSampler},
    runner::{CommandRunner, SystemRunner, current_uid},
    spec::ServiceSpec,
    status::{ServerStatus, StartOutcome},
    systemd::SystemdBackend,
};

/// The parts of the machine the facade looks at, injectable for tests.
#[derive(Debug, Clone)]
pub struct HostEnv {
    pub paths: Paths,
    /// `$PATH`, searched first for binaries.
    pub path_var: Option<OsString>,
    /// `$UV_TOOL_DIR`, when uv's tools live somewhere else.
    pub uv_tool_dir: Option<PathBuf>,
    /// Homebrew and friends; see [`presets::default_system_bin_dirs`].
    pub system_bin_dirs: Vec<PathBuf>,
}

impl HostEnv {
    pub fn detect() -> Result<Self, ServerError> {
        Ok(Self {
            paths: Paths::detect()?,
            path_var: std::env::var_os("PATH"),
            uv_tool_dir: std::env::var_os("UV_TOOL_DIR").map(PathBuf::from),
            system_bin_dirs: presets::default_system_bin_dirs(),
        })
    }

    /// Everything under `home`, nothing from the environment.
    pub fn isolated(home: &Path) -> Self {
        Self { paths: Paths::under_home(home), path_var: None, uv_tool_dir: None, system_bin_dirs: Vec::new() }
    }
}

/// What was installed, kept next to the definition so status and logs work without the
/// configuration that installed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    name: ServerName,
    model: Option<String>,
    spec: ServiceSpec,
}

pub struct LocalServers {
    config: LocalServersConfig,
    host: HostEnv,
    manager: Box<dyn ServiceManager>,
    runner: Arc<dyn CommandRunner>,
    sampler: Mutex<ProcessSampler>,
}

/// One look at the machine, shared by the statuses of one `list` call.
struct Observation {
    procs: Vec<ProcInfo>,
    gpu: OnceCell<GpuReport>,
}

impl LocalServers {
    /// The real thing: the current user's directories, launchd on macOS and systemd elsewhere.
    pub fn new(config: LocalServersConfig) -> Result<Self, ServerError> {
        let host = HostEnv::detect()?;
        let runner: Arc<dyn CommandRunner> = Arc::new(SystemRunner::new());
        let manager: Box<dyn ServiceManager> = if cfg!(target_os = "macos") {
            let uid = current_uid(runner.as_ref(), &host.paths.home)?;
            Box::new(LaunchdBackend::new(&host.paths.launch_agents, uid, Arc::clone(&runner)))
        } else {
            Box::new(SystemdBackend::new(&host.paths.systemd_user, Arc::clone(&runner)))
        };
        Self::with_backend(config, host, manager, runner)
    }

    /// Any backend, host and runner (tests use fakes of all three).
    pub fn with_backend(
        config: LocalServersConfig,
        host: HostEnv,
        manager: Box<dyn ServiceManager>,
        runner: Arc<dyn CommandRunner>,
    ) -> Result<Self, ServerError> {
        config.validate()?;
        Ok(Self { config, host, manager, runner, sampler: Mutex::new(ProcessSampler::default()) })
    }

    pub fn config(&self) -> &LocalServersConfig {
        &self.config
    }

    pub fn backend(&self) -> BackendKind {
        self.manager.kind()
    }

    pub fn paths(&self) -> &Paths {
        &self.host.paths
    }

    pub fn definition_path(&self, name: ServerName) -> PathBuf {
        self.manager.definition_path(name.label())
    }

    /// The spec `install` would write now: the binary found, the configured model and port.
    pub fn spec(&self, name: ServerName) -> Result<ServiceSpec, ServerError> {
        let paths = &self.host.paths;
        match name {
            ServerName::VllmMlx => {
                let c = &self.config.vllm_mlx;
                let model = c.model.as_deref().filter(|m| !m.trim().is_empty()).ok_or(ServerError::ModelRequired)?;
                let binary = self.find_binary(name)?;
                Ok(presets::vllm_mlx_spec(&binary, model, c.port, &c.extra_args, paths))
            }
            ServerName::Ollama => {
                let binary = self.find_binary(name)?;
                Ok(presets::ollama_spec(&binary, self.config.ollama.port, paths))
            }
        }
    }

    /// The spec that was last installed, if any.
    pub fn installed_spec(&self, name: ServerName) -> Result<Option<ServiceSpec>, ServerError> {
        Ok(self.read_manifest(name)?.map(|m| m.spec))
    }

    /// Writes the definition from the configuration and (re)starts the server with it. For
    /// Ollama with `prefer_external`, an Ollama already running elsewhere is reported instead.
    pub fn install(&self, name: ServerName) -> Result<StartOutcome, ServerError> {
        self.ensure_enabled(name)?;
        if let Some(server) = self.external_instead_of(name)? {
            return Ok(StartOutcome::External { server });
        }
        let spec = self.spec(name)?;
        self.check_installed_ports(name, spec.port)?;
        let model = presets::vllm_mlx_model(&spec).filter(|_| name == ServerName::VllmMlx).map(str::to_owned);
        self.write_manifest(&Manifest { name, model, spec: spec.clone() })?;
        self.manager.install(&spec)?;
        Ok(StartOutcome::Started)
    }

    /// Stops and removes the service. Logs stay where they are.
    pub fn uninstall(&self, name: ServerName) -> Result<(), ServerError> {
        self.manager.uninstall(name.label())?;
        remove_if_exists(&self.manifest_path(name))
    }

    pub fn start(&self, name: ServerName) -> Result<StartOutcome, ServerError> {
        self.ensure_enabled(name)?;
        let path = self.definition_path(name);
        if !path.is_file() {
            return Err(ServerError::NotInstalled { name: name.to_string(), path });
        }
        if let Some(server) = self.external_instead_of(name)? {
            return Ok(StartOutcome::External { server });
        }
        self.manager.start(name.label())?;
        Ok(StartOutcome::Started)
    }

    pub fn stop(&self, name: ServerName) -> Result<(), ServerError> {
        self.require_installed(name)?;
        self.manager.stop(name.label())
    }

    pub fn restart(&self, name: ServerName) -> Result<(), ServerError> {
        self.ensure_enabled(name)?;
        self.require_installed(name)?;
        self.manager.restart(name.label())
    }

    /// The last `lines` lines of the server's log file(s).
    pub fn logs(&self, name: ServerName, lines: usize) -> Result<Vec<LogTail>, ServerError> {
        let files = match self.read_manifest(name)? {
            Some(m) => m.spec.log_files().into_iter().map(Path::to_path_buf).collect(),
            None => vec![presets::log_file(&self.host.paths, name)],
        };
        self.manager.log_tail(&files, lines)
    }

    pub fn status(&self, name: ServerName) -> ServerStatus {
        let obs = self.observe();
        self.status_with(name, &obs)
    }

    /// Every server that is enabled or installed.
    pub fn list(&self) -> Vec<ServerStatus> {
        let obs = self.observe();
        ServerName::ALL
            .into_iter()
            .filter(|&n| self.config.enabled(n) || self.definition_path(n).is_file())
            .map(|n| self.status_with(n, &obs))
            .collect()
    }

    /// An Ollama running without Switchyard's service, if any.
    pub fn external_ollama(&self) -> Option<ExternalServer> {
        let obs = self.observe();
        let state = self.manager.status(ServerName::Ollama.label()).unwrap_or_default();
        let own = own_processes(&obs.procs, &state);
        self.detect_external(&obs.procs, &own, state.running.then_some(self.ollama_port()))
    }

    fn status_with(&self, name: ServerName, obs: &Observation) -> ServerStatus {
        let label = name.label();
        let definition_path = self.definition_path(name);
        let mut notes = Vec::new();
        let mut errors = Vec::new();

        let manifest = self.read_manifest(name).unwrap_or_else(|e| {
            errors.push(e.to_string());
            None
        });
        let state = self.manager.status(label).unwrap_or_else(|e| {
            errors.push(e.to_string());
            ServiceState { installed: definition_path.is_file(), ..ServiceState::default() }
        });

        let (port, health_url, log_files, model) = match &manifest {
            Some(m) => {
                self.note_drift(name, m, &mut notes);
                let files = m.spec.log_files().into_iter().map(Path::to_path_buf).collect();
                (m.spec.port, m.spec.health_url.clone(), files, m.model.clone())
            }
            None => {
                let port = self.config.port(name);
                let model = (name == ServerName::VllmMlx).then(|| self.config.vllm_mlx.model.clone()).flatten();
                (port, presets::health_url(name, port), vec![presets::log_file(&self.host.paths, name)], model)
            }
        };
        let health = health::check(&health_url, self.health_timeout());

        let server_procs = match state.pid {
            Some(pid) => procs::process_tree(&obs.procs, pid),
            // vllm-mlx started by hand still shows its usage; Ollama's is reported as external.
            None if name == ServerName::VllmMlx => {
                let found: Vec<&ProcInfo> =
                    obs.procs.iter().filter(|p| p.pid != std::process::id() && procs::is_vllm_mlx_server(p)).collect();
                if !found.is_empty() {
                    notes.push("vllm-mlx processes are running outside Switchyard's service".to_owned());
                }
                found
            }
            None => Vec::new(),
        };
        let usage = procs::usage(&server_procs);
        let uptime_secs = state.pid.and_then(|pid| obs.procs.iter().find(|p| p.pid == pid)).map(|p| p.run_time_secs);
        let gpu = if state.running {
            obs.gpu.get_or_init(|| gpu::sample(self.runner.as_ref())).clone()
        } else {
            GpuReport::unavailable("the server is not running")
        };

        let external = match name {
            ServerName::Ollama => {
                let own: HashSet<u32> = server_procs.iter().map(|p| p.pid).collect();
                self.detect_external(&obs.procs, &own, state.running.then_some(port))
            }
            ServerName::VllmMlx => {
                if !state.running && external::ollama_answers(port, self.health_timeout()) {
                    notes.push(format!(
                        "port {port} is taken by an Ollama started outside Switchyard; give vllm-mlx another \
                         port or quit that Ollama"
                    ));
                }
                None
            }
        };

        let log_tail = match self.manager.log_tail(&log_files, self.config.status_log_lines) {
            Ok(tails) => tails.into_iter().flat_map(|t| t.lines).collect(),
            Err(e) => {
                errors.push(e.to_string());
                Vec::new()
            }
        };

        ServerStatus {
            name,
            label: label.to_owned(),
            backend: self.manager.kind(),
            enabled: self.config.enabled(name),
            installed: state.installed,
            loaded: state.loaded,
            running: state.running,
            state: state.state,
            pid: state.pid,
            last_exit_code: state.last_exit_code,
            last_signal: state.last_signal,
            model,
            port,
            base_url: format!("http://127.0.0.1:{port}"),
            health,
            uptime_secs,
            usage,
            gpu,
            definition_path,
            log_files,
            log_tail,
            external,
            notes,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
        }
    }

    /// Says so when the installed service no longer matches the configuration.
    fn note_drift(&self, name: ServerName, m: &Manifest, notes: &mut Vec<String>) {
        if !self.config.enabled(name) {
            return;
        }
        if name == ServerName::VllmMlx
            && let Some(wanted) = &self.config.vllm_mlx.model
            && m.model.as_ref() != Some(wanted)
        {
            notes.push(format!(
                "installed with model {}, configured {wanted}: install again to switch",
                m.model.as_deref().unwrap_or("(none)")
            ));
        }
        let wanted_port = self.config.port(name);
        if m.spec.port != wanted_port {
            notes.push(format!("installed on port {}, configured {wanted_port}: install again to switch", m.spec.port));
        }
    }

    /// For Ollama with `prefer_external`: the Ollama to use instead of ours, when ours is not
    /// running and another one is.
    fn external_instead_of(&self, name: ServerName) -> Result<Option<ExternalServer>, ServerError> {
        if name != ServerName::Ollama || !self.config.ollama.prefer_external {
            return Ok(None);
        }
        let state = self.manager.status(name.label())?;
        if state.running {
            return Ok(None);
        }
        let obs = self.observe();
        let own = own_processes(&obs.procs, &state);
        Ok(self.detect_external(&obs.procs, &own, None))
    }

    fn detect_external(&self, procs: &[ProcInfo], own: &HashSet<u32>, own_port: Option<u16>) -> Option<ExternalServer> {
        let foreign = |label: &str| {
            self.manager.foreign_service_running(label).unwrap_or_else(|e| {
                tracing::debug!(label, error = %e, "could not ask about a foreign service");
                false
            })
        };
        let (homebrew_service_running, system_unit_running) = match self.manager.kind() {
            BackendKind::Launchd => (foreign(HOMEBREW_OLLAMA_LABEL), false),
            BackendKind::Systemd => (false, foreign(SYSTEM_OLLAMA_UNIT)),
        };
        let mut ports = vec![OLLAMA_STANDARD_PORT];
        if self.config.ollama.port != OLLAMA_STANDARD_PORT {
            ports.push(self.config.ollama.port);
        }
        let answering_port = ports
            .into_iter()
            .filter(|&p| Some(p) != own_port)
            .find(|&p| external::ollama_answers(p, self.health_timeout()));
        external::classify(&Evidence {
            processes: procs,
            own_pids: own.clone(),
            homebrew_service_running,
            system_unit_running,
            answering_port,
        })
    }

    /// Another installed server already on this port would make the new one crash-loop.
    fn check_installed_ports(&self, name: ServerName, port: u16) -> Result<(), ServerError> {
        for other in ServerName::ALL.into_iter().filter(|&o| o != name) {
            let Some(m) = self.read_manifest(other)? else { continue };
            if m.spec.port == port && self.definition_path(other).is_file() {
                return Err(ServerError::PortConflict { port, first: other, second: name });
            }
        }
        Ok(())
    }

    fn ensure_enabled(&self, name: ServerName) -> Result<(), ServerError> {
        if self.config.enabled(name) { Ok(()) } else { Err(ServerError::NotConfigured { name }) }
    }

    fn require_installed(&self, name: ServerName) -> Result<(), ServerError> {
        let path = self.definition_path(name);
        if path.is_file() { Ok(()) } else { Err(ServerError::NotInstalled { name: name.to_string(), path }) }
    }

    fn find_binary(&self, name: ServerName) -> Result<PathBuf, ServerError> {
        let host = &self.host;
        let (explicit, dirs) = match name {
            ServerName::VllmMlx => (
                self.config.vllm_mlx.binary.as_deref(),
                presets::vllm_mlx_search_dirs(
                    &host.paths.home,
                    self.config.vllm_mlx.venv.as_deref(),
                    host.path_var.as_deref(),
                    host.uv_tool_dir.as_deref(),
                ),
            ),
            ServerName::Ollama => (
                self.config.ollama.binary.as_deref(),
                presets::ollama_search_dirs(&host.paths.home, host.path_var.as_deref(), &host.system_bin_dirs),
            ),
        };
        match explicit {
            Some(path) => presets::check_binary(path),
            None => presets::find_binary(name.binary(), &dirs),
        }
    }

    fn manifest_path(&self, name: ServerName) -> PathBuf {
        self.host.paths.state.join(format!("{}.json", name.label()))
    }

    fn read_manifest(&self, name: ServerName) -> Result<Option<Manifest>, ServerError> {
        let path = self.manifest_path(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ServerError::io("read", path, e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|source| ServerError::Manifest { path, source })
    }

    fn write_manifest(&self, m: &Manifest) -> Result<(), ServerError> {
        let path = self.manifest_path(m.name);
        let json =
            serde_json::to_vec_pretty(m).map_err(|source| ServerError::Manifest { path: path.clone(), source })?;
        write_atomic(&path, &json)
    }

    fn observe(&self) -> Observation {
        // A panic elsewhere while sampling leaves a usable sampler; poisoning is not a reason to
        // stop reporting status.
        let procs = self.sampler.lock().unwrap_or_else(|e| e.into_inner()).snapshot();
        Observation { procs, gpu: OnceCell::new() }
    }

    fn health_timeout(&self) -> Duration {
        Duration::from_millis(self.config.health_timeout_ms)
    }

    fn ollama_port(&self) -> u16 {
        self.read_manifest(ServerName::Ollama).ok().flatten().map_or(self.config.ollama.port, |m| m.spec.port)
    }
}

fn own_processes(procs: &[ProcInfo], state: &ServiceState) -> HashSet<u32> {
    state.pid.map(|pid| procs::process_tree(procs, pid).iter().map(|p| p.pid).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway keeps one `LocalServers` in its state and calls it from `spawn_blocking`.
    #[test]
    fn facade_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<LocalServers>();
    }
}
