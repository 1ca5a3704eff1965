//! The client-facing APIs: one module per API family, plus the gateway's own admin API.

pub mod admin;
mod admin_error;
pub mod anthropic;
pub mod cache;
pub mod gemini;
pub mod governance;
pub mod local_servers;
pub mod mcp;
pub mod openai;
pub mod responses;
pub mod routing;
pub mod session;
pub mod ui;
pub mod usage;
