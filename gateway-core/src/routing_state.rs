//! The routing state that changes at run time: task classes, local-only mode and the providers
//! added through the admin API. The admin API (and the tray) change it; requests read snapshots. Changes are kept in a small JSON state file
//! so they survive a restart; the user's config file is never rewritten.
//!
//! The file is written durably (`state_file`): a unique temporary file fsynced, renamed over the
//! old one, the directory fsynced, the previous copy kept as `state.json.bak`. A file that cannot
//! be read fails closed: local-only mode on, the bad file left alone (and copied aside) until the
//! user changes something, and `state_file_problem` says so to the tray and the dashboard.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogSnapshot;
use crate::classes::{self, ResolvedClasses};
use crate::config::{Config, KeyRef, ProviderConfig, ProviderKind, TaskClassConfig};
use crate::providers::ProviderSet;

mod state_file;

use state_file::Loaded;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct StateFile {
    /// Classes set through the admin API, over the config's and the built-in ones.
    task_classes: BTreeMap<String, TaskClassConfig>,
    local_only: Option<bool>,
    /// Providers added through the admin API (the config file's win over a same-named one).
    providers: BTreeMap<String, AddedProvider>,
}

/// A provider added through the admin API (`PUT /api/providers/{name}`). Its key, when it has
/// one, is in the secret store under the provider's name, never here.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct AddedProvider {
    pub kind: ProviderKind,
    pub base_url: String,
    #[serde(default)]
    pub local: Option<bool>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub has_key: bool,
}

impl AddedProvider {
    pub fn config(&self, name: &str) -> ProviderConfig {
        ProviderConfig {
            kind: Some(self.kind),
            base_url: Some(self.base_url.clone()),
            local: self.local,
            max_output_tokens: self.max_output_tokens,
            keys: if self.has_key { vec![KeyRef::Store(name.to_owned())] } else { Vec::new() },
            ..ProviderConfig::default()
        }
    }
}

pub struct RoutingState {
    /// Every class's definition: built-ins, then config, then the state file.
    classes: ArcSwap<BTreeMap<String, TaskClassConfig>>,
    /// What the state file adds, to write it back.
    overrides: std::sync::Mutex<StateFile>,
    resolved: ArcSwap<ResolvedClasses>,
    local_only: AtomicBool,
    /// Cloud requests refused while local-only was on. It must stay 0 (nothing reaches the cloud);
    /// a non-zero value means some path asked, and was stopped.
    cloud_attempts_while_local: AtomicU64,
    state_file: Option<PathBuf>,
    /// Why the state file could not be read at start, if it could not (see `state_file_problem`).
    state_file_problem: Option<String>,
    pub default_class: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write the state file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl RoutingState {
    pub fn new(config: &Config) -> RoutingState {
        // Only the binaries choose the default location (`state.json` in the config dir), so an
        // embedded or test gateway never reads or writes a user's state.
        let state_file = config.routing.state_file.clone();
        let loaded = state_file.as_deref().map_or(Loaded::Missing, state_file::load);
        let (saved, problem) = match loaded {
            Loaded::Missing => (StateFile::default(), None),
            Loaded::Read(saved) => (saved, None),
            // What is written at the next change must say local-only too, as it now is.
            Loaded::Unreadable { mut saved, problem } => {
                saved.local_only = Some(true);
                (saved, Some(problem))
            }
        };
        let mut all = classes::built_in_defaults();
        all.extend(config.task_classes.clone());
        all.extend(saved.task_classes.clone());
        // An unreadable file may have said local-only: assume it did (a privacy fail-closed).
        let local_only =
            problem.is_some() || saved.local_only.unwrap_or(config.routing.local_only) || config.routing.local_only;
        RoutingState {
            classes: ArcSwap::from_pointee(all),
            overrides: std::sync::Mutex::new(saved),
            resolved: ArcSwap::from_pointee(ResolvedClasses::default()),
            local_only: AtomicBool::new(local_only),
            cloud_attempts_while_local: AtomicU64::new(0),
            state_file,
            state_file_problem: problem,
            default_class: config.routing.default_class.clone(),
        }
    }

    pub fn classes(&self) -> Arc<BTreeMap<String, TaskClassConfig>> {
        self.classes.load_full()
    }

    pub fn resolved(&self) -> Arc<ResolvedClasses> {
        self.resolved.load_full()
    }

    /// Recomputes every class against the catalog (after a refresh or a class change).
    pub fn reresolve(&self, providers: &ProviderSet, catalog: &CatalogSnapshot) {
        self.resolved.store(classes::resolve_all(&self.classes.load(), providers, catalog));
    }

    pub fn set_class(&self, name: &str, class: TaskClassConfig) -> Result<(), StateError> {
        self.classes.rcu(|all| {
            let mut all = (**all).clone();
            all.insert(name.to_owned(), class.clone());
            all
        });
        self.persist(|file| {
            file.task_classes.insert(name.to_owned(), class.clone());
        })
    }

    /// Removes a class set through the API; a built-in or configured class returns to its
    /// definition there. Returns whether anything was removed.
    pub fn reset_class(&self, name: &str, config: &Config) -> Result<bool, StateError> {
        let mut removed = false;
        self.persist(|file| removed = file.task_classes.remove(name).is_some())?;
        let original = config.task_classes.get(name).cloned().or_else(|| classes::built_in_defaults().remove(name));
        self.classes.rcu(|all| {
            let mut all = (**all).clone();
            match &original {
                Some(class) => all.insert(name.to_owned(), class.clone()),
                None => all.remove(name),
            };
            all
        });
        Ok(removed)
    }

    pub fn local_only(&self) -> bool {
        self.local_only.load(Ordering::Relaxed)
    }

    pub fn set_local_only(&self, on: bool) -> Result<(), StateError> {
        self.local_only.store(on, Ordering::Relaxed);
        self.persist(|file| file.local_only = Some(on))
    }

    /// The providers added through the admin API.
    pub fn added_providers(&self) -> BTreeMap<String, AddedProvider> {
        self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner).providers.clone()
    }

    pub fn set_provider(&self, name: &str, provider: AddedProvider) -> Result<(), StateError> {
        self.persist(|file| {
            file.providers.insert(name.to_owned(), provider);
        })
    }

    /// Forgets a provider added through the admin API; whether there was one.
    pub fn remove_provider(&self, name: &str) -> Result<bool, StateError> {
        let mut removed = false;
        self.persist(|file| removed = file.providers.remove(name).is_some())?;
        Ok(removed)
    }

    /// Set when the state file could not be read at start: what happened, where the bad copy
    /// was kept, and that local-only mode was turned on because of it. Kept for the process's
    /// life (a later save does not bring back what was lost), for the tray and the dashboard.
    pub fn state_file_problem(&self) -> Option<&str> {
        self.state_file_problem.as_deref()
    }

    pub fn note_cloud_attempt(&self) {
        self.cloud_attempts_while_local.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cloud_attempts_while_local(&self) -> u64 {
        self.cloud_attempts_while_local.load(Ordering::Relaxed)
    }

    fn persist(&self, edit: impl FnOnce(&mut StateFile)) -> Result<(), StateError> {
        let mut file = self.overrides.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        edit(&mut file);
        let Some(path) = &self.state_file else { return Ok(()) };
        state_file::write(path, &file).map_err(|source| StateError::Write { path: path.clone(), source })
    }
}

#[cfg(test)]
mod tests;
