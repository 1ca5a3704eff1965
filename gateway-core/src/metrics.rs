//! Prometheus metrics, kept in memory and written in the text exposition format at
//! `GET /metrics`. Names follow Bifrost's where they map, with the `switchyard_` prefix.
//!
//! Per request, the hot path takes a read lock on the series map (a write lock only the first
//! time a label combination is seen) and adds to atomics; nothing else is shared. Labels stay
//! low-cardinality: provider, model (the upstream model), status, client, error type. The client
//! label comes from a request header (`x-switchyard-client`, the User-Agent), so anyone who can
//! call the gateway could mint series without end: past [`MAX_CLIENTS`] distinct values, a new
//! one is counted as [`OTHER_CLIENT`].

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::observe::{CacheOutcome, Outcome, RequestRecord, ToolCallStatus};

/// Distinct `client` label values kept; more are folded into [`OTHER_CLIENT`].
pub const MAX_CLIENTS: usize = 64;
/// The `client` label of every client past the first [`MAX_CLIENTS`].
pub const OTHER_CLIENT: &str = "other";

/// Request latency and time to first token buckets, in seconds.
const LATENCY_BUCKETS: [f64; 16] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];
/// The gateway's own time per request, in seconds.
const OVERHEAD_BUCKETS: [f64; 12] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: Duration) {
        let secs = value.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(value.as_micros() as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ([u64; N], u64, f64) {
        let counts = std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed));
        (counts, self.count.load(Ordering::Relaxed), self.sum_us.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    provider: String,
    model: String,
    status: u16,
    client: String,
    class: String,
    /// The client's API: openai, anthropic, responses, gemini.
    family: String,
    error_type: String,
    /// The virtual key's id (keys are made by the admin API, so their number is bounded).
    virtual_key: String,
}

/// What `/metrics` reports besides the per-request series.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub dropped_rows: u64,
    pub written_rows: u64,
    /// Rows stored without their bodies: too many body bytes were waiting for the writer.
    pub dropped_bodies: u64,
    pub local_only: bool,
    pub cloud_attempts_while_local: u64,
    /// Bytes the response cache's entries take (`ResponseCache::stored_bytes`).
    pub cache_bytes: u64,
}

struct Series {
    requests: AtomicU64,
    latency: Histogram<16>,
    ttft: Histogram<16>,
    upstream: Histogram<16>,
    attempts: AtomicU64,
    /// Requests answered after more than one attempt (a retry or a fallback).
    fallbacks: AtomicU64,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    reasoning_tokens: AtomicU64,
    /// Nano-dollars.
    cost_nanos: AtomicU64,
}

impl Series {
    fn new() -> Series {
        Series {
            requests: AtomicU64::new(0),
            latency: Histogram::new(&LATENCY_BUCKETS),
            ttft: Histogram::new(&LATENCY_BUCKETS),
            upstream: Histogram::new(&LATENCY_BUCKETS),
            attempts: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
            cached_tokens: AtomicU64::new(0),
            reasoning_tokens: AtomicU64::new(0),
            cost_nanos: AtomicU64::new(0),
        }
    }
}

/// Provider and model.
type ModelId = (String, String);

/// The series by label hash; a bucket holds the (rare) labels that share a hash.
#[derive(Default)]
struct SeriesMap {
    buckets: HashMap<u64, Vec<(SeriesKey, Arc<Series>)>, foldhash::fast::FixedState>,
    /// The client label values that have series (at most [`MAX_CLIENTS`] plus `other`).
    clients: HashSet<Box<str>, foldhash::fast::FixedState>,
}

impl SeriesMap {
    /// Whether `client` must be reported as `other`: read only on a series miss, so a request
    /// whose series exists pays nothing for the cap.
    fn folds(&self, client: &str) -> bool {
        self.clients.len() >= MAX_CLIENTS && !self.clients.contains(client)
    }

