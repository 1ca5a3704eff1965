//! The attempts stage: the plan's targets tried in order until one answers. Per target, the
//! [`RetryPolicy`] decides after each failure: the next key, a wait and the same target again,
//! the next target, or giving up. An open circuit breaker skips a target unless it is the last
//! hope. A failure falls back only before anything reached the client: a stream is handed over
//! only once its first chunk arrived (`send`). Every attempt, skipped ones included, goes on the
//! request's trail.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::time::Instant;

use super::ingress::InferenceRequest;
use super::{ATTEMPTS_HEADER, Answer, send};
use crate::error::ApiError;
use crate::observe::{AttemptError, AttemptRecord, PendingRecord};
use crate::routing::{Plan, Target};
use crate::state::AppState;
use crate::translate;
use crate::wire::Endpoint;

/// What is left to try on the current target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Other keys of the provider not yet tried.
    pub key_changes_left: usize,
    pub retries_left: u32,
    /// Retries made so far (the backoff grows with them).
    pub retries_done: u32,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The same target again with the provider's next key.
    RotateKey,
    /// The same target again after this wait.
    Wait(Duration),
    /// On to the next target of the plan.
    NextTarget,
    /// Answer the client with this error now.
    GiveUp,
}

/// A `Retry-After` longer than this means "try elsewhere".
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

pub struct RetryPolicy;

impl RetryPolicy {
    /// Decides after `error`, given what is left on the target. Pure: the loop sleeps, rotates
    /// and counts. Key problems (401, 403, 429 from the upstream) try the provider's other keys
    /// first; a refused key on every key is no reason to try another provider (401/403 give up);
    /// retryable failures (connection, timeouts, 408, 429, 5xx) wait (`Retry-After` or
    /// exponential backoff) while retries are left, then move on; other 4xx say the request
    /// itself is wrong and give up.
    pub fn decide(error: &ApiError, counters: &Counters) -> Decision {
        if matches!(error, ApiError::CircuitOpen { .. }) {
            return Decision::NextTarget;
        }
        let status = error.status_code().as_u16();
        let key_problem = matches!(status, 401 | 403 | 429) && matches!(error, ApiError::Upstream(_));
        if !error.is_retryable() && !key_problem {
            return Decision::GiveUp;
        }
        if key_problem && counters.key_changes_left > 0 {
            return Decision::RotateKey;
        }
        if matches!(status, 401 | 403) {
            return Decision::GiveUp;
        }
        if counters.retries_left > 0
            && let Some(wait) = backoff(error, counters.retries_done)
        {
            return Decision::Wait(wait);
        }
        Decision::NextTarget
    }
}

/// How long to wait before retrying after `error`: `Retry-After` when the upstream sent one (up to
/// `MAX_RETRY_WAIT`; longer, or not a number of seconds, means "try elsewhere": `None`), else
/// exponential backoff with jitter.
fn backoff(error: &ApiError, retry: u32) -> Option<Duration> {
    if let ApiError::Upstream(failure) = error
        && let Some(value) = &failure.retry_after
    {
        let seconds = value.to_str().ok().and_then(|v| v.trim().parse::<f64>().ok())?;
        // `inf`, `NaN` or 1e20 would not fit a `Duration`.
        if !(0.0..=MAX_RETRY_WAIT.as_secs_f64()).contains(&seconds) {
            return (seconds < 0.0).then_some(Duration::ZERO);
        }
        return Some(Duration::from_secs_f64(seconds));
    }
    let base = 100u64.saturating_mul(1 << retry.min(6));
    let jitter = rand::random_range(0..=base / 2);
    Some(Duration::from_millis(base + jitter))
}

