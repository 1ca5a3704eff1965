//! Configuration: defaults, then the TOML file, then command-line flags. Unknown fields and bad
//! values are rejected at start-up with the path of the offending field
//! (`providers.openai.timeout_secs: invalid type …`).

mod cache;
mod classes;
mod env;
mod mcp;
mod pricing;
mod provider_kind;
mod secret;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use cache::{CacheConfig, CacheMode, parse_ttl};
pub use classes::{ChainEntry, Preference, TaskClassConfig};
pub use env::{EnvLookup, process_env};
pub use mcp::{McpConfig, McpServerConfig, McpTransport, check_server_name, every_tool, tool_listed};
pub use pricing::Price;
pub use provider_kind::ProviderKind;
pub use secret::{KeyRef, Secret};

pub const DEFAULT_PORT: u16 = 30080;
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config file {path}: `{field}`: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub discovery: DiscoveryConfig,
    /// Providers by name. The name is how a model is addressed: `name/model`.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The local model servers Switchyard runs as services (vllm-mlx, Ollama).
    pub local_servers: launchagent::LocalServersConfig,
    pub routing: RoutingConfig,
    /// Task classes by name; these override the built-in ones of the same name.
    pub task_classes: BTreeMap<String, TaskClassConfig>,
    pub usage: UsageConfig,
    pub governance: GovernanceConfig,
    /// The response cache.
    pub cache: CacheConfig,
    /// MCP servers, served together at `/mcp`.
    pub mcp: McpConfig,
    /// Price overrides, dollars per million tokens, keyed `provider/model`, `model` or a prefix
    /// ending in `*`: `[pricing."openai/gpt-4o"] input = 2.5`.
    pub pricing: BTreeMap<String, Price>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Serve every request from local providers only; no byte leaves the machine.
    pub local_only: bool,
    /// The class whose local chain serves a request that names a cloud model in local-only mode.
    pub default_class: String,
    /// Where changes made through the admin API (classes, local-only) are kept; default
    /// `state.json` in the config dir.
    pub state_file: Option<PathBuf>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig { local_only: false, default_class: "coding".into(), state_file: None }
    }
}

/// `[governance]`: virtual keys.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    /// Every inference request must present an active virtual key (401 otherwise). Off by
    /// default, so tools pointed at the gateway with no setup keep working.
    pub require_virtual_key: bool,
    /// Where the keys and their spend are kept; default `governance.json` in the config dir
    /// (the app and the headless binary), in memory only for an embedded gateway without one.
    pub file: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Write one row per request to the SQLite usage log.
    pub enabled: bool,
    /// The database file; `:memory:` keeps it in memory. Default: `usage.sqlite3` in the OS data
    /// dir (`~/Library/Application Support/Switchyard/` on macOS, `$XDG_DATA_HOME/switchyard/`).
    pub path: Option<PathBuf>,
    /// Rows older than this many days are deleted in the background.
    pub retention_days: u32,
    /// Also store each request's body and the answer the client got (off by default: prompts
    /// are the user's data). Headers are never stored.
    pub store_bodies: bool,
    /// The most bytes stored of each body; the rest is cut and the row marked truncated.
    pub max_stored_body_bytes: usize,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            enabled: true,
            path: None,
            retention_days: 30,
            store_bodies: false,
            max_stored_body_bytes: 64 * 1024,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub host: IpAddr,
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Extra names the gateway answers to in `Host` (besides localhost, 127.0.0.1 and [::1]).
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins allowed to call the gateway (e.g. `tauri://localhost`).
    pub allowed_origins: Vec<String>,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Most connections served at once; beyond it, new connections wait unaccepted (in the
    /// kernel's backlog) until one closes.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; a slower one is disconnected.
    pub header_read_timeout_secs: u64,
    /// Serve connections from other OS users' processes too (default: only this user's).
    pub allow_other_users: bool,
    /// Whether `/api/*` needs the admin token (`token`, the default) or is open to any local
    /// process as Bifrost's is (`none`, with a warning at every start).
    pub admin_auth: AdminAuthMode,
    /// Where the admin token is kept (created at first start, readable by the user only).
    /// Default: `admin-token` in the config dir for the app and the headless binary; a gateway
    /// embedded without one gets a token that lives as long as the process.
    pub admin_token_file: Option<PathBuf>,
}

