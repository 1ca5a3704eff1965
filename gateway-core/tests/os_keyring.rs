//! The OS secret store for real, both Linux backends, each round trip in a child process of this
//! test binary:
//! - the kernel keyring, which in a sandbox works only inside a fresh keyring session: under
//!   `keyctl session -` (Debian `keyutils`), with no session bus, so the store must choose it;
//! - the Secret Service: a real GNOME Keyring (Debian `gnome-keyring`) on a private session bus
//!   (`dbus-run-session`), unlocked with a throwaway password in a throwaway `HOME`, so the
//!   store's probe must find it and choose it.
//!
//! `scripts/test` installs both packages.

#![cfg(target_os = "linux")]
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use gateway_core::config::Secret;
use gateway_core::secrets::{OsSecretStore, SecretStore};

/// Set, read, replace, delete: what the admin API does with provider keys.
fn round_trip(expected_backend: &str) {
    let store = OsSecretStore::with_service("dev.switchyard.test");
    assert_eq!(store.backend_name(), expected_backend);
    let name = format!("provider-{}", std::process::id());
    assert!(store.get(&name).unwrap().is_none());
    store.set(&name, &Secret::new("sk-kernel-keyring-4242")).unwrap();
    assert_eq!(store.get(&name).unwrap().unwrap().expose(), "sk-kernel-keyring-4242");
    store.set(&name, &Secret::new("sk-replaced-4343")).unwrap();
    assert_eq!(store.get(&name).unwrap().unwrap().expose(), "sk-replaced-4343");
    store.delete(&name).unwrap();
    assert!(store.get(&name).unwrap().is_none());
    store.delete(&name).unwrap();
}

#[test]
#[ignore = "run by os_keyring_round_trip inside `keyctl session -`"]
fn os_store_round_trip_in_session() {
    round_trip("Linux kernel keyring");
}

#[test]
#[ignore = "run by secret_service_round_trip on a private session bus"]
fn secret_service_round_trip_in_session() {
    round_trip("Secret Service");
}

/// Runs one ignored test of this binary through `launcher` and checks it passed.
fn run_child(mut launcher: Command, test: &str) {
    let me = std::env::current_exe().unwrap();
    let output = launcher.arg(me).args(["--ignored", "--exact", test, "--nocapture"]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the round trip ran: {text}");
}

#[test]
fn os_keyring_round_trip() {
    let keyctl = Command::new("keyctl").arg("--version").output();
    assert!(keyctl.is_ok(), "keyctl is missing: install Debian `keyutils` (scripts/test does)");
    let mut launcher = Command::new("keyctl");
    launcher
        .args(["session", "-"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("SWITCHYARD_SECRET_STORE");
    run_child(launcher, "os_store_round_trip_in_session");
}

#[test]
fn secret_service_round_trip() {
    let daemon = Command::new("gnome-keyring-daemon").arg("--version").output();
    assert!(daemon.is_ok(), "gnome-keyring-daemon is missing: install Debian `gnome-keyring` (scripts/test does)");
    let home = tempfile::tempdir().unwrap();
    // The daemon reads the new login keyring's password on stdin, creates it unlocked, registers
    // org.freedesktop.secrets on the private bus, and ends with the bus.
    let mut launcher = Command::new("dbus-run-session");
    launcher
        .args(["--", "sh", "-c"])
        .arg("printf throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"")
        .arg("sh")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("SWITCHYARD_SECRET_STORE");
    run_child(launcher, "secret_service_round_trip_in_session");
}
