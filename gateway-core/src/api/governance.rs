//! Bifrost's governance API for virtual keys, under `/api/governance/virtual-keys`: create with
//! a chosen id (`PUT …/{id}`, as the seeds do) or a generated one (`POST`), list (paginated),
//! read, update (only the fields sent), delete; and the self-service quota a key reads with
//! itself as the credential. A key's value is answered once, at creation; after that only its
//! hint (`sk-sy-…abcd`). Field errors are 400 naming the field.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::admin_error::{AdminResult, admin};
use crate::error::ApiError;
use crate::governance::meter::Meter;
use crate::governance::reset::rfc3339;
use crate::governance::spec::{KeySpec, KeyUpdate, validate};
use crate::governance::{KeyEntry, Meters, now_ms, secret};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/governance/virtual-keys", get(list).post(create))
        .route("/governance/virtual-keys/{id}", get(read).put(put).delete(delete))
        .route("/governance/virtual-keys/{id}/rotate", axum::routing::post(rotate))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<String>,
    offset: Option<String>,
    search: Option<String>,
}

fn number(field: &str, value: Option<&str>) -> Result<Option<usize>, ApiError> {
    match value {
        None => Ok(None),
        Some(text) => text.parse::<usize>().map(Some).map_err(|_| ApiError::InvalidRequest {
            message: format!("invalid {field} parameter: must be a non-negative number"),
            param: None,
        }),
    }
}

/// `GET /api/governance/virtual-keys?limit=&offset=&search=`
async fn list(
    State(state): State<AppState>,
    query: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> AdminResult {
    let Query(page) = query.map_err(|err| admin(ApiError::invalid(err.body_text())))?;
    let limit = number("limit", page.limit.as_deref()).map_err(admin)?;
    let offset = number("offset", page.offset.as_deref()).map_err(admin)?.unwrap_or(0);
    let keys = state.governance().keys();
    let search = page.search.as_deref().map(str::to_lowercase);
    let matching: Vec<&Arc<KeyEntry>> = keys
        .ordered
        .iter()
        .filter(|e| {
            search
                .as_deref()
                .is_none_or(|s| e.spec.name.to_lowercase().contains(s) || e.spec.id.to_lowercase().contains(s))
        })
        .collect();
    let total = matching.len();
    let limit = limit.unwrap_or(total.max(1)).min(1000);
    let now = now_ms();
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|e| view(e, now, None)).collect();
    Ok(Json(
        json!({ "virtual_keys": page, "count": page.len(), "total_count": total, "limit": limit, "offset": offset }),
    ))
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    let keys = state.governance().keys();
    let entry = keys.by_id.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({ "virtual_key": view(entry, now_ms(), None) })))
}

/// `POST`: a new key with a generated id; `name` is required, as in Bifrost.
async fn create(State(state): State<AppState>, body: Bytes) -> AdminResult {
    let update = parse(&body)?;
    if update.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(admin(ApiError::InvalidRequest {
            message: "`name`: a virtual key needs a name".into(),
            param: None,
        }));
    }
    let id = format!("vk_{:016x}", rand::random::<u64>());
    save(&state, &id, None, update, false)
}

/// `PUT …/{id}`: updates the key, or creates it with this id (usable by the id as its value
/// too, as the seeds' clients send it).
async fn put(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> AdminResult {
    if !(1..=64).contains(&id.len()) || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(admin(ApiError::invalid(format!(
            "`{id}` cannot name a virtual key: use 1 to 64 letters, digits, `-`, `_` or `.`"
        ))));
    }
    let update = parse(&body)?;
    let existing = state.governance().keys().by_id.get(&id).map(|e| e.spec.clone());
    save(&state, &id, existing, update, true)
}

