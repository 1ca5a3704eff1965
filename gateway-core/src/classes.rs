//! Task classes: tools ask for a kind of work (`coding`, `research`, …), never a model id, and
//! the gateway resolves the class to current models. A class is an ordered chain (primary, then
//! fallbacks) plus a local chain for local-only mode. An entry is a concrete `provider/model` or a
//! selector resolved against the live catalog (`anthropic/claude-*-sonnet-*`, newest first), so a
//! class keeps working when providers rename or retire models. Resolution happens when the
//! catalog or the classes change, never per request.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::catalog::CatalogSnapshot;
use crate::config::{ChainEntry, Preference, TaskClassConfig};
use crate::providers::ProviderSet;

/// The classes every install has; config and the admin API may change them and add more.
pub const BUILT_IN: [&str; 4] = ["research", "coding", "review", "pre-commit"];

/// The defaults of the built-in classes: selectors over the big providers, and local models.
pub fn built_in_defaults() -> BTreeMap<String, TaskClassConfig> {
    let class = |description: &str, chain: &[&str], local: &[&str]| TaskClassConfig {
        description: Some(description.to_owned()),
        chain: chain.iter().map(|e| ChainEntry::Plain((*e).to_owned())).collect(),
        local: local.iter().map(|e| ChainEntry::Plain((*e).to_owned())).collect(),
        cache: None,
        mcp: Vec::new(),
    };
    let local = ["mlx-local/*", "ollama/*", "lmstudio/*"];
    BTreeMap::from([
        (
            "research".to_owned(),
            class(
                "Long reads and deep answers",
                &["anthropic/claude-opus-*", "openai/gpt-5*", "gemini/gemini-*-pro*", "openrouter/*"],
                &local,
            ),
        ),
        (
            "coding".to_owned(),
            class(
                "Writing and editing code",
                &["anthropic/claude-sonnet-*", "openai/gpt-5*", "openrouter/qwen/*coder*"],
                &local,
            ),
        ),
        (
            "review".to_owned(),
            class(
                "Reading diffs critically",
                &["anthropic/claude-sonnet-*", "openai/gpt-5*", "gemini/gemini-*-pro*"],
                &local,
            ),
        ),
        (
            "pre-commit".to_owned(),
            class(
                "Fast, cheap checks before a commit",
                &["anthropic/claude-haiku-*", "openai/gpt-5*-mini*", "gemini/gemini-*-flash*"],
                &local,
            ),
        ),
    ])
}

/// One class, resolved against the catalog.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ResolvedClass {
    pub chain: Vec<ResolvedEntry>,
    pub local: Vec<ResolvedEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedEntry {
    pub provider: String,
    pub model: String,
    pub weight: u32,
    /// The entry it came from.
    pub entry: String,
}

impl ResolvedEntry {
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Every class's current resolution; replaced whole when the catalog or the classes change.
#[derive(Debug, Default)]
pub struct ResolvedClasses {
    pub classes: BTreeMap<String, ResolvedClass>,
}

pub fn resolve_all(
    classes: &BTreeMap<String, TaskClassConfig>,
    providers: &ProviderSet,
    catalog: &CatalogSnapshot,
) -> Arc<ResolvedClasses> {
    let classes = classes
        .iter()
        .map(|(name, class)| {
            let resolved = ResolvedClass {
                chain: resolve_chain(&class.chain, providers, catalog),
                local: resolve_chain(&class.local, providers, catalog)
                    .into_iter()
                    .filter(|e| providers.get(&e.provider).is_some_and(|p| p.is_local))
                    .collect(),
            };
            (name.clone(), resolved)
        })
        .collect();
    Arc::new(ResolvedClasses { classes })
}

/// Each entry gives its best match (a concrete entry gives itself when its provider exists);
/// duplicates are dropped, order is kept.
fn resolve_chain(entries: &[ChainEntry], providers: &ProviderSet, catalog: &CatalogSnapshot) -> Vec<ResolvedEntry> {
    let mut out: Vec<ResolvedEntry> = Vec::new();
    for entry in entries {
        let pattern = entry.pattern();
        let Some((provider_pattern, model_pattern)) = pattern.split_once('/') else { continue };
        let mut candidates: Vec<(&str, &str)> = Vec::new();
        if !provider_pattern.contains('*') && !model_pattern.contains('*') {
            if providers.get(provider_pattern).is_some() {
                candidates.push((provider_pattern, model_pattern));
            }
        } else {
            for (provider, list) in &catalog.providers {
                if providers.get(provider).is_none() || !glob_match(provider_pattern, provider) {
                    continue;
                }
                candidates.extend(
                    list.models
                        .iter()
                        .filter(|m| glob_match(model_pattern, m))
                        .map(|m| (provider.as_str(), m.as_str())),
                );
            }
            candidates.sort_by(|a, b| {
                let order = version_cmp(a.1, b.1);
                match entry.preference() {
                    Preference::Newest => order.reverse(),
                    Preference::Oldest => order,
                }
            });
        }
        if let Some((provider, model)) =
            candidates.into_iter().find(|(p, m)| !out.iter().any(|e| e.provider == *p && e.model == *m))
        {
            out.push(ResolvedEntry {
                provider: provider.to_owned(),
                model: model.to_owned(),
                weight: entry.weight(),
                entry: pattern.to_owned(),
            });
        }
    }
    out
}

/// `*` matches any run of characters (slashes included); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Orders model ids by release: version numbers first (`sonnet-4-5` > `sonnet-4`), then a
/// date suffix (`-20250929`), then the rest of the text. A date is an 8-digit run starting with
/// 19 or 20, so `claude-sonnet-4-5-20250929` is newer than `claude-sonnet-4-20250514`.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (versions_a, date_a) = version_key(a);
    let (versions_b, date_b) = version_key(b);
    versions_a.cmp(&versions_b).then(date_a.cmp(&date_b)).then_with(|| natural_cmp(a, b))
}

