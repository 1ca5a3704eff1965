//! Running the gateway: build the state, refuse an address off loopback, bind, serve
//! (`accept`: TCP_NODELAY, a connection limit, a header-read timeout, only this user's
//! processes), run the background refreshers, and shut down gracefully (stop accepting, let in-flight requests finish up to the
//! grace period, wait for the tracked tasks, then exit). The headless binary and the menu-bar app
//! both use this.

mod accept;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, RetrySchedule};
use crate::config::AdminAuthMode;
use crate::config::{Config, ConfigError, EnvLookup, process_env};
use crate::discovery;
use crate::observe::{RequestObserver, TracingObserver};
use crate::providers::Provider;
use crate::router::router;
use crate::secrets::{MemorySecretStore, SecretStore};
use crate::state::{AdminAuth, AdminToken, AdminTokenError, AppState, GatewayInner, HostGuard, Tasks};
use crate::usage::pricing::PriceTable;
use crate::usage::{UsageError, UsageRecorder};

/// Everything that can stop the gateway from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(
        "refusing to listen on {addr}: it is not a loopback address, and serving other machines needs `[governance] require_virtual_key = true` and the admin token (`[server] admin_auth = \"token\"`); use 127.0.0.1 or ::1, or require virtual keys"
    )]
    RemoteBind { addr: IpAddr },
    #[error("cannot build the upstream HTTP client: {0}")]
    HttpClient(String),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    AdminToken(#[from] AdminTokenError),
    #[error(transparent)]
    Governance(#[from] crate::governance::GovernanceError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error("MCP servers: {0}")]
    Mcp(crate::mcp::StoreError),
}

/// What the embedding program supplies; the defaults suit the headless binary.
pub struct GatewayOptions {
    pub env: Arc<EnvLookup>,
    pub secrets: Arc<dyn SecretStore>,
    pub observer: Arc<dyn RequestObserver>,
    /// Local server management; `None` builds it from `[local_servers]` with the OS's service
    /// manager (launchd on macOS, systemd user units on Linux).
    pub local_servers: Option<Arc<launchagent::LocalServers>>,
    /// Host names the MCP client resolves to fixed addresses (tests map a far-away name to
    /// loopback, so "not on this machine" is tested without leaving it).
    pub mcp_resolve: Vec<(String, SocketAddr)>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            env: Arc::new(process_env),
            secrets: Arc::new(MemorySecretStore::default()),
            observer: Arc::new(TracingObserver),
            local_servers: None,
            mcp_resolve: Vec::new(),
        }
    }
}

