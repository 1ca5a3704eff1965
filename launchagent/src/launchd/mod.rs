//! The macOS backend: a plist in `~/Library/LaunchAgents`, driven with launchctl's modern verbs
//! in the user's `gui/<uid>` domain.
//!
//! | operation | launchctl calls                                                              |
//! |-----------|------------------------------------------------------------------------------|
//! | install   | (`bootout` + poll `print` until gone, if loaded) → `enable` → `bootstrap`    |
//! | start     | `kickstart` if loaded, else `enable` → `bootstrap` (+ `kickstart` without RunAtLoad) |
//! | stop      | `bootout` + poll until gone → `disable` (stays stopped across logins)        |
//! | restart   | `kickstart -k` (or start, when not loaded)                                   |
//! | uninstall | `bootout` + poll until gone → remove the plist                               |
//! | status    | `print`, parsed                                                              |
//!
//! Bootout returns before launchd has finished tearing the job down; bootstrapping again in that
//! window fails with "Bootstrap failed: 5: Input/output error". Hence the bounded poll.
//!
//! Nothing here is macOS-only: it only writes files and shells out through the runner, so the
//! whole backend is tested on Linux against a fake launchctl.

pub mod plist;
pub mod print;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use self::{plist::LaunchdPlist, print::PrintInfo};
use crate::{
    error::ServerError,
    manager::{BackendKind, ServiceManager, ServiceState, require_installed},
    paths::{remove_if_exists, write_atomic},
    runner::{CommandOutput, CommandRunner},
    spec::ServiceSpec,
};

pub const LAUNCHCTL: &str = "/bin/launchctl";

pub struct LaunchdBackend {
    launchctl: PathBuf,
    agents_dir: PathBuf,
    uid: u32,
    runner: Arc<dyn CommandRunner>,
    unload_timeout: Duration,
    poll_interval: Duration,
}

impl LaunchdBackend {
    /// `agents_dir` is normally `~/Library/LaunchAgents`; `uid` selects the `gui/<uid>` domain
    /// (see [`crate::runner::current_uid`]).
    pub fn new(agents_dir: impl Into<PathBuf>, uid: u32, runner: Arc<dyn CommandRunner>) -> Self {
        Self {
            launchctl: PathBuf::from(LAUNCHCTL),
            agents_dir: agents_dir.into(),
            uid,
            runner,
            unload_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(100),
        }
    }

    /// Use another launchctl (tests point this at a fake).
    pub fn with_launchctl(mut self, program: impl Into<PathBuf>) -> Self {
        self.launchctl = program.into();
        self
    }

    /// How long to wait for a booted-out job to disappear, and how often to look.
    pub fn with_unload_wait(mut self, timeout: Duration, poll_interval: Duration) -> Self {
        self.unload_timeout = timeout;
        self.poll_interval = poll_interval;
        self
    }

    fn domain(&self) -> String {
        format!("gui/{}", self.uid)
    }

    fn target(&self, label: &str) -> String {
        format!("gui/{}/{label}", self.uid)
    }

    fn launchctl(&self, args: &[&str]) -> Result<CommandOutput, ServerError> {
        self.runner.run(&self.launchctl, args)
    }

    /// Runs a verb and turns a non-zero exit into [`ServerError::Launchctl`].
    fn checked(&self, args: &[&str]) -> Result<CommandOutput, ServerError> {
        let out = self.launchctl(args)?;
        if out.success() { Ok(out) } else { Err(launchctl_error(args, out)) }
    }

    /// `print` for `label`: `None` when launchd does not have it loaded.
    fn print(&self, label: &str) -> Result<Option<PrintInfo>, ServerError> {
        let target = self.target(label);
        let args = ["print", target.as_str()];
        let out = self.launchctl(&args)?;
        if out.success() {
            Ok(Some(print::parse_print(&out.stdout)))
        } else if print::is_not_found(out.code, &out.stdout, &out.stderr) {
            Ok(None)
        } else {
            Err(launchctl_error(&args, out))
        }
    }

    /// Boots the job out and waits until launchd no longer knows it.
    fn unload(&self, label: &str) -> Result<(), ServerError> {
        let target = self.target(label);
        let args = ["bootout", target.as_str()];
        let out = self.launchctl(&args)?;
        // 3 ("No such process") and 113 ("Could not find service"): it was already gone.
        // 36 ("Operation now in progress"): a teardown is under way; the wait below covers it.
        if !out.success() && !matches!(out.code, Some(3) | Some(36) | Some(113)) {
            return Err(launchctl_error(&args, out));
        }
        self.wait_until_gone(label)
    }

