//! The policy stage: who may use what, before any upstream is called. A virtual key presented
//! in any of the headers clients use (or `?key=`) is looked up, checked (active, under its
//! request limit, with room in its token limit and budgets) and its spend settled when the
//! request's record is finished. Nothing is read when no key exists and none is required.
//! A refusal is an `ApiError` in the caller's shape.

use std::sync::Arc;

use http::{HeaderName, StatusCode};

use super::ingress::InferenceRequest;
use crate::error::ApiError;
use crate::governance::secret::VALUE_PREFIX;
use crate::governance::{self, Admission, KeyEntry};
use crate::observe::{FinishHook, PendingRecord, RequestRecord};
use crate::state::AppState;

/// Switchyard's and Bifrost's own headers for a virtual key, and Azure's `api-key`.
static KEY_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-switchyard-vk"),
    HeaderName::from_static("x-bf-vk"),
    HeaderName::from_static("api-key"),
];

/// Admits the request under its virtual key (returned for the plan stage), lets it through
/// without one, or refuses it.
pub fn check(
    state: &AppState,
    request: &InferenceRequest<'_>,
    record: &mut PendingRecord,
) -> Result<Option<Arc<KeyEntry>>, ApiError> {
    let governance = state.governance();
    if governance.is_idle() {
        return Ok(None);
    }
    let (presented, explicit) = presented(request.headers, request.credential(), request.query_key);
    let Some(presented) = presented.filter(|p| !p.is_empty()) else {
        if governance.required {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "virtual_key_required",
                "a virtual key is required: send it as `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, `x-bf-vk` or `x-switchyard-vk`".into(),
            ));
        }
        return Ok(None);
    };
    let keys = governance.keys();
    let Some(entry) = keys.find(presented) else {
        // A tool's own provider key or a placeholder ("unused") is not a virtual key: let it
        // through unless keys are required or it was clearly meant as one.
        if governance.required
            || explicit.is_some()
            || presented.starts_with(VALUE_PREFIX)
            || keys.revoked.contains(presented)
        {
            return Err(refusal(
                StatusCode::UNAUTHORIZED,
                "virtual_key_not_found",
                "virtual key not found: it does not exist or was deleted".into(),
            ));
        }
        return Ok(None);
    };
    let admission = governance.admit(entry, governance::now_ms())?;
    let entry = entry.clone();
    record.update(|r| r.virtual_key = Some(Arc::from(entry.spec.id.as_str())));
    record.on_finish(Box::new(Settle { admission, state: state.clone() }));
    Ok(Some(entry))
}

/// The credential a request presents for a virtual key: Switchyard's or Bifrost's header (or
/// `api-key`) first, else its API's own key header, else `?key=`; and whether it came in a
/// header meant only for virtual keys.
fn presented<'a>(
    headers: &'a http::HeaderMap,
    api_key: Option<&'a str>,
    query_key: Option<&'a str>,
) -> (Option<&'a str>, Option<&'a str>) {
    let explicit = KEY_HEADERS.iter().find_map(|name| headers.get(name).and_then(|v| v.to_str().ok())).map(str::trim);
    (explicit.or(api_key).or(query_key), explicit)
}

/// The known key a model-list request presents, so the list shows only what it may use.
pub fn listing_key(state: &AppState, headers: &http::HeaderMap, query: Option<&str>) -> Option<Arc<KeyEntry>> {
    let governance = state.governance();
    if governance.is_idle() {
        return None;
    }
    let query_key = query.filter(|q| q.contains("key=")).and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(name, _)| name == "key").map(|(_, v)| v.into_owned())
    });
    let (presented, _) = presented(headers, super::ingress::presented_credential(headers), query_key.as_deref());
    governance.keys().find(presented?).cloned()
}

fn refusal(status: StatusCode, code: &'static str, message: String) -> ApiError {
    ApiError::Governance { status, code, message, retry_after: None }
}

/// Charges the finished request's tokens and cost to its key and the provider config that
/// served it.
struct Settle {
    admission: Admission,
    state: AppState,
}

impl FinishHook for Settle {
    fn finished(self: Box<Self>, record: &RequestRecord) {
        let Settle { admission, state } = *self;
        let (tokens, cost) = match (&record.provider, &record.upstream_model, &record.usage) {
            (Some(provider), Some(model), Some(usage)) => {
                let cost = state.usage().pricing().cost(provider, model, record.provider_local, usage);
                (usage.input_tokens + usage.output_tokens, cost.unwrap_or(0.0))
            }
            _ => (0, 0.0),
        };
        admission.settle(state.governance(), record.provider.as_deref(), record.attempts > 0, tokens, cost);
    }
}
