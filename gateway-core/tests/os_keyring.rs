//! The OS secret store for real: on Linux the kernel keyring, which in a sandbox works only inside
//! a fresh keyring session, so the round trip runs in a child process under `keyctl session -`
//! (Debian `keyutils`; `scripts/test` installs it).

#![cfg(target_os = "linux")]

use std::process::Command;

use gateway_core::config::Secret;
use gateway_core::secrets::{OsSecretStore, SecretStore};

#[test]
#[ignore = "run by os_keyring_round_trip inside `keyctl session -`"]
fn os_store_round_trip_in_session() {
    let store = OsSecretStore::with_service("dev.switchyard.test");
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
fn os_keyring_round_trip() {
    let keyctl = Command::new("keyctl").arg("--version").output();
    assert!(keyctl.is_ok(), "keyctl is missing: install Debian `keyutils` (scripts/test does)");
    let me = std::env::current_exe().unwrap();
    let output = Command::new("keyctl")
        .args(["session", "-"])
        .arg(me)
        .args(["--ignored", "--exact", "os_store_round_trip_in_session", "--nocapture"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the round trip ran: {text}");
}
