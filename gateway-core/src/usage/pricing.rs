//! What a request cost: a price table per model (dollars per million tokens), shipped with the
//! app and overridable in config (`[pricing."openai/gpt-4o"] input = 2.5 …`). Local providers cost
//! nothing unless the config prices them explicitly. Cached input tokens and tokens written to the
//! prompt cache are part of the input tokens (OpenAI's convention) and are billed once, at the
//! cached and cache-write rates; reasoning tokens are part of the output tokens.

use std::collections::BTreeMap;

use crate::config::Price;
use crate::wire::Usage;

impl Price {
    const fn new(input: f64, cached_input: f64, output: f64) -> Price {
        Price { input, output, cached_input: Some(cached_input), cache_write: None, reasoning: None }
    }

    const fn with_cache_write(self, cache_write: f64) -> Price {
        Price { cache_write: Some(cache_write), ..self }
    }

    /// The cost in dollars of `usage` at this price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
        let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
        let uncached = usage.input_tokens - cached - written;
        let visible = usage.output_tokens - reasoning;
        let dollars = uncached as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + visible as f64 * self.output
            + reasoning as f64 * self.reasoning.unwrap_or(self.output);
        dollars / 1_000_000.0
    }
}

/// Well-known models, matched by the longest prefix of the model id (the part after the last
/// `/`, so `openrouter/openai/gpt-4o` matches `gpt-4o`). List prices per million tokens, as the
/// providers published them in 2025; override them in config when they change.
const BUILT_IN: &[(&str, Price)] = &[
    // OpenAI
    ("gpt-4o-mini", Price::new(0.15, 0.075, 0.60)),
    ("gpt-4o", Price::new(2.50, 1.25, 10.00)),
    ("gpt-4.1-nano", Price::new(0.10, 0.025, 0.40)),
    ("gpt-4.1-mini", Price::new(0.40, 0.10, 1.60)),
    ("gpt-4.1", Price::new(2.00, 0.50, 8.00)),
    ("gpt-5-nano", Price::new(0.05, 0.005, 0.40)),
    ("gpt-5-mini", Price::new(0.25, 0.025, 2.00)),
    ("gpt-5", Price::new(1.25, 0.125, 10.00)),
    ("o3-mini", Price::new(1.10, 0.55, 4.40)),
    ("o3", Price::new(2.00, 0.50, 8.00)),
    ("o4-mini", Price::new(1.10, 0.275, 4.40)),
    ("o1-mini", Price::new(1.10, 0.55, 4.40)),
    ("o1", Price::new(15.00, 7.50, 60.00)),
    ("text-embedding-3-small", Price::new(0.02, 0.02, 0.0)),
    ("text-embedding-3-large", Price::new(0.13, 0.13, 0.0)),
    // Anthropic (cache reads at 10%, 5-minute cache writes at 125% of the input rate)
    // Opus 4.5 and later cost a third of Opus 4 and 4.1: each later version is listed, because
    // the `claude-opus-4` prefix alone would price `claude-opus-4-8` at Opus 4's rate.
    ("claude-opus-4-5", Price::new(5.00, 0.50, 25.00).with_cache_write(6.25)),
    ("claude-opus-4-6", Price::new(5.00, 0.50, 25.00).with_cache_write(6.25)),
    ("claude-opus-4-7", Price::new(5.00, 0.50, 25.00).with_cache_write(6.25)),
    ("claude-opus-4-8", Price::new(5.00, 0.50, 25.00).with_cache_write(6.25)),
    ("claude-opus-4-1", Price::new(15.00, 1.50, 75.00).with_cache_write(18.75)),
    ("claude-opus-4", Price::new(15.00, 1.50, 75.00).with_cache_write(18.75)),
    ("claude-3-opus", Price::new(15.00, 1.50, 75.00).with_cache_write(18.75)),
    ("claude-sonnet-4", Price::new(3.00, 0.30, 15.00).with_cache_write(3.75)),
    ("claude-3-7-sonnet", Price::new(3.00, 0.30, 15.00).with_cache_write(3.75)),
    ("claude-3-5-sonnet", Price::new(3.00, 0.30, 15.00).with_cache_write(3.75)),
    ("claude-haiku-4-5", Price::new(1.00, 0.10, 5.00).with_cache_write(1.25)),
    ("claude-3-5-haiku", Price::new(0.80, 0.08, 4.00).with_cache_write(1.00)),
    ("claude-3-haiku", Price::new(0.25, 0.03, 1.25).with_cache_write(0.30)),
    // Google (prompts up to 200k tokens)
    ("gemini-2.5-pro", Price::new(1.25, 0.125, 10.00)),
    ("gemini-2.5-flash-lite", Price::new(0.10, 0.01, 0.40)),
    ("gemini-2.5-flash", Price::new(0.30, 0.03, 2.50)),
    ("gemini-2.0-flash", Price::new(0.10, 0.025, 0.40)),
    // DeepSeek
    ("deepseek-chat", Price::new(0.28, 0.028, 0.42)),
    ("deepseek-reasoner", Price::new(0.28, 0.028, 0.42)),
];

