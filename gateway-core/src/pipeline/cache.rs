//! The cache stage: an answer served without an attempt, and a miss's answer stored once it
//! reached the client whole.
//!
//! Whether a request is looked up, and how, is decided here from (strongest first): the
//! request's `x-switchyard-cache` header (`off | exact | semantic`), Bifrost's `x-bf-cache-key`
//! (turns caching on for the request and partitions it; `x-bf-cache-type: direct | semantic`
//! narrows it to one layer), the task class's `cache`, and `[cache] mode`. The key is the model
//! the plan chose (`cache::key`), after the policy stage (a refused caller gets nothing from the
//! cache, and a virtual key sees only its own entries) and before any attempt.
//!
//! The exact layer is an in-memory lookup; the semantic layer, on an exact miss, embeds the last
//! user turn through the configured embedding model (a request of the gateway's own, planned and
//! sent like any other, so local-only mode and the provider's keys and retries apply, and logged
//! under the client `switchyard-cache`) and searches the vectors of the same partition.
//!
//! A hit is answered as first sent (a stream chunk by chunk), costs nothing and is logged with
//! what its first answer cost as saved. A miss's answer is stored only when it succeeded, came
//! from the plan's first target (the model in its key), and its record finished as a success:
//! errors, streams that were cut or ended in an error event, and answers whose client went away
//! are never stored. The write happens on the cache's own thread.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::Answer;
use super::ingress::{InferenceRequest, Received};
use super::{MODEL_HEADER, PROVIDER_HEADER, attempts, plan, record};
use crate::cache::key::{self, NotSemantic, RequestShape, Scope};
use crate::cache::{CacheSettings, NewEntry, ResponseCache, StoredAnswer, StoredBody};
use crate::config::{CacheMode, parse_ttl};
use crate::error::ApiError;
use crate::governance::KeyEntry;
use crate::observe::{CacheOutcome, FinishHook, Outcome, PendingRecord, RequestRecord};
use crate::routing::Plan;
use crate::state::AppState;
use crate::usage::attribution::Caller;
use crate::wire::{ApiFamily, Endpoint};

/// `off | exact | semantic` for this request; on answers, what the cache did.
pub static CACHE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache");
pub static CACHE_TTL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache-ttl");
pub static CACHE_THRESHOLD_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache-threshold");
pub static CACHE_NO_STORE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache-no-store");
/// On a hit: the entry's id (for `DELETE /api/cache/clear/{id}`).
pub static CACHE_ID_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache-id");
/// On a semantic hit: the cosine similarity to the stored request.
pub static CACHE_SIMILARITY_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache-similarity");
static BF_KEY: HeaderName = HeaderName::from_static("x-bf-cache-key");
static BF_TTL: HeaderName = HeaderName::from_static("x-bf-cache-ttl");
static BF_THRESHOLD: HeaderName = HeaderName::from_static("x-bf-cache-threshold");
static BF_TYPE: HeaderName = HeaderName::from_static("x-bf-cache-type");
static BF_NO_STORE: HeaderName = HeaderName::from_static("x-bf-cache-no-store");

/// The client the semantic layer's embedding requests are logged under.
pub const EMBEDDING_CLIENT: &str = "switchyard-cache";
/// A stream or body longer than this is not stored.
const MAX_STORED_ANSWER: usize = 32 * 1024 * 1024;

/// What the cache stage found.
pub enum Lookup {
    /// Caching does not apply to the request (off, or an endpoint it does not serve).
    Off,
    /// The request opted out (`x-switchyard-cache: off`, an unknown `x-bf-cache-type`).
    Bypass,
    Hit(Box<Answer>),
    /// Not found; the answer is stored when it qualifies (`None`: the request said no-store).
    Miss(Option<Box<PendingWrite>>),
}

/// How this request uses the cache.
#[derive(Debug, Clone, PartialEq)]
struct Control {
    exact: bool,
    semantic: bool,
    ttl: Duration,
    threshold: f32,
    no_store: bool,
    cache_key: Option<String>,
}

