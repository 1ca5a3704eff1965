//! `[mcp]`: the MCP servers Switchyard connects to once and serves to every AI tool at `/mcp`.
//! A server is `[mcp.servers.NAME]`; the name prefixes its tools (`filesystem_read_file`).
//! Servers added through the admin API are kept in their own file (`mcp.json` in the config
//! dir), with header and environment values that are secrets in the OS secret store.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[mcp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// The servers, by name.
    pub servers: BTreeMap<String, McpServerConfig>,
    /// How long a tool call may run before the caller gets a timeout error, in seconds
    /// (Bifrost's `tool_execution_timeout`, 30 s).
    pub tool_timeout_secs: u64,
    /// Agent mode: the most rounds of automatically executed tool calls in one request.
    pub max_agent_depth: u32,
    /// How often each server's tool list is read again (besides `tools/list_changed`) and the
    /// server pinged, in seconds.
    pub sync_interval_secs: u64,
    /// Where servers added through the admin API are kept; default `mcp.json` in the config dir.
    pub file: Option<PathBuf>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            servers: BTreeMap::new(),
            tool_timeout_secs: 30,
            max_agent_depth: 10,
            sync_interval_secs: 300,
            file: None,
        }
    }
}

/// How Switchyard reaches a server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McpTransport {
    /// A child process speaking JSON-RPC on stdin and stdout.
    #[default]
    Stdio,
    /// Streamable HTTP (MCP 2025-03-26 and later).
    Http,
    /// The older HTTP+SSE transport (MCP 2024-11-05).
    Sse,
}

impl McpTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            McpTransport::Stdio => "stdio",
            McpTransport::Http => "http",
            McpTransport::Sse => "sse",
        }
    }
}

/// One server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    #[serde(rename = "type", alias = "connection_type", default)]
    pub transport: McpTransport,
    /// stdio: the program and its arguments (`npx`, `["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// stdio: variables set for the child, values as keys are written (`env.NAME`,
    /// `secret.NAME` or a literal). The child also inherits the gateway's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// stdio: the child's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// http and sse: the server's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// http and sse: headers sent with every request, values as keys are written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The tools served: `["*"]` every one (the default here), `[]` none, or names.
    #[serde(default = "every_tool")]
    pub tools_to_execute: Vec<String>,
    /// The tools agent mode runs without asking the client (must be among those served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools_to_auto_execute: Vec<String>,
    /// Kept in the list but not connected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// This server's own tool timeout, in seconds (else `[mcp] tool_timeout_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_timeout_secs: Option<u64>,
}

pub fn every_tool() -> Vec<String> {
    vec!["*".to_owned()]
}

/// Whether a tool list (`tools_to_execute`, `tools_to_auto_execute`, a key's) names a tool:
/// `*` alone is every tool; names match without regard to case, as in Bifrost.
pub fn tool_listed(list: &[String], tool: &str) -> bool {
    list.iter().any(|entry| entry == "*" || entry.eq_ignore_ascii_case(tool))
}

/// A server name: ASCII letters, digits and `_`, not starting with a digit, at most 32
/// characters (Bifrost's rule; `-` would make `x-bf-mcp-include-tools`' `server-tool` ambiguous).
pub fn check_server_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid MCP server name: use ASCII letters, digits and `_` (not first), at most 32 characters"
        ))
    }
}

impl McpServerConfig {
    /// What is wrong with the server's settings, as (field, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match self.transport {
            McpTransport::Stdio => {
                if self.command.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return Err(("command", "a stdio server needs a command".into()));
                }
                if self.url.is_some() {
                    return Err(("url", "a stdio server has no url (use `type = \"http\"`)".into()));
                }
            }
            McpTransport::Http | McpTransport::Sse => {
                let Some(url) = &self.url else {
                    return Err(("url", format!("an {} server needs a url", self.transport.as_str())));
                };
                let parsed = url::Url::parse(url).map_err(|err| ("url", format!("`{url}` is not a URL: {err}")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                    return Err(("url", format!("`{url}` must be an http or https URL")));
                }
                if self.command.is_some() {
                    return Err(("command", "an http or sse server has no command".into()));
                }
                for name in self.headers.keys() {
                    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        return Err(("headers", format!("`{name}` is not a valid header name")));
                    }
                }
            }
        }
        for tool in &self.tools_to_auto_execute {
            if !tool_listed(&self.tools_to_execute, tool) {
                return Err((
                    "tools_to_auto_execute",
                    format!("`{tool}` is not among tools_to_execute (a tool runs automatically only if it is served)"),
                ));
            }
        }
        if self.tool_timeout_secs == Some(0) {
            return Err(("tool_timeout_secs", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_bifrosts_rule() {
        assert!(check_server_name("filesystem").is_ok());
        assert!(check_server_name("my_tools2").is_ok());
        assert!(check_server_name("server-everything").is_err());
        assert!(check_server_name("2fs").is_err());
        assert!(check_server_name("").is_err());
        assert!(check_server_name("a b").is_err());
    }

    #[test]
    fn tool_lists() {
        assert!(tool_listed(&every_tool(), "read_file"));
        assert!(!tool_listed(&[], "read_file"));
        assert!(tool_listed(&["READ_FILE".into()], "read_file"));
        assert!(!tool_listed(&["write_file".into()], "read_file"));
    }

    #[test]
    fn a_server_is_checked() {
        let stdio: McpServerConfig = toml::from_str("command = \"npx\"").unwrap();
        assert_eq!(stdio.transport, McpTransport::Stdio);
        assert_eq!(stdio.tools_to_execute, vec!["*"]);
        assert!(stdio.check().is_ok());
        let http: McpServerConfig = toml::from_str("type = \"http\"").unwrap();
        assert_eq!(http.check().unwrap_err().0, "url");
        let auto: McpServerConfig = toml::from_str(
            "type = \"http\"\nurl = \"http://localhost:9/mcp\"\ntools_to_execute = [\"a\"]\ntools_to_auto_execute = [\"b\"]",
        )
        .unwrap();
        assert_eq!(auto.check().unwrap_err().0, "tools_to_auto_execute");
        assert!(toml::from_str::<McpServerConfig>("command = \"x\"\nbogus = 1").is_err());
    }
}
