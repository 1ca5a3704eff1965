//! Switchyard's menu-bar app: a tray over the gateway, which runs in this process.
//!
//! - `supervisor`: starts gateway-core on 127.0.0.1:30080, restarts it with backoff, hands over
//!   to another Switchyard on the port, drains it on quit;
//! - `controller`: reads the gateway's state and performs the tray's operations through the
//!   admin API (in-process);
//! - `menu_model` + `actions`: the menu as plain data, from a `TrayState`; `tray` renders it
//!   only when it changed; `desktop` does what a clicked item asks;
//! - `commands`: the same operations as Tauri commands.
//!
//! `app_builder` is shared by `run` and the tests (`tauri::test::mock_builder()`).

pub mod actions;
pub mod admin;
pub mod commands;
pub mod controller;
pub mod desktop;
pub mod menu_model;
pub mod setup_texts;
pub mod supervisor;
pub mod tray;

use std::sync::Arc;

use tauri::{Builder, Runtime};

use crate::controller::Controller;

/// The commands and the controller: what every build of the app has, tests included.
pub fn app_builder<R: Runtime>(builder: Builder<R>, controller: Arc<Controller>) -> Builder<R> {
    builder.manage(controller).invoke_handler(tauri::generate_handler![
        commands::pick_class_model,
        commands::set_local_only,
        commands::local_server,
        commands::status_line,
        commands::setup_for,
    ])
}

mod run;
pub use run::run;
