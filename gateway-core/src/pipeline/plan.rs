//! The plan stage: the model asked for becomes the ordered targets to try (`routing::plan`:
//! task classes, `provider/model`, bare ids, the body's fallbacks, local-only mode), and the
//! request's record learns its class and the cloud model a local answer is priced against.

use super::ingress::InferenceRequest;
use crate::error::ApiError;
use crate::observe::PendingRecord;
use crate::routing::{self, Plan};
use crate::state::AppState;

pub async fn plan(
    state: &AppState,
    request: &InferenceRequest<'_>,
    record: &mut PendingRecord,
) -> Result<Plan, ApiError> {
    let providers = state.providers();
    // `provider/model` needs no catalog; bare ids, classes and fallbacks may.
    let explicit = request.model.split_once('/').is_some_and(|(prefix, _)| providers.get(prefix).is_some());
    if !explicit || !request.fallbacks.is_empty() {
        state.ensure_catalog().await;
    }
    let ask = routing::Ask { model: &request.model, class_header: request.class_header, fallbacks: &request.fallbacks };
    let plan = routing::plan(&ask, &providers, &state.catalog().snapshot(), state.routing())?;
    let cloud_reference = plan.class.as_deref().and_then(|c| routing::cloud_reference(c, &providers, state.routing()));
    record.update(|r| {
        r.class = plan.class.clone();
        r.cloud_reference = cloud_reference;
    });
    Ok(plan)
}
