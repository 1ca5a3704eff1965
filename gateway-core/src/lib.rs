//! Switchyard's gateway: one local endpoint (`http://localhost:30080`) in front of every model
//! provider, speaking each client's API. See `router` for a request's path through it.

pub mod api;
pub mod breaker;
pub mod catalog;
pub mod classes;
pub mod config;
pub mod discovery;
pub mod error;
pub mod guard;
pub mod metrics;
pub mod observe;
pub mod providers;
pub mod proxy;
pub mod router;
pub mod routing;
pub mod routing_state;
pub mod secrets;
pub mod server;
pub mod state;
pub mod translate;
pub mod usage;

pub use config::Config;
pub use error::{ApiError, StartupError};
pub use router::router;
pub use server::{GatewayOptions, RunningGateway, build_state, start, start_on};
pub use state::AppState;
