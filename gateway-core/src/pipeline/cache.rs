//! The cache stage: an answer served without an attempt. Empty for now: the response cache
//! goes here, keyed by the model the plan chose (so a task class switched to another model never
//! serves the old model's answers), after the policy stage (a refused caller gets nothing from
//! it) and before any attempt.

use super::Answer;
use super::ingress::InferenceRequest;
use crate::routing::Plan;
use crate::state::AppState;

/// A stored answer for this request and plan, if there is one.
pub fn lookup(_state: &AppState, _request: &InferenceRequest<'_>, _plan: &Plan) -> Option<Answer> {
    None
}