    /// The series for `labels`, the client folded into `other` when past the cap; `None` when it
    /// does not exist yet. The hash passed is that of `labels` as given.
    fn find(&self, hash: u64, labels: &mut SeriesLabels<'_>) -> Option<Arc<Series>> {
        if let Some(series) = self.get(hash, labels) {
            return Some(series);
        }
        if self.folds(labels.client) {
            labels.client = OTHER_CLIENT;
            return self.get(labels.hash(), labels);
        }
        None
    }

    fn get(&self, hash: u64, labels: &SeriesLabels) -> Option<Arc<Series>> {
        let bucket = self.buckets.get(&hash)?;
        bucket.iter().find(|(key, _)| labels.matches(key)).map(|(_, series)| series.clone())
    }

    fn iter(&self) -> impl Iterator<Item = (&SeriesKey, &Arc<Series>)> {
        self.buckets.values().flatten().map(|(key, series)| (key, series))
    }
}

/// A request's labels, borrowed from its record.
struct SeriesLabels<'a> {
    provider: &'a str,
    model: &'a str,
    status: u16,
    client: &'a str,
    class: &'a str,
    family: &'a str,
    error_type: &'a str,
    virtual_key: &'a str,
}

impl SeriesLabels<'_> {
    fn hash(&self) -> u64 {
        use std::hash::BuildHasher;
        let labels = (
            self.provider,
            self.model,
            self.status,
            self.client,
            self.class,
            self.family,
            self.error_type,
            self.virtual_key,
        );
        foldhash::fast::FixedState::default().hash_one(labels)
    }

    fn matches(&self, key: &SeriesKey) -> bool {
        self.status == key.status
            && self.provider == key.provider
            && self.model == key.model
            && self.client == key.client
            && self.class == key.class
            && self.family == key.family
            && self.error_type == key.error_type
            && self.virtual_key == key.virtual_key
    }

    fn to_key(&self) -> SeriesKey {
        SeriesKey {
            provider: self.provider.to_owned(),
            model: self.model.to_owned(),
            status: self.status,
            client: self.client.to_owned(),
            class: self.class.to_owned(),
            family: self.family.to_owned(),
            error_type: self.error_type.to_owned(),
            virtual_key: self.virtual_key.to_owned(),
        }
    }
}

pub struct Metrics {
    series: RwLock<SeriesMap>,
    overhead: Histogram<12>,
    cache: CacheCounts,
    tools: RwLock<HashMap<(String, String), Arc<ToolSeries>>>,
}

/// Distinct MCP `(server, tool)` series kept; more are counted under `tool="other"`.
const MAX_TOOL_SERIES: usize = 512;

/// One MCP tool's calls: by how they ended, and their durations.
struct ToolSeries {
    statuses: [AtomicU64; ToolCallStatus::ALL.len()],
    duration: Histogram<16>,
}

/// What the response cache did, over all requests: no labels but the hit's type, so three
/// counters and no series lookup.
#[derive(Default)]
struct CacheCounts {
    exact: AtomicU64,
    semantic: AtomicU64,
    misses: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            series: RwLock::new(SeriesMap::default()),
            overhead: Histogram::new(&OVERHEAD_BUCKETS),
            cache: CacheCounts::default(),
            tools: RwLock::new(HashMap::new()),
        }
    }
}