/// `[server] admin_auth`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminAuthMode {
    #[default]
    Token,
    None,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            shutdown_grace_secs: 30,
            admin_auth: AdminAuthMode::Token,
            admin_token_file: None,
            max_connections: 1024,
            header_read_timeout_secs: 30,
            allow_other_users: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Add each cloud provider whose key is in the environment (`OPENAI_API_KEY`, …).
    pub from_env: bool,
    /// Probe the usual local servers and add those that answer.
    pub probe_local: bool,
    /// The local servers to probe: vllm-mlx on 11434 (the seeds' convention), Ollama on 11434 or
    /// 11435, LM Studio on 1234. What answers `/api/version` is Ollama.
    pub local_urls: Vec<String>,
    /// How often local servers are probed again and model lists refreshed, in seconds.
    pub refresh_secs: u64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            from_env: true,
            probe_local: true,
            local_urls: vec![
                "http://127.0.0.1:11434".into(),
                "http://127.0.0.1:11435".into(),
                "http://127.0.0.1:1234".into(),
            ],
            refresh_secs: 300,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// What the provider is; defaults to the provider's name when that names a known kind.
    pub kind: Option<ProviderKind>,
    /// Base URL including the API version path (`https://api.openai.com/v1`); defaults per kind.
    pub base_url: Option<String>,
    /// Keys, used in turn: literals, `env.NAME` or `secret.NAME`.
    pub keys: Vec<KeyRef>,
    /// Optional weights for `keys` (same length): each request picks a key by weight instead of
    /// in turn.
    pub key_weights: Option<Vec<u32>>,
    /// When set, only these models are listed and served.
    pub models: Option<Vec<String>>,
    /// Seconds to wait for a response (for streams: for the first byte).
    pub timeout_secs: u64,
    /// Seconds a stream may stay silent before it is cut with an error event.
    pub stream_idle_timeout_secs: u64,
    /// Ask the upstream for a usage chunk on streams the client did not ask it for (and strip it
    /// before the client sees it), so every stream is accounted.
    pub stream_usage: bool,
    /// Upper bound for `max_tokens` (and `max_completion_tokens`) sent to this provider, translated
    /// or passed through (Claude Code asks 32k–64k, more than many models allow); unset: passed
    /// as the client sent it.
    pub max_output_tokens: Option<u64>,
    /// Extra headers sent upstream with every request.
    pub headers: BTreeMap<String, String>,
    pub enabled: bool,
    /// Whether the provider counts as local (allowed in local-only mode). Default: its base URL
    /// is on loopback. Set `false` for a loopback tunnel or proxy that leads to the cloud.
    pub local: Option<bool>,
    /// Seconds to wait for the first byte of an answer before trying the next target
    /// (default: `timeout_secs`). The fallback trigger for slow streams.
    pub first_byte_timeout_secs: Option<u64>,
    /// Further attempts on this provider after a retryable failure (connect error, timeout, 408,
    /// 429, 5xx), with exponential backoff and jitter; `Retry-After` is honoured.
    pub max_retries: u32,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            kind: None,
            base_url: None,
            keys: Vec::new(),
            key_weights: None,
            models: None,
            timeout_secs: 600,
            stream_idle_timeout_secs: 300,
            stream_usage: true,
            max_output_tokens: None,
            headers: BTreeMap::new(),
            enabled: true,
            local: None,
            first_byte_timeout_secs: None,
            max_retries: 1,
        }
    }
}

