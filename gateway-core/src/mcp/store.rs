//! Servers added through the admin API, kept across restarts in `mcp.json`. Header and
//! environment values given as literals go to the OS secret store (`mcp.<client_id>.…`) and the
//! file keeps only the reference (`secret.mcp.…`); `env.NAME` references stay references.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{EnvLookup, KeyRef, McpServerConfig, Secret};
use crate::secrets::SecretStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an MCP server named `{0}` exists")]
    Exists(String),
    #[error("no MCP server `{0}`")]
    NotFound(String),
    #[error("the MCP server `{0}` comes from the config file; change it there")]
    FromConfigFile(String),
    #[error("cannot read or write {path}: {message}")]
    File { path: String, message: String },
    #[error("the OS secret store refused a header or environment value: {0}")]
    Secret(String),
}

impl StoreError {
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            StoreError::Exists(_) => http::StatusCode::CONFLICT,
            StoreError::NotFound(_) => http::StatusCode::NOT_FOUND,
            StoreError::FromConfigFile(_) => http::StatusCode::CONFLICT,
            StoreError::File { .. } | StoreError::Secret(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::File { .. } | StoreError::Secret(_))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedServer {
    pub name: String,
    pub client_id: String,
    pub config: McpServerConfig,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct McpFile {
    servers: Vec<SavedServer>,
}

pub fn read(path: &Path) -> Result<Vec<SavedServer>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(StoreError::File { path: path.display().to_string(), message: err.to_string() }),
    };
    let file: McpFile = serde_json::from_str(&text)
        .map_err(|err| StoreError::File { path: path.display().to_string(), message: err.to_string() })?;
    Ok(file.servers)
}

/// Writes the file whole (a temporary file renamed over it: never half written).
pub fn write(path: &Path, servers: &[SavedServer]) -> Result<(), StoreError> {
    let fail =
        |err: &dyn std::fmt::Display| StoreError::File { path: path.display().to_string(), message: err.to_string() };
    #[derive(Serialize)]
    struct Out<'a> {
        servers: &'a [SavedServer],
    }
    let text = serde_json::to_vec_pretty(&Out { servers }).map_err(|e| fail(&e))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

fn secret_name(client_id: &str, what: &str, key: &str) -> String {
    format!("mcp.{client_id}.{what}.{key}")
}

/// Moves literal header and environment values into the secret store, leaving references.
pub fn keep_secrets(
    secrets: &dyn SecretStore,
    client_id: &str,
    mut config: McpServerConfig,
) -> Result<McpServerConfig, StoreError> {
    for (what, map) in [("header", &mut config.headers), ("env", &mut config.env)] {
        for (key, value) in map.iter_mut() {
            if let KeyRef::Literal(secret) = KeyRef::parse(value) {
                let name = secret_name(client_id, what, key);
                secrets.set(&name, &secret).map_err(|err| StoreError::Secret(err.to_string()))?;
                *value = format!("secret.{name}");
            }
        }
    }
    Ok(config)
}

/// Deletes the secret store entries a removed server's references named.
pub fn forget_secrets(secrets: &dyn SecretStore, config: &McpServerConfig) {
    for value in config.headers.values().chain(config.env.values()) {
        if let KeyRef::Store(name) = KeyRef::parse(value)
            && name.starts_with("mcp.")
            && let Err(err) = secrets.delete(&name)
        {
            tracing::warn!(entry = %name, error = %err, "could not delete an MCP server's secret");
        }
    }
}

/// The value a header or variable reference stands for now.
pub fn resolve(value: &str, env: &EnvLookup, secrets: &dyn SecretStore) -> Result<Secret, String> {
    match KeyRef::parse(value) {
        KeyRef::Literal(secret) => Ok(secret),
        KeyRef::Env(name) => {
            env(&name).map(Secret::new).ok_or_else(|| format!("the environment variable {name} is not set"))
        }
        KeyRef::Store(name) => match secrets.get(&name) {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(format!("the secret store has no entry {name}")),
            Err(err) => Err(format!("the secret store could not read {name}: {err}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemorySecretStore;

    #[test]
    fn literals_go_to_the_secret_store_and_the_file_keeps_references() {
        let secrets = MemorySecretStore::default();
        let config: McpServerConfig = serde_json::from_value(serde_json::json!({
            "type": "http", "url": "http://localhost:1/mcp",
            "headers": {"Authorization": "Bearer tok-123", "X-Env": "env.MCP_TOKEN"}
        }))
        .unwrap();
        let kept = keep_secrets(&secrets, "docs", config).unwrap();
        assert_eq!(kept.headers["Authorization"], "secret.mcp.docs.header.Authorization");
        assert_eq!(kept.headers["X-Env"], "env.MCP_TOKEN");
        let env = |name: &str| (name == "MCP_TOKEN").then(|| "from-env".to_owned());
        assert_eq!(resolve(&kept.headers["Authorization"], &env, &secrets).unwrap().expose(), "Bearer tok-123");
        assert_eq!(resolve(&kept.headers["X-Env"], &env, &secrets).unwrap().expose(), "from-env");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        write(&path, &[SavedServer { name: "docs".into(), client_id: "docs".into(), config: kept.clone() }]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("tok-123"), "{text}");
        assert_eq!(read(&path).unwrap()[0].config, kept);

        forget_secrets(&secrets, &kept);
        assert!(secrets.get("mcp.docs.header.Authorization").unwrap().is_none());
    }
}
