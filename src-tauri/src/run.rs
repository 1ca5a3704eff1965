//! The real app: config, plugins, the tray, the supervised gateway, and the window and exit
//! rules of a menu-bar app (closing the window hides it; only Quit ends the app).

use std::process::ExitCode;
use std::sync::Arc;

use gateway_core::{Config, GatewayOptions};
use tauri::{Manager, RunEvent, WindowEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt as _};
use tracing_subscriber::EnvFilter;

use crate::controller::Controller;
use crate::desktop::{self, DASHBOARD_LABEL, Supervisor};
use crate::menu_model::{MenuSpec, TrayState};
use crate::supervisor::{self, GatewayFactory};
use crate::{app_builder, tray};

/// `switchyard [--config FILE] [--port N] [--open-dashboard]`
struct Args {
    config: Option<std::path::PathBuf>,
    port: Option<u16>,
    open_dashboard: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { config: None, port: None, open_dashboard: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => args.config = Some(it.next().ok_or("--config needs a file")?.into()),
            "--port" => {
                let port = it.next().ok_or("--port needs a number")?;
                args.port = Some(port.parse().map_err(|_| format!("`{port}` is not a port"))?);
            }
            "--open-dashboard" => args.open_dashboard = true,
            // macOS adds `-psn_…` when launched from Finder; autostart adds nothing.
            other if other.starts_with("-psn_") => {}
            other => return Err(format!("unknown argument `{other}` (--config FILE, --port N, --open-dashboard)")),
        }
    }
    Ok(args)
}

fn load_config(args: &Args) -> Result<Config, String> {
    let path = Config::locate(args.config.as_deref(), &gateway_core::config::process_env);
    let mut config = Config::load(path.as_deref()).map_err(|err| err.to_string())?;
    if let Some(port) = args.port {
        config.server.port = port;
    }
    // The app serves on loopback only, whatever the file says.
    config.server.host = std::net::IpAddr::from([127, 0, 0, 1]);
    if config.routing.state_file.is_none() {
        config.routing.state_file = gateway_core::config::default_config_dir().map(|dir| dir.join("state.json"));
    }
    // The same token file as the headless gateway's, so either can drive the other.
    if config.mcp.file.is_none() {
        config.mcp.file = gateway_core::config::default_config_dir().map(|dir| dir.join("mcp.json"));
    }
    if config.governance.file.is_none() {
        config.governance.file = gateway_core::config::default_config_dir().map(|dir| dir.join("governance.json"));
    }
    if config.server.admin_token_file.is_none() {
        config.server.admin_token_file = gateway_core::config::default_config_dir().map(|dir| dir.join("admin-token"));
    }
    Ok(config)
}

/// Keys entered in the dashboard go to the OS secret store (the Keychain on macOS), never to disk.
fn gateway_options() -> GatewayOptions {
    #[cfg(any(target_os = "macos", target_os = "linux"))]
    {
        GatewayOptions {
            secrets: Arc::new(gateway_core::secrets::OsSecretStore::default()),
            ..GatewayOptions::default()
        }
    }
    #[cfg(not(any(target_os = "macos", target_os = "linux")))]
    {
        GatewayOptions::default()
    }
}

pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("SWITCHYARD_LOG").unwrap_or_else(|_| EnvFilter::new("info,gateway_core=info")),
        )
        .with_target(false)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("switchyard: {err}");
            return ExitCode::from(2);
        }
    };
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("switchyard: {err}");
            return ExitCode::from(2);
        }
    };
    let controller = Controller::new(config.server.port);
    let factory = GatewayFactory { config, options: Box::new(gateway_options) };

    let builder = tauri::Builder::default()
        // A second launch shows the first one's dashboard and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(controller) = app.try_state::<Arc<Controller>>() {
                let _ = desktop::show_dashboard(app, controller.port(), &controller.dashboard_path(), None);
            }
        }))
        .plugin(tauri_plugin_autostart::init(MacosLauncher::LaunchAgent, None))
        .plugin(tauri_plugin_clipboard_manager::init());
    let setup_controller = Arc::clone(&controller);
    let app = app_builder(builder, Arc::clone(&controller))
        .setup(move |app| {
            // A menu-bar app: no Dock icon, no app menu.
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let handle = app.handle().clone();
            let first = MenuSpec::from_state(&TrayState { port: setup_controller.port(), ..TrayState::default() });
            tray::create(&handle, &first, desktop::on_menu_item)?;
            // Signals first: a SIGTERM soon after the gateway answers must drain it, not kill it.
            spawn_signal_handler(handle.clone());
            let commands = supervisor::spawn(factory, Arc::clone(&setup_controller));
            app.manage(Supervisor(commands));
            tray::spawn_refresher(handle.clone(), Arc::clone(&setup_controller), |app| {
                app.autolaunch().is_enabled().unwrap_or(false)
            });
            if args.open_dashboard {
                open_dashboard_when_serving(handle, Arc::clone(&setup_controller));
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the dashboard hides it; the app lives on in the menu bar.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == DASHBOARD_LABEL
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(err) => {
            eprintln!("switchyard: {err}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|_app, event| {
        // No window left is no reason to exit; `app.exit` (Quit) passes a code.
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// SIGTERM and SIGINT quit like the menu's Quit: the gateway drains first.
fn spawn_signal_handler<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("signal received; draining the gateway");
            desktop::quit(&app).await;
        }
    });
}

fn open_dashboard_when_serving<R: tauri::Runtime>(app: tauri::AppHandle<R>, controller: Arc<Controller>) {
    tauri::async_runtime::spawn(async move {
        for _ in 0..100 {
            if controller.link().admin.is_some() {
                if let Err(err) = desktop::show_dashboard(&app, controller.port(), &controller.dashboard_path(), None) {
                    tracing::warn!(%err, "cannot open the dashboard");
                }
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
}
