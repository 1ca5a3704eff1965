//! Which local servers Switchyard manages and how. The gateway embeds this in its own config file;
//! the CLI builds it from flags.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{
    error::ServerError,
    presets::{OLLAMA_DEFAULT_PORT, ServerName, VLLM_MLX_DEFAULT_PORT},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalServersConfig {
    pub vllm_mlx: VllmMlxConfig,
    pub ollama: OllamaConfig,
    /// Log lines included in each status.
    pub status_log_lines: usize,
    /// Budget for each health check (loopback: a healthy server answers in milliseconds).
    pub health_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VllmMlxConfig {
    pub enabled: bool,
    /// Hugging Face id or local path; required to install.
    pub model: Option<String>,
    pub port: u16,
    /// A venv whose `bin/vllm-mlx` to use; when set, nothing else is searched.
    pub venv: Option<PathBuf>,
    /// An explicit binary, overriding every search.
    pub binary: Option<PathBuf>,
    /// Appended after `--port`, e.g. `["--max-tokens", "8192"]`.
    pub extra_args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OllamaConfig {
    pub enabled: bool,
    /// 11435 by default, so it never collides with vllm-mlx on 11434.
    pub port: u16,
    pub binary: Option<PathBuf>,
    /// When an Ollama already runs outside Switchyard, report it instead of starting another.
    pub prefer_external: bool,
}

impl Default for LocalServersConfig {
    fn default() -> Self {
        Self {
            vllm_mlx: VllmMlxConfig::default(),
            ollama: OllamaConfig::default(),
            status_log_lines: 20,
            health_timeout_ms: 1000,
        }
    }
}

impl Default for VllmMlxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            model: None,
            port: VLLM_MLX_DEFAULT_PORT,
            venv: None,
            binary: None,
            extra_args: Vec::new(),
        }
    }
}

impl Default for OllamaConfig {
    fn default() -> Self {
        Self { enabled: true, port: OLLAMA_DEFAULT_PORT, binary: None, prefer_external: true }
    }
}

impl LocalServersConfig {
    pub fn enabled(&self, name: ServerName) -> bool {
        match name {
            ServerName::VllmMlx => self.vllm_mlx.enabled,
            ServerName::Ollama => self.ollama.enabled,
        }
    }

    pub fn port(&self, name: ServerName) -> u16 {
        match name {
            ServerName::VllmMlx => self.vllm_mlx.port,
            ServerName::Ollama => self.ollama.port,
        }
    }

    /// Two managed servers cannot share a port; the second would crash-loop on "address in use".
    pub fn validate(&self) -> Result<(), ServerError> {
        for name in ServerName::ALL {
            if self.port(name) == 0 {
                return Err(ServerError::InvalidSpec {
                    label: name.label().into(),
                    reason: "the port must not be 0".into(),
                });
            }
        }
        if self.vllm_mlx.enabled && self.ollama.enabled && self.vllm_mlx.port == self.ollama.port {
            return Err(ServerError::PortConflict {
                port: self.vllm_mlx.port,
                first: ServerName::VllmMlx,
                second: ServerName::Ollama,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_managed_do_not_collide() {
        let config = LocalServersConfig::default();
        config.validate().expect("valid");
        assert_eq!(config.port(ServerName::VllmMlx), 11434);
        assert_eq!(config.port(ServerName::Ollama), 11435);
    }

    #[test]
    fn same_port_is_a_conflict_unless_one_is_disabled() {
        let mut config = LocalServersConfig::default();
        config.ollama.port = 11434;
        let err = config.validate().unwrap_err();
        assert!(matches!(err, ServerError::PortConflict { port: 11434, .. }), "{err}");
        assert!(err.to_string().contains("both vllm-mlx and ollama"), "{err}");
        config.vllm_mlx.enabled = false;
        config.validate().expect("only Ollama is managed");
    }

    #[test]
    fn partial_config_file_gets_defaults_and_unknown_fields_are_rejected() {
        let config: LocalServersConfig =
            serde_json::from_str(r#"{"vllm_mlx": {"model": "mlx-community/Qwen3-8B-4bit"}}"#).expect("parse");
        assert_eq!(config.vllm_mlx.model.as_deref(), Some("mlx-community/Qwen3-8B-4bit"));
        assert_eq!(config.ollama.port, 11435);
        assert!(serde_json::from_str::<LocalServersConfig>(r#"{"ollama": {"prot": 1}}"#).is_err());
    }
}
