//! Keeps one server connected: connects, reads its lists, watches the connection (the SDK's
//! service task ending, a failed ping, `list_changed`), and connects again with backoff (1 s,
//! doubling to 60 s) when it is lost. A stdio server that exits is started again the same way.
//! Local-only mode disconnects a server off this machine until it is turned off.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ClientRequest, PingRequest};
use rmcp::service::{Peer, RoleClient};

use super::connect::{self, Upstream};
use super::{Hub, ServerSlot, ServerState};

/// How long the handshake may take (a stdio server started through `npx` downloads first).
const HANDSHAKE: Duration = Duration::from_secs(60);
/// How long a list or a ping may take.
const REQUEST: Duration = Duration::from_secs(15);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

enum Ended {
    /// Removed, replaced or shutting down.
    Stop,
    /// Asked to connect again now (reconnect, local-only changed).
    Again,
    /// The connection was lost; why.
    Lost(String),
}

pub async fn run(hub: Arc<Hub>, slot: Arc<ServerSlot>) {
    let mut local_only = hub.local_only_changed.subscribe();
    let mut retry = FIRST_RETRY;
    loop {
        if slot.cancel.is_cancelled() || hub.stopping.is_cancelled() {
            break;
        }
        if slot.config.disabled {
            slot.set_state(ServerState::Disabled, Some("disabled in its settings".into()));
            hub.rebuild_index();
            tokio::select! {
                () = slot.cancel.cancelled() => break,
                () = hub.stopping.cancelled() => break,
            }
        }
        if hub.local_only() && !slot.is_local() {
            slot.set_state(
                ServerState::Disabled,
                Some("local-only mode is on and this server is not on this machine".into()),
            );
            hub.rebuild_index();
            tokio::select! {
                () = slot.cancel.cancelled() => break,
                () = hub.stopping.cancelled() => break,
                changed = local_only.changed() => if changed.is_err() { break } else { continue },
            }
        }
        slot.set_state(ServerState::Connecting, None);
        let attempt = tokio::select! {
            () = slot.cancel.cancelled() => break,
            () = hub.stopping.cancelled() => break,
            attempt = tokio::time::timeout(HANDSHAKE, connect::connect(&hub, &slot)) => attempt,
        };
        let reason = match attempt {
            Ok(Ok(upstream)) => match serve(&hub, &slot, upstream, &mut local_only).await {
                Ended::Stop => break,
                Ended::Again => {
                    retry = FIRST_RETRY;
                    continue;
                }
                Ended::Lost(reason) => {
                    retry = FIRST_RETRY;
                    reason
                }
            },
            Ok(Err(reason)) => reason,
            Err(_) => format!("the server did not complete the handshake within {} s", HANDSHAKE.as_secs()),
        };
        tracing::warn!(server = %slot.name, reason = %reason, retry_in_secs = retry.as_secs(), "MCP server unavailable");
        slot.set_state(ServerState::Error, Some(reason));
        slot.update(|status| status.restarts += 1);
        hub.rebuild_index();
        tokio::select! {
            () = slot.cancel.cancelled() => break,
            () = hub.stopping.cancelled() => break,
            () = tokio::time::sleep(retry) => retry = (retry * 2).min(LAST_RETRY),
            () = slot.reconnect.notified() => retry = FIRST_RETRY,
            _ = local_only.changed() => {}
        }
    }
    slot.peer.store(None);
    if hub.is_current(&slot) {
        slot.set_state(ServerState::Disabled, Some("the gateway is stopping".into()));
    }
    hub.rebuild_index();
}