fn version_key(id: &str) -> (Vec<u64>, u64) {
    let mut versions = Vec::new();
    let mut date = 0;
    for run in id.split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()) {
        let value = run.parse::<u64>().unwrap_or(u64::MAX);
        if run.len() == 8 && (run.starts_with("19") || run.starts_with("20")) {
            date = value;
        } else {
            versions.push(value);
        }
    }
    (versions, date)
}

/// Compares ids with digit runs as numbers: `gpt-4.10` > `gpt-4.9`, `sonnet-4-5` > `sonnet-4`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = std::str::from_utf8(&a[..da])
                    .ok()
                    .and_then(|s| s.trim_start_matches('0').parse::<u128>().ok())
                    .unwrap_or(0);
                let nb = std::str::from_utf8(&b[..db])
                    .ok()
                    .and_then(|s| s.trim_start_matches('0').parse::<u128>().ok())
                    .unwrap_or(0);
                match na.cmp(&nb) {
                    Ordering::Equal => {
                        a = &a[da..];
                        b = &b[db..];
                    }
                    other => return other,
                }
            }
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Equal => {
                    a = &a[1..];
                    b = &b[1..];
                }
                other => return other,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ProviderModels;
    use crate::config::ProviderConfig;
    use crate::providers::{Provider, ProviderSource};
    use crate::secrets::MemorySecretStore;

    fn setup(lists: &[(&str, &[&str])]) -> (ProviderSet, CatalogSnapshot) {
        let store = MemorySecretStore::default();
        let env = |_: &str| None;
        let providers = ProviderSet::new(lists.iter().map(|(name, _)| {
            let config = ProviderConfig {
                kind: Some(crate::config::ProviderKind::OpenaiCompatible),
                base_url: Some(
                    if name.starts_with("local") { "http://127.0.0.1:1/v1" } else { "https://example.com/v1" }.into(),
                ),
                ..ProviderConfig::default()
            };
            Provider::from_config(name, &config, ProviderSource::Config, &env, &store).unwrap()
        }));
        let catalog = CatalogSnapshot::from_lists(
            lists
                .iter()
                .map(|(name, models)| {
                    (
                        (*name).to_owned(),
                        ProviderModels {
                            models: models.iter().map(|m| (*m).to_owned()).collect(),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        );
        (providers, catalog)
    }

    #[test]
    fn globs_and_natural_order() {
        assert!(glob_match("claude-*-sonnet-*", "claude-3-7-sonnet-20250219"));
        assert!(glob_match("qwen/*coder*", "qwen/qwen3-coder-30b"));
        assert!(!glob_match("qwen/*coder*", "meta/llama"));
        assert!(glob_match("*", "anything/at/all"));
        assert!(!glob_match("a*b", "ab-c"));
        assert_eq!(natural_cmp("gpt-4.10", "gpt-4.9"), Ordering::Greater);
        assert_eq!(version_cmp("claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"), Ordering::Greater);
        assert_eq!(version_cmp("claude-sonnet-4-20250514", "claude-3-7-sonnet-20250219"), Ordering::Greater);
        assert_eq!(version_cmp("claude-sonnet-4-20250514", "claude-sonnet-4-20250101"), Ordering::Greater);
        assert_eq!(version_cmp("gpt-4.1", "gpt-4o"), Ordering::Greater);
    }

    #[test]
    fn selectors_pick_the_newest_and_follow_renames() {
        let classes = BTreeMap::from([(
            "coding".to_owned(),
            TaskClassConfig {
                chain: vec![
                    ChainEntry::Plain("cloud/claude-sonnet-*".into()),
                    ChainEntry::Plain("cloud/gpt-4o".into()),
                    ChainEntry::Detailed {
                        model: "cloud/claude-sonnet-*".into(),
                        prefer: Preference::Oldest,
                        weight: 1,
                    },
                ],
                local: vec![ChainEntry::Plain("local/*coder*".into()), ChainEntry::Plain("cloud/*".into())],
                ..Default::default()
            },
        )]);
        let (providers, catalog) = setup(&[
            ("cloud", &["claude-sonnet-4-20250514", "claude-sonnet-4-5-20250929", "gpt-4o"]),
            ("local", &["qwen3-coder-8b", "llama3"]),
        ]);
        let resolved = resolve_all(&classes, &providers, &catalog);
        let coding = &resolved.classes["coding"];
        let chain: Vec<String> = coding.chain.iter().map(ResolvedEntry::qualified).collect();
        assert_eq!(chain, vec!["cloud/claude-sonnet-4-5-20250929", "cloud/gpt-4o", "cloud/claude-sonnet-4-20250514"]);
        let local: Vec<String> = coding.local.iter().map(ResolvedEntry::qualified).collect();
        assert_eq!(local, vec!["local/qwen3-coder-8b"], "a cloud entry never enters the local chain");

        // The provider retires the model and ships a newer one: the class follows.
        let (providers, catalog) = setup(&[("cloud", &["claude-sonnet-5-20261001", "gpt-4o"]), ("local", &[])]);
        let resolved = resolve_all(&classes, &providers, &catalog);
        assert_eq!(resolved.classes["coding"].chain[0].qualified(), "cloud/claude-sonnet-5-20261001");
        assert!(resolved.classes["coding"].local.is_empty());
    }
}
