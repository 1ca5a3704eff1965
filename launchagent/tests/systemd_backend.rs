//! The systemd backend against a fake systemctl, and its unit files against the real
//! `systemd-analyze verify` where it is installed.
#![cfg(unix)]
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use launchagent::{KeepAlive, ServerError, ServiceManager, ServiceSpec, systemd::unit::render_unit};
use support::{FakeSystemctl, write_exe};

const LABEL: &str = "dev.switchyard.ollama";
const UNIT: &str = "dev.switchyard.ollama.service";

fn spec(home: &Path) -> ServiceSpec {
    let log = home.join(".local/state/switchyard/logs/ollama.log");
    ServiceSpec {
        label: LABEL.into(),
        description: "Switchyard local model server: Ollama".into(),
        program: home.join("bin/ollama"),
        args: vec!["serve".into()],
        environment: BTreeMap::from([("OLLAMA_HOST".into(), "127.0.0.1:11435".into())]),
        working_directory: Some(home.to_path_buf()),
        stdout_log: log.clone(),
        stderr_log: log,
        keep_alive: KeepAlive::OnFailure,
        run_at_load: true,
        port: 11435,
        health_url: "http://127.0.0.1:11435/api/version".into(),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    units: PathBuf,
    fake: FakeSystemctl,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let units = home.join(".config/systemd/user");
    let fake = FakeSystemctl::new(dir.path(), &units);
    Setup { home, units, fake, _dir: dir }
}

#[test]
fn install_writes_the_unit_reloads_enables_and_restarts() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    backend.install(&spec(&s.home)).expect("install");

    assert_eq!(
        s.fake.calls(),
        ["--user daemon-reload", &format!("--user enable {UNIT}"), &format!("--user restart {UNIT}")]
    );
    let unit = std::fs::read_to_string(s.units.join(UNIT)).expect("unit file");
    let log = s.home.join(".local/state/switchyard/logs/ollama.log");
    for line in [
        format!("ExecStart={}/bin/ollama serve", s.home.display()),
        "Environment=\"OLLAMA_HOST=127.0.0.1:11435\"".to_owned(),
        format!("WorkingDirectory={}", s.home.display()),
        format!("StandardOutput=append:{}", log.display()),
        format!("StandardError=append:{}", log.display()),
        "Restart=on-failure".to_owned(),
        "WantedBy=default.target".to_owned(),
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line:?} in\n{unit}");
    }
    assert!(log.parent().expect("dir").is_dir(), "log directory is created");

    let state = backend.status(LABEL).expect("status");
    assert!(state.installed && state.loaded && state.running, "{state:?}");
    assert_eq!(state.pid, Some(23817));
    assert_eq!(state.state.as_deref(), Some("active (running)"));
    assert!(s.fake.is_enabled(UNIT));
}

#[test]
fn start_stop_restart_verbs() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.clear_calls();

    backend.stop(LABEL).expect("stop");
    assert!(!s.fake.is_active(UNIT) && !s.fake.is_enabled(UNIT));
    backend.start(LABEL).expect("start");
    assert!(s.fake.is_active(UNIT) && s.fake.is_enabled(UNIT));
    backend.restart(LABEL).expect("restart");
    assert_eq!(
        s.fake.calls(),
        [
            format!("--user disable --now {UNIT}"),
            format!("--user enable --now {UNIT}"),
            format!("--user restart {UNIT}"),
        ]
    );
    // Install started it (run 1), start (2), restart (3): a new main pid each time.
    assert_eq!(backend.status(LABEL).expect("status").pid, Some(23817 + 2));
}

#[test]
fn failed_unit_reports_its_exit_code() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.fail_unit(UNIT, 2);
    let state = backend.status(LABEL).expect("status");
    assert!(!state.running && state.loaded);
    assert_eq!(state.last_exit_code, Some(2));
    assert_eq!(state.state.as_deref(), Some("failed (failed)"));
}

