//! The usage API under `/api/` (dashboard and tray) and `GET /metrics` (Prometheus):
//! - `GET /api/usage?from&to&bucket=minute|hour|day&group_by=model|provider|client|class|locality|virtual_key`
//! - `GET /api/usage/summary[?since]`: today's (UTC) totals and top tool and model
//!   (points and summary both count the response cache's `cache_hits`, `cache_misses` and sum
//!   `cache_saved_usd`)
//! - `GET /api/logs?client&model&provider&class&status&cache=hit|exact|semantic|miss&since&limit&cursor`,
//!   newest first; each row says what the cache did (`cache`, `cache_similarity`, `cache_saved_usd`)
//! - `GET /api/logs/{id}` (a row id or a request id; the row with its `attempts_trail`),
//!   `GET /api/logs/stream` (SSE, one `log` event per new row)
//! - `GET /api/logs/{id}/body`: the stored request and answer (`usage.store_bodies`)
//! - `GET /metrics`: the Prometheus text format, with the cache's hits, misses and stored bytes
//!
//! Times are Unix milliseconds. Queries run on the log's reader connection, off the runtime.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use http::{HeaderValue, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::admin_error::admin;
use crate::error::{ApiError, FamilyError};
use crate::metrics::Gauges;
use crate::state::AppState;
use crate::usage::UsageLog;
use crate::usage::cache::CacheFilter;
use crate::usage::query::{self, Bucket, GroupBy, LogFilter, LogKey};

type UsageResult = Result<Json<Value>, FamilyError>;

const DEFAULT_LOG_LIMIT: usize = 50;
const MAX_LOG_LIMIT: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/usage", get(usage))
        .route("/usage/summary", get(summary))
        .route("/logs", get(logs))
        .route("/logs/stream", get(stream))
        .route("/logs/{id}", get(log))
        .route("/logs/{id}/body", get(log_body))
}

/// `GET /metrics`: the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let usage = state.usage();
    let (dropped, written, dropped_bodies) =
        usage.log.as_ref().map_or((0, 0, 0), |log| (log.dropped(), log.written(), log.bodies_dropped()));
    let routing = state.routing();
    let body = usage.metrics.render(Gauges {
        dropped_rows: dropped,
        written_rows: written,
        dropped_bodies,
        local_only: routing.local_only(),
        cloud_attempts_while_local: routing.cloud_attempts_while_local(),
        cache_bytes: state.response_cache().stored_bytes(),
    });
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
        .into_response()
}

fn log_of(state: &AppState) -> Result<Arc<UsageLog>, FamilyError> {
    state
        .usage()
        .log
        .clone()
        .ok_or_else(|| admin(ApiError::NotFound { message: "the usage log is off (usage.enabled = false)".into() }))
}

/// Runs a query on the reader connection, off the async runtime.
async fn read<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, FamilyError> {
    let reader = log_of(state)?.reader();
    let result = tokio::task::spawn_blocking(move || {
        let conn = reader.lock().map_err(|_| "the usage log's reader is poisoned".to_owned())?;
        query(&conn).map_err(|err| err.to_string())
    })
    .await
    .map_err(|err| err.to_string())
    .and_then(|r| r);
    result.map_err(|err| admin(ApiError::Internal(format!("usage log query failed: {err}"))))
}