/// Looks the request up. Errors only for a request whose own cache headers are invalid.
pub async fn lookup(
    state: &AppState,
    request: &InferenceRequest<'_>,
    plan: &Plan,
    key: Option<&Arc<KeyEntry>>,
    record: &mut PendingRecord,
) -> Result<Lookup, ApiError> {
    let cache = state.response_cache();
    let settings = cache.settings();
    let class_mode =
        || plan.class.as_deref().and_then(|class| state.routing().classes().get(class).and_then(|c| c.cache));
    let control = match control(request.headers, &settings, class_mode)? {
        Decision::Off => return Ok(Lookup::Off),
        Decision::Bypass => return Ok(Lookup::Bypass),
        Decision::Use(control) => control,
    };
    if !serves(request.endpoint) {
        return Ok(Lookup::Off);
    }
    let Some(primary) = plan.targets.first() else { return Ok(Lookup::Off) };
    let model = format!("{}/{}", primary.provider.name, primary.model);
    let scope = Scope { cache_key: control.cache_key.clone(), virtual_key: key.map(|k| k.spec.id.clone()) };
    let shape = RequestShape {
        family: request.family,
        endpoint: request.endpoint,
        stream: request.stream,
        model: &model,
        scope: &scope,
    };
    let Some(exact) = key::exact(&shape, request.body) else { return Ok(Lookup::Off) };

    if control.exact
        && let Some(id) = cache.find_exact(exact)
        && let Some(stored) = cache.answer(id).await
    {
        cache.count_hit(false);
        return Ok(Lookup::Hit(Box::new(hit(stored, id, None, request.stream, record))));
    }
    let mut semantic = None;
    if control.semantic {
        match semantic_query(state, &settings, &shape, request).await {
            Ok((query, vector)) => {
                if let Some((id, similarity)) = cache.find_semantic(query.partition, &vector, control.threshold)
                    && let Some(stored) = cache.answer(id).await
                {
                    cache.count_hit(true);
                    return Ok(Lookup::Hit(Box::new(hit(stored, id, Some(similarity), request.stream, record))));
                }
                semantic = Some((query.partition, vector));
            }
            Err(Skipped::Request) => {}
            Err(Skipped::Layer(reason)) => cache.note_semantic(Some(reason)),
        }
    }
    cache.count_miss();
    record.update(|r| r.cache = Some(CacheOutcome::Miss));
    if control.no_store {
        return Ok(Lookup::Miss(None));
    }
    let now = cache.now_ms();
    Ok(Lookup::Miss(Some(Box::new(PendingWrite {
        state: state.clone(),
        exact,
        scope,
        semantic,
        created_ms: now,
        expires_ms: crate::cache::expires_at(now, control.ttl),
        provider: primary.provider.name.clone(),
        model: primary.model.clone(),
        stream: false,
        content_type: None,
        chunks: Vec::new(),
        bytes: 0,
        too_big: false,
    }))))
}

/// After the attempts: marks the answer with what the cache did, and arranges for a miss's
/// answer to be stored once its record finishes as a success.
pub fn after_attempts(lookup: Lookup, answer: &mut Answer, record: &mut PendingRecord) {
    let (label, write) = match lookup {
        Lookup::Off | Lookup::Hit(_) => return,
        Lookup::Bypass => ("bypass", None),
        Lookup::Miss(write) => ("miss", write),
    };
    answer.headers_mut().insert(CACHE_HEADER.clone(), HeaderValue::from_static(label));
    let Some(mut write) = write else { return };
    if !answer.status().is_success() {
        return;
    }
    write.stream = matches!(answer, Answer::Stream { .. });
    write.content_type =
        answer.headers_mut().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    record.on_finish(write);
}

/// The endpoints whose answers are worth keeping: the model calls (not listings or token counts).
fn serves(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::ChatCompletions
            | Endpoint::Completions
            | Endpoint::Embeddings
            | Endpoint::Messages
            | Endpoint::GenerateContent
            | Endpoint::Responses
    )
}

enum Decision {
    Off,
    Bypass,
    Use(Control),
}