impl Metrics {
    /// Counts one MCP tool call (`switchyard_mcp_tool_calls_total`, `…_duration_seconds`).
    pub fn observe_tool_call(&self, server: &str, tool: &str, status: ToolCallStatus, duration_ms: f64) {
        let key = (server.to_owned(), tool.to_owned());
        let existing = self.tools.read().ok().and_then(|tools| tools.get(&key).cloned());
        let series = match existing {
            Some(series) => series,
            None => {
                let Ok(mut tools) = self.tools.write() else { return };
                let key = if tools.len() >= MAX_TOOL_SERIES && !tools.contains_key(&key) {
                    (server.to_owned(), OTHER_CLIENT.to_owned())
                } else {
                    key
                };
                tools
                    .entry(key)
                    .or_insert_with(|| {
                        Arc::new(ToolSeries {
                            statuses: std::array::from_fn(|_| AtomicU64::new(0)),
                            duration: Histogram::new(&LATENCY_BUCKETS),
                        })
                    })
                    .clone()
            }
        };
        if let Some(i) = ToolCallStatus::ALL.iter().position(|s| *s == status) {
            series.statuses[i].fetch_add(1, Ordering::Relaxed);
        }
        series.duration.observe(Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0));
    }

    /// The series of `record`'s labels, created on first use. The lookup
    /// borrows the labels (no String copies) and takes only the read lock
    /// when the series exists, which is every request but the first.
    fn series_for(&self, record: &RequestRecord) -> Option<Arc<Series>> {
        let mut labels = SeriesLabels {
            provider: record.provider.as_deref().unwrap_or_default(),
            model: record.upstream_model.as_deref().unwrap_or_default(),
            status: record.status,
            client: record.client.as_deref().unwrap_or_default(),
            class: record.class.as_deref().unwrap_or_default(),
            family: record.family.as_str(),
            error_type: error_type(record.outcome).unwrap_or_default(),
            virtual_key: record.virtual_key.as_deref().unwrap_or_default(),
        };
        let hash = labels.hash();
        if let Some(series) = self.series.read().ok()?.find(hash, &mut labels) {
            return Some(series);
        }
        let mut map = self.series.write().ok()?;
        // Another request may have made the series (or filled the clients) in between.
        if let Some(series) = map.find(labels.hash(), &mut labels) {
            return Some(series);
        }
        if map.folds(labels.client) {
            labels.client = OTHER_CLIENT;
        }
        let series = Arc::new(Series::new());
        if !map.clients.contains(labels.client) {
            map.clients.insert(labels.client.into());
        }
        map.buckets.entry(labels.hash()).or_default().push((labels.to_key(), series.clone()));
        Some(series)
    }

    /// Counts one finished request; `cost_usd` is what the usage log priced it at.
    pub fn observe(&self, record: &RequestRecord, cost_usd: Option<f64>) {
        if let Some(outcome) = record.cache {
            let counter = match outcome {
                CacheOutcome::HitExact => &self.cache.exact,
                CacheOutcome::HitSemantic => &self.cache.semantic,
                CacheOutcome::Miss => &self.cache.misses,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let Some(series) = self.series_for(record) else { return };
        series.requests.fetch_add(1, Ordering::Relaxed);
        series.latency.observe(record.latency);
        if let Some(ttft) = record.time_to_first_byte {
            series.ttft.observe(ttft);
        }
        let add = |counter: &AtomicU64, value: u64| {
            if value > 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        };
        if let Some(usage) = &record.usage {
            add(&series.input_tokens, usage.input_tokens);
            add(&series.output_tokens, usage.output_tokens);
            add(&series.cached_tokens, usage.cached_input_tokens);
            add(&series.reasoning_tokens, usage.reasoning_tokens);
        }
        if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            series.cost_nanos.fetch_add((cost * 1e9).round() as u64, Ordering::Relaxed);
        }
        if record.attempts > 0 {
            series.attempts.fetch_add(u64::from(record.attempts), Ordering::Relaxed);
        }
        if record.attempts > 1 {
            series.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(upstream) = record.upstream_time {
            series.upstream.observe(upstream);
            self.overhead.observe(record.latency.saturating_sub(upstream));
        }
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self, gauges: Gauges) -> String {
        let series: Vec<(SeriesKey, Arc<Series>)> = match self.series.read() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut out = String::with_capacity(4096);

        header(
            &mut out,
            "switchyard_requests_total",
            "counter",
            "Requests served, by provider, model, status, client, task class, the client's API and virtual key.",
        );
        for (key, s) in &series {
            let mut labels = format!(
                "provider=\"{}\",model=\"{}\",status=\"{}\",client=\"{}\",class=\"{}\",api=\"{}\"",
                esc(&key.provider),
                esc(&key.model),
                key.status,
                esc(&key.client),
                esc(&key.class),
                esc(&key.family)
            );
            // Only on requests that came with a key: the series without one read as before.
            if !key.virtual_key.is_empty() {
                let _ = write!(labels, ",virtual_key=\"{}\"", esc(&key.virtual_key));
            }
            let _ = writeln!(out, "switchyard_requests_total{{{labels}}} {}", s.requests.load(Ordering::Relaxed));
        }

        // Per provider and model: sums over status and client.
        let mut by_model: Vec<(ModelId, Vec<&Arc<Series>>)> = Vec::new();
        for (key, s) in &series {
            let id = (key.provider.clone(), key.model.clone());
            match by_model.iter_mut().find(|(k, _)| *k == id) {
                Some((_, list)) => list.push(s),
                None => by_model.push((id, vec![s])),
            }
        }
        let model_labels =
            |(provider, model): &(String, String)| format!("provider=\"{}\",model=\"{}\"", esc(provider), esc(model));
        for (name, help, pick) in [
            ("switchyard_input_tokens_total", "Input (prompt) tokens, cached ones included.", 0),
            ("switchyard_output_tokens_total", "Output (completion) tokens, reasoning ones included.", 1),
            ("switchyard_cached_input_tokens_total", "Input tokens served from the provider's prompt cache.", 2),
            ("switchyard_reasoning_tokens_total", "Output tokens spent reasoning.", 3),
        ] {
            header(&mut out, name, "counter", help);
            for (id, list) in &by_model {
                let total: u64 = list
                    .iter()
                    .map(|s| {
                        match pick {
                            0 => &s.input_tokens,
                            1 => &s.output_tokens,
                            2 => &s.cached_tokens,
                            _ => &s.reasoning_tokens,
                        }
                        .load(Ordering::Relaxed)
                    })
                    .sum();
                let _ = writeln!(out, "{name}{{{}}} {total}", model_labels(id));
            }
        }
        header(
            &mut out,
            "switchyard_cost_dollars_total",
            "counter",
            "Estimated cost in US dollars (local models cost 0).",
        );
        for (id, list) in &by_model {
            let nanos: u64 = list.iter().map(|s| s.cost_nanos.load(Ordering::Relaxed)).sum();
            let _ = writeln!(out, "switchyard_cost_dollars_total{{{}}} {}", model_labels(id), nanos as f64 / 1e9);
        }
        header(
            &mut out,
            "switchyard_fallbacks_total",
            "counter",
            "Requests answered after a retry or a fallback, by the provider and model that answered.",
        );
        for (id, list) in &by_model {
            let total: u64 = list.iter().map(|s| s.fallbacks.load(Ordering::Relaxed)).sum();
            let _ = writeln!(out, "switchyard_fallbacks_total{{{}}} {total}", model_labels(id));
        }
        header(&mut out, "switchyard_upstream_requests_total", "counter", "Requests sent to upstreams (attempts).");
        for (id, list) in &by_model {
            let total: u64 = list.iter().map(|s| s.attempts.load(Ordering::Relaxed)).sum();
            let _ = writeln!(out, "switchyard_upstream_requests_total{{{}}} {total}", model_labels(id));
        }
        for (name, help, pick) in [
            ("switchyard_request_duration_seconds", "Whole request latency, as the client saw it.", 0),
            ("switchyard_time_to_first_token_seconds", "Time until the first byte of the answer.", 1),
            ("switchyard_upstream_latency_seconds", "Time spent waiting on the upstream, whole answer.", 2),
        ] {
            header(&mut out, name, "histogram", help);
            for (id, list) in &by_model {
                let mut counts = [0u64; 16];
                let (mut count, mut sum) = (0u64, 0f64);
                for s in list {
                    let (c, n, total) = match pick {
                        0 => s.latency.snapshot(),
                        1 => s.ttft.snapshot(),
                        _ => s.upstream.snapshot(),
                    };
                    for (acc, v) in counts.iter_mut().zip(c) {
                        *acc += v;
                    }
                    count += n;
                    sum += total;
                }
                write_histogram(&mut out, name, &model_labels(id), &LATENCY_BUCKETS, &counts, count, sum);
            }
        }

        header(
            &mut out,
            "switchyard_upstream_errors_total",
            "counter",
            "Failed requests, by provider, model and error type.",
        );
        let mut errors: Vec<((String, String, String), u64)> = Vec::new();
        for (key, s) in series.iter().filter(|(k, _)| !k.error_type.is_empty()) {
            let id = (key.provider.clone(), key.model.clone(), key.error_type.clone());
            let n = s.requests.load(Ordering::Relaxed);
            match errors.iter_mut().find(|(k, _)| *k == id) {
                Some((_, total)) => *total += n,
                None => errors.push((id, n)),
            }
        }
        for ((provider, model, error_type), n) in &errors {
            let _ = writeln!(
                out,
                "switchyard_upstream_errors_total{{provider=\"{}\",model=\"{}\",error_type=\"{}\"}} {n}",
                esc(provider),
                esc(model),
                esc(error_type)
            );
        }

        header(
            &mut out,
            "switchyard_gateway_overhead_seconds",
            "histogram",
            "Time spent in the gateway per request, upstream time excluded.",
        );
        let (counts, count, sum) = self.overhead.snapshot();
        write_histogram(&mut out, "switchyard_gateway_overhead_seconds", "", &OVERHEAD_BUCKETS, &counts, count, sum);

        header(
            &mut out,
            "switchyard_usage_rows_dropped_total",
            "counter",
            "Usage log rows dropped because the writer fell behind or could not write them.",
        );
        let _ = writeln!(out, "switchyard_usage_rows_dropped_total {}", gauges.dropped_rows);
        header(&mut out, "switchyard_usage_rows_written_total", "counter", "Usage log rows written.");
        let _ = writeln!(out, "switchyard_usage_rows_written_total {}", gauges.written_rows);
        header(
            &mut out,
            "switchyard_usage_bodies_dropped_total",
            "counter",
            "Usage log rows stored without their bodies because too many body bytes were queued.",
        );
        let _ = writeln!(out, "switchyard_usage_bodies_dropped_total {}", gauges.dropped_bodies);
        header(&mut out, "switchyard_local_only", "gauge", "1 while local-only mode is on.");
        let _ = writeln!(out, "switchyard_local_only {}", u8::from(gauges.local_only));
        header(
            &mut out,
            "switchyard_local_only_cloud_attempts_total",
            "counter",
            "Cloud attempts made while local-only mode was on (must stay 0).",
        );
        let _ = writeln!(out, "switchyard_local_only_cloud_attempts_total {}", gauges.cloud_attempts_while_local);

        header(
            &mut out,
            "switchyard_cache_hits_total",
            "counter",
            "Requests answered from the response cache, by match type (exact or semantic).",
        );
        for (kind, counter) in [("exact", &self.cache.exact), ("semantic", &self.cache.semantic)] {
            let _ = writeln!(out, "switchyard_cache_hits_total{{type=\"{kind}\"}} {}", counter.load(Ordering::Relaxed));
        }
        header(
            &mut out,
            "switchyard_cache_misses_total",
            "counter",
            "Requests looked up in the response cache and not found there.",
        );
        let _ = writeln!(out, "switchyard_cache_misses_total {}", self.cache.misses.load(Ordering::Relaxed));
        header(&mut out, "switchyard_cache_bytes", "gauge", "Bytes the response cache's entries take.");
        let _ = writeln!(out, "switchyard_cache_bytes {}", gauges.cache_bytes);
        self.render_tools(&mut out);
        out
    }
}

impl Metrics {
    fn render_tools(&self, out: &mut String) {
        let Ok(tools) = self.tools.read() else { return };
        let mut keys: Vec<&(String, String)> = tools.keys().collect();
        keys.sort();
        header(
            out,
            "switchyard_mcp_tool_calls_total",
            "counter",
            "MCP tool calls, by server, tool and how they ended.",
        );
        for key in &keys {
            let series = &tools[*key];
            for (i, status) in ToolCallStatus::ALL.iter().enumerate() {
                let n = series.statuses[i].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "switchyard_mcp_tool_calls_total{{server=\"{}\",tool=\"{}\",status=\"{}\"}} {n}",
                        esc(&key.0),
                        esc(&key.1),
                        status.as_str()
                    );
                }
            }
        }
        header(
            out,
            "switchyard_mcp_tool_call_duration_seconds",
            "histogram",
            "MCP tool call durations, by server and tool.",
        );
        for key in &keys {
            let (counts, count, sum) = tools[*key].duration.snapshot();
            let labels = format!("server=\"{}\",tool=\"{}\"", esc(&key.0), esc(&key.1));
            write_histogram(
                out,
                "switchyard_mcp_tool_call_duration_seconds",
                &labels,
                &LATENCY_BUCKETS,
                &counts,
                count,
                sum,
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn write_histogram(out: &mut String, name: &str, labels: &str, bounds: &[f64], counts: &[u64], count: u64, sum: f64) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, n) in bounds.iter().zip(counts) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {count}");
}

/// The error label of a request that ended so (the usage log stores the same as `error_type`).
pub fn error_type(outcome: Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Success => None,
        Outcome::Error(kind) | Outcome::StreamError(kind) => Some(kind.as_str()),
        Outcome::ClientGone => Some("client_gone"),
    }
}