fn bad_query(rejection: QueryRejection) -> FamilyError {
    admin(ApiError::invalid(rejection.body_text()))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageParams {
    from: Option<i64>,
    to: Option<i64>,
    bucket: Option<String>,
    group_by: Option<String>,
}

async fn usage(State(state): State<AppState>, params: Result<Query<UsageParams>, QueryRejection>) -> UsageResult {
    let Query(params) = params.map_err(bad_query)?;
    let bucket = match params.bucket.as_deref() {
        None => Bucket::Hour,
        Some(text) => Bucket::parse(text).ok_or_else(|| {
            admin(ApiError::InvalidRequest {
                message: "bucket must be minute, hour or day".into(),
                param: Some("bucket"),
            })
        })?,
    };
    let group_by = match params.group_by.as_deref() {
        None => None,
        Some(text) => Some(GroupBy::parse(text).ok_or_else(|| {
            admin(ApiError::InvalidRequest {
                message: "group_by must be model, provider, client, class, locality or virtual_key".into(),
                param: Some("group_by"),
            })
        })?),
    };
    let (from, to) = usage_range(params.from, params.to, bucket, now_ms()).map_err(admin)?;
    let points = read(&state, move |conn| query::series(conn, from, to, bucket, group_by)).await?;
    Ok(Json(json!({
        "from": from,
        "to": to,
        "bucket": params.bucket.as_deref().unwrap_or("hour"),
        "group_by": params.group_by,
        "data": points,
    })))
}

/// The latest time a query may name: the year 9999. Bounds every time so that the arithmetic on
/// them (range lengths, rounding to buckets) cannot overflow.
const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// At most this many buckets in one series.
const MAX_BUCKETS: i64 = 100_000;

/// A time parameter (Unix milliseconds) within `0..=MAX_TIME_MS`.
fn checked_time(value: i64, param: &'static str) -> Result<i64, ApiError> {
    if (0..=MAX_TIME_MS).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::InvalidRequest {
            message: format!("{param} must be a Unix time in milliseconds between 0 and {MAX_TIME_MS}"),
            param: Some(param),
        })
    }
}