/// Serves calls over a live connection until it ends.
async fn serve(
    hub: &Arc<Hub>,
    slot: &Arc<ServerSlot>,
    upstream: Upstream,
    local_only: &mut tokio::sync::watch::Receiver<bool>,
) -> Ended {
    let Upstream { running, pid, stderr } = upstream;
    let peer = running.peer().clone();
    let stop = running.cancellation_token();
    let mut waiting = Box::pin(running.waiting());
    if let Err(reason) = read_lists(slot, &peer).await {
        stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut waiting).await;
        return Ended::Lost(reason);
    }
    let info = peer.peer_info();
    slot.update(|status| {
        status.pid = pid;
        status.protocol_version = info.as_ref().map(|i| i.protocol_version.to_string());
        status.server_name = info.as_ref().and_then(|i| i.server_info.as_ref()).map(|s| s.name.clone());
        status.server_version = info.as_ref().and_then(|i| i.server_info.as_ref()).map(|s| s.version.clone());
    });
    slot.peer.store(Some(Arc::new(peer.clone())));
    slot.set_state(ServerState::Connected, None);
    tracing::info!(server = %slot.name, tools = slot.status().tools.len(), "MCP server connected");
    hub.rebuild_index();

    let mut tick = tokio::time::interval(hub.settings.sync_interval);
    tick.reset();
    let ended = loop {
        tokio::select! {
            () = slot.cancel.cancelled() => break Ended::Stop,
            () = hub.stopping.cancelled() => break Ended::Stop,
            () = slot.reconnect.notified() => break Ended::Again,
            quit = &mut waiting => {
                slot.peer.store(None);
                let mut reason = match quit {
                    Ok(_) => "the server closed the connection".to_owned(),
                    Err(err) => format!("the connection failed: {err}"),
                };
                if let Some(line) = stderr.as_ref().and_then(|tail| tail.last()) {
                    reason.push_str(&format!(" (stderr: {line})"));
                }
                return Ended::Lost(reason);
            }
            () = slot.list_changed.notified() => {
                if let Err(reason) = read_lists(slot, &peer).await {
                    break Ended::Lost(reason);
                }
                hub.rebuild_index();
            }
            _ = tick.tick() => {
                let ping = tokio::time::timeout(REQUEST, peer.send_request(ClientRequest::PingRequest(PingRequest::default()))).await;
                if !matches!(ping, Ok(Ok(_))) {
                    break Ended::Lost("the server did not answer a ping".into());
                }
                if let Err(reason) = read_lists(slot, &peer).await {
                    break Ended::Lost(reason);
                }
                hub.rebuild_index();
            }
            changed = local_only.changed() => {
                if changed.is_err() {
                    break Ended::Stop;
                }
                if hub.local_only() && !slot.is_local() {
                    break Ended::Again;
                }
            }
        }
    };
    slot.peer.store(None);
    stop.cancel();
    // The SDK closes the transport (a child gets EOF on stdin, then SIGTERM, then SIGKILL).
    let _ = tokio::time::timeout(Duration::from_secs(10), &mut waiting).await;
    ended
}

/// Reads the server's tools, prompts and resources (those its capabilities offer).
async fn read_lists(slot: &ServerSlot, peer: &Peer<RoleClient>) -> Result<(), String> {
    let capabilities = peer.peer_info().map(|info| info.capabilities.clone()).unwrap_or_default();
    let tools = if capabilities.tools.is_some() {
        tokio::time::timeout(REQUEST, peer.list_all_tools())
            .await
            .map_err(|_| "the server did not list its tools in time".to_owned())?
            .map_err(|err| format!("the server could not list its tools: {err}"))?
    } else {
        Vec::new()
    };
    // Prompts and resources are extras: a failure to list them leaves them out.
    let prompts = if capabilities.prompts.is_some() {
        tokio::time::timeout(REQUEST, peer.list_all_prompts()).await.ok().and_then(Result::ok).unwrap_or_default()
    } else {
        Vec::new()
    };
    let (resources, templates) = if capabilities.resources.is_some() {
        let resources = tokio::time::timeout(REQUEST, peer.list_all_resources())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let templates = tokio::time::timeout(REQUEST, peer.list_all_resource_templates())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        (resources, templates)
    } else {
        (Vec::new(), Vec::new())
    };
    slot.update(|status| {
        status.tools = tools;
        status.prompts = prompts;
        status.resources = resources;
        status.resource_templates = templates;
    });
    Ok(())
}
