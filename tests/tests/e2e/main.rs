//! The end-to-end suites, one module per area, linked into one test binary: each separate binary
//! would link the whole gateway again (time and, on a small CI disk, space).

mod admin_auth;
mod anthropic_api;
mod cache;
mod claude_code;
mod codex_cli;
mod discovery;
mod errors;
mod gemini_api;
mod gemini_cli;
mod governance;
mod local_servers_api;
mod mcp;
mod openai_api;
mod provider_keys;
mod responses_api;
mod routing;
mod sdk_conformance;
mod security;
mod shutdown;
mod usage_log;
