//! The launchd backend against a fake launchctl: exact verb sequences, the bootout race, and
//! errors. Runs on Linux too: the backend only writes files and shells out.
#![cfg(unix)]
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{collections::BTreeMap, path::Path, time::Duration};

use launchagent::{
    KeepAlive, ServerError, ServiceManager, ServiceSpec,
    launchd::plist::{LaunchdKeepAlive, LaunchdPlist},
};
use support::FakeLaunchctl;

const LABEL: &str = "dev.switchyard.vllm-mlx";
const TARGET: &str = "gui/501/dev.switchyard.vllm-mlx";

fn spec(home: &Path) -> ServiceSpec {
    let log = home.join("Library/Logs/Switchyard/vllm-mlx.log");
    ServiceSpec {
        label: LABEL.into(),
        description: "vllm-mlx".into(),
        program: home.join(".local/bin/vllm-mlx"),
        args: ["serve", "mlx-community/Qwen3-8B-4bit", "--host", "127.0.0.1", "--port", "11434"]
            .map(String::from)
            .to_vec(),
        environment: BTreeMap::from([("PYTHONUNBUFFERED".into(), "1".into())]),
        working_directory: Some(home.to_path_buf()),
        stdout_log: log.clone(),
        stderr_log: log,
        keep_alive: KeepAlive::OnFailure,
        run_at_load: true,
        port: 11434,
        health_url: "http://127.0.0.1:11434/v1/models".into(),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    agents: std::path::PathBuf,
    fake: FakeLaunchctl,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let agents = home.join("Library/LaunchAgents");
    let fake = FakeLaunchctl::new(dir.path());
    Setup { home, agents, fake, _dir: dir }
}

fn plist_path(s: &Setup) -> String {
    s.agents.join(format!("{LABEL}.plist")).display().to_string()
}

#[test]
fn install_writes_the_plist_then_enables_and_bootstraps() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    let spec = spec(&s.home);
    backend.install(&spec).expect("install");

    assert_eq!(
        s.fake.calls(),
        [format!("print {TARGET}"), format!("enable {TARGET}"), format!("bootstrap gui/501 {}", plist_path(&s))]
    );

    // The plist on disk, parsed back, field by field.
    let written = LaunchdPlist::from_xml(&std::fs::read(backend.definition_path(LABEL)).expect("read")).expect("parse");
    assert_eq!(written.label, LABEL);
    assert_eq!(written.program_arguments, spec.program_arguments());
    assert_eq!(written.program_arguments[0], s.home.join(".local/bin/vllm-mlx").display().to_string());
    assert_eq!(written.environment_variables, spec.environment);
    assert_eq!(written.working_directory.as_deref(), Some(s.home.to_str().expect("utf8")));
    assert_eq!(written.standard_out_path, spec.stdout_log.display().to_string());
    assert_eq!(written.standard_error_path, spec.stderr_log.display().to_string());
    assert_eq!(written.keep_alive, LaunchdKeepAlive::Conditions { successful_exit: false });
    assert!(written.run_at_load);
    assert_eq!(written.process_type, "Interactive");
    assert!(s.home.join("Library/Logs/Switchyard").is_dir(), "log directory is created");

    let state = backend.status(LABEL).expect("status");
    assert!(state.installed && state.loaded && state.running, "{state:?}");
    assert_eq!(state.pid, Some(4242));
    assert_eq!(state.state.as_deref(), Some("running"));
}

#[test]
fn reinstall_boots_out_and_waits_until_gone_before_bootstrapping() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.clear_calls();

    // launchd keeps showing the job for three more prints after bootout.
    s.fake.set_linger(3);
    let mut newer = spec(&s.home);
    newer.args[1] = "mlx-community/Llama-3.2-3B-Instruct-4bit".into();
    backend.install(&newer).expect("reinstall");

    let print = format!("print {TARGET}");
    assert_eq!(
        s.fake.calls(),
        [
            print.clone(),
            format!("bootout {TARGET}"),
            print.clone(),
            print.clone(),
            print,
            format!("enable {TARGET}"),
            format!("bootstrap gui/501 {}", plist_path(&s)),
        ]
    );
    let loaded = std::fs::read_to_string(s.fake.state.join(format!("loaded.{LABEL}"))).expect("loaded copy");
    assert!(loaded.contains("Llama-3.2-3B"), "launchd loaded the new definition");
}

#[test]
fn a_bootout_that_never_finishes_is_a_timeout_not_a_bootstrap_race() {
    let s = setup();
    let backend = s.fake.backend(&s.agents).with_unload_wait(Duration::from_millis(200), Duration::from_millis(20));
    backend.install(&spec(&s.home)).expect("install");
    s.fake.set_linger(1_000_000);
    s.fake.clear_calls();

    let err = backend.install(&spec(&s.home)).unwrap_err();
    assert!(matches!(err, ServerError::UnloadTimeout { ref label, .. } if label == LABEL), "{err:?}");
    assert!(err.to_string().contains("still loaded"), "{err}");
    assert!(!s.fake.calls().iter().any(|c| c.starts_with("bootstrap")), "never bootstraps into the race");
}