/// The shipped prices with the config's overrides on top.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    /// Config keys: `provider/model`, a bare `model`, either ending in `*` for a prefix.
    overrides: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(overrides: BTreeMap<String, Price>) -> PriceTable {
        PriceTable { overrides }
    }

    /// The price for `model` as served by `provider`, if known.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        self.configured(provider, model).or_else(|| Self::shipped(model))
    }

    /// The config's price: exact `provider/model`, `model`, then the longest `*` prefix.
    fn configured(&self, provider: &str, model: &str) -> Option<Price> {
        // Most configs price nothing: no key to build for every request then.
        if self.overrides.is_empty() {
            return None;
        }
        let qualified = format!("{provider}/{model}");
        let base = model.rsplit('/').next().unwrap_or(model);
        for key in [qualified.as_str(), model, base] {
            if let Some(price) = self.overrides.get(key) {
                return Some(*price);
            }
        }
        let prefix_override = self
            .overrides
            .iter()
            .filter_map(|(key, price)| key.strip_suffix('*').map(|prefix| (prefix, price)))
            .filter(|(prefix, _)| {
                qualified.starts_with(prefix) || model.starts_with(prefix) || base.starts_with(prefix)
            })
            .max_by_key(|(prefix, _)| prefix.len());
        prefix_override.map(|(_, price)| *price)
    }

    fn shipped(model: &str) -> Option<Price> {
        let base = model.rsplit('/').next().unwrap_or(model);
        BUILT_IN
            .iter()
            .filter(|(prefix, _)| base.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| *price)
    }

    /// The cost in dollars; `None` when the model's price is unknown. Local providers cost 0
    /// unless the config prices them.
    pub fn cost(&self, provider: &str, model: &str, local: bool, usage: &Usage) -> Option<f64> {
        if let Some(price) = self.configured(provider, model) {
            return Some(price.cost(usage));
        }
        if local {
            return Some(0.0);
        }
        Self::shipped(model).map(|price| price.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_input_tokens: cached,
            reasoning_tokens: reasoning,
            ..Usage::default()
        }
    }

    #[test]
    fn cache_writes_are_billed_at_the_cache_write_rate() {
        let table = PriceTable::default();
        // Claude Sonnet 4: 1M input = 200k read from the cache + 300k written to it + 500k plain;
        // 0.5M × 3 + 0.2M × 0.30 + 0.3M × 3.75, and no output.
        let usage = Usage {
            input_tokens: 1_000_000,
            cached_input_tokens: 200_000,
            cache_write_tokens: 300_000,
            ..Usage::default()
        };
        let cost = table.cost("anthropic", "claude-sonnet-4-5", false, &usage).unwrap();
        assert!((cost - (1.5 + 0.06 + 1.125)).abs() < 1e-9, "{cost}");
        // Counts that do not add up never go negative or count a token twice.
        let odd = Usage { input_tokens: 10, cached_input_tokens: 8, cache_write_tokens: 8, ..Usage::default() };
        assert!(table.cost("anthropic", "claude-sonnet-4-5", false, &odd).unwrap() > 0.0);
    }

    #[test]
    fn longest_prefix_wins_and_cached_tokens_are_billed_once() {
        let table = PriceTable::default();
        assert_eq!(table.price("openai", "gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(table.price("openai", "gpt-4o-2024-08-06").unwrap().input, 2.50);
        assert_eq!(table.price("openrouter", "anthropic/claude-sonnet-4-5").unwrap().output, 15.0);
        assert!(table.price("mock", "echo").is_none());
        // Claude Code's default model is an Opus 4.5-or-later price, not Opus 4's.
        assert_eq!(table.price("anthropic", "claude-opus-4-8").unwrap().input, 5.0);
        assert_eq!(table.price("anthropic", "claude-opus-4-1-20250805").unwrap().input, 15.0);
        assert_eq!(table.price("anthropic", "claude-opus-4-20250514").unwrap().input, 15.0);
        // 1M input of which 400k cached, 100k output: 0.6M × 2.5 + 0.4M × 1.25 + 0.1M × 10.
        let cost = table.cost("openai", "gpt-4o", false, &usage(1_000_000, 400_000, 100_000, 0)).unwrap();
        assert!((cost - (1.5 + 0.5 + 1.0)).abs() < 1e-9, "{cost}");
        assert_eq!(table.cost("ollama", "gpt-4o", true, &usage(1000, 0, 1000, 0)), Some(0.0));
    }

    #[test]
    fn overrides_beat_the_shipped_table() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "openai/gpt-4o".to_owned(),
            Price { input: 1.0, output: 2.0, cached_input: None, cache_write: None, reasoning: Some(3.0) },
        );
        overrides.insert("mock/*".to_owned(), Price::new(1.0, 0.5, 1.0));
        let table = PriceTable::new(overrides);
        let cost = table.cost("openai", "gpt-4o", false, &usage(10, 4, 5, 2)).unwrap();
        // cached at the input rate (no cached rate given), reasoning at its own rate.
        assert!((cost - (10.0 * 1.0 + 3.0 * 2.0 + 2.0 * 3.0) / 1e6).abs() < 1e-12, "{cost}");
        assert_eq!(table.price("mock", "echo").unwrap().input, 1.0);
        assert_eq!(table.price("azure", "gpt-4o").unwrap().input, 2.5);
        // A local provider priced in config is charged; otherwise it is free.
        assert!(table.cost("mock", "echo", true, &usage(1_000_000, 0, 0, 0)).unwrap() > 0.0);
        assert_eq!(table.cost("ollama", "gpt-4o", true, &usage(1_000_000, 0, 0, 0)), Some(0.0));
    }
}
