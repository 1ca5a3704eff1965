//! Where definitions, logs and manifests live. Injectable so tests write into a temporary home.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ServerError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paths {
    pub home: PathBuf,
    /// `~/Library/LaunchAgents`: launchd loads every plist here at login.
    pub launch_agents: PathBuf,
    /// `$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`).
    pub systemd_user: PathBuf,
    /// Server logs: `~/Library/Logs/Switchyard` on macOS (Console.app shows it),
    /// `$XDG_STATE_HOME/switchyard/logs` elsewhere.
    pub logs: PathBuf,
    /// Manifests of what was installed (model, port), so status works without the caller's
    /// configuration, e.g. from the CLI.
    pub state: PathBuf,
}

impl Paths {
    /// The current user's directories, honouring `XDG_CONFIG_HOME` / `XDG_STATE_HOME` on Linux.
    pub fn detect() -> Result<Self, ServerError> {
        let dirs = directories::BaseDirs::new().ok_or(ServerError::NoHomeDir)?;
        let mut paths = Self::under_home(dirs.home_dir());
        if !cfg!(target_os = "macos") {
            paths.systemd_user = dirs.config_dir().join("systemd/user");
            if let Some(state) = dirs.state_dir() {
                paths.logs = state.join("switchyard/logs");
                paths.state = state.join("switchyard/local-servers");
            }
        }
        Ok(paths)
    }

    /// This platform's layout under `home`, ignoring the environment (for tests).
    pub fn under_home(home: &Path) -> Self {
        let (logs, state) = if cfg!(target_os = "macos") {
            (home.join("Library/Logs/Switchyard"), home.join("Library/Application Support/Switchyard/local-servers"))
        } else {
            (home.join(".local/state/switchyard/logs"), home.join(".local/state/switchyard/local-servers"))
        };
        Self {
            home: home.to_path_buf(),
            launch_agents: home.join("Library/LaunchAgents"),
            systemd_user: home.join(".config/systemd/user"),
            logs,
            state,
        }
    }
}

/// Writes through a temporary sibling and a rename, so launchd or systemd never read a
/// half-written definition.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::io("create", dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents).map_err(|e| ServerError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ServerError::io("replace", path, e))
}

/// Removes a file; one that is already gone is fine.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), ServerError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ServerError::io("remove", path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_under_home() {
        let p = Paths::under_home(Path::new("/h"));
        assert_eq!(p.launch_agents, Path::new("/h/Library/LaunchAgents"));
        assert_eq!(p.systemd_user, Path::new("/h/.config/systemd/user"));
        assert!(p.logs.starts_with("/h"));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a/b/x.plist");
        write_atomic(&file, b"one").expect("write");
        write_atomic(&file, b"two").expect("rewrite");
        assert_eq!(std::fs::read(&file).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).expect("dir").collect();
        assert_eq!(names.len(), 1);
        remove_if_exists(&file).expect("remove");
        remove_if_exists(&file).expect("remove twice");
    }
}
