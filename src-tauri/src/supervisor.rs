//! Runs the gateway inside the app and keeps it running.
//!
//! - The port is claimed first: free → serve on it; held by another Switchyard (its `/health`
//!   says `"service": "switchyard"`) → hand over: the tray drives that one over loopback HTTP;
//!   held by something else → the tray says so and offers a free port.
//! - While serving, `/health` is probed over loopback; a gateway that stops answering (or whose
//!   server task ended) is shut down and started again after a pause that doubles per failure.
//! - `Shutdown` drains: in-flight streams finish (up to the grace period) before it answers.
//! - While serving, a change of the MCP servers' states wakes the tray's refresher.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gateway_core::state::AdminToken;
use gateway_core::{Config, GatewayOptions, RunningGateway};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::admin::Admin;
use crate::controller::{Controller, Link};
use crate::menu_model::GatewayStatus;

/// How often a serving gateway is probed, and how long a probe may take.
const PROBE_EVERY: Duration = Duration::from_secs(3);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive failed probes before a restart.
const FAILED_PROBES: u32 = 2;

/// The pause before the n-th restart in a row: 1 s, 2 s, 4 s… up to 30 s. A gateway that served
/// for a minute starts the count again.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const MAX: Duration = Duration::from_secs(30);
    pub const HEALTHY_FOR: Duration = Duration::from_secs(60);

    pub fn next_delay(&mut self) -> Duration {
        let delay = Duration::from_secs(1u64 << self.failures.min(5)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn attempt(&self) -> u32 {
        self.failures
    }

    pub fn served_for(&mut self, uptime: Duration) {
        if uptime >= Self::HEALTHY_FOR {
            self.failures = 0;
        }
    }
}

pub enum Claim {
    Bound(TcpListener),
    Switchyard,
    Foreign,
}

/// Binds `127.0.0.1:port`, or finds out who holds it.
pub async fn claim_port(port: u16) -> Claim {
    match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(listener) => Claim::Bound(listener),
        Err(_) if is_switchyard(port).await => Claim::Switchyard,
        Err(_) => Claim::Foreign,
    }
}

/// Whether a Switchyard gateway answers on the port.
pub async fn is_switchyard(port: u16) -> bool {
    let Ok(client) = reqwest::Client::builder().timeout(PROBE_TIMEOUT).build() else { return false };
    let Ok(response) = client.get(format!("http://127.0.0.1:{port}/health")).send().await else { return false };
    let Ok(body) = response.json::<serde_json::Value>().await else { return false };
    body["service"] == "switchyard" && body["status"] == "ok"
}

/// A free loopback port above `port` (the offer when something else holds it).
pub fn free_port_after(port: u16) -> Option<u16> {
    (port.saturating_add(1)..port.saturating_add(100))
        .find(|p| std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, *p))).is_ok())
}

pub enum Command {
    UsePort(u16),
    Retry,
    /// Drain and stop; answers when done.
    Shutdown(oneshot::Sender<()>),
}

/// What the supervisor needs to build a gateway, once per start.
pub struct GatewayFactory {
    pub config: Config,
    pub options: Box<dyn Fn() -> GatewayOptions + Send + Sync>,
}

pub fn spawn(factory: GatewayFactory, controller: Arc<Controller>) -> mpsc::Sender<Command> {
    let (tx, rx) = mpsc::channel(8);
    tauri::async_runtime::spawn(supervise(factory, controller, rx));
    tx
}

enum Next {
    Again,
    Stop,
}

async fn supervise(factory: GatewayFactory, controller: Arc<Controller>, mut commands: mpsc::Receiver<Command>) {
    let mut port = factory.config.server.port;
    let mut backoff = Backoff::default();
    loop {
        controller.set_link(Link { status: GatewayStatus::Starting, port, admin: None });
        let next = match claim_port(port).await {
            Claim::Bound(listener) => {
                serve(&factory, &controller, listener, &mut port, &mut backoff, &mut commands).await
            }
            Claim::Switchyard => attach(&controller, port, admin_token(&factory.config), &mut commands).await,
            Claim::Foreign => {
                let free = free_port_after(port);
                controller.set_link(Link { status: GatewayStatus::PortTaken { free }, port, admin: None });
                wait_for_command(&mut commands, &mut port, Some(Duration::from_secs(10))).await
            }
        };
        // Otherwise claim the (possibly new) port again.
        if let Next::Stop = next {
            return;
        }
    }
}

