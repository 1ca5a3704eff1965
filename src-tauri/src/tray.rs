//! The tray icon and its menu. The menu is a rendering of `MenuSpec`; the refresher reads the
//! gateway's state, and touches the native menu only when the spec changed (relabelling the
//! status line alone when nothing else did). Every action is a menu item, since Linux tray hosts
//! send no click events.

use std::sync::Arc;
use std::time::Duration;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, MenuItemKind, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

use crate::controller::Controller;
use crate::menu_model::{IconState, MenuEntry, MenuSpec, MenuUpdate, STATUS_ID, plan_update};

pub const TRAY_ID: &str = "switchyard";
/// How often the status line (requests, cost) and server states are re-read. The MCP servers'
/// states also wake the refresher when they change (the supervisor watches the gateway's hub).
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Template images (black on transparent): macOS tints them for light and dark menu bars.
pub fn icon(state: IconState) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match state {
        IconState::Running => include_bytes!("../icons/tray-running@2x.png"),
        IconState::LocalOnly => include_bytes!("../icons/tray-local-only@2x.png"),
        IconState::Error => include_bytes!("../icons/tray-error@2x.png"),
    };
    Image::from_bytes(bytes)
}

pub fn build_menu<R: Runtime>(app: &AppHandle<R>, spec: &MenuSpec) -> tauri::Result<Menu<R>> {
    let mut labels = 0;
    let items = spec
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| native(app, entry, i == 0, &mut labels))
        .collect::<tauri::Result<Vec<_>>>()?;
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(|item| item as &dyn IsMenuItem<R>).collect();
    Menu::with_items(app, &refs)
}

fn native<R: Runtime>(
    app: &AppHandle<R>,
    entry: &MenuEntry,
    is_status: bool,
    labels: &mut usize,
) -> tauri::Result<MenuItemKind<R>> {
    Ok(match entry {
        MenuEntry::Item { label, action } => {
            let id = match action {
                Some(action) => action.id(),
                None if is_status => STATUS_ID.to_owned(),
                None => {
                    *labels += 1;
                    format!("label-{labels}")
                }
            };
            MenuItemKind::MenuItem(MenuItem::with_id(app, id, native_text(label), action.is_some(), None::<&str>)?)
        }
        MenuEntry::Check { label, checked, action } => MenuItemKind::Check(CheckMenuItem::with_id(
            app,
            action.id(),
            native_text(label),
            true,
            *checked,
            None::<&str>,
        )?),
        MenuEntry::Submenu { label, entries } => {
            let children = entries.iter().map(|e| native(app, e, false, labels)).collect::<tauri::Result<Vec<_>>>()?;
            let refs: Vec<&dyn IsMenuItem<R>> = children.iter().map(|item| item as &dyn IsMenuItem<R>).collect();
            *labels += 1;
            MenuItemKind::Submenu(Submenu::with_id_and_items(
                app,
                format!("submenu-{labels}"),
                native_text(label),
                true,
                &refs,
            )?)
        }
        MenuEntry::Separator => MenuItemKind::Predefined(PredefinedMenuItem::separator(app)?),
    })
}

/// A label as the native menu takes it: `&` marks a mnemonic there (and is dropped), so a literal
/// one (an MCP server's error naming a URL's query, a model or key name) is doubled.
fn native_text(label: &str) -> String {
    label.replace('&', "&&")
}

/// Creates the tray with a first menu; `on_action` gets each clicked item's id.
pub fn create<R: Runtime>(
    app: &AppHandle<R>,
    spec: &MenuSpec,
    on_action: impl Fn(&AppHandle<R>, &str) + Send + Sync + 'static,
) -> tauri::Result<TrayIcon<R>> {
    let menu = build_menu(app, spec)?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(IconState::Running)?)
        .icon_as_template(true)
        .tooltip("Switchyard")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| on_action(app, event.id().as_ref()))
        .build(app)
}

/// Keeps the menu and icon in step with the gateway, until the app exits.
pub fn spawn_refresher<R: Runtime>(
    app: AppHandle<R>,
    controller: Arc<Controller>,
    autostart: impl Fn(&AppHandle<R>) -> bool + Send + 'static,
) {
    tauri::async_runtime::spawn(async move {
        let mut shown: Option<MenuSpec> = None;
        let mut menu: Option<Menu<R>> = None;
        let mut shown_icon: Option<IconState> = None;
        loop {
            let state = controller.read_state(autostart(&app)).await;
            let spec = MenuSpec::from_state(&state);
            let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
            let applied = match plan_update(shown.as_ref(), &spec) {
                MenuUpdate::Nothing => Ok(()),
                MenuUpdate::StatusText(text) => relabel_status(menu.as_ref(), &text),
                MenuUpdate::Rebuild => build_menu(&app, &spec).and_then(|built| {
                    tray.set_menu(Some(built.clone()))?;
                    menu = Some(built);
                    Ok(())
                }),
            };
            match applied {
                Ok(()) => shown = Some(spec),
                Err(err) => tracing::warn!(%err, "cannot update the tray menu"),
            }
            let wanted = state.icon();
            if shown_icon != Some(wanted) {
                let set = icon(wanted).and_then(|image| tray.set_icon(Some(image)));
                if set.and_then(|()| tray.set_icon_as_template(true)).is_ok() {
                    shown_icon = Some(wanted);
                }
                let _ = tray.set_tooltip(Some(state.status_line()));
            }
            tokio::select! {
                () = controller.changed.notified() => {}
                () = tokio::time::sleep(REFRESH_EVERY) => {}
            }
        }
    });
}

fn relabel_status<R: Runtime>(menu: Option<&Menu<R>>, text: &str) -> tauri::Result<()> {
    match menu.and_then(|menu| menu.get(STATUS_ID)).as_ref().and_then(MenuItemKind::as_menuitem) {
        Some(item) => item.set_text(native_text(text)),
        None => Ok(()),
    }
}
