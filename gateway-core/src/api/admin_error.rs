//! What the admin API's handlers return: JSON, or an error in the admin envelope. Its own file so
//! the admin routes (`admin`, `local_servers`, `routing`, `usage`) share it without importing each
//! other.

use axum::Json;
use serde_json::Value;

use crate::error::{ApiError, FamilyError};
use crate::wire::ApiFamily;

/// What admin handlers return: JSON, or an error in the admin envelope.
pub(crate) type AdminResult = Result<Json<Value>, FamilyError>;

/// An error in the admin envelope.
pub(crate) fn admin(error: ApiError) -> FamilyError {
    FamilyError(ApiFamily::Admin, error)
}
