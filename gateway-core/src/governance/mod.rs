//! Virtual keys, their budgets and rate limits: the pipeline's policy stage reads them.
//!
//! - `spec`: what a key says (Bifrost's governance API fields), validated;
//! - `secret`: a key's value, kept only as a hash;
//! - `reset`, `meter`: windows and the counters that enforce limits exactly under concurrency;
//! - `store` (this file): the keys in memory (an `ArcSwap` snapshot requests read without a
//!   lock), their meters, and the governance file they are kept in;
//! - `route`: a request's targets within what its key allows.
//!
//! Cost is known only at the end of a request: admission reserves, the record stage settles
//! (`Admission::settle`). Meter states are written to the file off the request path.

pub mod meter;
pub mod reset;
pub mod route;
pub mod secret;
pub mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use self::meter::{Exhausted, Meter, MeterState};
use self::secret::ValueHash;
use self::spec::{BudgetSpec, KeySpec, RateLimitSpec};
use crate::error::ApiError;

/// Dollars are metered in micro-dollars.
const MICROS: f64 = 1_000_000.0;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The meters of one owner (the key, or one of its provider configs).
pub struct Meters {
    /// By `reset_duration`, in the spec's order.
    pub budgets: Vec<Meter>,
    pub requests: Option<Meter>,
    pub tokens: Option<Meter>,
}

/// What is persisted of `Meters`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SavedMeters {
    #[serde(default)]
    pub budgets: HashMap<String, MeterState>,
    #[serde(default)]
    pub requests: Option<MeterState>,
    #[serde(default)]
    pub tokens: Option<MeterState>,
}

impl Meters {
    fn new(
        budgets: &[&BudgetSpec],
        limit: Option<&RateLimitSpec>,
        calendar: bool,
        now: i64,
        saved: Option<&SavedMeters>,
    ) -> Meters {
        let budgets = budgets
            .iter()
            .map(|b| {
                let state = saved.and_then(|s| s.budgets.get(&b.reset_duration.to_string())).copied();
                Meter::new((b.max_limit * MICROS).round() as u64, b.reset_duration, calendar, now, state)
            })
            .collect();
        let meter = |max: Option<i64>, duration, state: Option<MeterState>| match (max, duration) {
            (Some(max), Some(duration)) => Some(Meter::new(max.max(0) as u64, duration, false, now, state)),
            _ => None,
        };
        Meters {
            budgets,
            requests: limit
                .and_then(|l| meter(l.request_max_limit, l.request_reset_duration, saved.and_then(|s| s.requests))),
            tokens: limit.and_then(|l| meter(l.token_max_limit, l.token_reset_duration, saved.and_then(|s| s.tokens))),
        }
    }

    fn save(&self, now: i64) -> SavedMeters {
        SavedMeters {
            budgets: self.budgets.iter().map(|m| (m.duration.to_string(), m.snapshot(now))).collect(),
            requests: self.requests.as_ref().map(|m| m.snapshot(now)),
            tokens: self.tokens.as_ref().map(|m| m.snapshot(now)),
        }
    }

    /// The first limit that leaves no room now: which, and when it resets.
    pub fn blocked(&self, now: i64) -> Option<(LimitKind, Exhausted)> {
        if let Some(Err(e)) = self.requests.as_ref().map(|m| m.has_room(now)) {
            return Some((LimitKind::Requests, e));
        }
        if let Some(Err(e)) = self.tokens.as_ref().map(|m| m.has_room(now)) {
            return Some((LimitKind::Tokens, e));
        }
        self.budgets.iter().find_map(|m| m.has_room(now).err().map(|e| (LimitKind::Budget, e)))
    }

    /// Gives back what a request reserved and charges what it used.
    fn charge(&self, now: i64, reserved: Reserved, requests: u64, tokens: u64, micros: u64) {
        if let Some(m) = &self.requests {
            m.settle(now, reserved.requests, requests);
        }
        if let Some(m) = &self.tokens {
            m.settle(now, reserved.tokens, tokens);
        }
        for m in &self.budgets {
            m.settle(now, reserved.micros, micros);
        }
    }

