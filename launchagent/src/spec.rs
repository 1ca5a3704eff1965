//! What a per-user service is, independent of launchd or systemd. Both backends render the same
//! [`ServiceSpec`]; `validate` rejects what neither could express safely.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::ServerError;

/// When the service manager brings the program back after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepAlive {
    /// Restart whatever the exit status (launchd `KeepAlive = true`, systemd `Restart=always`).
    Always,
    /// Restart after a crash or a non-zero exit only (launchd `KeepAlive = {SuccessfulExit =
    /// false}`, systemd `Restart=on-failure`).
    OnFailure,
    /// Never restart (launchd `KeepAlive = false`, systemd `Restart=no`).
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Reverse-DNS label, e.g. `dev.switchyard.vllm-mlx`; also the plist and unit file name.
    pub label: String,
    pub description: String,
    /// Absolute path: launchd starts agents with a bare PATH and neither backend expands `~`.
    pub program: PathBuf,
    /// Arguments after the program.
    pub args: Vec<String>,
    /// Sorted so a rewritten definition is byte-identical when nothing changed.
    pub environment: BTreeMap<String, String>,
    pub working_directory: Option<PathBuf>,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    pub keep_alive: KeepAlive,
    /// Start as soon as it is loaded (and so at every login).
    pub run_at_load: bool,
    /// The loopback port the server listens on.
    pub port: u16,
    /// A URL that answers 2xx when the server is ready.
    pub health_url: String,
}

impl ServiceSpec {
    /// `[program, args...]`, as launchd's `ProgramArguments` wants it.
    pub fn program_arguments(&self) -> Vec<String> {
        let mut all = Vec::with_capacity(self.args.len() + 1);
        all.push(self.program.to_string_lossy().into_owned());
        all.extend(self.args.iter().cloned());
        all
    }

    /// The distinct log files (stdout and stderr usually share one).
    pub fn log_files(&self) -> Vec<&Path> {
        let mut files = vec![self.stdout_log.as_path()];
        if self.stderr_log != self.stdout_log {
            files.push(self.stderr_log.as_path());
        }
        files
    }

    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |reason: String| ServerError::InvalidSpec { label: self.label.clone(), reason };
        if !is_valid_label(&self.label) {
            return Err(bad("the label must be non-empty and use only letters, digits, '.', '-' and '_'".into()));
        }
        let mut paths = vec![
            ("program", self.program.as_path()),
            ("stdout log", self.stdout_log.as_path()),
            ("stderr log", self.stderr_log.as_path()),
        ];
        if let Some(dir) = &self.working_directory {
            paths.push(("working directory", dir.as_path()));
        }
        for (what, path) in paths {
            let Some(text) = path.to_str() else {
                return Err(bad(format!("the {what} path is not UTF-8: {}", path.display())));
            };
            // Both launchd and systemd take paths literally: `~` or a relative path would be
            // resolved against nothing useful.
            if !path.is_absolute() {
                return Err(bad(format!("the {what} must be an absolute path, not {text:?}")));
            }
            check_text(what, text).map_err(bad)?;
        }
        check_text("description", &self.description).map_err(bad)?;
        for arg in &self.args {
            check_text("argument", arg).map_err(bad)?;
        }
        for (key, value) in &self.environment {
            let key_ok = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit());
            if !key_ok {
                return Err(bad(format!("{key:?} is not a valid environment variable name")));
            }
            check_text("environment value", value).map_err(bad)?;
        }
        if self.port == 0 {
            return Err(bad("the port must not be 0".into()));
        }
        if !self.health_url.starts_with("http://") {
            return Err(bad(format!("the health URL must be plain http://, not {:?}", self.health_url)));
        }
        Ok(())
    }
}

fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('.')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A line break would end a systemd directive early and a NUL cannot be passed to exec at all.
fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.chars().any(|c| c == '\0' || c == '\n' || c == '\r') {
        return Err(format!("the {what} {text:?} contains a line break or NUL"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn sample_spec() -> ServiceSpec {
    ServiceSpec {
        label: "dev.switchyard.test".into(),
        description: "Test server".into(),
        program: "/opt/bin/server".into(),
        args: vec!["serve".into(), "--port".into(), "8000".into()],
        environment: BTreeMap::from([("A".into(), "1".into())]),
        working_directory: Some("/tmp".into()),
        stdout_log: "/tmp/server.log".into(),
        stderr_log: "/tmp/server.log".into(),
        keep_alive: KeepAlive::OnFailure,
        run_at_load: true,
        port: 8000,
        health_url: "http://127.0.0.1:8000/health".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_valid() {
        sample_spec().validate().expect("valid");
        assert_eq!(sample_spec().program_arguments()[0], "/opt/bin/server");
        assert_eq!(sample_spec().log_files().len(), 1);
    }

    #[test]
    fn rejects_tilde_and_relative_paths() {
        let mut spec = sample_spec();
        spec.program = "~/.local/bin/vllm-mlx".into();
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("program must be an absolute path"), "{err}");

        let mut spec = sample_spec();
        spec.stdout_log = "logs/out.log".into();
        assert!(spec.validate().is_err());
    }

    #[test]
    fn rejects_bad_labels_env_names_and_line_breaks() {
        let mut spec = sample_spec();
        spec.label = "dev/switchyard".into();
        assert!(spec.validate().is_err());

        let mut spec = sample_spec();
        spec.environment.insert("BAD=NAME".into(), "x".into());
        assert!(spec.validate().is_err());

        let mut spec = sample_spec();
        spec.args.push("two\nlines".into());
        assert!(spec.validate().is_err());
    }
}
