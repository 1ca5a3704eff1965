//! `switchyard-gateway`: the gateway without the menu-bar app.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway_core::state::{AdminAuth, AdminToken, LOGIN_LINK_LIFETIME};
use gateway_core::{Config, GatewayOptions, build_state, start};
use tracing_subscriber::EnvFilter;

#[cfg(target_os = "linux")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "switchyard-gateway", version, about = "Switchyard's LLM gateway, headless")]
struct Args {
    /// Config file (TOML). Default: $SWITCHYARD_CONFIG, else config.toml in the OS config dir.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port to listen on.
    #[arg(long, short)]
    port: Option<u16>,
    /// Start in local-only mode: every request is served by local models, none leaves the machine.
    #[arg(long)]
    local: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the admin token (made at first use): scripts send it to /api/* as
    /// `Authorization: Bearer …` or `x-switchyard-admin-token`.
    Token,
    /// Print a one-time link that opens the dashboard signed in (good for 12 hours).
    DashboardUrl,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info,gateway_core=info")),
        )
        .with_target(false)
        .init();

    let path = Config::locate(args.config.as_deref(), &gateway_core::config::process_env);
    let mut config = match Config::load(path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("switchyard-gateway: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(host) = args.host {
        config.server.host = host;
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    if args.local {
        config.routing.local_only = true;
    }
    if config.routing.state_file.is_none() {
        config.routing.state_file = gateway_core::config::default_config_dir().map(|dir| dir.join("state.json"));
    }
    if config.mcp.file.is_none() {
        config.mcp.file = gateway_core::config::default_config_dir().map(|dir| dir.join("mcp.json"));
    }
    if config.governance.file.is_none() {
        config.governance.file = gateway_core::config::default_config_dir().map(|dir| dir.join("governance.json"));
    }
    if config.server.admin_token_file.is_none() {
        config.server.admin_token_file = gateway_core::config::default_config_dir().map(|dir| dir.join("admin-token"));
    }
    if let Some(command) = &args.command {
        return run_command(command, &config);
    }
    if let Some(path) = &path {
        tracing::info!(config = %path.display(), "config loaded");
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("switchyard-gateway: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let stop = shutdown_signal();
        let state = match build_state(config, gateway_options()) {
            Ok(state) => state,
            Err(err) => {
                eprintln!("switchyard-gateway: {err}");
                return ExitCode::from(2);
            }
        };
        let running = match start(state).await {
            Ok(running) => running,
            Err(err) => {
                eprintln!("switchyard-gateway: {err}");
                return ExitCode::FAILURE;
            }
        };
        if let AdminAuth::Token(token) = running.state().admin() {
            // The way into the dashboard, as Jupyter prints its own: on stderr, not in the log's
            // fields, and good once.
            eprintln!(
                "\n    Dashboard: {}\n    (a one-time link; `switchyard-gateway dashboard-url` prints another)\n",
                login_link(running.local_addr().port(), token)
            );
        }
        running.run_until(stop).await;
        ExitCode::SUCCESS
    })
}

fn login_link(port: u16, token: &AdminToken) -> String {
    format!("http://localhost:{port}/login?once={}", token.login_nonce(LOGIN_LINK_LIFETIME))
}

/// `token` and `dashboard-url`: read (or make) the token file the gateway uses.
fn run_command(command: &Command, config: &Config) -> ExitCode {
    let Some(path) = &config.server.admin_token_file else {
        eprintln!("switchyard-gateway: no config directory for the admin token; set [server] admin_token_file");
        return ExitCode::from(2);
    };
    if config.server.admin_auth == gateway_core::config::AdminAuthMode::None {
        eprintln!("switchyard-gateway: note: [server] admin_auth = \"none\": the gateway does not ask for this token");
    }
    let token = match AdminToken::load_or_create(path) {
        Ok(token) => token,
        Err(err) => {
            eprintln!("switchyard-gateway: {err}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Token => println!("{}", token.secret()),
        Command::DashboardUrl => println!("{}", login_link(config.server.port, &token)),
    }
    ExitCode::SUCCESS
}

/// Keys set through the admin API live in the OS secret store (the Keychain on macOS).
fn gateway_options() -> GatewayOptions {
    #[cfg(any(target_os = "macos", target_os = "linux"))]
    {
        GatewayOptions {
            secrets: std::sync::Arc::new(gateway_core::secrets::OsSecretStore::default()),
            ..GatewayOptions::default()
        }
    }
    #[cfg(not(any(target_os = "macos", target_os = "linux")))]
    {
        GatewayOptions::default()
    }
}

/// SIGINT or SIGTERM. The handlers are installed when this is called, before the server
/// answers its first request, so a signal sent right after that answer still stops it gracefully
/// instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = received(signal(SignalKind::interrupt()).ok());
        let terminate = received(signal(SignalKind::terminate()).ok());
        async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