#[test]
fn uninstall_disables_removes_and_reloads() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.clear_calls();
    backend.uninstall(LABEL).expect("uninstall");
    assert_eq!(
        s.fake.calls(),
        [
            format!("--user disable --now {UNIT}"),
            "--user daemon-reload".to_owned(),
            format!("--user reset-failed {UNIT}"),
        ]
    );
    assert!(!s.units.join(UNIT).exists());
    let state = backend.status(LABEL).expect("status");
    assert!(!state.installed && !state.loaded && !state.running, "{state:?}");
}

#[test]
fn no_user_bus_is_a_clear_systemctl_error() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    s.fake.set_no_bus();
    let err = backend.install(&spec(&s.home)).unwrap_err();
    match &err {
        ServerError::Systemctl { verb, code, stderr, .. } => {
            assert_eq!(verb, "daemon-reload");
            assert_eq!(*code, Some(1));
            assert!(stderr.contains("Failed to connect to bus"));
        }
        other => panic!("expected a systemctl error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("`systemctl --user daemon-reload` failed (exit 1): Failed to connect to bus"));
}

#[test]
fn not_installed_and_system_scope_probe() {
    let s = setup();
    let backend = s.fake.backend(&s.units);
    assert!(matches!(backend.start(LABEL), Err(ServerError::NotInstalled { .. })));
    assert!(!backend.foreign_service_running("ollama").expect("ask"));
    s.fake.set_system_active("ollama.service");
    assert!(backend.foreign_service_running("ollama").expect("ask"));
    assert_eq!(s.fake.calls().last().map(String::as_str), Some("is-active ollama.service"), "system scope");
}

/// Runs `systemd-analyze --user verify` on `unit_path`; `None` when it cannot run here.
fn analyze_verify(unit_path: &Path, runtime_dir: &Path) -> Option<std::process::Output> {
    // --user needs a runtime directory; a private one keeps the test off the real session.
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit_path)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .output();
    match out {
        Ok(out) => Some(out),
        Err(e) => {
            println!("NOTE: systemd-analyze is not available ({e}); unit files were not verified by systemd");
            None
        }
    }
}

#[test]
fn unit_files_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("mkdir");
    // A program path with a space and arguments with every character that needs escaping.
    let program = dir.path().join("my tools/vllm-mlx");
    write_exe(&program, "#!/bin/sh\nexit 0\n");
    let mut spec = spec(dir.path());
    spec.label = "dev.switchyard.verify-test".into();
    spec.program = program;
    spec.args =
        ["serve", "org/model name", "--note", "100% \"quoted\" $HOME back\\slash", ""].map(String::from).to_vec();
    spec.environment.insert("TEMPLATE".into(), "a b %c \"d\"".into());
    spec.description = "Description with 50% of it".into();
    let unit_path = dir.path().join("dev.switchyard.verify-test.service");
    std::fs::write(&unit_path, render_unit(&spec)).expect("write unit");

    let Some(out) = analyze_verify(&unit_path, &runtime) else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Failed to initialize manager") {
        println!("NOTE: systemd-analyze cannot start a user manager here ({stderr}); unit files were not verified");
        return;
    }
    let mentions_unit: Vec<&str> = stderr.lines().filter(|l| l.contains("verify-test")).collect();
    assert!(out.status.success() && mentions_unit.is_empty(), "systemd-analyze verify complained:\n{stderr}");

    // The check is not vacuous: a unit with a bad setting fails the same verification.
    let broken = dir.path().join("dev.switchyard.verify-broken.service");
    std::fs::write(&broken, render_unit(&spec).replace("ExecStart=", "ExecStart=relative/")).expect("write");
    let out = analyze_verify(&broken, &runtime).expect("ran once already");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() || stderr.contains("verify-broken"),
        "systemd-analyze accepted a broken unit, so it verifies nothing here:\n{stderr}"
    );
}
