//! Switchyard's gateway: one local endpoint (`http://localhost:30080`) in front of every model
//! provider, speaking each client's API. `pipeline` runs a request's life as named stages;
//! `router` lists the HTTP surface and its middleware; docs/architecture.md draws the whole.
//!
//! Layers, top to bottom. A module imports only from its own layer or the layers below it, and
//! no module imports one that imports it back (`scripts/check-layers` checks both, in CI):
//! - **surface**: `api`, `router`, `server`, `guard`, `discovery`. HTTP in and out, the admin API, start-up.
//! - **pipeline**: `pipeline`, `cache`, `governance`, `mcp`, `routing`, `routing_state`, `state`. A request's life and the state it reads.
//! - **translate**: `translate`. Wire formats mapped through the OpenAI Chat hub; knows no relay.
//! - **providers**: `providers`, `catalog`, `classes`, `breaker`, `transport`. Where requests can go, and how bytes get there.
//! - **usage**: `usage`, `metrics`, `observe`. Records flow down into the log and the metrics, never up.
//! - **ground**: `config`, `error`, `secrets`, `wire`. Configuration, errors, secrets and wire types; imports nothing above.

pub mod api;
pub mod breaker;
pub mod cache;
pub mod catalog;
pub mod classes;
pub mod config;
pub mod discovery;
pub mod error;
pub mod governance;
pub mod guard;
pub mod mcp;
pub mod metrics;
pub mod observe;
pub mod pipeline;
pub mod providers;
pub mod router;
pub mod routing;
pub mod routing_state;
pub mod secrets;
pub mod server;
pub mod state;
pub mod translate;
pub mod transport;
pub mod usage;
pub mod wire;

pub use config::Config;
pub use error::ApiError;
pub use router::router;
pub use server::{GatewayOptions, RunningGateway, StartupError, build_state, start, start_on};
pub use state::AppState;
