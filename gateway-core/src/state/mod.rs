//! The gateway's shared state. Requests read snapshots (`ArcSwap`) and never take a lock.

mod admin_token;
mod hosts;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admin_token::{
    ADMIN_TOKEN_HEADER, AdminAuth, AdminRefusal, AdminToken, AdminTokenError, LOGIN_LINK_LIFETIME, LoginLinkError,
    SESSION_COOKIE,
};
pub use hosts::{HostGuard, request_authority};

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
    /// Who may use `/api/*`: the admin token, or anyone (`admin_auth = "none"`).
    pub admin: AdminAuth,
    /// Virtual keys, their budgets and rate limits.
    pub governance: crate::governance::Governance,
    /// Answers stored and served again (exact and semantic).
    pub cache: crate::cache::ResponseCache,
    /// The MCP servers, served together at `/mcp`.
    pub mcp: crate::mcp::McpHub,
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
    /// Every task the gateway spawns besides its connections; shutdown waits for them.
    pub tasks: Tasks,
}

/// The tasks the gateway spawns besides its connections: the server, the background refresher
/// and the follow-ups of admin actions (a catalog refresh after a key is set). Shutdown
/// (`RunningGateway::shutdown`) cancels `stopping`, closes the tracker and waits for it to
/// empty, for a bounded time.
#[derive(Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stopping: CancellationToken,
}

impl Tasks {
    /// Spawns a task that shutdown waits for: it must end on its own once `stopping()` is
    /// cancelled (the server, through its graceful shutdown).
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Spawns background work that shutdown cuts short: it is dropped at its next await once
    /// the gateway is stopping (nothing it does must outlive the gateway).
    pub fn spawn_until_stopped<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stopping = self.stopping.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Cancelled when the gateway starts shutting down.
    pub fn stopping(&self) -> &CancellationToken {
        &self.stopping
    }

    /// The tracker, to see what is still running (tests, diagnostics).
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Shutdown's last step for tasks: closes the tracker and waits up to `limit` for every
    /// task to end. False if some did not (they are left to the runtime's own shutdown).
    pub async fn close_and_wait(&self, limit: Duration) -> bool {
        self.stopping.cancel();
        self.tracker.close();
        tokio::time::timeout(limit, self.tracker.wait()).await.is_ok()
    }
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

    pub fn governance(&self) -> &crate::governance::Governance {
        &self.0.governance
    }

    pub fn response_cache(&self) -> &crate::cache::ResponseCache {
        &self.0.cache
    }

    pub fn mcp(&self) -> &crate::mcp::McpHub {
        &self.0.mcp
    }

    pub fn admin(&self) -> &AdminAuth {
        &self.0.admin
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

    /// The gateway's tracked tasks (see `Tasks`).
    pub fn tasks(&self) -> &Tasks {
        &self.0.tasks
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

    /// Refreshes the lists of the providers named (a retry after failed fetches).
    pub async fn refresh_catalog_of(&self, names: &[String]) {
        let providers = self.providers();
        self.0.catalog.refresh_some(self.http(), &providers, self.0.routing.local_only(), Some(names)).await;
        self.reresolve_classes();
    }

    pub fn catalog_snapshot(&self) -> Arc<crate::catalog::CatalogSnapshot> {
        self.0.catalog.snapshot()
    }

    pub fn routing(&self) -> &crate::routing_state::RoutingState {
        &self.0.routing
    }

    /// Resolves every task class against the current catalog.
    pub fn reresolve_classes(&self) {
        self.0.routing.reresolve(&self.providers(), &self.0.catalog.snapshot());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_cancels_background_work_and_waits_for_it() {
        let tasks = Tasks::default();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
        let stopping = tasks.stopping().clone();
        // A task that ends by itself once stopping is cancelled (as the server does).
        tasks.spawn(async move {
            stopping.cancelled().await;
            let _ = ended_tx.send(());
        });
        // Background work that would never end by itself.
        tasks.spawn_until_stopped(std::future::pending());
        assert_eq!(tasks.tracker().len(), 2);
        assert!(tasks.close_and_wait(Duration::from_secs(5)).await);
        assert!(tasks.tracker().is_closed() && tasks.tracker().is_empty());
        assert!(ended_rx.await.is_ok(), "the task saw the cancellation");
    }

    #[tokio::test]
    async fn a_stuck_task_does_not_hang_shutdown() {
        let tasks = Tasks::default();
        tasks.spawn(std::future::pending::<()>());
        assert!(!tasks.close_and_wait(Duration::from_millis(50)).await);
        assert_eq!(tasks.tracker().len(), 1);
    }
}