/// Serves until the gateway dies (→ restart after the backoff), a command moves it, or Quit.
async fn serve(
    factory: &GatewayFactory,
    controller: &Controller,
    listener: TcpListener,
    next_port: &mut u16,
    backoff: &mut Backoff,
    commands: &mut mpsc::Receiver<Command>,
) -> Next {
    let port = *next_port;
    let mut config = factory.config.clone();
    config.server.port = port;
    // Building the state reads stored keys from the OS secret store, which may block (a locked
    // keychain asking for a password): off the async workers.
    let options = (factory.options)();
    let built = tokio::task::spawn_blocking(move || gateway_core::build_state(config, options)).await;
    let running = match built {
        Ok(state) => state.and_then(|state| gateway_core::start_on(state, listener)),
        Err(join) => {
            let reason = format!("building the gateway failed: {join}");
            tracing::error!(%reason, "the gateway cannot start");
            controller.set_link(Link { status: GatewayStatus::Failed(reason), port, admin: None });
            return wait_for_command(commands, next_port, Some(backoff.next_delay())).await;
        }
    };
    let running = match running {
        Ok(running) => running,
        Err(err) => {
            let reason = err.to_string();
            tracing::error!(%reason, "the gateway cannot start");
            controller.set_link(Link { status: GatewayStatus::Failed(reason), port, admin: None });
            let delay = backoff.next_delay();
            return wait_for_command(commands, next_port, Some(delay)).await;
        }
    };
    let started = tokio::time::Instant::now();
    controller.set_link(Link {
        status: GatewayStatus::Running,
        port,
        admin: Some(Admin::InProcess(running.state().clone())),
    });
    // The tray shows each MCP server's state: a server connecting, failing or being added or
    // removed redraws the menu now rather than at the next refresh.
    let mut mcp_changes = running.state().mcp().subscribe();
    let mut failed = 0;
    let reason = loop {
        tokio::select! {
            Ok(()) = mcp_changes.changed() => controller.changed.notify_one(),
            command = commands.recv() => match command {
                Some(Command::Shutdown(done)) => {
                    drain(controller, running, port).await;
                    let _ = done.send(());
                    return Next::Stop;
                }
                None => {
                    drain(controller, running, port).await;
                    return Next::Stop;
                }
                Some(Command::UsePort(new_port)) => {
                    drain(controller, running, port).await;
                    *next_port = new_port;
                    return Next::Again;
                }
                Some(Command::Retry) => continue,
            },
            () = tokio::time::sleep(PROBE_EVERY) => {
                if is_switchyard(port).await {
                    failed = 0;
                } else {
                    failed += 1;
                    if failed >= FAILED_PROBES {
                        break "it stopped answering".to_owned();
                    }
                }
            }
        }
    };
    backoff.served_for(started.elapsed());
    let delay = backoff.next_delay();
    tracing::warn!(%reason, delay_secs = delay.as_secs(), "restarting the gateway");
    controller.set_link(Link {
        status: GatewayStatus::Restarting { attempt: backoff.attempt(), reason },
        port,
        admin: None,
    });
    running.shutdown().await;
    wait_for_command(commands, next_port, Some(delay)).await
}

async fn drain(controller: &Controller, running: RunningGateway, port: u16) {
    controller.set_link(Link { status: GatewayStatus::Starting, port, admin: None });
    running.shutdown().await;
}

/// Another Switchyard serves on the port: drive it until it goes away, then claim the port.
/// The admin token another Switchyard on the port uses: the same install's token file.
fn admin_token(config: &Config) -> Option<Arc<AdminToken>> {
    let path = config.server.admin_token_file.as_ref()?;
    match AdminToken::load_or_create(path) {
        Ok(token) => Some(Arc::new(token)),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the admin token; the other gateway's admin API will refuse the tray");
            None
        }
    }
}

async fn attach(
    controller: &Controller,
    port: u16,
    token: Option<Arc<AdminToken>>,
    commands: &mut mpsc::Receiver<Command>,
) -> Next {
    tracing::info!(port, "another Switchyard serves on the port; the tray drives it");
    controller.set_link(Link { status: GatewayStatus::Attached, port, admin: Some(Admin::remote(port, token)) });
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Shutdown(done)) => {
                    let _ = done.send(());
                    return Next::Stop;
                }
                None => return Next::Stop,
                Some(Command::UsePort(_) | Command::Retry) => return Next::Again,
            },
            () = tokio::time::sleep(PROBE_EVERY) => {
                if !is_switchyard(port).await {
                    return Next::Again;
                }
            }
        }
    }
}

