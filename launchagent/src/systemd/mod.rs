//! The Linux backend: a user unit in `~/.config/systemd/user`, driven with `systemctl --user`.
//!
//! | operation | systemctl --user calls                                          |
//! |-----------|-----------------------------------------------------------------|
//! | install   | `daemon-reload` → `enable` → `restart` (the last two with RunAtLoad) |
//! | start     | `enable --now`                                                  |
//! | stop      | `disable --now` (stays stopped across logins)                   |
//! | restart   | `restart`                                                       |
//! | uninstall | `disable --now` → remove the unit → `daemon-reload` → `reset-failed` |
//! | status    | `show -p ...`, parsed                                           |
//!
//! `restart` rather than `start` after install: a running unit keeps its old command line until
//! it is restarted, and a new model must take effect.

pub mod show;
pub mod unit;

use std::{path::PathBuf, sync::Arc};

use crate::{
    error::ServerError,
    launchd::prepare_dirs,
    manager::{BackendKind, ServiceManager, ServiceState, require_installed},
    paths::{remove_if_exists, write_atomic},
    runner::{CommandOutput, CommandRunner},
    spec::ServiceSpec,
};

pub struct SystemdBackend {
    systemctl: PathBuf,
    unit_dir: PathBuf,
    runner: Arc<dyn CommandRunner>,
}

impl SystemdBackend {
    /// `unit_dir` is normally `~/.config/systemd/user`.
    pub fn new(unit_dir: impl Into<PathBuf>, runner: Arc<dyn CommandRunner>) -> Self {
        Self { systemctl: PathBuf::from("systemctl"), unit_dir: unit_dir.into(), runner }
    }

    /// Use another systemctl (tests point this at a fake).
    pub fn with_systemctl(mut self, program: impl Into<PathBuf>) -> Self {
        self.systemctl = program.into();
        self
    }

    fn unit_name(label: &str) -> String {
        format!("{label}.service")
    }

    /// `systemctl --user <args>`; a non-zero exit becomes [`ServerError::Systemctl`].
    fn user(&self, args: &[&str]) -> Result<CommandOutput, ServerError> {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push("--user");
        all.extend_from_slice(args);
        let out = self.runner.run(&self.systemctl, &all)?;
        if out.success() {
            Ok(out)
        } else {
            Err(ServerError::Systemctl {
                verb: args.iter().take_while(|a| !a.ends_with(".service")).copied().collect::<Vec<_>>().join(" "),
                code: out.code,
                stdout: out.stdout,
                stderr: out.stderr,
            })
        }
    }
}

impl ServiceManager for SystemdBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Systemd
    }

    fn definition_path(&self, label: &str) -> PathBuf {
        self.unit_dir.join(Self::unit_name(label))
    }

    fn install(&self, spec: &ServiceSpec) -> Result<(), ServerError> {
        spec.validate()?;
        prepare_dirs(spec)?;
        write_atomic(&self.definition_path(&spec.label), unit::render_unit(spec).as_bytes())?;
        self.user(&["daemon-reload"])?;
        if spec.run_at_load {
            let unit = Self::unit_name(&spec.label);
            self.user(&["enable", &unit])?;
            self.user(&["restart", &unit])?;
        }
        Ok(())
    }

    fn uninstall(&self, label: &str) -> Result<(), ServerError> {
        let path = self.definition_path(label);
        let unit = Self::unit_name(label);
        if path.is_file() {
            self.user(&["disable", "--now", &unit])?;
        }
        remove_if_exists(&path)?;
        self.user(&["daemon-reload"])?;
        // Forget a failed state so the unit vanishes from `systemctl --user --failed`; it fails
        // harmlessly when there is nothing to reset.
        let _ = self.user(&["reset-failed", &unit]);
        Ok(())
    }

    fn start(&self, label: &str) -> Result<(), ServerError> {
        require_installed(self, label)?;
        self.user(&["enable", "--now", &Self::unit_name(label)])?;
        Ok(())
    }

    fn stop(&self, label: &str) -> Result<(), ServerError> {
        require_installed(self, label)?;
        self.user(&["disable", "--now", &Self::unit_name(label)])?;
        Ok(())
    }

    fn restart(&self, label: &str) -> Result<(), ServerError> {
        require_installed(self, label)?;
        self.user(&["restart", &Self::unit_name(label)])?;
        Ok(())
    }

    fn status(&self, label: &str) -> Result<ServiceState, ServerError> {
        let installed = self.definition_path(label).is_file();
        let out = self.user(&["show", &Self::unit_name(label), "-p", show::PROPERTIES])?;
        let info = show::parse_show(&out.stdout);
        Ok(ServiceState {
            installed,
            loaded: info.loaded(),
            running: info.running(),
            state: info.state_text(),
            pid: info.main_pid,
            last_exit_code: info.last_exit_code,
            last_signal: info.last_signal,
        })
    }

    /// System scope (no `--user`): Ollama's Linux installer creates a system unit.
    fn foreign_service_running(&self, label: &str) -> Result<bool, ServerError> {
        let out = self.runner.run(&self.systemctl, &["is-active", &Self::unit_name(label)])?;
        // is-active prints the state and exits non-zero for anything but active; a machine
        // without systemd as init says so on stderr. Neither is an error for this question.
        Ok(out.success() && out.stdout.trim() == "active")
    }
}