pub fn build_state(config: Config, options: GatewayOptions) -> Result<AppState, StartupError> {
    let providers = discovery::initial_providers(&config, options.env.as_ref(), options.secrets.as_ref())?;
    let upstream = crate::transport::UpstreamClient::new().map_err(StartupError::HttpClient)?;
    let pricing = PriceTable::new(config.pricing.clone());
    let usage = Arc::new(UsageRecorder::open(&config.usage, pricing, options.observer)?);
    let admin = admin_auth(&config)?;
    let governance =
        crate::governance::Governance::open(config.governance.file.clone(), config.governance.require_virtual_key)?;
    let cache = crate::cache::ResponseCache::open(&config.cache, &cache_path(&config), crate::cache::system_clock())?;
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
    let mcp = crate::mcp::McpHub::open(
        &config.mcp,
        config.mcp.file.clone(),
        crate::mcp::HubOptions {
            secrets: options.secrets.clone(),
            env: options.env.clone(),
            usage: Some(usage.clone()),
            local_only: routing.local_only(),
            resolve: options.mcp_resolve,
        },
    )
    .map_err(StartupError::Mcp)?;
    Ok(AppState::new(GatewayInner {
        mcp,
        routing,
        config,
        guard,
        admin,
        governance,
        cache,
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

/// The response cache's file: as configured, else beside the usage log (in memory when the log
/// is, or is off: a gateway that keeps no log keeps no cache on disk either).
fn cache_path(config: &Config) -> std::path::PathBuf {
    match (&config.cache.path, config.usage.enabled) {
        (Some(path), _) => path.clone(),
        (None, true) => crate::cache::ResponseCache::default_path(config.usage.path.as_deref()),
        (None, false) => std::path::PathBuf::from(":memory:"),
    }
}

/// The admin API's guard: the token from its file (made at first start), a token for this
/// process alone when no file is configured (an embedding program reads it from the state), or
/// none at all when the config opts out.
fn admin_auth(config: &Config) -> Result<AdminAuth, StartupError> {
    match (config.server.admin_auth, &config.server.admin_token_file) {
        (AdminAuthMode::None, _) => Ok(AdminAuth::Open),
        (AdminAuthMode::Token, Some(path)) => Ok(AdminAuth::Token(AdminToken::load_or_create(path)?)),
        (AdminAuthMode::Token, None) => Ok(AdminAuth::Token(AdminToken::generate())),
    }
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

/// Whether the gateway may listen off loopback: only when every inference request must carry a
/// virtual key (`[governance] require_virtual_key`) and the admin API its token. The Host check
/// is no authentication: a LAN client can send `Host: localhost`.
pub fn remote_bind_allowed(config: &Config) -> bool {
    config.governance.require_virtual_key && config.server.admin_auth == crate::config::AdminAuthMode::Token
}

/// Refuses an address other machines could reach, before anything is bound.
fn check_bind_address(config: &Config, host: IpAddr) -> Result<(), StartupError> {
    if host.is_loopback() || remote_bind_allowed(config) {
        return Ok(());
    }
    Err(StartupError::RemoteBind { addr: host })
}

/// Binds the configured address and serves.
pub async fn start(state: AppState) -> Result<RunningGateway, StartupError> {
    let server = &state.inner().config.server;
    check_bind_address(&state.inner().config, server.host)?;
    let addr = SocketAddr::new(server.host, server.port);
    let listener =
        TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr: addr.to_string(), source })?;
    start_on(state, listener)
}

/// Serves on a listener the caller bound (tests bind port 0).
pub fn start_on(state: AppState, listener: TcpListener) -> Result<RunningGateway, StartupError> {
    let addr = listener.local_addr().map_err(|source| StartupError::Bind { addr: "listener".into(), source })?;
    let config = &state.inner().config;
    check_bind_address(config, addr.ip())?;
    state.guard().set_port(addr.port());
    let stopping = state.tasks().stopping().clone();
    let limits = accept::Limits {
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
        max_connections: config.server.max_connections,
    };
    let owner = if config.server.allow_other_users {
        None
    } else {
        let check = accept::OwnerCheck::platform();
        if check.is_none() {
            tracing::warn!("this platform cannot tell which user a connection comes from; serving every local user");
        }
        check
    };
    let server = state.tasks().spawn(accept::serve(listener, router(state.clone()), limits, owner, stopping));
    state.tasks().spawn_until_stopped(refresh_loop(state.clone()));
    state.tasks().spawn_until_stopped(governance_flush_loop(state.clone()));
    state.mcp().start();
    tracing::info!(%addr, "Switchyard gateway listening");
    if matches!(state.admin(), AdminAuth::Open) {
        tracing::warn!(
            "the admin API (/api/*) is open to every process on this machine: [server] admin_auth = \"none\". \
             Any local program can change providers, read stored prompts and turn local-only off"
        );
    }
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
        // MCP connections end (stdio servers are stopped) alongside the other tasks.
        if !self.state.mcp().shutdown(TASKS_GRACE).await {
            tracing::warn!("MCP connections did not close within {}s", TASKS_GRACE.as_secs());
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
        // The virtual keys' spend, after the last request settled.
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || flush_governance(&state)).await;
        // The response cache's last answers and its hits' use times.
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || state.response_cache().close()).await;
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// How often the virtual keys' meters are written when they moved.
const GOVERNANCE_FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Writes the virtual keys' meters off the request path, so a restart keeps spent budgets and
/// current windows (at most the last two seconds' spend is lost to a crash).
async fn governance_flush_loop(state: AppState) {
    loop {
        tokio::time::sleep(GOVERNANCE_FLUSH_EVERY).await;
        let state = state.clone();
        let _ = tokio::task::spawn_blocking(move || flush_governance(&state)).await;
    }
}

fn flush_governance(state: &AppState) {
    if let Err(err) = state.governance().flush() {
        tracing::error!(error = %err, "cannot write the virtual keys' spend");
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

#[cfg(test)]
mod tests;