/// Reads the request's cache headers over the class's and the config's mode.
fn control(
    headers: &HeaderMap,
    settings: &CacheSettings,
    class_mode: impl Fn() -> Option<CacheMode>,
) -> Result<Decision, ApiError> {
    let own = headers.get(&CACHE_HEADER);
    let bf_key = headers.get(&BF_KEY);
    // The common case, caching off everywhere: a few header lookups and nothing else.
    if own.is_none() && bf_key.is_none() && settings.mode == CacheMode::Off && class_mode().is_none() {
        return Ok(Decision::Off);
    }
    let invalid = |name: &HeaderName, expected: &str| ApiError::InvalidRequest {
        message: format!("header `{name}` must be {expected}"),
        param: None,
    };
    let text =
        |name: &HeaderName| headers.get(name).map(|v| v.to_str().map(str::trim).map_err(|_| invalid(name, "ASCII")));

    let cache_key = match bf_key.map(|v| v.to_str().map(str::trim)) {
        Some(Ok(key)) if !key.is_empty() => Some(key.to_owned()),
        Some(Ok(_)) | None => None,
        Some(Err(_)) => return Err(invalid(&BF_KEY, "ASCII")),
    };
    let mode = match text(&CACHE_HEADER).transpose()? {
        Some(value) => CacheMode::parse(value).ok_or_else(|| invalid(&CACHE_HEADER, "`off`, `exact` or `semantic`"))?,
        // Bifrost: a cache key turns caching on, both layers.
        None if cache_key.is_some() => CacheMode::Semantic,
        None => class_mode().unwrap_or(settings.mode),
    };
    if mode == CacheMode::Off {
        return Ok(if own.is_some() { Decision::Bypass } else { Decision::Off });
    }
    let (mut exact, mut semantic) = (true, mode == CacheMode::Semantic);
    match text(&BF_TYPE).transpose().ok().flatten() {
        None => {}
        Some("direct") => semantic = false,
        Some("semantic") => exact = false,
        // Bifrost turns both layers off for a type it does not know.
        Some(_) => return Ok(Decision::Bypass),
    }
    let mut ttl = Duration::from_secs(settings.ttl_secs);
    if let Some(value) = text(&BF_TTL).transpose().ok().flatten()
        && let Some(parsed) = go_duration(value)
    {
        ttl = parsed;
    }
    if let Some(value) = text(&CACHE_TTL_HEADER).transpose()? {
        ttl =
            parse_ttl(value).ok_or_else(|| invalid(&CACHE_TTL_HEADER, "a duration such as `30s`, `5m`, `1h`, `2d`"))?;
    }
    let mut threshold = settings.threshold;
    if let Some(value) = text(&BF_THRESHOLD).transpose().ok().flatten()
        && let Ok(parsed) = value.parse::<f32>()
        && parsed.is_finite()
    {
        threshold = parsed.clamp(0.0, 1.0);
    }
    if let Some(value) = text(&CACHE_THRESHOLD_HEADER).transpose()? {
        threshold = value
            .parse::<f32>()
            .ok()
            .filter(|t| *t > 0.0 && *t <= 1.0)
            .ok_or_else(|| invalid(&CACHE_THRESHOLD_HEADER, "a number above 0 and at most 1"))?;
    }
    let mut no_store = text(&BF_NO_STORE).transpose().ok().flatten() == Some("true");
    if let Some(value) = text(&CACHE_NO_STORE_HEADER).transpose()? {
        no_store = match value {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(invalid(&CACHE_NO_STORE_HEADER, "`true` or `false`")),
        };
    }
    Ok(Decision::Use(Control { exact, semantic, ttl, threshold, no_store, cache_key }))
}

/// Go's `time.ParseDuration` for the forms Bifrost's clients send (`30s`, `5m`, `1h30m`,
/// `500ms`), or a number of seconds, as Bifrost reads `x-bf-cache-ttl`.
fn go_duration(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds > 0).then(|| Duration::from_secs(seconds));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, tail) = rest.split_at(split);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    (total > 0.0 && total.is_finite()).then(|| Duration::from_secs_f64(total))
}

/// Why the semantic layer did not run for a request.
enum Skipped {
    /// This request has nothing to look up (too long a conversation, no user text).
    Request,
    /// The layer cannot run (no embedding model, local-only without a local one, the model
    /// failed): said once in the log and in `/api/cache/stats`.
    Layer(String),
}