#[test]
fn bootstrap_input_output_error_becomes_a_clear_error() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    s.fake.fail_bootstrap_with("Bootstrap failed: 5: Input/output error\n");

    let err = backend.install(&spec(&s.home)).unwrap_err();
    match &err {
        ServerError::Launchctl { verb, code, stderr, .. } => {
            assert_eq!(verb, "bootstrap");
            assert_eq!(*code, Some(5));
            assert_eq!(stderr.trim(), "Bootstrap failed: 5: Input/output error");
        }
        other => panic!("expected a launchctl error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("`launchctl bootstrap` failed (exit 5)"), "{text}");
    assert!(text.contains("plutil -lint"), "{text}");
}

#[test]
fn restart_kickstarts_with_kill() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.set_pid(LABEL, 5000);
    s.fake.clear_calls();

    backend.restart(LABEL).expect("restart");
    assert_eq!(s.fake.calls(), [format!("print {TARGET}"), format!("kickstart -k {TARGET}")]);
    assert_eq!(backend.status(LABEL).expect("status").pid, Some(5000));
}

#[test]
fn stop_unloads_and_disables_and_start_enables_before_bootstrapping() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.clear_calls();

    backend.stop(LABEL).expect("stop");
    assert_eq!(
        s.fake.calls(),
        [
            format!("print {TARGET}"),
            format!("bootout {TARGET}"),
            format!("print {TARGET}"),
            format!("disable {TARGET}"),
        ]
    );
    assert!(s.fake.is_disabled(LABEL), "stays stopped at the next login");
    let state = backend.status(LABEL).expect("status");
    assert!(state.installed && !state.loaded && !state.running, "{state:?}");

    s.fake.clear_calls();
    // The fake refuses to bootstrap a disabled job, like launchd: `enable` must come first.
    backend.start(LABEL).expect("start");
    assert_eq!(
        s.fake.calls(),
        [format!("print {TARGET}"), format!("enable {TARGET}"), format!("bootstrap gui/501 {}", plist_path(&s))]
    );
    assert!(backend.status(LABEL).expect("status").running);
}

#[test]
fn start_of_a_loaded_job_kickstarts_without_kill() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    s.fake.clear_calls();
    backend.start(LABEL).expect("start");
    assert_eq!(s.fake.calls(), [format!("print {TARGET}"), format!("kickstart {TARGET}")]);
}

#[test]
fn start_without_run_at_load_kickstarts_after_bootstrap() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    let mut spec = spec(&s.home);
    spec.run_at_load = false;
    backend.install(&spec).expect("install");
    assert!(!backend.status(LABEL).expect("status").running, "loaded, not started");
    backend.stop(LABEL).expect("stop");
    s.fake.clear_calls();

    backend.start(LABEL).expect("start");
    assert_eq!(
        s.fake.calls(),
        [
            format!("print {TARGET}"),
            format!("enable {TARGET}"),
            format!("bootstrap gui/501 {}", plist_path(&s)),
            format!("kickstart {TARGET}"),
        ]
    );
    assert!(backend.status(LABEL).expect("status").running);
}

#[test]
fn uninstall_boots_out_and_removes_the_plist() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    backend.uninstall(LABEL).expect("uninstall");
    assert!(!backend.definition_path(LABEL).exists());
    assert!(!s.fake.is_loaded(LABEL));
    let state = backend.status(LABEL).expect("status");
    assert!(!state.installed && !state.loaded, "{state:?}");
    // Uninstalling twice is fine.
    backend.uninstall(LABEL).expect("uninstall again");
}

#[test]
fn operations_on_a_missing_definition_say_not_installed() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    for result in [backend.start(LABEL), backend.stop(LABEL), backend.restart(LABEL)] {
        let err = result.unwrap_err();
        assert!(matches!(err, ServerError::NotInstalled { .. }), "{err:?}");
    }
    assert!(s.fake.calls().is_empty(), "launchctl is not even asked");
}

#[test]
fn exit_code_and_foreign_services_from_print() {
    let s = setup();
    let backend = s.fake.backend(&s.agents);
    backend.install(&spec(&s.home)).expect("install");
    std::fs::write(s.fake.state.join(format!("exit.{LABEL}")), "78: EX_CONFIG").expect("write");
    std::fs::remove_file(s.fake.state.join(format!("running.{LABEL}"))).expect("stop the job");
    let state = backend.status(LABEL).expect("status");
    assert_eq!(state.last_exit_code, Some(78));
    assert_eq!(state.state.as_deref(), Some("not running"));
    assert!(state.loaded && !state.running);

    assert!(!backend.foreign_service_running("homebrew.mxcl.ollama").expect("ask"));
    s.fake.load_foreign("homebrew.mxcl.ollama", 777);
    assert!(backend.foreign_service_running("homebrew.mxcl.ollama").expect("ask"));
}

#[test]
fn launchctl_missing_is_a_spawn_error() {
    let s = setup();
    let backend = s.fake.backend(&s.agents).with_launchctl("/nonexistent/launchctl");
    let err = backend.status(LABEL).unwrap_err();
    assert!(matches!(err, ServerError::Spawn { .. }), "{err:?}");
}