impl Config {
    /// Reads a TOML config.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|err| ConfigError::Syntax { path: path.to_owned(), message: err.to_string().trim().to_owned() })?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let field = err.path().to_string();
            ConfigError::Invalid { path: path.to_owned(), field, message: err.into_inner().message().trim().to_owned() }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// The file to read: `--config`, else `$SWITCHYARD_CONFIG`, else `config.toml` in the OS
    /// config dir when it exists. `None`: run with defaults.
    pub fn locate(explicit: Option<&Path>, env: &EnvLookup) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_owned());
        }
        if let Some(path) = env("SWITCHYARD_CONFIG") {
            return Some(PathBuf::from(path));
        }
        let default = default_config_dir()?.join("config.toml");
        default.exists().then_some(default)
    }

    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_toml(&text, path)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid { path: path.to_owned(), field, message };
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes".into(), "must be at least 1024".into()));
        }
        if self.server.max_connections == 0 {
            return Err(invalid("server.max_connections".into(), "must be at least 1".into()));
        }
        if self.server.header_read_timeout_secs == 0 {
            return Err(invalid("server.header_read_timeout_secs".into(), "must be at least 1".into()));
        }
        if !(self.cache.threshold > 0.0 && self.cache.threshold <= 1.0) {
            return Err(invalid("cache.threshold".into(), "must be above 0 and at most 1".into()));
        }
        if self.cache.max_bytes < 1024 * 1024 {
            return Err(invalid("cache.max_bytes".into(), "must be at least 1048576 (1 MiB)".into()));
        }
        for (name, provider) in &self.providers {
            if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
                return Err(invalid(
                    format!("providers.{name}"),
                    "a provider name must not be empty or contain `/` or spaces".into(),
                ));
            }
            let kind = provider.kind.or_else(|| ProviderKind::from_name(name));
            let Some(kind) = kind else {
                return Err(invalid(
                    format!("providers.{name}.kind"),
                    format!(
                        "`{name}` is not a known provider; set `kind` (one of {})",
                        ProviderKind::names().join(", ")
                    ),
                ));
            };
            match (&provider.base_url, kind.default_base_url()) {
                (None, None) => {
                    return Err(invalid(
                        format!("providers.{name}.base_url"),
                        format!("a `{}` provider needs a base_url", kind.as_str()),
                    ));
                }
                (Some(url), _) => {
                    let parsed = reqwest::Url::parse(url).map_err(|err| {
                        invalid(format!("providers.{name}.base_url"), format!("`{url}` is not a URL: {err}"))
                    })?;
                    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                        return Err(invalid(
                            format!("providers.{name}.base_url"),
                            format!("`{url}` must be an http or https URL"),
                        ));
                    }
                }
                (None, Some(_)) => {}
            }
            if let Some(weights) = &provider.key_weights
                && (weights.len() != provider.keys.len() || weights.iter().all(|w| *w == 0))
            {
                return Err(invalid(
                    format!("providers.{name}.key_weights"),
                    format!("needs one weight per key ({} keys), not all zero", provider.keys.len()),
                ));
            }
            if provider.timeout_secs == 0 {
                return Err(invalid(format!("providers.{name}.timeout_secs"), "must be at least 1".into()));
            }
            if provider.stream_idle_timeout_secs == 0 {
                return Err(invalid(format!("providers.{name}.stream_idle_timeout_secs"), "must be at least 1".into()));
            }
            for header in provider.headers.keys() {
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(invalid(
                        format!("providers.{name}.headers.{header}"),
                        "not a valid header name".into(),
                    ));
                }
            }
        }
        for (name, class) in &self.task_classes {
            if name.is_empty() || name.contains('/') || name.contains(':') {
                return Err(invalid(
                    format!("task_classes.{name}"),
                    "a class name must not be empty or contain `/` or `:`".into(),
                ));
            }
            for (i, entry) in class.chain.iter().chain(&class.local).enumerate() {
                if !entry.pattern().contains('/') {
                    return Err(invalid(
                        format!("task_classes.{name}.chain[{i}]"),
                        format!(
                            "`{}` must be `provider/model` (globs allowed: `openrouter/qwen/*coder*`)",
                            entry.pattern()
                        ),
                    ));
                }
            }
        }
        if self.usage.retention_days == 0 {
            return Err(invalid("usage.retention_days".into(), "must be at least 1".into()));
        }
        for (model, price) in &self.pricing {
            let rates = [Some(price.input), Some(price.output), price.cached_input, price.cache_write, price.reasoning];
            if rates.iter().flatten().any(|rate| !rate.is_finite() || *rate < 0.0) {
                return Err(invalid(format!("pricing.{model}"), "prices must be non-negative numbers".into()));
            }
        }
        for (name, server) in &self.mcp.servers {
            check_server_name(name).map_err(|message| invalid(format!("mcp.servers.{name}"), message))?;
            server.check().map_err(|(field, message)| invalid(format!("mcp.servers.{name}.{field}"), message))?;
        }
        if self.mcp.tool_timeout_secs == 0 || self.mcp.sync_interval_secs == 0 {
            return Err(invalid("mcp".into(), "tool_timeout_secs and sync_interval_secs must be at least 1".into()));
        }
        for (i, url) in self.discovery.local_urls.iter().enumerate() {
            if reqwest::Url::parse(url).is_err() {
                return Err(invalid(format!("discovery.local_urls[{i}]"), format!("`{url}` is not a URL")));
            }
        }
        Ok(())
    }
}