/// `from` and `to` of a series, checked: both sane times, `from` before `to`, not too many
/// buckets between. `to` defaults to now and `from` to a day before `to`.
fn usage_range(from: Option<i64>, to: Option<i64>, bucket: Bucket, now: i64) -> Result<(i64, i64), ApiError> {
    let to = checked_time(to.unwrap_or(now), "to")?;
    let from = checked_time(from.unwrap_or(to.saturating_sub(86_400_000).max(0)), "from")?;
    if from >= to {
        return Err(ApiError::InvalidRequest { message: "from must be before to".into(), param: Some("from") });
    }
    // Both are in 0..=MAX_TIME_MS, so the difference cannot overflow; checked all the same.
    let buckets = to.checked_sub(from).and_then(|span| span.checked_div(bucket.millis()));
    if buckets.is_none_or(|n| n > MAX_BUCKETS) {
        return Err(ApiError::InvalidRequest {
            message: "too many buckets: choose a larger bucket or a shorter range".into(),
            param: Some("bucket"),
        });
    }
    Ok((from, to))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryParams {
    since: Option<i64>,
}

async fn summary(State(state): State<AppState>, params: Result<Query<SummaryParams>, QueryRejection>) -> UsageResult {
    let Query(params) = params.map_err(bad_query)?;
    let since = match params.since {
        Some(since) => checked_time(since, "since").map_err(admin)?,
        None => now_ms() / 86_400_000 * 86_400_000,
    };
    let summary = read(&state, move |conn| query::summary(conn, since)).await?;
    Ok(Json(json!(summary)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogParams {
    client: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    class: Option<String>,
    status: Option<u16>,
    cache: Option<String>,
    since: Option<i64>,
    limit: Option<usize>,
    cursor: Option<i64>,
}

async fn logs(State(state): State<AppState>, params: Result<Query<LogParams>, QueryRejection>) -> UsageResult {
    let Query(params) = params.map_err(bad_query)?;
    let limit = params.limit.unwrap_or(DEFAULT_LOG_LIMIT).clamp(1, MAX_LOG_LIMIT);
    if let Some(since) = params.since {
        checked_time(since, "since").map_err(admin)?;
    }
    let cache = match params.cache.as_deref() {
        None => None,
        Some(text) => Some(CacheFilter::parse(text).ok_or_else(|| {
            admin(ApiError::InvalidRequest {
                message: format!("cache must be {}", CacheFilter::VALUES),
                param: Some("cache"),
            })
        })?),
    };
    let filter = LogFilter {
        client: params.client,
        model: params.model,
        provider: params.provider,
        task_class: params.class,
        status: params.status,
        cache,
        since_ms: params.since,
        before_id: params.cursor,
        limit,
    };
    let rows = read(&state, move |conn| query::logs(conn, &filter)).await?;
    let next_cursor = (rows.len() == limit).then(|| rows.last().map(|r| r.id)).flatten();
    Ok(Json(json!({ "data": rows, "next_cursor": next_cursor })))
}

/// One row with its attempts (`attempts_trail`); `{id}` is the row id (a number) or a request
/// id (`x-request-id`: the gateway's `req_…` or the client's own).
async fn log(State(state): State<AppState>, Path(id): Path<String>) -> UsageResult {
    let key = match id.parse::<i64>() {
        Ok(row) => LogKey::Id(row),
        Err(_) if !id.is_empty() => LogKey::RequestId(id.clone()),
        Err(_) => return Err(admin(ApiError::invalid(format!("`{id}` is not a log id")))),
    };
    match read(&state, move |conn| query::log_detail(conn, &key)).await? {
        Some((entry, trail)) => {
            let mut value = json!(entry);
            value["attempts_trail"] = json!(trail);
            Ok(Json(value))
        }
        None => Err(admin(ApiError::NotFound { message: format!("no log entry {id}") })),
    }
}

/// The request's body and the answer, when `usage.store_bodies` kept them.
async fn log_body(State(state): State<AppState>, Path(id): Path<String>) -> UsageResult {
    let id: i64 = id.parse().map_err(|_| admin(ApiError::invalid(format!("`{id}` is not a log id"))))?;
    match read(&state, move |conn| query::bodies(conn, id)).await? {
        Some((request, response, truncated)) => {
            Ok(Json(json!({ "id": id, "request": request, "response": response, "truncated": truncated })))
        }
        None => Err(admin(ApiError::NotFound {
            message: format!("no bodies stored for log entry {id} (they are kept only with usage.store_bodies = true)"),
        })),
    }
}

/// New rows as server-sent events (`event: log`, `data: {row}`), until shutdown.
async fn stream(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, FamilyError> {
    let log = log_of(&state)?;
    let receiver = log.subscribe();
    let closed = state.usage().streams_closed.clone();
    let events = futures_util::stream::unfold((receiver, closed), |(mut receiver, closed)| async move {
        let next = tokio::select! {
            () = closed.cancelled() => return None,
            next = receiver.recv() => next,
        };
        let event = match next {
            Ok(entry) => Event::default().event("log").json_data(&*entry).unwrap_or_else(|_| Event::default()),
            Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), (receiver, closed)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_ranges_are_checked_not_overflowed() {
        let now = 1_700_000_000_000;
        assert_eq!(usage_range(None, None, Bucket::Hour, now).unwrap(), (now - 86_400_000, now));
        assert_eq!(usage_range(Some(0), Some(10), Bucket::Minute, now).unwrap(), (0, 10));
        // A default `from` before 0 starts at 0.
        assert_eq!(usage_range(None, Some(5), Bucket::Minute, now).unwrap(), (0, 5));
        for (from, to) in [
            (None, Some(i64::MIN)),
            (Some(i64::MIN), Some(i64::MAX)),
            (Some(-1), Some(10)),
            (Some(0), Some(i64::MAX)),
            (Some(10), Some(5)),
            (Some(5), Some(5)),
        ] {
            let err = usage_range(from, to, Bucket::Day, now).unwrap_err();
            assert!(matches!(err, ApiError::InvalidRequest { .. }), "{from:?} {to:?}");
        }
        let err = usage_range(Some(0), Some(MAX_TIME_MS), Bucket::Minute, now).unwrap_err();
        assert!(err.to_string().contains("too many buckets"), "{err}");
    }
}
