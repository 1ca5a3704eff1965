//! The two servers Switchyard manages: which binary, which arguments, which port.
//!
//! Binary discovery takes its search directories as input: an app started from the Dock has
//! launchd's bare PATH, so the usual install locations are searched explicitly, and tests pass a
//! temporary directory of fake executables.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use serde::{Deserialize, Serialize};

use crate::{
    error::ServerError,
    paths::Paths,
    spec::{KeepAlive, ServiceSpec},
};

pub const VLLM_MLX_LABEL: &str = "dev.switchyard.vllm-mlx";
pub const OLLAMA_LABEL: &str = "dev.switchyard.ollama";
/// The project's convention: vllm-mlx answers where tools expect "a local model server".
pub const VLLM_MLX_DEFAULT_PORT: u16 = 11434;
/// Not Ollama's own 11434, so both servers can run side by side.
pub const OLLAMA_DEFAULT_PORT: u16 = 11435;
/// Where an Ollama started outside Switchyard (Ollama.app, brew services) listens by default.
pub const OLLAMA_STANDARD_PORT: u16 = 11434;

/// launchd's PATH is `/usr/bin:/bin:/usr/sbin:/sbin`; servers that shell out (vllm-mlx runs
/// helper tools) also need the common install locations.
const SERVICE_PATH_TAIL: &str = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ServerName {
    #[serde(rename = "vllm-mlx")]
    VllmMlx,
    #[serde(rename = "ollama")]
    Ollama,
}

impl ServerName {
    pub const ALL: [ServerName; 2] = [ServerName::VllmMlx, ServerName::Ollama];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VllmMlx => "vllm-mlx",
            Self::Ollama => "ollama",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::VllmMlx => VLLM_MLX_LABEL,
            Self::Ollama => OLLAMA_LABEL,
        }
    }

    /// The executable's file name.
    pub fn binary(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServerName {
    type Err = ServerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vllm-mlx" => Ok(Self::VllmMlx),
            "ollama" => Ok(Self::Ollama),
            other => Err(ServerError::UnknownServer(other.to_owned())),
        }
    }
}

/// Where to look for `vllm-mlx`. A chosen venv is the user's explicit choice and is searched
/// alone; otherwise PATH, then `~/.local/bin` (uv and pipx link tools there), then uv's own tool
/// venv (`$UV_TOOL_DIR` or `~/.local/share/uv/tools`).
pub fn vllm_mlx_search_dirs(
    home: &Path,
    venv: Option<&Path>,
    path_var: Option<&OsStr>,
    uv_tool_dir: Option<&Path>,
) -> Vec<PathBuf> {
    if let Some(venv) = venv {
        return vec![venv.join("bin")];
    }
    let mut dirs = path_dirs(path_var);
    dirs.push(home.join(".local/bin"));
    if let Some(uv) = uv_tool_dir {
        dirs.push(uv.join("vllm-mlx/bin"));
    }
    dirs.push(home.join(".local/share/uv/tools/vllm-mlx/bin"));
    dedup(dirs)
}

/// Where to look for `ollama`: PATH, then `system_dirs` (Homebrew, /usr/local, the CLI inside
/// Ollama.app; see [`default_system_bin_dirs`]), then `~/.local/bin`.
pub fn ollama_search_dirs(home: &Path, path_var: Option<&OsStr>, system_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = path_dirs(path_var);
    dirs.extend(system_dirs.iter().cloned());
    dirs.push(home.join(".local/bin"));
    dedup(dirs)
}

pub fn default_system_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/opt/homebrew/bin"), PathBuf::from("/usr/local/bin"), PathBuf::from("/usr/bin")];
    if cfg!(target_os = "macos") {
        dirs.push(PathBuf::from("/Applications/Ollama.app/Contents/Resources"));
    }
    dirs
}

