//! What a provider's model list says of a model.

use serde::Serialize;

/// Facts about one model, when its provider's list carries them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ModelDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// The most tokens one answer may hold (Gemini's `outputTokenLimit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
}

impl ModelDetails {
    pub fn is_empty(&self) -> bool {
        *self == ModelDetails::default()
    }
}
