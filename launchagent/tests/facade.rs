//! `LocalServers` end to end against a fake launchctl (and once a fake systemctl): install from
//! the config, status with real health checks, processes and logs, Ollama found elsewhere, ports.
#![cfg(unix)]
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command},
    thread,
};

use launchagent::{
    ExternalKind, HostEnv, LocalServers, LocalServersConfig, ServerError, ServerName, StartOutcome,
    launchd::plist::LaunchdPlist, presets,
};
use support::{FakeLaunchctl, FakeSystemctl, write_exe};

const MODEL: &str = "mlx-community/Qwen3-8B-4bit";

struct World {
    dir: tempfile::TempDir,
    home: PathBuf,
    fake: FakeLaunchctl,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let fake = FakeLaunchctl::new(dir.path());
        Self { dir, home, fake }
    }

    fn host(&self) -> HostEnv {
        let mut host = HostEnv::isolated(&self.home);
        host.system_bin_dirs = vec![self.dir.path().join("opt/bin")];
        host
    }

    fn servers(&self, config: LocalServersConfig) -> LocalServers {
        let host = self.host();
        let backend = self.fake.backend(&host.paths.launch_agents);
        LocalServers::with_backend(config, host, Box::new(backend), support::runner()).expect("valid config")
    }

    fn install_fake_binaries(&self) -> (PathBuf, PathBuf) {
        let vllm = self.home.join(".local/bin/vllm-mlx");
        let ollama = self.dir.path().join("opt/bin/ollama");
        write_exe(&vllm, "#!/bin/sh\nexit 0\n");
        write_exe(&ollama, "#!/bin/sh\nexit 0\n");
        (vllm, ollama)
    }
}

fn config(vllm_port: u16, ollama_port: u16) -> LocalServersConfig {
    let mut c = LocalServersConfig::default();
    c.vllm_mlx.model = Some(MODEL.into());
    c.vllm_mlx.port = vllm_port;
    c.ollama.port = ollama_port;
    c.health_timeout_ms = 500;
    c
}

/// A loopback HTTP server answering `path` with 200 and `body`, everything else with 404.
fn http_server(path: &'static str, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 2048];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let reply = if request.starts_with(&format!("GET {path} ")) {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    port
}

/// A port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Two distinct ports nothing listens on: both are held while the second is picked, so the kernel
/// cannot hand out the same port twice (which the config would refuse as a port conflict).
fn closed_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind");
    (first.local_addr().expect("addr").port(), second.local_addr().expect("addr").port())
}

fn config_on_closed_ports() -> LocalServersConfig {
    let (vllm, ollama) = closed_ports();
    config(vllm, ollama)
}

struct Sleeper(Child);

