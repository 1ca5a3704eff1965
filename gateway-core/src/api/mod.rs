//! The client-facing APIs: one module per API family, plus the gateway's own admin API.

pub mod admin;
mod family;
pub mod openai;
pub mod usage;

pub use family::ApiFamily;