async fn semantic_query(
    state: &AppState,
    settings: &CacheSettings,
    shape: &RequestShape<'_>,
    request: &InferenceRequest<'_>,
) -> Result<(key::SemanticQuery, Vec<f32>), Skipped> {
    let Some(model) = settings.embedding_model.as_deref() else {
        return Err(Skipped::Layer("no embedding model is set (`[cache] embedding_model`)".into()));
    };
    let mut query =
        key::semantic(shape, request.body, settings.max_conversation_messages).map_err(|why| match why {
            NotSemantic::Endpoint | NotSemantic::TooLong | NotSemantic::NoUserText | NotSemantic::Unreadable => {
                Skipped::Request
            }
        })?;
    query.partition = key::for_embedding_model(query.partition, model);
    let vector = embed(state, model, &query.text, request.id).await.map_err(Skipped::Layer)?;
    state.response_cache().note_semantic(None);
    Ok((query, vector))
}

/// Embeds `text` with `model` through the gateway's own pipeline (plan and attempts), logged
/// under [`EMBEDDING_CLIENT`].
pub async fn embed(state: &AppState, model: &str, text: &str, for_request: &str) -> Result<Vec<f32>, String> {
    #[derive(Deserialize)]
    struct Embeddings {
        data: Vec<Embedding>,
    }
    #[derive(Deserialize)]
    struct Embedding {
        embedding: Vec<f32>,
    }
    let body = serde_json::json!({ "model": model, "input": text });
    let id: Arc<str> = Arc::from(format!("{for_request}-embed"));
    let received = Received {
        id: id.clone(),
        family: ApiFamily::OpenAi,
        endpoint: Endpoint::Embeddings,
        headers: HeaderMap::new(),
        peer: None,
        from_path: None,
        body: Bytes::from(body.to_string()),
        query_key: None,
    };
    let caller = Caller { client: Some(EMBEDDING_CLIENT.into()), session_id: None, user_agent: None };
    let mut embed_record = PendingRecord::new(state.observer(), id, ApiFamily::OpenAi, Endpoint::Embeddings.as_str());
    let request = received.parse(caller).map_err(|err| err.to_string())?;
    embed_record.update(|r| {
        r.requested_model = Some(model.to_owned());
        r.client = Some(EMBEDDING_CLIENT.into());
    });
    let not_local = || format!("local-only mode is on and the embedding model `{model}` is not local");
    if state.routing().local_only()
        && let Some((prefix, _)) = model.split_once('/')
        && state.providers().get(prefix).is_some_and(|p| !p.is_local)
    {
        return Err(not_local());
    }
    let why = |err: ApiError| format!("the embedding model `{model}` failed: {err}");
    let mut planned = plan::plan(state, &request, None, &mut embed_record).await.map_err(why)?;
    if state.routing().local_only() {
        // Only the model asked for, on a local provider: local-only routing would otherwise
        // serve a cloud model's name with a class's local chat model, whose vectors are no
        // embeddings of this kind.
        let wanted = model.split_once('/').map_or(model, |(_, id)| id);
        planned.targets.retain(|t| t.provider.is_local && t.model == wanted);
        if planned.targets.is_empty() {
            return Err(not_local());
        }
    }
    let answer = attempts::run(state, &request, planned, &mut embed_record).await.map_err(why)?;
    let Answer::Whole { status, body, usage, .. } = answer else {
        return Err(format!("the embedding model `{model}` answered with a stream"));
    };
    record::whole(embed_record, status, usage, &body);
    let parsed: Embeddings = serde_json::from_slice(&body)
        .map_err(|err| format!("the embedding model `{model}` answered unreadably: {err}"))?;
    let vector = parsed.data.into_iter().next().map(|e| e.embedding).unwrap_or_default();
    if vector.is_empty() || vector.iter().any(|x| !x.is_finite()) {
        return Err(format!("the embedding model `{model}` answered no usable vector"));
    }
    Ok(vector)
}

