//! The policy stage: who may use what, before any upstream is called. Empty for now: virtual
//! keys, budgets and rate limits go here, reading the request's caller and the credential it
//! presented (`InferenceRequest::credential`). A refusal is an `ApiError` in the caller's shape.

use super::ingress::InferenceRequest;
use crate::error::ApiError;
use crate::state::AppState;

/// Lets the request through, or refuses it.
pub fn check(_state: &AppState, _request: &InferenceRequest<'_>) -> Result<(), ApiError> {
    Ok(())
}