/// `POST …/{id}/rotate`: a new value, answered once; the old one stops working at once. (A key
/// made with a chosen id still answers to its id: an id is a name, not a secret.)
async fn rotate(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    let governance = state.governance();
    let mut spec = governance.keys().by_id.get(&id).map(|e| e.spec.clone()).ok_or_else(|| not_found(&id))?;
    let value = secret::new_value();
    spec.value_hash = secret::to_hex(&secret::hash(&value));
    spec.value_hint = secret::hint(&value);
    spec.updated_at = now_ms();
    let entry = governance.put(spec, false).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    tracing::info!(key = %id, "virtual key rotated");
    Ok(Json(
        json!({ "message": "Virtual key rotated successfully", "virtual_key": view(&entry, now_ms(), Some(&value)) }),
    ))
}

async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> AdminResult {
    match state.governance().delete(&id) {
        Ok(true) => Ok(Json(json!({ "message": "Virtual key deleted successfully" }))),
        Ok(false) => Err(not_found(&id)),
        Err(err) => Err(admin(ApiError::Internal(err.to_string()))),
    }
}

fn parse(body: &[u8]) -> Result<KeyUpdate, crate::error::FamilyError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        admin(ApiError::InvalidRequest { message: format!("`{path}`: {}", err.inner()), param: None })
    })
}

fn not_found(id: &str) -> crate::error::FamilyError {
    admin(ApiError::NotFound { message: format!("virtual key `{id}` not found") })
}