impl Sleeper {
    fn start() -> Self {
        Self(Command::new("/bin/sleep").arg("60").spawn().expect("sleep"))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn install_then_status_reports_everything() {
    let w = World::new();
    let (vllm_bin, _) = w.install_fake_binaries();
    let port = http_server("/v1/models", r#"{"data":[{"id":"mlx-community/Qwen3-8B-4bit"}]}"#);
    let servers = w.servers(config(port, closed_port()));
    // The "server" launchd reports is a real process, so CPU, memory and uptime are real.
    let process = Sleeper::start();
    w.fake.set_pid(presets::VLLM_MLX_LABEL, process.0.id());

    assert_eq!(servers.install(ServerName::VllmMlx).expect("install"), StartOutcome::Started);

    let plist_path = servers.definition_path(ServerName::VllmMlx);
    assert_eq!(plist_path, w.home.join("Library/LaunchAgents/dev.switchyard.vllm-mlx.plist"));
    let plist = LaunchdPlist::from_xml(&std::fs::read(&plist_path).expect("plist")).expect("parse");
    let port_text = port.to_string();
    assert_eq!(
        plist.program_arguments,
        [vllm_bin.to_str().expect("utf8"), "serve", MODEL, "--host", "127.0.0.1", "--port", port_text.as_str()]
    );

    // A log longer than the status shows.
    let log = servers.paths().logs.join("vllm-mlx.log");
    let lines: Vec<String> = (0..100).map(|i| format!("INFO: request {i}")).collect();
    std::fs::write(&log, lines.join("\n") + "\n").expect("log");

    let status = servers.status(ServerName::VllmMlx);
    assert_eq!(status.error, None);
    assert!(status.enabled && status.installed && status.loaded && status.running, "{status:?}");
    assert_eq!(status.pid, Some(process.0.id()));
    assert_eq!(status.model.as_deref(), Some(MODEL));
    assert_eq!(status.port, port);
    assert_eq!(status.base_url, format!("http://127.0.0.1:{port}"));
    assert!(status.health.ok, "{:?}", status.health);
    assert_eq!(status.health.url, format!("http://127.0.0.1:{port}/v1/models"));
    let usage = status.usage.as_ref().expect("usage of the running process");
    assert!(usage.pids.contains(&process.0.id()));
    assert!(usage.rss_bytes > 0);
    assert!(status.uptime_secs.is_some());
    assert_eq!(status.log_tail, lines[80..]);
    assert_eq!(status.log_files, std::slice::from_ref(&log));
    assert!(status.notes.is_empty(), "{:?}", status.notes);
    if !cfg!(target_os = "macos") {
        assert!(status.gpu.device_utilization_percent.is_none());
        assert!(status.gpu.note.contains("only reported on macOS"));
    }

    let tails = servers.logs(ServerName::VllmMlx, 3).expect("logs");
    assert_eq!(tails.len(), 1);
    assert_eq!(tails[0].path, log);
    assert_eq!(tails[0].lines, lines[97..]);

    // The JSON the admin API serves.
    let json = serde_json::to_value(servers.list()).expect("json");
    let names: Vec<&str> = json.as_array().expect("array").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["vllm-mlx", "ollama"]);
    assert_eq!(json[0]["backend"], "launchd");
    assert_eq!(json[0]["health"]["ok"], true);
    assert_eq!(json[1]["installed"], false);
}

#[test]
fn both_managed_servers_get_distinct_ports() {
    let w = World::new();
    w.install_fake_binaries();
    let servers = w.servers(LocalServersConfig {
        vllm_mlx: launchagent::VllmMlxConfig { model: Some(MODEL.into()), ..Default::default() },
        ..Default::default()
    });
    let vllm = servers.spec(ServerName::VllmMlx).expect("vllm spec");
    let ollama = servers.spec(ServerName::Ollama).expect("ollama spec");
    assert_eq!(vllm.port, 11434);
    assert!(vllm.args.windows(2).any(|w| w == ["--port", "11434"]));
    assert_eq!(ollama.port, 11435);
    assert_eq!(ollama.environment["OLLAMA_HOST"], "127.0.0.1:11435");
    assert_eq!(ollama.program_arguments()[1], "serve");

    // Configuring the same port for both is refused up front.
    let mut clash = LocalServersConfig::default();
    clash.ollama.port = 11434;
    let host = w.host();
    let backend = w.fake.backend(&host.paths.launch_agents);
    let err = LocalServers::with_backend(clash, host, Box::new(backend), support::runner()).err().expect("conflict");
    assert!(matches!(err, ServerError::PortConflict { port: 11434, .. }), "{err:?}");
}

#[test]
fn installing_on_a_port_another_installed_server_uses_is_refused() {
    let w = World::new();
    w.install_fake_binaries();
    let port = closed_port();
    w.servers(config(port, closed_port())).install(ServerName::VllmMlx).expect("install vllm-mlx");

    // A config that manages only Ollama cannot see the clash; the installed manifest can.
    let mut only_ollama = config(11434, port);
    only_ollama.vllm_mlx.enabled = false;
    only_ollama.ollama.prefer_external = false;
    let err = w.servers(only_ollama).install(ServerName::Ollama).unwrap_err();
    assert!(matches!(err, ServerError::PortConflict { first: ServerName::VllmMlx, .. }), "{err:?}");
    assert!(!w.home.join("Library/LaunchAgents/dev.switchyard.ollama.plist").exists());
}

#[test]
fn a_running_homebrew_ollama_is_used_instead_of_starting_another() {
    let w = World::new();
    w.install_fake_binaries();
    w.fake.load_foreign("homebrew.mxcl.ollama", 999_999);
    let servers = w.servers(config_on_closed_ports());

    let outcome = servers.install(ServerName::Ollama).expect("install");
    let StartOutcome::External { server } = outcome else { panic!("expected External, got {outcome:?}") };
    assert_eq!(server.kind, ExternalKind::Homebrew);
    assert!(!servers.definition_path(ServerName::Ollama).exists(), "nothing was installed");
    assert!(!w.fake.calls().iter().any(|c| c.starts_with("bootstrap")));

    let status = servers.status(ServerName::Ollama);
    assert_eq!(status.external.map(|e| e.kind), Some(ExternalKind::Homebrew));
    assert!(!status.installed);

    // Asked explicitly, Switchyard installs its own anyway.
    let mut own = config_on_closed_ports();
    own.ollama.prefer_external = false;
    assert_eq!(w.servers(own).install(ServerName::Ollama).expect("install"), StartOutcome::Started);
    assert!(servers.definition_path(ServerName::Ollama).exists());
}

#[test]
fn an_ollama_answering_on_the_port_is_reported_as_external() {
    let w = World::new();
    w.install_fake_binaries();
    let port = http_server("/api/version", r#"{"version":"0.12.3"}"#);
    let servers = w.servers(config(closed_port(), port));
    let status = servers.status(ServerName::Ollama);
    let external = status.external.expect("external Ollama");
    assert_eq!(external.kind, ExternalKind::Http);
    assert_eq!(external.base_url, Some(format!("http://127.0.0.1:{port}")));
    assert!(matches!(servers.install(ServerName::Ollama), Ok(StartOutcome::External { .. })));
}

#[test]
fn vllm_mlx_on_a_port_held_by_ollama_gets_a_note() {
    let w = World::new();
    w.install_fake_binaries();
    let port = http_server("/api/version", r#"{"version":"0.12.3"}"#);
    let status = w.servers(config(port, closed_port())).status(ServerName::VllmMlx);
    assert!(!status.health.ok, "Ollama does not answer /v1/models here");
    assert!(
        status.notes.iter().any(|n| n.contains(&format!("port {port} is taken by an Ollama"))),
        "{:?}",
        status.notes
    );
}

#[test]
fn reinstall_with_another_model_and_drift_notes() {
    let w = World::new();
    w.install_fake_binaries();
    let port = closed_port();
    w.servers(config(port, closed_port())).install(ServerName::VllmMlx).expect("install");

    let mut changed = config(port, closed_port());
    changed.vllm_mlx.model = Some("mlx-community/Llama-3.2-3B-Instruct-4bit".into());
    let servers = w.servers(changed);
    let status = servers.status(ServerName::VllmMlx);
    assert_eq!(status.model.as_deref(), Some(MODEL), "status shows what runs");
    assert!(status.notes.iter().any(|n| n.contains("install again")), "{:?}", status.notes);

    w.fake.clear_calls();
    servers.install(ServerName::VllmMlx).expect("reinstall");
    let calls = w.fake.calls();
    assert!(calls.iter().any(|c| c.starts_with("bootout")), "the running job is replaced: {calls:?}");
    assert_eq!(servers.status(ServerName::VllmMlx).model.as_deref(), Some("mlx-community/Llama-3.2-3B-Instruct-4bit"));
}

#[test]
fn errors_say_what_is_missing() {
    let w = World::new();
    let servers = w.servers(config_on_closed_ports());

    let err = servers.start(ServerName::VllmMlx).unwrap_err();
    assert!(matches!(err, ServerError::NotInstalled { .. }), "{err:?}");
    assert!(err.to_string().starts_with("vllm-mlx is not installed"), "{err}");

    let err = servers.install(ServerName::VllmMlx).unwrap_err();
    let ServerError::BinaryNotFound { binary, searched } = &err else { panic!("{err:?}") };
    assert_eq!(binary, "vllm-mlx");
    assert!(searched.contains(&w.home.join(".local/bin")));
    assert!(searched.contains(&w.home.join(".local/share/uv/tools/vllm-mlx/bin")));

    let mut no_model = config_on_closed_ports();
    no_model.vllm_mlx.model = None;
    assert!(matches!(w.servers(no_model).install(ServerName::VllmMlx), Err(ServerError::ModelRequired)));

    let mut disabled = config_on_closed_ports();
    disabled.vllm_mlx.enabled = false;
    assert!(matches!(
        w.servers(disabled).start(ServerName::VllmMlx),
        Err(ServerError::NotConfigured { name: ServerName::VllmMlx })
    ));
    assert!(matches!("llama".parse::<ServerName>(), Err(ServerError::UnknownServer(_))));
}

#[test]
fn stop_start_restart_and_uninstall_through_the_facade() {
    let w = World::new();
    w.install_fake_binaries();
    let servers = w.servers(config_on_closed_ports());
    servers.install(ServerName::VllmMlx).expect("install");
    servers.stop(ServerName::VllmMlx).expect("stop");
    assert!(!servers.status(ServerName::VllmMlx).running);
    assert_eq!(servers.start(ServerName::VllmMlx).expect("start"), StartOutcome::Started);
    assert!(servers.status(ServerName::VllmMlx).running);
    w.fake.clear_calls();
    servers.restart(ServerName::VllmMlx).expect("restart");
    assert!(w.fake.calls().iter().any(|c| c == "kickstart -k gui/501/dev.switchyard.vllm-mlx"));

    servers.uninstall(ServerName::VllmMlx).expect("uninstall");
    let status = servers.status(ServerName::VllmMlx);
    assert!(!status.installed && !status.loaded);
    assert!(servers.installed_spec(ServerName::VllmMlx).expect("read").is_none(), "manifest removed");
}

#[test]
fn systemd_backend_behind_the_facade() {
    let w = World::new();
    w.install_fake_binaries();
    let host = w.host();
    let fake = FakeSystemctl::new(w.dir.path(), &host.paths.systemd_user);
    let backend = fake.backend(&host.paths.systemd_user);
    let mut cfg = config_on_closed_ports();
    cfg.ollama.prefer_external = false;
    let servers = LocalServers::with_backend(cfg, host, Box::new(backend), support::runner()).expect("servers");
    servers.install(ServerName::Ollama).expect("install");
    let status = servers.status(ServerName::Ollama);
    assert_eq!(status.backend, launchagent::BackendKind::Systemd);
    assert!(status.installed && status.loaded && status.running, "{status:?}");
    assert_eq!(status.state.as_deref(), Some("active (running)"));
    assert_eq!(status.definition_path, w.home.join(".config/systemd/user/dev.switchyard.ollama.service"));
    let unit = std::fs::read_to_string(&status.definition_path).expect("unit");
    assert!(unit.contains(&format!("Environment=\"OLLAMA_HOST=127.0.0.1:{}\"", status.port)), "{unit}");
}

#[test]
fn cli_status_logs_and_errors() {
    let w = World::new();
    let exe = env!("CARGO_BIN_EXE_switchyard-local");
    let run = |args: &[&str]| {
        Command::new(exe)
            .args(args)
            .env("HOME", &w.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_DATA_HOME")
            .output()
            .expect("run switchyard-local")
    };

    // status prints JSON for both servers whatever the service manager says (errors are fields).
    let out = run(&["status"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    let names: Vec<&str> = json.as_array().expect("array").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["vllm-mlx", "ollama"]);
    assert_eq!(json[0]["installed"], false);

    // logs reads the log under HOME.
    let logs_dir = launchagent::Paths::under_home(&w.home).logs;
    std::fs::create_dir_all(&logs_dir).expect("mkdir");
    std::fs::write(logs_dir.join("ollama.log"), "a\nb\nc\n").expect("log");
    let out = run(&["logs", "ollama", "-n", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "b\nc\n");

    let out = run(&["start", "vllm-mlx"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vllm-mlx is not installed"));

    let out = run(&["start", "llama"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected `vllm-mlx` or `ollama`"));
}