/// Waits for a command, or `timeout` (then tries again).
async fn wait_for_command(commands: &mut mpsc::Receiver<Command>, port: &mut u16, timeout: Option<Duration>) -> Next {
    let timeout = timeout.unwrap_or(Duration::MAX);
    tokio::select! {
        command = commands.recv() => match command {
            Some(Command::Shutdown(done)) => {
                let _ = done.send(());
                Next::Stop
            }
            None => Next::Stop,
            Some(Command::UsePort(new_port)) => {
                *port = new_port;
                Next::Again
            }
            Some(Command::Retry) => Next::Again,
        },
        () = tokio::time::sleep(timeout) => Next::Again,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_after_a_healthy_minute() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
        backoff.served_for(Duration::from_secs(5));
        assert_eq!(backoff.next_delay().as_secs(), 30);
        backoff.served_for(Duration::from_secs(61));
        assert_eq!(backoff.next_delay().as_secs(), 1);
    }

    #[tokio::test]
    async fn a_port_held_by_another_program_is_foreign_and_a_free_one_is_offered() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        // Something that accepts but is not Switchyard (it never answers HTTP).
        assert!(matches!(claim_port(port).await, Claim::Foreign));
        let free = free_port_after(port).expect("a free port nearby");
        assert!(free > port);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_port_held_by_a_switchyard_gateway_is_handed_over() {
        let gw = switchyard_tests::gateway("").await;
        assert!(matches!(claim_port(gw.port()).await, Claim::Switchyard));
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a port")
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting until {what}");
    }

    /// The supervisor serves on the port, moves to another on request (freeing the first), and
    /// drains and frees the port on shutdown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_supervisor_serves_moves_and_shuts_down() {
        let data = tempfile::tempdir().expect("temp dir");
        let (first, second) = (free_port(), free_port());
        let toml = format!(
            "[discovery]\nfrom_env = false\nprobe_local = false\n[usage]\npath = \"{}\"\n[server]\nport = {first}\n",
            data.path().join("usage.sqlite3").display()
        );
        let config = Config::from_toml(&toml, std::path::Path::new("test.toml")).expect("config");
        let options = || GatewayOptions { env: Arc::new(|_: &str| None), ..GatewayOptions::default() };
        let controller = Controller::new(first);
        let commands = spawn(GatewayFactory { config, options: Box::new(options) }, Arc::clone(&controller));

        wait_until("serving", || controller.link().status == GatewayStatus::Running).await;
        assert!(is_switchyard(first).await);

        commands.send(Command::UsePort(second)).await.expect("supervisor alive");
        wait_until("serving on the second port", || {
            let link = controller.link();
            link.status == GatewayStatus::Running && link.port == second
        })
        .await;
        assert!(is_switchyard(second).await);
        assert!(std::net::TcpListener::bind(("127.0.0.1", first)).is_ok(), "the first port is free again");

        let (done, finished) = oneshot::channel();
        commands.send(Command::Shutdown(done)).await.expect("supervisor alive");
        finished.await.expect("shutdown answered");
        assert!(std::net::TcpListener::bind(("127.0.0.1", second)).is_ok(), "the port is free after shutdown");
    }

    /// A change of the MCP servers (here one added through the admin API, which then fails to
    /// start) wakes the tray's refresher, without waiting for its next round.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_of_the_mcp_servers_wakes_the_tray() {
        let data = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let toml = format!(
            "[discovery]\nfrom_env = false\nprobe_local = false\n[usage]\npath = \"{}\"\n[server]\nport = {port}\n",
            data.path().join("usage.sqlite3").display()
        );
        let config = Config::from_toml(&toml, std::path::Path::new("test.toml")).expect("config");
        let options = || GatewayOptions { env: Arc::new(|_: &str| None), ..GatewayOptions::default() };
        let controller = Controller::new(port);
        let commands = spawn(GatewayFactory { config, options: Box::new(options) }, Arc::clone(&controller));
        wait_until("serving", || controller.link().status == GatewayStatus::Running).await;
        // Take the wake-up of `set_link` (and any from the hub's start) first.
        while tokio::time::timeout(Duration::from_millis(300), controller.changed.notified()).await.is_ok() {}

        let admin = controller.link().admin.expect("linked");
        let server = serde_json::json!({
            "name": "broken",
            "connection_type": "stdio",
            "stdio_config": {"command": "/nonexistent/switchyard-test-mcp-server", "args": []},
        });
        admin.call(http::Method::POST, "/api/mcp/client", Some(server)).await.expect("server added");
        tokio::time::timeout(Duration::from_secs(10), controller.changed.notified())
            .await
            .expect("the tray was woken by the MCP change");

        let (done, finished) = oneshot::channel();
        commands.send(Command::Shutdown(done)).await.expect("supervisor alive");
        finished.await.expect("shutdown answered");
    }
}