    fn wait_until_gone(&self, label: &str) -> Result<(), ServerError> {
        let started = Instant::now();
        loop {
            if self.print(label)?.is_none() {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= self.unload_timeout {
                return Err(ServerError::UnloadTimeout { label: label.to_owned(), waited });
            }
            thread::sleep(self.poll_interval);
        }
    }

    /// `enable` first: a job disabled by an earlier `stop` would otherwise fail to bootstrap.
    fn load(&self, label: &str, plist: &Path) -> Result<(), ServerError> {
        let plist = path_str(plist)?;
        self.checked(&["enable", &self.target(label)])?;
        self.checked(&["bootstrap", &self.domain(), plist])?;
        Ok(())
    }
}

impl ServiceManager for LaunchdBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Launchd
    }

    fn definition_path(&self, label: &str) -> PathBuf {
        self.agents_dir.join(format!("{label}.plist"))
    }

    fn install(&self, spec: &ServiceSpec) -> Result<(), ServerError> {
        spec.validate()?;
        prepare_dirs(spec)?;
        let path = self.definition_path(&spec.label);
        let xml = LaunchdPlist::from_spec(spec)
            .to_xml()
            .map_err(|source| ServerError::Plist { path: path.clone(), source })?;
        write_atomic(&path, &xml)?;
        // launchd keeps the definition it loaded; only bootout + bootstrap makes it read the new
        // file.
        if self.print(&spec.label)?.is_some() {
            self.unload(&spec.label)?;
        }
        self.load(&spec.label, &path)
    }

    fn uninstall(&self, label: &str) -> Result<(), ServerError> {
        if self.print(label)?.is_some() {
            self.unload(label)?;
        }
        remove_if_exists(&self.definition_path(label))
    }

    fn start(&self, label: &str) -> Result<(), ServerError> {
        let path = require_installed(self, label)?;
        if self.print(label)?.is_some() {
            // Without -k: starts it if it is not running, leaves it alone if it is.
            self.checked(&["kickstart", &self.target(label)])?;
            return Ok(());
        }
        self.load(label, &path)?;
        let run_at_load = std::fs::read(&path)
            .ok()
            .and_then(|bytes| LaunchdPlist::from_xml(&bytes).ok())
            .is_some_and(|p| p.run_at_load);
        if !run_at_load {
            self.checked(&["kickstart", &self.target(label)])?;
        }
        Ok(())
    }

    fn stop(&self, label: &str) -> Result<(), ServerError> {
        require_installed(self, label)?;
        if self.print(label)?.is_some() {
            self.unload(label)?;
        }
        // Without this, launchd would load it again (and RunAtLoad start it) at the next login.
        self.checked(&["disable", &self.target(label)])?;
        Ok(())
    }

    fn restart(&self, label: &str) -> Result<(), ServerError> {
        require_installed(self, label)?;
        if self.print(label)?.is_none() {
            return self.start(label);
        }
        self.checked(&["kickstart", "-k", &self.target(label)])?;
        Ok(())
    }

    fn status(&self, label: &str) -> Result<ServiceState, ServerError> {
        let installed = self.definition_path(label).is_file();
        Ok(match self.print(label)? {
            None => ServiceState { installed, ..ServiceState::default() },
            Some(info) => ServiceState {
                installed,
                loaded: true,
                running: info.running(),
                state: info.state.clone(),
                pid: info.pid,
                last_exit_code: info.last_exit_code,
                last_signal: info.last_signal,
            },
        })
    }

    fn foreign_service_running(&self, label: &str) -> Result<bool, ServerError> {
        Ok(self.print(label)?.is_some_and(|info| info.running()))
    }
}

fn launchctl_error(args: &[&str], out: CommandOutput) -> ServerError {
    ServerError::Launchctl {
        verb: args.iter().take_while(|a| !a.contains('/')).copied().collect::<Vec<_>>().join(" "),
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn path_str(path: &Path) -> Result<&str, ServerError> {
    path.to_str().ok_or_else(|| ServerError::InvalidSpec {
        label: path.display().to_string(),
        reason: "the path is not UTF-8".into(),
    })
}

/// launchd (and systemd's `append:`) create log files but not their directories; a missing
/// directory makes the job fail at spawn with nothing in any log.
pub(crate) fn prepare_dirs(spec: &ServiceSpec) -> Result<(), ServerError> {
    let mut dirs: Vec<&Path> = spec.log_files().into_iter().filter_map(Path::parent).collect();
    if let Some(dir) = &spec.working_directory {
        dirs.push(dir);
    }
    for dir in dirs {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::io("create", dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verb_in_errors_leaves_out_targets() {
        let out = CommandOutput { code: Some(5), stdout: String::new(), stderr: "x".into() };
        let err = launchctl_error(&["kickstart", "-k", "gui/501/dev.switchyard.ollama"], out);
        assert!(matches!(err, ServerError::Launchctl { ref verb, .. } if verb == "kickstart -k"), "{err:?}");
    }
}
