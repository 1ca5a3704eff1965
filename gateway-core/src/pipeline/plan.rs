//! The plan stage: the model asked for becomes the ordered targets to try (`routing::plan`:
//! task classes, `provider/model`, bare ids, the body's fallbacks, local-only mode), and the
//! request's record learns its class and the cloud model a local answer is priced against.

use std::sync::Arc;

use super::ingress::InferenceRequest;
use crate::error::ApiError;
use crate::governance::{self, KeyEntry};
use crate::observe::PendingRecord;
use crate::routing::{self, Plan};
use crate::state::AppState;

pub async fn plan(
    state: &AppState,
    request: &InferenceRequest<'_>,
    key: Option<&Arc<KeyEntry>>,
    record: &mut PendingRecord,
) -> Result<Plan, ApiError> {
    let providers = state.providers();
    // `provider/model` needs no catalog; bare ids, classes and fallbacks may.
    let explicit = request.model.split_once('/').is_some_and(|(prefix, _)| providers.get(prefix).is_some());
    if !explicit || !request.fallbacks.is_empty() {
        state.ensure_catalog().await;
    }
    let ask = routing::Ask { model: &request.model, class_header: request.class_header, fallbacks: &request.fallbacks };
    let catalog = state.catalog().snapshot();
    let plan = match key {
        // Within what the key allows (its providers, models, and the limits of each).
        Some(key) => governance::route::plan(key, &ask, &providers, &catalog, state.routing(), governance::now_ms())?,
        None => routing::plan(&ask, &providers, &catalog, state.routing())?,
    };
    let cloud_reference = plan.class.as_deref().and_then(|c| routing::cloud_reference(c, &providers, state.routing()));
    record.update(|r| {
        r.class = plan.class.clone();
        r.cloud_reference = cloud_reference;
    });
    Ok(plan)
}