/// Tries the plan's targets; the first answer wins.
pub async fn run(
    state: &AppState,
    request: &InferenceRequest<'_>,
    plan: Plan,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    if let Some(answer) = estimate_count(request, &plan)? {
        return Ok(answer);
    }
    let mut attempts = 0u32;
    let mut last_error = None;
    let total_targets = plan.targets.len();
    for (position, target) in plan.targets.into_iter().enumerate() {
        let provider = target.provider.clone();
        // An open breaker skips the provider, unless it is the last hope.
        // The admission holds a half-open probe until this target is done with, whatever
        // happens (see `CircuitBreaker::admit`).
        let admission = provider.breaker.admit();
        let skip = !admission.allowed() && position + 1 < total_targets;
        let mut counters = Counters {
            key_changes_left: provider.key_count().saturating_sub(1),
            retries_left: provider.max_retries,
            retries_done: 0,
        };
        loop {
            let started = Instant::now();
            let (result, key) = if skip {
                tracing::debug!(provider = %provider.name, "circuit open; skipping");
                (Err(ApiError::CircuitOpen { provider: provider.name.clone() }), None)
            } else {
                attempts += 1;
                record.update(|r| {
                    r.provider = Some(provider.name.clone());
                    r.upstream_model = Some(target.model.clone());
                    r.provider_local = provider.is_local;
                    r.attempts = attempts;
                });
                let key = provider.next_key_labelled();
                (send::send(state, request, &target, key.map(|(secret, _)| secret), record).await, key)
            };
            let key = key.map(|(_, label)| label.clone());
            match result {
                Ok(mut answer) => {
                    provider.breaker.record_success();
                    trail(record, &target, key, Some(answer.status().as_u16()), None, started);
                    answer.headers_mut().insert(ATTEMPTS_HEADER.clone(), HeaderValue::from(attempts));
                    return Ok(answer);
                }
                Err(error) => {
                    if error.is_retryable() {
                        provider.breaker.record_failure();
                    } else if matches!(error, ApiError::Upstream(_)) {
                        // Any HTTP answer proves the provider alive (a 400 is the request's fault).
                        provider.breaker.record_success();
                    }
                    trail(record, &target, key, upstream_status(&error), Some(&error), started);
                    match RetryPolicy::decide(&error, &counters) {
                        Decision::RotateKey => counters.key_changes_left -= 1,
                        Decision::Wait(wait) => {
                            counters.retries_left -= 1;
                            counters.retries_done += 1;
                            tokio::time::sleep(wait).await;
                        }
                        Decision::NextTarget => {
                            if !skip {
                                last_error = Some(error);
                            }
                            break;
                        }
                        Decision::GiveUp => return Err(error),
                    }
                    last_error = Some(error);
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| ApiError::NoModelForClass { message: "every target is unavailable".into() }))
}

fn upstream_status(error: &ApiError) -> Option<u16> {
    match error {
        ApiError::Upstream(failure) => Some(failure.status.as_u16()),
        _ => None,
    }
}

/// Adds an attempt to the request's trail.
fn trail(
    record: &mut PendingRecord,
    target: &Target,
    key: Option<std::sync::Arc<str>>,
    status: Option<u16>,
    error: Option<&ApiError>,
    started: Instant,
) {
    let attempt = AttemptRecord {
        provider: target.provider.name.clone(),
        model: target.model.clone(),
        key,
        status,
        error: error.map(|e| AttemptError { kind: e.kind(), message: e.to_string() }),
        duration: started.elapsed(),
    };
    record.update(|r| r.trail.push(attempt));
}

/// Counting tokens where the first target cannot count them itself. Only Anthropic counts
/// Anthropic tokens, and only Google Gemini's: for other providers the answer is a documented
/// estimate, made here once rather than per attempt. Counting is not consumption: no usage is
/// recorded.
fn estimate_count(request: &InferenceRequest<'_>, plan: &Plan) -> Result<Option<Answer>, ApiError> {
    let endpoint = request.endpoint;
    if !matches!(endpoint, Endpoint::CountTokens | Endpoint::GeminiCountTokens) {
        return Ok(None);
    }
    let Some(target) = plan.targets.first() else { return Ok(None) };
    if target.provider.speaks_natively(endpoint) {
        return Ok(None);
    }
    let answer = if endpoint == Endpoint::GeminiCountTokens {
        serde_json::json!({ "totalTokens": translate::estimate_gemini_tokens(request.body)? })
    } else {
        serde_json::json!({ "input_tokens": translate::estimate_input_tokens(request.body)? })
    };
    let mut headers = super::response_headers(&HeaderMap::new(), target);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(Some(Answer::Whole { status: StatusCode::OK, headers, body: Bytes::from(answer.to_string()), usage: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpstreamFailure;

    fn counters(keys_left: usize, retries_left: u32) -> Counters {
        Counters { key_changes_left: keys_left, retries_left, retries_done: 0 }
    }

    fn upstream(status: u16, retry_after: Option<&'static str>) -> ApiError {
        ApiError::Upstream(Box::new(UpstreamFailure {
            provider: "p".into(),
            status: StatusCode::from_u16(status).unwrap(),
            message: "m".into(),
            error_type: None,
            code: None,
            retry_after: retry_after.map(HeaderValue::from_static),
        }))
    }

    fn is_wait(decision: Decision) -> bool {
        matches!(decision, Decision::Wait(_))
    }

    #[test]
    fn connect_errors_and_timeouts_wait_then_move_on() {
        let unreachable = ApiError::UpstreamUnreachable { provider: "p".into(), detail: "refused".into() };
        assert!(is_wait(RetryPolicy::decide(&unreachable, &counters(0, 2))));
        assert_eq!(RetryPolicy::decide(&unreachable, &counters(0, 0)), Decision::NextTarget);
        // A connection error is no key problem: other keys are not tried for it.
        assert!(is_wait(RetryPolicy::decide(&unreachable, &counters(3, 1))));
        let first_byte = ApiError::UpstreamTimeout { provider: "p".into(), after: Duration::from_secs(1) };
        assert!(is_wait(RetryPolicy::decide(&first_byte, &counters(0, 1))));
        assert_eq!(RetryPolicy::decide(&first_byte, &counters(0, 0)), Decision::NextTarget);
    }

    #[test]
    fn request_timeouts_and_server_errors_wait_then_move_on() {
        for status in [408, 500, 502, 503, 529] {
            assert!(is_wait(RetryPolicy::decide(&upstream(status, None), &counters(0, 1))), "{status}");
            assert_eq!(RetryPolicy::decide(&upstream(status, None), &counters(0, 0)), Decision::NextTarget, "{status}");
            assert!(is_wait(RetryPolicy::decide(&upstream(status, None), &counters(2, 1))), "{status}: no key change");
        }
    }

    #[test]
    fn rate_limits_rotate_keys_then_honour_retry_after() {
        assert_eq!(RetryPolicy::decide(&upstream(429, None), &counters(1, 2)), Decision::RotateKey);
        assert_eq!(
            RetryPolicy::decide(&upstream(429, Some("2")), &counters(0, 2)),
            Decision::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            RetryPolicy::decide(&upstream(429, Some("0.25")), &counters(0, 1)),
            Decision::Wait(Duration::from_millis(250))
        );
        // Without Retry-After: backoff, 100-150 ms for the first retry.
        let Decision::Wait(wait) = RetryPolicy::decide(&upstream(429, None), &counters(0, 1)) else {
            panic!("a 429 with retries left waits")
        };
        assert!((100..=150).contains(&wait.as_millis()), "{wait:?}");
        // Longer than the gateway waits, or not a number of seconds: elsewhere.
        for value in ["60", "inf", "1e20", "NaN", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(
                RetryPolicy::decide(&upstream(429, Some(value)), &counters(0, 3)),
                Decision::NextTarget,
                "{value}"
            );
        }
        assert_eq!(RetryPolicy::decide(&upstream(429, Some("1")), &counters(0, 0)), Decision::NextTarget);
    }

    #[test]
    fn refused_keys_rotate_then_give_up() {
        for status in [401, 403] {
            assert_eq!(RetryPolicy::decide(&upstream(status, None), &counters(1, 3)), Decision::RotateKey);
            assert_eq!(RetryPolicy::decide(&upstream(status, None), &counters(0, 3)), Decision::GiveUp);
        }
    }

    #[test]
    fn other_client_errors_give_up_at_once() {
        for status in [400, 404, 413, 422] {
            assert_eq!(RetryPolicy::decide(&upstream(status, None), &counters(3, 3)), Decision::GiveUp, "{status}");
        }
        let local_only = ApiError::LocalOnly { message: "no".into() };
        assert_eq!(RetryPolicy::decide(&local_only, &counters(3, 3)), Decision::GiveUp);
        let invalid = ApiError::invalid("bad");
        assert_eq!(RetryPolicy::decide(&invalid, &counters(3, 3)), Decision::GiveUp);
    }

    #[test]
    fn an_open_breaker_moves_on() {
        let open = ApiError::CircuitOpen { provider: "p".into() };
        assert_eq!(RetryPolicy::decide(&open, &counters(3, 3)), Decision::NextTarget);
    }

    #[test]
    fn backoff_grows_with_each_retry() {
        let error = upstream(503, None);
        let wait = |retry| backoff(&error, retry).unwrap().as_millis();
        assert!((100..=150).contains(&wait(0)));
        assert!((400..=600).contains(&wait(2)));
        assert!((6_400..=9_600).contains(&wait(6)));
        assert!((6_400..=9_600).contains(&wait(30)), "capped");
    }
}
