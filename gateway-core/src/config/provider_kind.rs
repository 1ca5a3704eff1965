//! The kinds of provider Switchyard knows, with their defaults. Adding an OpenAI-compatible
//! provider is one line here. Base URLs include the API version path (`…/v1`), Anthropic's too.

use serde::{Deserialize, Serialize};

use crate::wire::WireFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    Openrouter,
    Groq,
    Mistral,
    Deepseek,
    Ollama,
    MlxLocal,
    Lmstudio,
    /// Anthropic's native Messages API.
    Anthropic,
    /// Google's native Gemini API (generativelanguage v1beta).
    Gemini,
    /// Any other server that speaks the OpenAI API, by name and base URL.
    OpenaiCompatible,
}

struct Preset {
    kind: ProviderKind,
    name: &'static str,
    base_url: Option<&'static str>,
    env_key: Option<&'static str>,
}

const PRESETS: [Preset; 11] = [
    Preset {
        kind: ProviderKind::Openai,
        name: "openai",
        base_url: Some("https://api.openai.com/v1"),
        env_key: Some("OPENAI_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Openrouter,
        name: "openrouter",
        base_url: Some("https://openrouter.ai/api/v1"),
        env_key: Some("OPENROUTER_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Groq,
        name: "groq",
        base_url: Some("https://api.groq.com/openai/v1"),
        env_key: Some("GROQ_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Mistral,
        name: "mistral",
        base_url: Some("https://api.mistral.ai/v1"),
        env_key: Some("MISTRAL_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Deepseek,
        name: "deepseek",
        base_url: Some("https://api.deepseek.com/v1"),
        env_key: Some("DEEPSEEK_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Anthropic,
        name: "anthropic",
        base_url: Some("https://api.anthropic.com/v1"),
        env_key: Some("ANTHROPIC_API_KEY"),
    },
    Preset {
        kind: ProviderKind::Gemini,
        name: "gemini",
        base_url: Some("https://generativelanguage.googleapis.com/v1beta"),
        env_key: Some("GEMINI_API_KEY"),
    },
    Preset { kind: ProviderKind::Ollama, name: "ollama", base_url: Some("http://127.0.0.1:11434/v1"), env_key: None },
    Preset {
        kind: ProviderKind::MlxLocal,
        name: "mlx-local",
        base_url: Some("http://127.0.0.1:11434/v1"),
        env_key: None,
    },
    Preset {
        kind: ProviderKind::Lmstudio,
        name: "lmstudio",
        base_url: Some("http://127.0.0.1:1234/v1"),
        env_key: None,
    },
    Preset { kind: ProviderKind::OpenaiCompatible, name: "openai-compatible", base_url: None, env_key: None },
];

impl ProviderKind {
    fn preset(self) -> &'static Preset {
        // Every kind has exactly one preset; the test below keeps it so.
        PRESETS.iter().find(|p| p.kind == self).unwrap_or(&PRESETS[PRESETS.len() - 1])
    }

    pub fn as_str(self) -> &'static str {
        self.preset().name
    }

    /// The kind a provider has when its config names none: its name, when that is a kind.
    pub fn from_name(name: &str) -> Option<ProviderKind> {
        PRESETS.iter().find(|p| p.name == name && p.kind != ProviderKind::OpenaiCompatible).map(|p| p.kind)
    }

    pub fn names() -> Vec<&'static str> {
        PRESETS.iter().map(|p| p.name).collect()
    }

    pub fn default_base_url(self) -> Option<&'static str> {
        self.preset().base_url
    }

    /// The environment variable that holds this cloud provider's key in a zero-config start.
    pub fn env_key(self) -> Option<&'static str> {
        self.preset().env_key
    }

    /// A second environment variable read when the first is unset (`GOOGLE_API_KEY`).
    pub fn alternate_env_key(self) -> Option<&'static str> {
        (self == ProviderKind::Gemini).then_some("GOOGLE_API_KEY")
    }

    pub fn cloud_kinds() -> impl Iterator<Item = ProviderKind> {
        PRESETS.iter().filter(|p| p.env_key.is_some()).map(|p| p.kind)
    }

    /// Whether the provider serves the OpenAI Responses API itself (`/responses`), so Responses
    /// clients pass through; every other kind gets Responses translated to its own API.
    pub fn speaks_responses(self) -> bool {
        matches!(self, ProviderKind::Openai)
    }

    pub fn wire_format(self) -> WireFormat {
        match self {
            ProviderKind::Anthropic => WireFormat::Anthropic,
            ProviderKind::Gemini => WireFormat::Gemini,
            _ => WireFormat::OpenAi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_preset() {
        for preset in &PRESETS {
            assert_eq!(preset.kind.preset().name, preset.name);
        }
        assert_eq!(ProviderKind::from_name("mlx-local"), Some(ProviderKind::MlxLocal));
        assert_eq!(ProviderKind::from_name("openai-compatible"), None);
        assert_eq!(ProviderKind::from_name("acme"), None);
        assert!(ProviderKind::cloud_kinds().any(|k| k == ProviderKind::Openrouter));
        assert!(!ProviderKind::cloud_kinds().any(|k| k == ProviderKind::Ollama));
    }
}