/// `~/Library/Application Support/Switchyard` on macOS, `$XDG_CONFIG_HOME/switchyard` on Linux.
pub fn default_config_dir() -> Option<PathBuf> {
    let app = if cfg!(target_os = "macos") { "Switchyard" } else { "switchyard" };
    directories::BaseDirs::new().map(|dirs| dirs.config_dir().join(app))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn defaults_without_a_file() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.server.port, 30080);
        assert_eq!(config.server.host.to_string(), "127.0.0.1");
        assert_eq!(config.server.max_body_bytes, 32 * 1024 * 1024);
        assert!(config.providers.is_empty());
    }

    #[test]
    fn full_file() {
        let config = parse(
            r#"
            [server]
            port = 4000
            allowed_hosts = ["mybox.local"]
            [providers.openai]
            keys = ["env.OPENAI_API_KEY", "sk-literal-123456"]
            models = ["gpt-4o"]
            [providers.vllm]
            kind = "openai-compatible"
            base_url = "http://10.0.0.5:8000/v1"
            timeout_secs = 30
            "#,
        )
        .unwrap();
        assert_eq!(config.server.port, 4000);
        assert_eq!(config.providers["openai"].keys[0], KeyRef::Env("OPENAI_API_KEY".into()));
        assert_eq!(config.providers["vllm"].kind, Some(ProviderKind::OpenaiCompatible));
        assert_eq!(config.providers["vllm"].timeout_secs, 30);
    }

    #[test]
    fn usage_and_pricing() {
        let config = Config::load(None).unwrap();
        assert!(config.usage.enabled);
        assert_eq!(config.usage.retention_days, 30);
        let config = parse(
            "[usage]\npath = \"/tmp/u.sqlite3\"\nretention_days = 7\n[pricing.\"openai/gpt-4o\"]\ninput = 2.0\noutput = 8.0\ncached_input = 0.5\n",
        )
        .unwrap();
        assert_eq!(config.usage.retention_days, 7);
        assert_eq!(config.pricing["openai/gpt-4o"].cached_input, Some(0.5));
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse("[providers.openai]\ntimeout_secs = \"soon\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.openai.timeout_secs"), "{err}");
        let err = parse("[server]\nprot = 1\n").unwrap_err().to_string();
        assert!(err.contains("server.prot") || err.contains("unknown field"), "{err}");
        assert!(err.contains("prot"), "{err}");
        let err = parse("[providers.mine]\nbase_url = \"http://x/v1\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.mine.kind"), "{err}");
        let err = parse("[providers.x]\nkind = \"openai-compatible\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.x.base_url"), "{err}");
        let err = parse("[providers.x]\nkind = \"openai-compatible\"\nbase_url = \"nope\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.x.base_url"), "{err}");
        let err = parse("[providers.x]\nkind = \"martian\"\n").unwrap_err().to_string();
        assert!(err.contains("providers.x.kind"), "{err}");
        let err = parse("[usage]\nretention = 3\n").unwrap_err().to_string();
        assert!(err.contains("retention"), "{err}");
        let err = parse("[pricing.\"openai/gpt-4o\"]\ninput = \"cheap\"\n").unwrap_err().to_string();
        assert!(err.contains("pricing.openai/gpt-4o.input") || err.contains("input"), "{err}");
        let err = parse("[pricing.x]\ninput = -1.0\noutput = 1.0\n").unwrap_err().to_string();
        assert!(err.contains("pricing.x"), "{err}");
        let err = parse("[server\n").unwrap_err().to_string();
        assert!(err.contains("test.toml"), "{err}");
    }
}
