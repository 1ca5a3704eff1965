//! The app's Tauri commands: the same operations the tray's items perform, callable from a
//! webview (and from tests under `tauri::test::mock_builder()`).

use std::sync::Arc;

use serde_json::Value;
use tauri::State;

use crate::actions::ServerOp;
use crate::controller::{AppError, Controller, LocalOnlyOutcome};
use crate::menu_model::MenuSpec;
use crate::setup_texts::{SetupTarget, setup_text};

/// Makes `model` (`provider/model`) the task class's model.
#[tauri::command]
pub async fn pick_class_model(
    controller: State<'_, Arc<Controller>>,
    class: String,
    model: String,
) -> Result<Value, AppError> {
    controller.pick_model(&class, &model).await
}

#[tauri::command]
pub async fn set_local_only(
    controller: State<'_, Arc<Controller>>,
    enabled: bool,
) -> Result<LocalOnlyOutcome, AppError> {
    controller.set_local_only(enabled).await
}

/// `action` is `start`, `stop` or `restart`.
#[tauri::command]
pub async fn local_server(
    controller: State<'_, Arc<Controller>>,
    name: String,
    action: String,
) -> Result<Value, AppError> {
    let op = match ServerOp::from_key(&action) {
        Some(op @ (ServerOp::Start | ServerOp::Stop | ServerOp::Restart)) => op,
        _ => return Err(AppError::Desktop(format!("unknown action `{action}` (start, stop, restart)"))),
    };
    controller.server(&name, op).await
}

/// The menu's first line, as the tray shows it now.
#[tauri::command]
pub async fn status_line(controller: State<'_, Arc<Controller>>) -> Result<String, AppError> {
    let state = controller.read_state(false).await;
    Ok(MenuSpec::from_state(&state).status_text().unwrap_or_default().to_owned())
}

/// What "Copy setup for…" copies, for the gateway's real port (with the tool's own virtual key
/// when keys are in use).
#[tauri::command]
pub async fn setup_for(controller: State<'_, Arc<Controller>>, target: String) -> Result<String, AppError> {
    let target = SetupTarget::from_key(&target).ok_or_else(|| AppError::Desktop(format!("no setup for `{target}`")))?;
    let key = controller.tool_key(target).await?;
    Ok(setup_text(target, controller.port(), "coding", key.as_deref()))
}
