//! The gateway's shared state. Requests read snapshots (`ArcSwap`) and never take a lock.

mod hosts;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use hosts::HostGuard;

use crate::catalog::Catalog;
use crate::config::{Config, EnvLookup};
use crate::observe::RequestObserver;
use crate::providers::ProviderSet;
use crate::secrets::SecretStore;
use crate::usage::UsageRecorder;

#[derive(Clone)]
pub struct AppState(Arc<GatewayInner>);

pub struct GatewayInner {
    pub config: Config,
    pub guard: HostGuard,
    pub providers: ArcSwap<ProviderSet>,
    pub catalog: Catalog,
    /// One pooled client for every upstream (two transports inside: `transport`).
    pub upstream: crate::transport::UpstreamClient,
    pub observer: Arc<dyn RequestObserver>,
    /// The usage log and metrics; also the `observer` (which wraps the embedder's).
    pub usage: Arc<UsageRecorder>,
    pub secrets: Arc<dyn SecretStore>,
    pub env: Arc<EnvLookup>,
    /// Task classes and local-only mode.
    pub routing: crate::routing_state::RoutingState,
    /// The local model servers, or why they cannot be managed on this machine.
    pub local_servers: Result<Arc<launchagent::LocalServers>, String>,
}

impl AppState {
    pub fn new(inner: GatewayInner) -> AppState {
        AppState(Arc::new(inner))
    }

    pub fn inner(&self) -> &GatewayInner {
        &self.0
    }

    pub fn guard(&self) -> &HostGuard {
        &self.0.guard
    }

    pub fn providers(&self) -> Arc<ProviderSet> {
        self.0.providers.load_full()
    }

    /// The client for requests off the inference path (model lists, probes).
    pub fn http(&self) -> &reqwest::Client {
        self.0.upstream.general()
    }

    /// The client of the inference path.
    pub fn upstream(&self) -> &crate::transport::UpstreamClient {
        &self.0.upstream
    }

    pub fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }

    pub fn observer(&self) -> Arc<dyn RequestObserver> {
        self.0.observer.clone()
    }

    pub fn usage(&self) -> &Arc<UsageRecorder> {
        &self.0.usage
    }

    pub fn max_body_bytes(&self) -> usize {
        self.0.config.server.max_body_bytes
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.0.config.server.shutdown_grace_secs)
    }

    /// Waits briefly for the first model lists, for requests that need them.
    pub async fn ensure_catalog(&self) {
        if self.0.catalog.snapshot().loaded {
            return;
        }
        let providers = self.providers();
        let local_only = self.0.routing.local_only();
        self.0.catalog.ensure_loaded(self.http(), &providers, local_only, Duration::from_secs(5)).await;
        self.reresolve_classes();
    }

    pub async fn refresh_catalog(&self) {
        let providers = self.providers();
        self.0.catalog.refresh(self.http(), &providers, self.0.routing.local_only()).await;
        self.reresolve_classes();
    }

    pub fn routing(&self) -> &crate::routing_state::RoutingState {
        &self.0.routing
    }

    /// Resolves every task class against the current catalog.
    pub fn reresolve_classes(&self) {
        self.0.routing.reresolve(&self.providers(), &self.0.catalog.snapshot());
    }
}