    /// Reserves a request's estimate on every limit, or none: a limit without room undoes the
    /// reservations already taken and says which it was.
    fn reserve(&self, now: i64, estimate: Reserved) -> Result<Reserved, (LimitKind, Exhausted)> {
        let mut taken: Vec<(&Meter, u64)> = Vec::with_capacity(2 + self.budgets.len());
        let wanted = self
            .tokens
            .iter()
            .map(|m| (m, estimate.tokens, LimitKind::Tokens))
            .chain(self.budgets.iter().map(|m| (m, estimate.micros, LimitKind::Budget)))
            .chain(self.requests.iter().map(|m| (m, 1, LimitKind::Requests)));
        for (meter, amount, kind) in wanted {
            // Requests are counted exactly; tokens and dollars admit while under the limit.
            let admitted =
                if kind == LimitKind::Requests { meter.try_reserve(now, amount) } else { meter.hold(now, amount) };
            if let Err(exhausted) = admitted {
                for (meter, amount) in taken {
                    meter.settle(now, amount, 0);
                }
                return Err((kind, exhausted));
            }
            taken.push((meter, amount));
        }
        Ok(Reserved {
            requests: u64::from(self.requests.is_some()),
            tokens: if self.tokens.is_some() { estimate.tokens } else { 0 },
            micros: if self.budgets.is_empty() { 0 } else { estimate.micros },
        })
    }

    fn reset_budgets(&self, now: i64) {
        for m in &self.budgets {
            m.reset(now);
        }
    }
}

/// What a request holds on a key's meters while in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reserved {
    pub requests: u64,
    pub tokens: u64,
    pub micros: u64,
}

/// A key's typical request, learned as it spends (a moving average): what admission reserves on
/// its token limit and budgets, so requests in flight together cannot all pass the last cent.
#[derive(Default)]
pub struct Typical {
    tokens: AtomicU64,
    micros: AtomicU64,
}

impl Typical {
    fn estimate(&self) -> Reserved {
        Reserved {
            requests: 1,
            tokens: self.tokens.load(Ordering::Relaxed),
            micros: self.micros.load(Ordering::Relaxed),
        }
    }