/// A stored answer as this request's answer.
fn hit(stored: StoredAnswer, id: i64, similarity: Option<f32>, stream: bool, record: &mut PendingRecord) -> Answer {
    let outcome = if similarity.is_some() { CacheOutcome::HitSemantic } else { CacheOutcome::HitExact };
    let mut headers = HeaderMap::with_capacity(8);
    if let Some(value) = stored.content_type.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&stored.provider) {
        headers.insert(PROVIDER_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&stored.model) {
        headers.insert(MODEL_HEADER.clone(), value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(CACHE_HEADER.clone(), HeaderValue::from_static(outcome.as_str()));
    headers.insert(CACHE_ID_HEADER.clone(), HeaderValue::from(id));
    if let Some(similarity) = similarity
        && let Ok(value) = HeaderValue::from_str(&format!("{similarity:.4}"))
    {
        headers.insert(CACHE_SIMILARITY_HEADER.clone(), value);
    }
    record.update(|r| {
        r.provider = Some(stored.provider.clone());
        r.upstream_model = Some(stored.model.clone());
        r.provider_local = stored.local;
        r.cache = Some(outcome);
        r.cache_similarity = similarity;
        r.cache_saved = stored.usage;
        r.stream = stream;
    });
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    match stored.body {
        StoredBody::Whole(body) => Answer::Whole { status, headers, body, usage: None },
        StoredBody::Stream(chunks) => Answer::Replay { status, headers, chunks },
    }
}

/// A miss's answer on its way to the store: the bytes the client gets, kept as they go.
pub struct PendingWrite {
    state: AppState,
    exact: u128,
    scope: Scope,
    semantic: Option<(u64, Vec<f32>)>,
    created_ms: i64,
    expires_ms: i64,
    /// The plan's first target: only its answers are stored under this key.
    provider: String,
    model: String,
    stream: bool,
    content_type: Option<String>,
    chunks: Vec<Bytes>,
    bytes: usize,
    too_big: bool,
}

impl FinishHook for PendingWrite {
    fn answer_bytes(&mut self, bytes: &Bytes) {
        if self.too_big || bytes.is_empty() {
            return;
        }
        self.bytes += bytes.len();
        if self.bytes > MAX_STORED_ANSWER {
            self.too_big = true;
            self.chunks = Vec::new();
            return;
        }
        self.chunks.push(bytes.clone());
    }

    fn finished(self: Box<Self>, record: &RequestRecord) {
        let write = *self;
        let served_by_primary = record.provider.as_deref() == Some(write.provider.as_str())
            && record.upstream_model.as_deref() == Some(write.model.as_str());
        if write.too_big
            || record.outcome != Outcome::Success
            || !(200..300).contains(&record.status)
            || !served_by_primary
            || write.chunks.is_empty()
        {
            return;
        }
        let body = if write.stream {
            StoredBody::Stream(write.chunks)
        } else if let [whole] = write.chunks.as_slice() {
            StoredBody::Whole(whole.clone())
        } else {
            let mut whole = BytesMut::with_capacity(write.bytes);
            for chunk in &write.chunks {
                whole.extend_from_slice(chunk);
            }
            StoredBody::Whole(whole.freeze())
        };
        let cache: &ResponseCache = write.state.response_cache();
        cache.store(NewEntry {
            exact: write.exact,
            scope: write.scope,
            semantic: write.semantic,
            created_ms: write.created_ms,
            expires_ms: write.expires_ms,
            answer: StoredAnswer {
                status: record.status,
                content_type: write.content_type,
                provider: write.provider,
                model: write.model,
                local: record.provider_local,
                usage: record.usage,
                body,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: CacheMode) -> CacheSettings {
        CacheSettings {
            mode,
            ttl_secs: 3600,
            threshold: 0.95,
            max_bytes: 1 << 28,
            embedding_model: None,
            max_conversation_messages: 3,
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v))).collect()
    }

    fn decide(
        pairs: &[(&'static str, &'static str)],
        mode: CacheMode,
        class: Option<CacheMode>,
    ) -> Result<Decision, ApiError> {
        control(&headers(pairs), &settings(mode), || class)
    }

    fn used(decision: Result<Decision, ApiError>) -> Control {
        match decision {
            Ok(Decision::Use(control)) => control,
            Ok(Decision::Off) => panic!("off"),
            Ok(Decision::Bypass) => panic!("bypass"),
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn off_unless_something_turns_it_on() {
        assert!(matches!(decide(&[], CacheMode::Off, None), Ok(Decision::Off)));
        let exact = used(decide(&[], CacheMode::Exact, None));
        assert!(exact.exact && !exact.semantic);
        // The class's mode over the config's; the request's over both.
        let class = used(decide(&[], CacheMode::Off, Some(CacheMode::Semantic)));
        assert!(class.exact && class.semantic);
        assert!(matches!(decide(&[("x-switchyard-cache", "off")], CacheMode::Exact, None), Ok(Decision::Bypass)));
        let asked = used(decide(&[("x-switchyard-cache", "exact")], CacheMode::Off, None));
        assert!(asked.exact && !asked.semantic);
    }

    #[test]
    fn bifrost_headers_as_bifrost_reads_them() {
        // A cache key turns both layers on and partitions.
        let keyed = used(decide(&[("x-bf-cache-key", "session-1")], CacheMode::Off, None));
        assert_eq!(keyed.cache_key.as_deref(), Some("session-1"));
        assert!(keyed.exact && keyed.semantic);
        let direct = used(decide(&[("x-bf-cache-key", "k"), ("x-bf-cache-type", "direct")], CacheMode::Off, None));
        assert!(direct.exact && !direct.semantic);
        let semantic = used(decide(&[("x-bf-cache-key", "k"), ("x-bf-cache-type", "semantic")], CacheMode::Off, None));
        assert!(!semantic.exact && semantic.semantic);
        assert!(matches!(
            decide(&[("x-bf-cache-key", "k"), ("x-bf-cache-type", "fuzzy")], CacheMode::Off, None),
            Ok(Decision::Bypass)
        ));
        let tuned = used(decide(
            &[
                ("x-bf-cache-key", "k"),
                ("x-bf-cache-ttl", "1h30m"),
                ("x-bf-cache-threshold", "1.7"),
                ("x-bf-cache-no-store", "true"),
            ],
            CacheMode::Off,
            None,
        ));
        assert_eq!(tuned.ttl, Duration::from_secs(5400));
        assert_eq!(tuned.threshold, 1.0, "clamped to [0, 1]");
        assert!(tuned.no_store);
        // Values Bifrost cannot read are ignored, as Bifrost ignores them.
        let ignored = used(decide(
            &[
                ("x-bf-cache-key", "k"),
                ("x-bf-cache-ttl", "soon"),
                ("x-bf-cache-threshold", "high"),
                ("x-bf-cache-no-store", "yes"),
            ],
            CacheMode::Off,
            None,
        ));
        assert_eq!((ignored.ttl, ignored.threshold, ignored.no_store), (Duration::from_secs(3600), 0.95, false));
        assert_eq!(go_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(go_duration("0"), None);
    }

    #[test]
    fn own_headers_are_checked() {
        for (name, value) in [
            ("x-switchyard-cache", "sometimes"),
            ("x-switchyard-cache-ttl", "soon"),
            ("x-switchyard-cache-threshold", "1.5"),
            ("x-switchyard-cache-threshold", "0"),
            ("x-switchyard-cache-no-store", "maybe"),
        ] {
            let err = decide(&[("x-switchyard-cache", "exact"), (name, value)], CacheMode::Off, None);
            let err = match (name, err) {
                ("x-switchyard-cache", _) => decide(&[(name, value)], CacheMode::Off, None),
                (_, err) => err,
            };
            match err {
                Err(ApiError::InvalidRequest { message, .. }) => assert!(message.contains(name), "{message}"),
                _ => panic!("{name}: {value} accepted"),
            }
        }
        let tuned = used(decide(
            &[
                ("x-switchyard-cache", "semantic"),
                ("x-switchyard-cache-ttl", "5m"),
                ("x-switchyard-cache-threshold", "0.8"),
                ("x-switchyard-cache-no-store", "true"),
            ],
            CacheMode::Off,
            None,
        ));
        assert_eq!((tuned.ttl, tuned.threshold, tuned.no_store), (Duration::from_secs(300), 0.8, true));
    }
}