/// Escapes a label value (backslash, quote, newline).
fn esc(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::error::ErrorKind;
    use crate::wire::{ApiFamily, Usage};

    /// A finished request to `mock/echo` with nothing else known.
    fn record() -> RequestRecord {
        RequestRecord {
            started_at: SystemTime::now(),
            provider: Some("mock".into()),
            upstream_model: Some("echo".into()),
            status: 200,
            outcome: Outcome::Success,
            latency: Duration::from_millis(5),
            ..RequestRecord::new("req_test".into(), ApiFamily::OpenAi, "chat completions")
        }
    }

    #[test]
    fn labels_differing_in_one_field_are_separate_series() {
        let metrics = Metrics::default();
        let base = record();
        let other_model = RequestRecord { upstream_model: Some("echo2".into()), ..record() };
        let failed = RequestRecord { status: 502, outcome: Outcome::Error(ErrorKind::UpstreamStatus), ..record() };
        for record in [&base, &other_model, &base, &failed, &base] {
            metrics.observe(record, None);
        }
        let text = metrics.render(Gauges::default());
        let total = |labels: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("switchyard_requests_total{{{labels}")))
                .and_then(|line| line.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(total("provider=\"mock\",model=\"echo\",status=\"200\"").as_deref(), Some("3"), "{text}");
        assert_eq!(total("provider=\"mock\",model=\"echo2\",status=\"200\"").as_deref(), Some("1"), "{text}");
        assert_eq!(total("provider=\"mock\",model=\"echo\",status=\"502\"").as_deref(), Some("1"), "{text}");
    }

    #[test]
    fn client_labels_are_capped() {
        let metrics = Metrics::default();
        for i in 0..(MAX_CLIENTS + 36) {
            let entry = RequestRecord { client: Some(format!("tool-{i}")), ..record() };
            metrics.observe(&entry, None);
            // A client seen before keeps its own label.
            metrics.observe(&RequestRecord { client: Some("tool-0".into()), ..record() }, None);
        }
        let text = metrics.render(Gauges::default());
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("switchyard_requests_total{")).collect();
        assert_eq!(lines.len(), MAX_CLIENTS + 1, "{text}");
        assert!(lines.iter().any(|l| l.contains("client=\"other\"") && l.ends_with(" 36")), "{text}");
        assert!(
            lines.iter().any(|l| l.contains("client=\"tool-0\"") && l.ends_with(&format!(" {}", MAX_CLIENTS + 37))),
            "{text}"
        );
        assert!(!text.contains("tool-64"), "{text}");
    }

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let metrics = Metrics::default();
        let entry = RequestRecord {
            client: Some("cu\"rl".into()),
            class: Some("coding".into()),
            family: ApiFamily::Anthropic,
            attempts: 2,
            usage: Some(Usage { input_tokens: 12, output_tokens: 5, ..Usage::default() }),
            time_to_first_byte: Some(Duration::from_millis(3)),
            ..record()
        };
        let fast = RequestRecord {
            latency: Duration::from_millis(20),
            upstream_time: Some(Duration::from_millis(19)),
            ..entry
        };
        metrics.observe(&fast, Some(0.5));
        let slow = RequestRecord { latency: Duration::from_millis(700), upstream_time: None, ..fast };
        metrics.observe(&slow, Some(0.5));
        let gauges = Gauges { dropped_rows: 3, written_rows: 2, local_only: true, ..Gauges::default() };
        let text = metrics.render(gauges);
        assert!(
            text.contains(
                "switchyard_requests_total{provider=\"mock\",model=\"echo\",status=\"200\",client=\"cu\\\"rl\",class=\"coding\",api=\"anthropic\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("switchyard_fallbacks_total{provider=\"mock\",model=\"echo\"} 2"), "{text}");
        assert!(text.contains("switchyard_local_only 1\n"), "{text}");
        assert!(text.contains("switchyard_local_only_cloud_attempts_total 0\n"), "{text}");
        assert!(text.contains("switchyard_input_tokens_total{provider=\"mock\",model=\"echo\"} 24"), "{text}");
        assert!(text.contains("switchyard_cost_dollars_total{provider=\"mock\",model=\"echo\"} 1"), "{text}");
        assert!(
            text.contains(
                "switchyard_request_duration_seconds_bucket{provider=\"mock\",model=\"echo\",le=\"0.025\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("switchyard_request_duration_seconds_bucket{provider=\"mock\",model=\"echo\",le=\"+Inf\"} 2"),
            "{text}"
        );
        assert!(text.contains("switchyard_gateway_overhead_seconds_count 1"), "{text}");
        assert!(
            text.contains("switchyard_upstream_latency_seconds_count{provider=\"mock\",model=\"echo\"} 1"),
            "{text}"
        );
        assert!(text.contains("switchyard_usage_rows_dropped_total 3"), "{text}");
    }

    #[test]
    fn counts_cache_hits_by_type_and_misses_and_reports_the_cache_size() {
        let metrics = Metrics::default();
        for cache in [
            Some(CacheOutcome::HitExact),
            Some(CacheOutcome::HitExact),
            Some(CacheOutcome::HitSemantic),
            Some(CacheOutcome::Miss),
            None,
        ] {
            metrics.observe(&RequestRecord { cache, ..record() }, None);
        }
        let text = metrics.render(Gauges { cache_bytes: 4096, ..Gauges::default() });
        for line in [
            "# TYPE switchyard_cache_hits_total counter\n",
            "switchyard_cache_hits_total{type=\"exact\"} 2\n",
            "switchyard_cache_hits_total{type=\"semantic\"} 1\n",
            "# TYPE switchyard_cache_misses_total counter\n",
            "switchyard_cache_misses_total 1\n",
            "# HELP switchyard_cache_bytes ",
            "# TYPE switchyard_cache_bytes gauge\n",
            "switchyard_cache_bytes 4096\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }
}
