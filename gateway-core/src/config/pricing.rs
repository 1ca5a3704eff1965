//! Price overrides as configured (`[pricing."openai/gpt-4o"] input = 2.5 …`). The built-in table
//! and the arithmetic (`Price::cost`) are in `crate::usage::pricing`.

use serde::Deserialize;

/// Dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the provider's prompt cache; default: the input rate.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Input tokens written to the prompt cache (Anthropic); default: the input rate.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Reasoning tokens, where they differ from output tokens.
    #[serde(default)]
    pub reasoning: Option<f64>,
}
