//! Running the gateway: build the state, bind, serve with TCP_NODELAY, run the background
//! refreshers, and shut down gracefully (stop accepting, let in-flight requests finish up to the
//! grace period, wait for the tracked tasks, then exit). The headless binary and the menu-bar app
//! both use this.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, RetrySchedule};
use crate::config::{Config, ConfigError, EnvLookup, process_env};
use crate::discovery;
use crate::observe::{RequestObserver, TracingObserver};
use crate::providers::Provider;
use crate::router::router;
use crate::secrets::{MemorySecretStore, SecretStore};
use crate::state::{AppState, GatewayInner, HostGuard, Tasks};
use crate::usage::pricing::PriceTable;
use crate::usage::{UsageError, UsageRecorder};

/// Everything that can stop the gateway from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot build the upstream HTTP client: {0}")]
    HttpClient(String),
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// What the embedding program supplies; the defaults suit the headless binary.
pub struct GatewayOptions {
    pub env: Arc<EnvLookup>,
    pub secrets: Arc<dyn SecretStore>,
    pub observer: Arc<dyn RequestObserver>,
    /// Local server management; `None` builds it from `[local_servers]` with the OS's service
    /// manager (launchd on macOS, systemd user units on Linux).
    pub local_servers: Option<Arc<launchagent::LocalServers>>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            env: Arc::new(process_env),
            secrets: Arc::new(MemorySecretStore::default()),
            observer: Arc::new(TracingObserver),
            local_servers: None,
        }
    }
}

pub fn build_state(config: Config, options: GatewayOptions) -> Result<AppState, StartupError> {
    let providers = discovery::initial_providers(&config, options.env.as_ref(), options.secrets.as_ref())?;
    let upstream = crate::transport::UpstreamClient::new().map_err(StartupError::HttpClient)?;
    let pricing = PriceTable::new(config.pricing.clone());
    let usage = Arc::new(UsageRecorder::open(&config.usage, pricing, options.observer)?);
    let guard = HostGuard::new(&config.server.allowed_hosts, &config.server.allowed_origins, config.server.port);
    let local_servers = match options.local_servers {
        Some(servers) => Ok(servers),
        None => launchagent::LocalServers::new(config.local_servers.clone()).map(Arc::new).map_err(|e| e.to_string()),
    };
    let routing = crate::routing_state::RoutingState::new(&config);
    let mut providers = providers;
    for (name, added) in routing.added_providers() {
        if providers.get(&name).is_some() {
            continue; // the config file's (or the environment's) provider of that name wins
        }
        let source = crate::providers::ProviderSource::Api;
        match Provider::from_config(&name, &added.config(&name), source, options.env.as_ref(), options.secrets.as_ref())
        {
            Ok(provider) => providers = providers.with(Arc::new(provider)),
            Err(err) => {
                tracing::warn!(provider = %name, error = %err, "a provider added through the API no longer loads")
            }
        }
    }
    Ok(AppState::new(GatewayInner {
        routing,
        config,
        guard,
        providers: ArcSwap::from_pointee(providers),
        catalog: Catalog::default(),
        upstream,
        observer: usage.clone(),
        usage,
        secrets: options.secrets,
        env: options.env,
        local_servers,
        tasks: Tasks::default(),
    }))
}

/// A gateway that is serving.
pub struct RunningGateway {
    addr: SocketAddr,
    state: AppState,
    server: JoinHandle<std::io::Result<()>>,
}

/// How long shutdown waits for the tracked tasks once the server has stopped. They are cancelled
/// by then, so they end at their next await; this bounds one stuck in blocking code.
const TASKS_GRACE: Duration = Duration::from_secs(5);

/// Binds the configured address and serves.
pub async fn start(state: AppState) -> Result<RunningGateway, StartupError> {
    let server = &state.inner().config.server;
    let addr = SocketAddr::new(server.host, server.port);
    let listener =
        TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr: addr.to_string(), source })?;
    start_on(state, listener)
}

/// Serves on a listener the caller bound (tests bind port 0).
pub fn start_on(state: AppState, listener: TcpListener) -> Result<RunningGateway, StartupError> {
    let addr = listener.local_addr().map_err(|source| StartupError::Bind { addr: "listener".into(), source })?;
    state.guard().set_port(addr.port());
    let stopping = state.tasks().stopping().clone();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = state
        .tasks()
        .spawn(axum::serve(listener, app).with_graceful_shutdown(stopping.cancelled_owned()).into_future());
    state.tasks().spawn_until_stopped(refresh_loop(state.clone()));
    tracing::info!(%addr, "Switchyard gateway listening");
    Ok(RunningGateway { addr, state, server })
}

impl RunningGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting and cancels the background tasks, lets in-flight requests finish up to
    /// the grace period, waits (bounded) for the tracked tasks, then for the observer to write out
    /// what is pending (the usage log's last rows).
    pub async fn shutdown(self) {
        let grace = self.state.shutdown_grace();
        let tasks = self.state.tasks();
        tasks.stopping().cancel();
        self.state.usage().streams_closed.cancel();
        let mut server = self.server;
        if tokio::time::timeout(grace, &mut server).await.is_err() {
            tracing::warn!("in-flight requests did not finish within {}s; closing them", grace.as_secs());
            server.abort();
            let _ = server.await;
        }
        if !tasks.close_and_wait(TASKS_GRACE).await {
            tracing::warn!(
                running = tasks.tracker().len(),
                "background tasks did not end within {}s; leaving them",
                TASKS_GRACE.as_secs()
            );
        }
        let observer = self.state.observer();
        let _ = tokio::task::spawn_blocking(move || observer.close()).await;
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Probes local servers and refreshes model lists, until the gateway stops (a tracked task that
/// shutdown drops at its next await). A provider whose list could not be fetched is asked again
/// sooner, with backoff (`catalog::RetrySchedule`), between the probes.
async fn refresh_loop(state: AppState) {
    use tokio::time::Instant;
    let discovery_config = state.inner().config.discovery.clone();
    let probe_every = Duration::from_secs(discovery_config.refresh_secs.clamp(5, 30));
    let refresh_every = Duration::from_secs(discovery_config.refresh_secs.max(5));
    let mut retries = RetrySchedule::new(refresh_every);
    let mut last_refresh: Option<Instant> = None;
    let mut next_probe = Instant::now();
    loop {
        if Instant::now() >= next_probe {
            let changed = discovery::add_local_servers(&state).await;
            if changed || last_refresh.is_none_or(|at| at.elapsed() >= refresh_every) {
                state.refresh_catalog().await;
                last_refresh = Some(Instant::now());
                retries.record(&state.catalog_snapshot(), None, Instant::now());
            }
            next_probe = Instant::now() + probe_every;
        }
        let due = retries.due(Instant::now());
        if !due.is_empty() {
            state.refresh_catalog_of(&due).await;
            retries.record(&state.catalog_snapshot(), Some(&due), Instant::now());
        }
        let wake = retries.next().map_or(next_probe, |retry| retry.min(next_probe));
        tokio::time::sleep_until(wake).await;
    }
}
