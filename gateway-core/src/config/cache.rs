//! `[cache]`: the response cache. Off by default: a model's answers are expected to vary, and
//! serving the same one twice is a choice the user makes (for everything, per task class, or
//! per request).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `off`, `exact` (the same canonical request), or `semantic` (exact first, then the nearest
    /// stored request over `threshold`).
    pub mode: CacheMode,
    /// How long an entry is served: `"30s"`, `"5m"`, `"1h"`, `"2d"` or seconds.
    #[serde(deserialize_with = "ttl")]
    pub ttl: Duration,
    /// The cosine similarity a semantic hit needs, in (0, 1].
    pub threshold: f32,
    /// The most bytes the stored entries take (bodies and vectors); the least recently used
    /// go first.
    pub max_bytes: u64,
    /// The model that embeds requests for semantic lookups, as a request names a model
    /// (`ollama/nomic-embed-text`, `openai/text-embedding-3-small`): any provider with an
    /// OpenAI-compatible embeddings endpoint. Without one the semantic layer is skipped.
    pub embedding_model: Option<String>,
    /// Conversations with more messages than this are not looked up semantically (a long
    /// conversation's last turn says little on its own; Bifrost's default is the same).
    pub max_conversation_messages: usize,
    /// The SQLite file; default `cache.sqlite3` beside the usage log (in memory when the log
    /// is).
    pub path: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            mode: CacheMode::Off,
            ttl: Duration::from_secs(3600),
            threshold: 0.95,
            max_bytes: 256 * 1024 * 1024,
            embedding_model: None,
            max_conversation_messages: 3,
            path: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    #[default]
    Off,
    Exact,
    Semantic,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Off => "off",
            CacheMode::Exact => "exact",
            CacheMode::Semantic => "semantic",
        }
    }

    pub fn parse(text: &str) -> Option<CacheMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Some(CacheMode::Off),
            "exact" => Some(CacheMode::Exact),
            "semantic" => Some(CacheMode::Semantic),
            _ => None,
        }
    }
}

/// Reads `"90s"`, `"5m"`, `"1h"`, `"2d"` (or plain seconds) as a duration; `None` for anything
/// else, zero included.
pub fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let count: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => count,
        "m" => count.checked_mul(60)?,
        "h" => count.checked_mul(3600)?,
        "d" => count.checked_mul(86_400)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

fn ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ttl {
        Seconds(u64),
        Text(String),
    }
    let parsed = match Ttl::deserialize(deserializer)? {
        Ttl::Seconds(seconds) => (seconds > 0).then(|| Duration::from_secs(seconds)),
        Ttl::Text(text) => parse_ttl(&text),
    };
    parsed.ok_or_else(|| {
        serde::de::Error::custom(
            "expected a duration such as \"30s\", \"5m\", \"1h\", \"2d\" or a number of seconds above 0",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_ttl("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_ttl("42"), Some(Duration::from_secs(42)));
        for bad in ["", "0", "0s", "1w", "h", "-5m", "1.5h"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_section() {
        let config: CacheConfig =
            toml::from_str("mode = \"semantic\"\nttl = \"10m\"\nthreshold = 0.9\nembedding_model = \"ollama/nomic\"")
                .unwrap();
        assert_eq!(config.mode, CacheMode::Semantic);
        assert_eq!(config.ttl, Duration::from_secs(600));
        let config: CacheConfig = toml::from_str("ttl = 120").unwrap();
        assert_eq!(config.ttl, Duration::from_secs(120));
        assert!(toml::from_str::<CacheConfig>("ttl = \"soon\"").is_err());
        assert!(toml::from_str::<CacheConfig>("mode = \"sometimes\"").is_err());
    }
}
