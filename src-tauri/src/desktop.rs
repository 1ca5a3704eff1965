//! What a clicked menu item does on the desktop: the dashboard window, the clipboard, launch at
//! login, quitting. Gateway operations go to the `Controller`; failures become the menu's notice.

use std::sync::Arc;

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tokio::sync::{mpsc, oneshot};

use crate::actions::{Action, ServerOp};
use crate::controller::{AppError, Controller, LocalOnlyOutcome};
use crate::setup_texts::setup_text;
use crate::supervisor::Command;

pub const DASHBOARD_LABEL: &str = "dashboard";

/// The supervisor's command channel, kept in the app's state.
pub struct Supervisor(pub mpsc::Sender<Command>);

/// Handles a menu item's id.
pub fn on_menu_item<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(action) = Action::parse(id) else { return };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(controller) = app.try_state::<Arc<Controller>>().map(|c| Arc::clone(&c)) else { return };
        if let Err(err) = perform(&app, &controller, action.clone()).await {
            tracing::warn!(action = %action.id(), %err, "menu action failed");
            controller.report(format!("{err}"));
        }
    });
}

async fn perform<R: Runtime>(app: &AppHandle<R>, controller: &Controller, action: Action) -> Result<(), AppError> {
    match action {
        Action::PickModel { class, model } => controller.pick_model(&class, &model).await.map(drop),
        Action::SetLocalOnly(on) => controller.set_local_only(on).await.map(drop),
        Action::StartServerForLocalOnly(name) => match controller.start_server_for_local_only(&name).await? {
            LocalOnlyOutcome::Changed { .. } => Ok(()),
            LocalOnlyOutcome::NeedsLocalServer { reason, .. } => Err(AppError::Desktop(reason)),
        },
        Action::Server { name, op: ServerOp::OpenLog } => {
            let files = controller.log_files(&name).await?;
            let file = files.first().ok_or_else(|| AppError::Desktop(format!("{name} has no log file yet")))?;
            open_path(file)
        }
        Action::Server { name, op } => controller.server(&name, op).await.map(drop),
        Action::OpenDashboard => show_dashboard(app, controller.port(), &controller.dashboard_path(), None),
        Action::OpenDashboardPage(page) => {
            show_dashboard(app, controller.port(), &controller.dashboard_path(), Some(&page))
        }
        Action::CopySetup(target) => {
            // With virtual keys in use, the tool gets its own (its spend shows apart).
            let key = controller.tool_key(target).await?;
            let text = setup_text(target, controller.port(), "coding", key.as_deref());
            app.clipboard().write_text(text).map_err(|err| AppError::Desktop(format!("cannot copy: {err}")))?;
            controller.report(match key {
                Some(_) => format!(
                    "Copied the setup for {target}, with its own virtual key ({}), to the clipboard",
                    target.key()
                ),
                None => format!("Copied the setup for {target} to the clipboard"),
            });
            Ok(())
        }
        Action::SetAutostart(on) => {
            let launcher = app.autolaunch();
            let done = if on { launcher.enable() } else { launcher.disable() };
            done.map_err(|err| AppError::Desktop(format!("launch at login: {err}")))?;
            controller.changed.notify_one();
            Ok(())
        }
        Action::UsePort(port) => send(app, Command::UsePort(port)).await,
        Action::Retry => send(app, Command::Retry).await,
        Action::Quit => {
            quit(app).await;
            Ok(())
        }
    }
}

async fn send<R: Runtime>(app: &AppHandle<R>, command: Command) -> Result<(), AppError> {
    let Some(supervisor) = app.try_state::<Supervisor>() else { return Ok(()) };
    let sender = supervisor.0.clone();
    sender.send(command).await.map_err(|_| AppError::Desktop("the supervisor has stopped".into()))
}

/// Drains the gateway (in-flight streams finish), then exits.
pub async fn quit<R: Runtime>(app: &AppHandle<R>) {
    let (done, finished) = oneshot::channel();
    if send(app, Command::Shutdown(done)).await.is_ok() {
        let _ = finished.await;
    }
    app.exit(0);
}

/// Shows the dashboard window (the gateway's own page), creating it the first time at `path`
/// (a one-time login link: the webview keeps the session cookie it sets). With a `page` (`mcp`)
/// the dashboard shows that page (`#/mcp`): a new window's link carries it through the login's
/// redirect (a redirect keeps the fragment), an open window goes there without reloading.
pub fn show_dashboard<R: Runtime>(
    app: &AppHandle<R>,
    port: u16,
    path: &str,
    page: Option<&str>,
) -> Result<(), AppError> {
    let desktop = |err: tauri::Error| AppError::Desktop(format!("dashboard window: {err}"));
    let page = page.filter(|page| crate::actions::is_page(page));
    if let Some(window) = app.get_webview_window(DASHBOARD_LABEL) {
        if let Some(page) = page {
            let mut url = window.url().map_err(desktop)?;
            // The login page leads to the dashboard at `/`; the dashboard itself stays put.
            if url.path() != "/" {
                url.set_path("/");
                url.set_query(None);
            }
            url.set_fragment(Some(&format!("/{page}")));
            window.navigate(url).map_err(desktop)?;
        }
        window.show().map_err(desktop)?;
        return window.set_focus().map_err(desktop);
    }
    let fragment = page.map(|page| format!("#/{page}")).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}{path}{fragment}")
        .parse()
        .map_err(|err| AppError::Desktop(format!("dashboard address: {err}")))?;
    WebviewWindowBuilder::new(app, DASHBOARD_LABEL, WebviewUrl::External(url))
        .title("Switchyard")
        .inner_size(1180.0, 780.0)
        .min_inner_size(720.0, 480.0)
        .build()
        .map_err(desktop)?;
    Ok(())
}

fn open_path(path: &str) -> Result<(), AppError> {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    std::process::Command::new(opener)
        .arg(path)
        .spawn()
        .map(drop)
        .map_err(|err| AppError::Desktop(format!("cannot open {path}: {err}")))
}