    /// Moves an eighth of the way towards the sample (racing updates may lose one: it is an
    /// estimate).
    fn learn(&self, tokens: u64, micros: u64) {
        for (average, sample) in [(&self.tokens, tokens), (&self.micros, micros)] {
            let old = average.load(Ordering::Relaxed);
            let new = if old == 0 { sample } else { old - old / 8 + sample / 8 };
            average.store(new, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
    Budget,
}

/// One key in memory: its spec and its meters (the key's, then one per provider config).
pub struct KeyEntry {
    pub spec: KeySpec,
    pub meters: Meters,
    pub config_meters: Vec<Meters>,
    pub typical: Typical,
}

impl KeyEntry {
    fn build(spec: KeySpec, now: i64, saved: Option<&SavedKey>) -> KeyEntry {
        let budgets: Vec<&BudgetSpec> = spec.budgets.iter().collect();
        let meters = Meters::new(&budgets, spec.rate_limit.as_ref(), spec.calendar_aligned, now, saved.map(|s| &s.key));
        let config_meters = spec
            .provider_configs
            .iter()
            .map(|c| {
                let budgets: Vec<&BudgetSpec> = c.all_budgets().collect();
                let saved = saved.and_then(|s| s.configs.get(&c.provider));
                Meters::new(&budgets, c.rate_limit.as_ref(), spec.calendar_aligned, now, saved)
            })
            .collect();
        KeyEntry { spec, meters, config_meters, typical: Typical::default() }
    }

    fn save(&self, now: i64) -> SavedKey {
        SavedKey {
            key: self.meters.save(now),
            configs: self
                .spec
                .provider_configs
                .iter()
                .zip(&self.config_meters)
                .map(|(c, m)| (c.provider.clone(), m.save(now)))
                .collect(),
        }
    }

    /// OpenAI's rate-limit headers for the key's own limits: `x-ratelimit-limit-requests`,
    /// `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (`"12s"`), and the token ones.
    pub fn rate_limit_headers(&self, now: i64, headers: &mut http::HeaderMap) {
        for (meter, kind) in [(&self.meters.requests, "requests"), (&self.meters.tokens, "tokens")] {
            let Some(meter) = meter else { continue };
            let state = meter.snapshot(now);
            let remaining = meter.limit.saturating_sub(state.used.saturating_add(state.reserved));
            let reset = format!("{}s", ((state.window_end - now).max(0) as u64).div_ceil(1000));
            for (name, value) in [
                (format!("x-ratelimit-limit-{kind}"), meter.limit.to_string()),
                (format!("x-ratelimit-remaining-{kind}"), remaining.to_string()),
                (format!("x-ratelimit-reset-{kind}"), reset),
            ] {
                if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value)) {
                    headers.insert(name, value);
                }
            }
        }
    }

    /// Whether the key may use `model` of `provider`.
    pub fn allows(&self, provider: &str, model: &str) -> bool {
        match self.spec.provider_configs.iter().find(|c| c.provider == provider) {
            Some(config) => config.allows_model(model),
            None => self.spec.allow_all_providers,
        }
    }

    /// The provider configs with their meters.
    pub fn configs(&self) -> impl Iterator<Item = (&spec::ProviderConfigSpec, &Meters)> {
        self.spec.provider_configs.iter().zip(&self.config_meters)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SavedKey {
    #[serde(default)]
    pub key: SavedMeters,
    #[serde(default)]
    pub configs: HashMap<String, SavedMeters>,
}

/// The governance file: the keys and where their meters stand.
#[derive(Default, Serialize, Deserialize)]
struct GovernanceFile {
    version: u32,
    keys: Vec<KeySpec>,
    #[serde(default)]
    usage: HashMap<String, SavedKey>,
    /// Ids of deleted keys: one made with an id is refused by it afterwards, and while any key
    /// exists or existed the policy stage stays on, so a deleted key's value is refused too.
    #[serde(default)]
    revoked: Vec<String>,
}

/// The keys as requests read them.
#[derive(Default)]
pub struct KeyIndex {
    pub by_id: HashMap<String, Arc<KeyEntry>>,
    by_hash: HashMap<ValueHash, Arc<KeyEntry>>,
    /// In creation order, for listings.
    pub ordered: Vec<Arc<KeyEntry>>,
    /// Deleted keys' ids (see `GovernanceFile::revoked`).
    pub revoked: std::collections::HashSet<String>,
}

impl KeyIndex {
    fn build(entries: Vec<Arc<KeyEntry>>, revoked: std::collections::HashSet<String>) -> KeyIndex {
        let mut index = KeyIndex { revoked, ..KeyIndex::default() };
        for entry in entries {
            if let Some(hash) = secret::from_hex(&entry.spec.value_hash) {
                index.by_hash.insert(hash, entry.clone());
            }
            index.revoked.remove(&entry.spec.id);
            index.by_id.insert(entry.spec.id.clone(), entry.clone());
            index.ordered.push(entry);
        }
        index
    }

    /// The key a client presented: by its value's hash, or by its id for keys made with one.
    pub fn find(&self, presented: &str) -> Option<&Arc<KeyEntry>> {
        if let Some(entry) = self.by_id.get(presented)
            && entry.spec.usable_by_id
        {
            return Some(entry);
        }
        self.by_hash.get(&secret::hash(presented))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error("cannot read the governance file {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write the governance file {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Every key, their meters and the file they live in.
pub struct Governance {
    index: ArcSwap<KeyIndex>,
    /// Serializes writers (the admin API); requests never take it.
    edit: Mutex<()>,
    file: Option<PathBuf>,
    /// Meters moved since the last write.
    dirty: AtomicBool,
    /// `[governance] require_virtual_key`
    pub required: bool,
}

impl Governance {
    /// Loads the keys from `file` (none yet is fine; an unreadable file stops the start rather
    /// than forgetting every key and its spend).
    pub fn open(file: Option<PathBuf>, required: bool) -> Result<Governance, GovernanceError> {
        let now = now_ms();
        let saved = match &file {
            Some(path) => read_file(path)?,
            None => GovernanceFile::default(),
        };
        let revoked = saved.revoked.into_iter().collect();
        let entries = saved.keys.into_iter().map(|spec| {
            let usage = saved.usage.get(&spec.id);
            Arc::new(KeyEntry::build(spec, now, usage))
        });
        Ok(Governance {
            index: ArcSwap::from_pointee(KeyIndex::build(entries.collect(), revoked)),
            edit: Mutex::new(()),
            file,
            dirty: AtomicBool::new(false),
            required,
        })
    }

    pub fn keys(&self) -> Arc<KeyIndex> {
        self.index.load_full()
    }

    /// Whether the policy stage has anything to do: no keys (and none ever deleted, whose values
    /// must still be refused) and none required costs nothing.
    pub fn is_idle(&self) -> bool {
        let index = self.index.load();
        !self.required && index.ordered.is_empty() && index.revoked.is_empty()
    }

    /// Adds or replaces a key (keeping its meters where the limits keep their durations, unless
    /// `reset_budgets`), and writes the file.
    pub fn put(&self, spec: KeySpec, reset_budgets: bool) -> Result<Arc<KeyEntry>, GovernanceError> {
        let _edit = self.edit.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = now_ms();
        let current = self.index.load_full();
        let saved = current.by_id.get(&spec.id).map(|old| old.save(now));
        let entry = Arc::new(KeyEntry::build(spec, now, saved.as_ref()));
        if reset_budgets {
            entry.meters.reset_budgets(now);
            for m in &entry.config_meters {
                m.reset_budgets(now);
            }
        }
        let mut entries: Vec<Arc<KeyEntry>> = current.ordered.clone();
        match entries.iter().position(|e| e.spec.id == entry.spec.id) {
            Some(i) => entries[i] = entry.clone(),
            None => entries.push(entry.clone()),
        }
        self.index.store(Arc::new(KeyIndex::build(entries, current.revoked.clone())));
        self.write_locked()?;
        Ok(entry)
    }

    pub fn delete(&self, id: &str) -> Result<bool, GovernanceError> {
        let _edit = self.edit.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.index.load_full();
        if !current.by_id.contains_key(id) {
            return Ok(false);
        }
        let mut revoked = current.revoked.clone();
        revoked.insert(id.to_owned());
        let entries = current.ordered.iter().filter(|e| e.spec.id != id).cloned().collect();
        self.index.store(Arc::new(KeyIndex::build(entries, revoked)));
        self.write_locked()?;
        Ok(true)
    }

    /// Writes the meters if they moved (the background flush and shutdown call this).
    pub fn flush(&self) -> Result<(), GovernanceError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let _edit = self.edit.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = self.write_locked();
        if written.is_err() {
            self.mark_dirty(); // tried again at the next flush
        }
        written
    }

    fn write_locked(&self) -> Result<(), GovernanceError> {
        let Some(path) = &self.file else { return Ok(()) };
        let now = now_ms();
        let index = self.index.load();
        let file = GovernanceFile {
            version: 1,
            keys: index.ordered.iter().map(|e| e.spec.clone()).collect(),
            usage: index.ordered.iter().map(|e| (e.spec.id.clone(), e.save(now))).collect(),
            revoked: index.revoked.iter().cloned().collect(),
        };
        write_file(path, &file).map_err(|source| GovernanceError::Write { path: path.display().to_string(), source })
    }

    /// Admits a request presented with `entry`: active, and with room on every limit of the key
    /// for a request (exact: reserved here) and its typical tokens and cost (reserved too, and
    /// settled with the real ones at the end).
    pub fn admit(&self, entry: &Arc<KeyEntry>, now: i64) -> Result<Admission, ApiError> {
        if !entry.spec.is_active {
            return Err(ApiError::Governance {
                status: StatusCode::FORBIDDEN,
                code: "virtual_key_blocked",
                message: format!("virtual key `{}` is inactive", entry.spec.id),
                retry_after: None,
            });
        }
        let reserved = entry
            .meters
            .reserve(now, entry.typical.estimate())
            .map_err(|(kind, exhausted)| limit_error(&entry.spec.id, None, kind, exhausted, now))?;
        Ok(Admission { entry: entry.clone(), reserved, settled: false })
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

/// The refusal for a limit that is reached: 429 for rate limits (with `Retry-After`), 402 for
/// budgets, as Bifrost answers.
pub fn limit_error(key: &str, provider: Option<&str>, kind: LimitKind, exhausted: Exhausted, now: i64) -> ApiError {
    let wait_secs = ((exhausted.resets_at - now).max(0) as u64).div_ceil(1000).max(1);
    let whose = match provider {
        Some(provider) => format!("virtual key `{key}`'s provider `{provider}`"),
        None => format!("virtual key `{key}`"),
    };
    let (status, code, what) = match kind {
        LimitKind::Requests => (StatusCode::TOO_MANY_REQUESTS, "request_limited", "request rate limit"),
        LimitKind::Tokens => (StatusCode::TOO_MANY_REQUESTS, "token_limited", "token rate limit"),
        LimitKind::Budget => (StatusCode::PAYMENT_REQUIRED, "budget_exceeded", "budget"),
    };
    ApiError::Governance {
        status,
        code,
        message: format!("{whose} has reached its {what}; it resets in {wait_secs}s"),
        retry_after: (kind != LimitKind::Budget).then_some(wait_secs),
    }
}

/// A request admitted under a key; settled once with what it used.
pub struct Admission {
    pub entry: Arc<KeyEntry>,
    reserved: Reserved,
    settled: bool,
}

impl Admission {
    /// Charges the key (and the provider config that served, if any) and marks the meters for
    /// the next write. A request refused before any upstream call (`reached_upstream` false: a
    /// model the key may not use, a provider config over its limit) gives its request back.
    pub fn settle(
        mut self,
        governance: &Governance,
        provider: Option<&str>,
        reached_upstream: bool,
        tokens: u64,
        cost_usd: f64,
    ) {
        let now = now_ms();
        let micros = if cost_usd.is_finite() && cost_usd > 0.0 { (cost_usd * MICROS).round() as u64 } else { 0 };
        let requests = u64::from(reached_upstream);
        self.entry.meters.charge(now, self.reserved, requests, tokens, micros);
        if let Some(provider) = provider
            && let Some((_, meters)) = self.entry.configs().find(|(c, _)| c.provider == provider)
        {
            meters.charge(now, Reserved::default(), requests, tokens, micros);
        }
        if reached_upstream {
            self.entry.typical.learn(tokens, micros);
        }
        self.settled = true;
        governance.mark_dirty();
    }
}

impl Drop for Admission {
    /// A request dropped before settling (the client went away early) gives its reservation
    /// back.
    fn drop(&mut self) {
        if !self.settled {
            self.entry.meters.charge(now_ms(), self.reserved, 1, 0, 0);
        }
    }
}

fn read_file(path: &Path) -> Result<GovernanceFile, GovernanceError> {
    let shown = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| GovernanceError::Read { path: shown, message: err.to_string() }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(GovernanceFile::default()),
        Err(err) => Err(GovernanceError::Read { path: shown, message: err.to_string() }),
    }
}

/// Written beside itself under a unique name, synced, then renamed over: a crash leaves the old
/// file or the new one, never half of one. Readable by the user only.
fn write_file(path: &Path, file: &GovernanceFile) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("governance.json"),
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut out = options.open(&temp)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, path)?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
