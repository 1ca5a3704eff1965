//! `/api/local-servers` drives launchagent through the gateway: list, start (installing first),
//! stop, restart, logs, and clear errors. The service manager is an in-memory fake that keeps
//! state like launchd or systemd would; the launchd and systemd backends themselves are tested
//! against fake launchctl/systemctl programs in launchagent's own tests.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gateway_core::GatewayOptions;
use launchagent::{
    BackendKind, HostEnv, LocalServers, LocalServersConfig, ServerError, ServiceManager, ServiceSpec, ServiceState,
    SystemRunner,
};
use serde_json::Value;
use switchyard_tests::gateway_raw;

#[derive(Default)]
struct FakeManager {
    dir: PathBuf,
    services: Mutex<HashMap<String, ServiceState>>,
    calls: Mutex<Vec<String>>,
}

impl FakeManager {
    fn set(&self, label: &str, running: bool) {
        let mut services = self.services.lock().unwrap();
        let state = services.entry(label.to_owned()).or_default();
        state.installed = true;
        state.loaded = true;
        state.running = running;
        state.pid = running.then_some(4242);
        state.state = Some(if running { "active (running)" } else { "inactive (dead)" }.to_owned());
    }
}

impl ServiceManager for FakeManager {
    fn kind(&self) -> BackendKind {
        BackendKind::Systemd
    }
    fn definition_path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}.service"))
    }
    fn install(&self, spec: &ServiceSpec) -> Result<(), ServerError> {
        self.calls.lock().unwrap().push(format!("install {}", spec.label));
        std::fs::write(self.definition_path(&spec.label), format!("{spec:?}")).unwrap();
        self.set(&spec.label, true);
        Ok(())
    }
    fn uninstall(&self, label: &str) -> Result<(), ServerError> {
        self.calls.lock().unwrap().push(format!("uninstall {label}"));
        let _ = std::fs::remove_file(self.definition_path(label));
        self.services.lock().unwrap().remove(label);
        Ok(())
    }
    fn start(&self, label: &str) -> Result<(), ServerError> {
        self.calls.lock().unwrap().push(format!("start {label}"));
        self.set(label, true);
        Ok(())
    }
    fn stop(&self, label: &str) -> Result<(), ServerError> {
        self.calls.lock().unwrap().push(format!("stop {label}"));
        self.set(label, false);
        Ok(())
    }
    fn restart(&self, label: &str) -> Result<(), ServerError> {
        self.calls.lock().unwrap().push(format!("restart {label}"));
        self.set(label, true);
        Ok(())
    }
    fn status(&self, label: &str) -> Result<ServiceState, ServerError> {
        Ok(self.services.lock().unwrap().get(label).cloned().unwrap_or_default())
    }
    fn foreign_service_running(&self, _label: &str) -> Result<bool, ServerError> {
        Ok(false)
    }
}

fn fake_binary(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_servers_are_managed_through_the_admin_api() {
    let home = tempfile::tempdir().unwrap();
    let units = home.path().join("units");
    std::fs::create_dir_all(&units).unwrap();
    let mut config = LocalServersConfig::default();
    config.vllm_mlx.model = Some("mlx-community/Qwen3-8B-4bit".into());
    config.vllm_mlx.binary = Some(fake_binary(home.path(), "vllm-mlx"));
    config.ollama.binary = Some(fake_binary(home.path(), "ollama"));
    config.ollama.prefer_external = false;
    config.health_timeout_ms = 100;
    // What "vllm-mlx" serves once its service is loaded: a mock on the port it is configured for.
    let model_server = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    config.vllm_mlx.port = model_server.addr().port();
    let manager = Arc::new(FakeManager { dir: units, ..FakeManager::default() });
    struct Shared(Arc<FakeManager>);
    impl ServiceManager for Shared {
        fn kind(&self) -> BackendKind {
            self.0.kind()
        }
        fn definition_path(&self, label: &str) -> PathBuf {
            self.0.definition_path(label)
        }
        fn install(&self, spec: &ServiceSpec) -> Result<(), ServerError> {
            self.0.install(spec)
        }
        fn uninstall(&self, label: &str) -> Result<(), ServerError> {
            self.0.uninstall(label)
        }
        fn start(&self, label: &str) -> Result<(), ServerError> {
            self.0.start(label)
        }
        fn stop(&self, label: &str) -> Result<(), ServerError> {
            self.0.stop(label)
        }
        fn restart(&self, label: &str) -> Result<(), ServerError> {
            self.0.restart(label)
        }
        fn status(&self, label: &str) -> Result<ServiceState, ServerError> {
            self.0.status(label)
        }
        fn foreign_service_running(&self, label: &str) -> Result<bool, ServerError> {
            self.0.foreign_service_running(label)
        }
    }
    let servers = LocalServers::with_backend(
        config,
        HostEnv::isolated(home.path()),
        Box::new(Shared(manager.clone())),
        Arc::new(SystemRunner::new()),
    )
    .unwrap();
    let options = GatewayOptions {
        env: Arc::new(|_: &str| None),
        local_servers: Some(Arc::new(servers)),
        ..GatewayOptions::default()
    };
    let gw = gateway_raw("[discovery]\nfrom_env = false\nprobe_local = false\n", options).await;

    let list: Value = gw.client.get(gw.url("/api/local-servers")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = list["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"vllm-mlx") && names.contains(&"ollama"), "{list}");

    // Local-only asks the service manager: the server answers on its port, but its service is
    // not loaded, so local-only is refused with that reason.
    let local_only = |enabled: bool| {
        let request = gw.client.put(gw.url("/api/local-only")).json(&serde_json::json!({ "enabled": enabled }));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = local_only(true).await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("vllm-mlx is not loaded (dev.switchyard.vllm-mlx)"), "{message}");

    let response = gw.client.post(gw.url("/api/local-servers/vllm-mlx/start")).send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Loaded and healthy now: local-only turns on.
    let (status, view) = local_only(true).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["enabled"], true);
    let (status, _) = local_only(false).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"]["running"], true, "{body}");
    assert_eq!(body["result"]["outcome"], "started", "{body}");
    assert!(
        manager.calls.lock().unwrap().iter().any(|c| c == "install dev.switchyard.vllm-mlx"),
        "start installs first"
    );

    let response = gw.client.post(gw.url("/api/local-servers/vllm-mlx/stop")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let status: Value =
        gw.client.get(gw.url("/api/local-servers/vllm-mlx")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["running"], false, "{status}");
    let response = gw.client.post(gw.url("/api/local-servers/vllm-mlx/restart")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(manager.calls.lock().unwrap().last().map(String::as_str), Some("restart dev.switchyard.vllm-mlx"));

    let response = gw.client.get(gw.url("/api/local-servers/vllm-mlx/logs?lines=10")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // Errors in the admin envelope.
    let response = gw.client.post(gw.url("/api/local-servers/ollama/stop")).send().await.unwrap();
    assert_eq!(response.status(), 409, "not installed yet");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_installed");
    let response = gw.client.post(gw.url("/api/local-servers/llamafile/start")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = gw.client.post(gw.url("/api/local-servers/vllm-mlx/explode")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}
