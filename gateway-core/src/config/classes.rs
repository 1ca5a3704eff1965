//! A task class as configured (`[task_classes.coding]`): an ordered chain of model entries and
//! a chain for local-only mode. `crate::classes` resolves them against the catalog.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskClassConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tried in order: the primary, then fallbacks.
    pub chain: Vec<ChainEntry>,
    /// Used instead of `chain` while local-only mode is on.
    pub local: Vec<ChainEntry>,
    /// The response cache for this class's requests, over `[cache] mode` (`pre-commit` hooks
    /// asking the same thing twice want `exact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<super::CacheMode>,
    /// MCP tools added to this class's requests: `"server"` (all its served tools) or
    /// `"server/tool"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp: Vec<String>,
}

/// `"provider/model"`, `"provider/glob*"`, or a table with a preference and a weight.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ChainEntry {
    Plain(String),
    Detailed {
        model: String,
        #[serde(default)]
        prefer: Preference,
        /// Entries of equal position share load by weight (see routing).
        #[serde(default = "one")]
        weight: u32,
    },
}

fn one() -> u32 {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preference {
    /// The highest version-aware id first (`claude-sonnet-4-5-20250929` before `…-4-20250514`).
    #[default]
    Newest,
    Oldest,
}

impl ChainEntry {
    pub fn pattern(&self) -> &str {
        match self {
            ChainEntry::Plain(model) | ChainEntry::Detailed { model, .. } => model,
        }
    }

    pub fn preference(&self) -> Preference {
        match self {
            ChainEntry::Plain(_) => Preference::Newest,
            ChainEntry::Detailed { prefer, .. } => *prefer,
        }
    }

    pub fn weight(&self) -> u32 {
        match self {
            ChainEntry::Plain(_) => 1,
            ChainEntry::Detailed { weight, .. } => (*weight).max(1),
        }
    }
}