/// Applies `update` to `existing` (or a new key), validates, stores, answers.
fn save(state: &AppState, id: &str, existing: Option<KeySpec>, update: KeyUpdate, usable_by_id: bool) -> AdminResult {
    let providers = state.providers();
    validate(&update, &|name| providers.get(name).is_some())
        .map_err(|err| admin(ApiError::InvalidRequest { message: err.to_string(), param: None }))?;
    let governance = state.governance();
    let now = now_ms();
    if let Some(name) = &update.name
        && governance.keys().ordered.iter().any(|e| e.spec.name == *name && e.spec.id != id)
    {
        return Err(admin(ApiError::Conflict { message: format!("a virtual key named `{name}` exists already") }));
    }
    let created = existing.is_none();
    let mut value = None;
    let mut spec = existing.unwrap_or_else(|| {
        let new_value = secret::new_value();
        let spec = KeySpec {
            id: id.to_owned(),
            name: id.to_owned(),
            description: String::new(),
            is_active: true,
            value_hash: secret::to_hex(&secret::hash(&new_value)),
            value_hint: secret::hint(&new_value),
            usable_by_id,
            allow_all_providers: false,
            provider_configs: Vec::new(),
            budgets: Vec::new(),
            rate_limit: None,
            calendar_aligned: false,
            mcp_configs: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        value = Some(new_value);
        spec
    });
    let reset = update.reset_budget_usage.unwrap_or(false);
    let KeyUpdate {
        name,
        description,
        is_active,
        provider_configs,
        allow_all_providers,
        budget,
        budgets,
        rate_limit,
        calendar_aligned,
        mcp_configs,
        ..
    } = update;
    if let Some(name) = name {
        spec.name = name.trim().to_owned();
    }
    if let Some(description) = description {
        spec.description = description;
    }
    if let Some(active) = is_active {
        spec.is_active = active;
    }
    if let Some(configs) = provider_configs {
        spec.provider_configs = configs;
    }
    if let Some(all) = allow_all_providers {
        spec.allow_all_providers = all;
    }
    if budget.is_some() || budgets.is_some() {
        spec.budgets = budget.into_iter().chain(budgets.into_iter().flatten()).collect();
    }
    if let Some(limit) = rate_limit {
        spec.rate_limit = (!limit.is_empty()).then_some(limit);
    }
    if let Some(calendar) = calendar_aligned {
        spec.calendar_aligned = calendar;
    }
    if let Some(configs) = mcp_configs {
        spec.mcp_configs = configs;
    }
    spec.updated_at = now;
    let entry = governance.put(spec, reset).map_err(|err| admin(ApiError::Internal(err.to_string())))?;
    let message = if created { "Virtual key created successfully" } else { "Virtual key updated successfully" };
    tracing::info!(key = %entry.spec.id, created, "virtual key saved");
    Ok(Json(json!({ "message": message, "virtual_key": view(&entry, now, value.as_deref()) })))
}

/// A key as the API shows it, with its meters (Bifrost's `current_usage` and reset times).
pub fn view(entry: &KeyEntry, now: i64, value: Option<&str>) -> Value {
    let spec = &entry.spec;
    let configs: Vec<Value> = entry
        .configs()
        .map(|(config, meters)| {
            let (budgets, rate_limit) = meter_views(meters, now);
            json!({
                "provider": config.provider,
                "allowed_models": config.allowed_models,
                "blacklisted_models": config.blacklisted_models,
                "weight": config.weight,
                "budgets": budgets,
                "rate_limit": rate_limit,
            })
        })
        .collect();
    let (budgets, rate_limit) = meter_views(&entry.meters, now);
    let mut view = json!({
        "id": spec.id,
        "name": spec.name,
        "description": spec.description,
        "is_active": spec.is_active,
        "value_hint": spec.value_hint,
        "provider_configs": configs,
        "allow_all_providers": spec.allow_all_providers,
        "budget": budgets.first().cloned(),
        "budgets": budgets,
        "rate_limit": rate_limit,
        "calendar_aligned": spec.calendar_aligned,
        "mcp_configs": spec.mcp_configs,
        "created_at": rfc3339(spec.created_at),
        "updated_at": rfc3339(spec.updated_at),
    });
    if let Some(value) = value {
        view["value"] = json!(value);
    }
    view
}

fn meter_views(meters: &Meters, now: i64) -> (Vec<Value>, Value) {
    let budgets = meters
        .budgets
        .iter()
        .map(|m| {
            let state = m.snapshot(now);
            json!({
                "max_limit": m.limit as f64 / 1e6,
                "reset_duration": m.duration.to_string(),
                "current_usage": state.used as f64 / 1e6,
                "last_reset": rfc3339(state.window_start),
                "resets_at": rfc3339(state.window_end),
            })
        })
        .collect();
    let limit = |m: &Meter, kind: &str| {
        let state = m.snapshot(now);
        [
            (format!("{kind}_max_limit"), json!(m.limit)),
            (format!("{kind}_reset_duration"), json!(m.duration.to_string())),
            (format!("{kind}_current_usage"), json!(state.used)),
            (format!("{kind}_last_reset"), json!(rfc3339(state.window_start))),
            (format!("{kind}_resets_at"), json!(rfc3339(state.window_end))),
        ]
    };
    let mut rate = serde_json::Map::new();
    for (meter, kind) in [(&meters.tokens, "token"), (&meters.requests, "request")] {
        if let Some(meter) = meter {
            rate.extend(limit(meter, kind));
        }
    }
    (budgets, if rate.is_empty() { Value::Null } else { Value::Object(rate) })
}

/// `GET /api/governance/virtual-keys/quota`: a key reads its own budgets and limits, with
/// itself as the credential (no admin token), as Bifrost's self-service route.
pub async fn quota(State(state): State<AppState>, headers: HeaderMap) -> AdminResult {
    // The same headers, in the same order, as the policy stage reads a key from.
    let found = crate::pipeline::policy::listing_key(&state, &headers, None);
    let Some(entry) = found else {
        return Err(admin(ApiError::Governance {
            status: StatusCode::UNAUTHORIZED,
            code: "virtual_key_not_found",
            message: "send the virtual key whose quota to read (x-bf-vk, x-switchyard-vk or Authorization: Bearer)"
                .into(),
            retry_after: None,
        }));
    };
    let now = now_ms();
    let (budgets, rate_limit) = meter_views(&entry.meters, now);
    Ok(Json(json!({
        "id": entry.spec.id,
        "name": entry.spec.name,
        "is_active": entry.spec.is_active,
        "budgets": budgets,
        "rate_limit": rate_limit,
    })))
}