/// The first executable `name` in `dirs`. The path is returned as found, not canonicalized:
/// `~/.local/bin/vllm-mlx` is a symlink that survives `uv tool upgrade`, its target may not.
pub fn find_binary(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, ServerError> {
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
        .ok_or_else(|| ServerError::BinaryNotFound { binary: name.to_owned(), searched: dirs.to_vec() })
}

/// Checks a binary the user named explicitly.
pub fn check_binary(path: &Path) -> Result<PathBuf, ServerError> {
    if path.is_absolute() && is_executable(path) {
        Ok(path.to_path_buf())
    } else {
        Err(ServerError::BinaryNotFound {
            binary: path.display().to_string(),
            searched: vec![path.parent().map(Path::to_path_buf).unwrap_or_default()],
        })
    }
}

/// Relative PATH entries are skipped: they depend on the current directory, which a service
/// does not share with us.
fn path_dirs(path_var: Option<&OsStr>) -> Vec<PathBuf> {
    path_var.map(|p| std::env::split_paths(p).filter(|d| d.is_absolute()).collect()).unwrap_or_default()
}

fn dedup(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    for d in dirs {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Where a server's stdout and stderr go (one file: the lines stay in order).
pub fn log_file(paths: &Paths, name: ServerName) -> PathBuf {
    paths.logs.join(format!("{name}.log"))
}

/// vllm-mlx: `/v1/models`, which every OpenAI-compatible server has and which answers only once
/// the model is loaded. Ollama: `/api/version`.
pub fn health_url(name: ServerName, port: u16) -> String {
    match name {
        ServerName::VllmMlx => format!("http://127.0.0.1:{port}/v1/models"),
        ServerName::Ollama => format!("http://127.0.0.1:{port}/api/version"),
    }
}

fn service_path(binary: &Path) -> String {
    match binary.parent().and_then(Path::to_str) {
        Some(dir) if !SERVICE_PATH_TAIL.split(':').any(|d| d == dir) => format!("{dir}:{SERVICE_PATH_TAIL}"),
        _ => SERVICE_PATH_TAIL.to_owned(),
    }
}

/// `vllm-mlx serve <model> --host 127.0.0.1 --port <port> [extra...]`.
pub fn vllm_mlx_spec(binary: &Path, model: &str, port: u16, extra_args: &[String], paths: &Paths) -> ServiceSpec {
    let log = log_file(paths, ServerName::VllmMlx);
    let mut args = vec![
        "serve".to_owned(),
        model.to_owned(),
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
    ];
    args.extend(extra_args.iter().cloned());
    ServiceSpec {
        label: VLLM_MLX_LABEL.to_owned(),
        description: format!("Switchyard local model server: vllm-mlx serving {model}"),
        program: binary.to_path_buf(),
        args,
        environment: BTreeMap::from([
            ("PATH".to_owned(), service_path(binary)),
            // Python buffers stdout when it is not a terminal; the log would lag by kilobytes.
            ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
        ]),
        working_directory: Some(paths.home.clone()),
        stdout_log: log.clone(),
        stderr_log: log,
        keep_alive: KeepAlive::OnFailure,
        run_at_load: true,
        port,
        health_url: health_url(ServerName::VllmMlx, port),
    }
}

/// `ollama serve` with `OLLAMA_HOST=127.0.0.1:<port>`.
pub fn ollama_spec(binary: &Path, port: u16, paths: &Paths) -> ServiceSpec {
    let log = log_file(paths, ServerName::Ollama);
    ServiceSpec {
        label: OLLAMA_LABEL.to_owned(),
        description: "Switchyard local model server: Ollama".to_owned(),
        program: binary.to_path_buf(),
        args: vec!["serve".to_owned()],
        environment: BTreeMap::from([
            ("OLLAMA_HOST".to_owned(), format!("127.0.0.1:{port}")),
            ("PATH".to_owned(), service_path(binary)),
        ]),
        working_directory: Some(paths.home.clone()),
        stdout_log: log.clone(),
        stderr_log: log,
        keep_alive: KeepAlive::OnFailure,
        run_at_load: true,
        port,
        health_url: health_url(ServerName::Ollama, port),
    }
}

/// The model a vllm-mlx spec serves (the word after `serve`).
pub fn vllm_mlx_model(spec: &ServiceSpec) -> Option<&str> {
    let mut args = spec.args.iter();
    args.find(|a| *a == "serve")?;
    args.next().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[cfg(unix)]
    fn fake_exe(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).expect("mkdir");
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[cfg(unix)]
    #[test]
    fn discovery_order_and_not_found() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        let on_path = h.join("on-path");
        let path_var = OsString::from(format!("relative/bin:{}", on_path.display()));

        // Nothing installed: the error lists every directory, relative PATH entries left out.
        let dirs = vllm_mlx_search_dirs(h, None, Some(&path_var), None);
        assert_eq!(dirs, [on_path.clone(), h.join(".local/bin"), h.join(".local/share/uv/tools/vllm-mlx/bin")]);
        let ServerError::BinaryNotFound { searched, .. } = find_binary("vllm-mlx", &dirs).unwrap_err() else {
            panic!("expected BinaryNotFound");
        };
        assert_eq!(searched, dirs);

        // Only in uv's tool dir.
        let uv = fake_exe(&h.join(".local/share/uv/tools/vllm-mlx/bin"), "vllm-mlx");
        assert_eq!(find_binary("vllm-mlx", &dirs).expect("found"), uv);

        // ~/.local/bin wins over the uv tool dir; a non-executable file is ignored.
        let local = h.join(".local/bin/vllm-mlx");
        std::fs::create_dir_all(local.parent().expect("parent")).expect("mkdir");
        std::fs::write(&local, "not executable").expect("write");
        assert_eq!(find_binary("vllm-mlx", &dirs).expect("found"), uv);
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(find_binary("vllm-mlx", &dirs).expect("found"), local);

        // PATH wins over both.
        let p = fake_exe(&on_path, "vllm-mlx");
        assert_eq!(find_binary("vllm-mlx", &dirs).expect("found"), p);

        // A chosen venv is searched alone.
        let venv = h.join("venv");
        let dirs = vllm_mlx_search_dirs(h, Some(&venv), Some(&path_var), None);
        assert_eq!(dirs, [venv.join("bin")]);
        assert!(find_binary("vllm-mlx", &dirs).is_err());
        let in_venv = fake_exe(&venv.join("bin"), "vllm-mlx");
        assert_eq!(find_binary("vllm-mlx", &dirs).expect("found"), in_venv);
    }

    #[cfg(unix)]
    #[test]
    fn ollama_search_includes_system_dirs_and_uv_tool_dir_is_honoured() {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        let brew = h.join("opt/homebrew/bin");
        let dirs = ollama_search_dirs(h, None, std::slice::from_ref(&brew));
        assert_eq!(dirs, [brew.clone(), h.join(".local/bin")]);
        let exe = fake_exe(&brew, "ollama");
        assert_eq!(find_binary("ollama", &dirs).expect("found"), exe);

        let dirs = vllm_mlx_search_dirs(h, None, None, Some(&h.join("uvtools")));
        assert!(dirs.contains(&h.join("uvtools/vllm-mlx/bin")));
    }

    #[test]
    fn presets() {
        let paths = Paths::under_home(Path::new("/Users/ada"));
        let spec = vllm_mlx_spec(
            Path::new("/Users/ada/.local/bin/vllm-mlx"),
            "mlx-community/Qwen3-8B-4bit",
            11434,
            &[],
            &paths,
        );
        spec.validate().expect("valid");
        assert_eq!(spec.label, "dev.switchyard.vllm-mlx");
        assert_eq!(
            spec.program_arguments(),
            [
                "/Users/ada/.local/bin/vllm-mlx",
                "serve",
                "mlx-community/Qwen3-8B-4bit",
                "--host",
                "127.0.0.1",
                "--port",
                "11434"
            ]
        );
        assert_eq!(spec.environment["PATH"].split(':').next(), Some("/Users/ada/.local/bin"));
        assert_eq!(vllm_mlx_model(&spec), Some("mlx-community/Qwen3-8B-4bit"));
        assert_eq!(spec.health_url, "http://127.0.0.1:11434/v1/models");

        let spec = ollama_spec(Path::new("/opt/homebrew/bin/ollama"), 11435, &paths);
        spec.validate().expect("valid");
        assert_eq!(spec.program_arguments(), ["/opt/homebrew/bin/ollama", "serve"]);
        assert_eq!(spec.environment["OLLAMA_HOST"], "127.0.0.1:11435");
        assert_eq!(spec.environment["PATH"], SERVICE_PATH_TAIL, "no duplicate of a standard dir");
        assert_eq!(spec.health_url, "http://127.0.0.1:11435/api/version");
    }

    #[test]
    fn names() {
        assert_eq!("vllm-mlx".parse::<ServerName>().expect("name"), ServerName::VllmMlx);
        assert_eq!(ServerName::Ollama.to_string(), "ollama");
        assert!(matches!("llama".parse::<ServerName>(), Err(ServerError::UnknownServer(_))));
        assert_eq!(serde_json::to_string(&ServerName::VllmMlx).expect("json"), "\"vllm-mlx\"");
    }
}
