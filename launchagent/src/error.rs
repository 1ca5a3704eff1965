//! One error type for the whole crate. The messages are written for the person who reads them in
//! the app or the CLI: each says what failed and, where we know it, what to do about it.

use std::{fmt::Write as _, io, path::PathBuf, time::Duration};

use serde::Serialize;

use crate::presets::ServerName;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("unknown local server `{0}`: expected `vllm-mlx` or `ollama`")]
    UnknownServer(String),

    #[error("{name} is disabled in the local-servers configuration")]
    NotConfigured { name: ServerName },

    #[error("{name} is not installed: no service definition at {}", path.display())]
    NotInstalled { name: String, path: PathBuf },

    #[error("`{binary}` was not found; searched {}", join_paths(searched))]
    BinaryNotFound { binary: String, searched: Vec<PathBuf> },

    #[error("vllm-mlx needs a model to serve, e.g. `--model mlx-community/Qwen3-8B-4bit`")]
    ModelRequired,

    #[error("invalid service spec for `{label}`: {reason}")]
    InvalidSpec { label: String, reason: String },

    #[error("port {port} is configured for both {first} and {second}; give one of them another port")]
    PortConflict { port: u16, first: ServerName, second: ServerName },

    #[error("`launchctl {verb}` failed ({}): {}{}", exit_text(*code), output_text(stderr, stdout), launchctl_hint(*code))]
    Launchctl { verb: String, code: Option<i32>, stdout: String, stderr: String },

    #[error("`systemctl --user {verb}` failed ({}): {}", exit_text(*code), output_text(stderr, stdout))]
    Systemctl { verb: String, code: Option<i32>, stdout: String, stderr: String },

    #[error(
        "`{label}` was still loaded in launchd {} ms after bootout; wait a moment and retry, \
         or run `launchctl bootout gui/$UID/{label}` by hand", waited.as_millis()
    )]
    UnloadTimeout { label: String, waited: Duration },

    #[error("could not run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} did not finish within {} s and was killed", program.display(), after.as_secs())]
    CommandTimedOut { program: PathBuf, after: Duration },

    #[error("unexpected output from `{program}`: {reason}")]
    UnexpectedOutput { program: String, reason: String },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("could not write the launchd plist {}: {source}", path.display())]
    Plist {
        path: PathBuf,
        #[source]
        source: plist::Error,
    },

    #[error("could not read or write {}: {source}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("the home directory could not be determined (is $HOME set?)")]
    NoHomeDir,
}

/// The payload-free twin of [`ServerError`]: a stable label for metrics and for the JSON API's
/// error envelope, so callers can branch without matching on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerErrorKind {
    UnknownServer,
    NotConfigured,
    NotInstalled,
    BinaryNotFound,
    ModelRequired,
    InvalidSpec,
    PortConflict,
    Launchctl,
    Systemctl,
    UnloadTimeout,
    Spawn,
    CommandTimedOut,
    UnexpectedOutput,
    Io,
    Plist,
    Manifest,
    NoHomeDir,
}

impl ServerError {
    pub fn kind(&self) -> ServerErrorKind {
        match self {
            Self::UnknownServer(_) => ServerErrorKind::UnknownServer,
            Self::NotConfigured { .. } => ServerErrorKind::NotConfigured,
            Self::NotInstalled { .. } => ServerErrorKind::NotInstalled,
            Self::BinaryNotFound { .. } => ServerErrorKind::BinaryNotFound,
            Self::ModelRequired => ServerErrorKind::ModelRequired,
            Self::InvalidSpec { .. } => ServerErrorKind::InvalidSpec,
            Self::PortConflict { .. } => ServerErrorKind::PortConflict,
            Self::Launchctl { .. } => ServerErrorKind::Launchctl,
            Self::Systemctl { .. } => ServerErrorKind::Systemctl,
            Self::UnloadTimeout { .. } => ServerErrorKind::UnloadTimeout,
            Self::Spawn { .. } => ServerErrorKind::Spawn,
            Self::CommandTimedOut { .. } => ServerErrorKind::CommandTimedOut,
            Self::UnexpectedOutput { .. } => ServerErrorKind::UnexpectedOutput,
            Self::Io { .. } => ServerErrorKind::Io,
            Self::Plist { .. } => ServerErrorKind::Plist,
            Self::Manifest { .. } => ServerErrorKind::Manifest,
            Self::NoHomeDir => ServerErrorKind::NoHomeDir,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no directories".to_owned();
    }
    let mut out = String::new();
    for (i, p) in paths.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}", p.display());
    }
    out
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// launchctl and systemctl write their reason to stderr, but some verbs (and old versions) use
/// stdout; show whichever has something.
fn output_text(stderr: &str, stdout: &str) -> String {
    let stderr = stderr.trim();
    let stdout = stdout.trim();
    match (stderr.is_empty(), stdout.is_empty()) {
        (false, _) => stderr.to_owned(),
        (true, false) => stdout.to_owned(),
        (true, true) => "no output".to_owned(),
    }
}

/// launchctl's exit codes are errno-like and its messages terse; the common ones get a hint.
fn launchctl_hint(code: Option<i32>) -> &'static str {
    match code {
        // "Bootstrap failed: 5: Input/output error": the job is still loaded (a bootout that has
        // not finished yet) or launchd rejected the plist.
        Some(5) => {
            " (launchd refused the job: it is usually still loaded from before, or the plist is \
             invalid; check `launchctl print gui/$UID/<label>` and `plutil -lint <plist>`)"
        }
        Some(37) => " (an operation on this service is already in progress; retry in a moment)",
        Some(113) => " (launchd does not know this service: it is not loaded)",
        Some(119) => " (the service is disabled; `launchctl enable gui/$UID/<label>` re-enables it)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_io_error_reads_clearly() {
        let err = ServerError::Launchctl {
            verb: "bootstrap".into(),
            code: Some(5),
            stdout: String::new(),
            stderr: "Bootstrap failed: 5: Input/output error\n".into(),
        };
        let text = err.to_string();
        assert!(text.starts_with("`launchctl bootstrap` failed (exit 5): Bootstrap failed: 5: Input/output error"));
        assert!(text.contains("still loaded"), "{text}");
        assert_eq!(err.kind(), ServerErrorKind::Launchctl);
    }

    #[test]
    fn binary_not_found_lists_every_directory() {
        let err = ServerError::BinaryNotFound {
            binary: "vllm-mlx".into(),
            searched: vec![PathBuf::from("/a/bin"), PathBuf::from("/b/bin")],
        };
        assert_eq!(err.to_string(), "`vllm-mlx` was not found; searched /a/bin, /b/bin");
    }
}
