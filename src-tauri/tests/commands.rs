//! The app's commands under `tauri::test::mock_builder()`, invoked over IPC like a webview would
//! (from `tauri://localhost`), against a real gateway on loopback in front of mock upstreams:
//! a picked class model serves the next `model: "coding"` request; local-only keeps every request
//! off the cloud mock; local servers start and stop through a fake service manager.

// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gateway_core::GatewayOptions;
use launchagent::{
    BackendKind, HostEnv, LocalServers, LocalServersConfig, ServerError, ServiceManager, ServiceSpec, ServiceState,
    SystemRunner,
};
use serde_json::{Value, json};
use switchyard_app::admin::Admin;
use switchyard_app::controller::Controller;
use switchyard_mock::{MockOptions, MockUpstream};
use switchyard_tests::{TestGateway, gateway, gateway_raw, posts, provider_toml};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

/// The app with its commands, driving `gw` in-process, and one webview to invoke from.
fn app_for(gw: &TestGateway) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let controller = Controller::serving(Admin::InProcess(gw.running.state().clone()), gw.port());
    let app = switchyard_app::app_builder(mock_builder(), controller)
        .build(mock_context(noop_assets()))
        .expect("the app builds");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("a webview");
    (app, webview)
}

fn invoke(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.into(),
    };
    tauri::test::get_ipc_response(webview, request).map(|body| body.deserialize::<Value>().expect("JSON answer"))
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Starts what the test needs on Tauri's own runtime, where the commands run too.
fn on_runtime<T>(work: impl std::future::Future<Output = T>) -> T {
    tauri::async_runtime::block_on(work)
}

#[test]
fn picking_a_class_model_sends_the_next_coding_request_there() {
    let (gw, first, second) = on_runtime(async {
        let first =
            MockUpstream::start_with(MockOptions { models: vec!["gpt-4o".into()], ..MockOptions::default() }).await;
        let second =
            MockUpstream::start_with(MockOptions { models: vec!["big-coder".into()], ..MockOptions::default() }).await;
        let toml = format!(
            "{}{}[task_classes.coding]\nchain = [\"first/gpt-4o\", \"second/big-coder\"]\n",
            provider_toml("first", &first),
            provider_toml("second", &second)
        );
        (gateway(&toml).await, first, second)
    });
    let (_app, webview) = app_for(&gw);

    on_runtime(async {
        let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-provider"], "first");
    });

    let answer = invoke(&webview, "pick_class_model", json!({"class": "coding", "model": "second/big-coder"}))
        .expect("the pick is accepted");
    assert_eq!(answer["model"], "second/big-coder", "{answer}");

    first.clear();
    on_runtime(async {
        let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-provider"], "second");
        assert_eq!(response.headers()["x-switchyard-model"], "big-coder");
    });
    let received = posts(&second);
    assert_eq!(received.last().map(|r| r.json()["model"].clone()), Some(json!("big-coder")));
    assert!(posts(&first).is_empty(), "the old model got nothing after the pick");

    // The tray's status line counts the requests (from the usage API).
    let line = invoke(&webview, "status_line", json!({})).expect("status line");
    let line = line.as_str().expect("a string");
    assert!(line.starts_with(&format!("Gateway on localhost:{} · ", gw.port())), "{line}");

    // A bad pick is refused in the commands' error shape.
    let error = invoke(&webview, "pick_class_model", json!({"class": "co:ding", "model": "second/big-coder"}))
        .expect_err("a class name with `:` is refused");
    assert_eq!(error["kind"], "refused", "{error}");
}

/// The status line names a virtual key's budget once it is past 80 % (a real gateway, a real
/// key, a real spend at the usage log's prices).
#[test]
fn the_status_line_names_a_key_budget_past_80_percent() {
    let (gw, _mock) = on_runtime(async {
        let mock =
            MockUpstream::start_with(MockOptions { models: vec!["gpt-4o".into()], ..MockOptions::default() }).await;
        let toml =
            format!("{}[pricing.\"first/gpt-4o\"]\ninput = 1000.0\noutput = 1000.0\n", provider_toml("first", &mock));
        (gateway(&toml).await, mock)
    });
    let (_app, webview) = app_for(&gw);
    on_runtime(async {
        let key = json!({"allow_all_providers": true, "budget": {"max_limit": 0.02, "reset_duration": "1d"}});
        let made = gw.client.put(gw.url("/api/governance/virtual-keys/tray-test")).json(&key).send().await.unwrap();
        assert_eq!(made.status(), 200);
        // $0.017 of $0.02: 85 %.
        let response = gw
            .client
            .post(gw.url("/v1/chat/completions"))
            .header("x-bf-vk", "tray-test")
            .json(&chat("first/gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    });
    let line = invoke(&webview, "status_line", json!({})).expect("status line");
    assert!(line.as_str().unwrap_or_default().ends_with("· key tray-test at 85 % of $0.02/1d"), "{line}");

    // With keys in use, "Copy setup for…" gives the tool its own key; copying again replaces it.
    let key_of = |setup: &Value| -> String {
        let text = setup.as_str().unwrap_or_default();
        let line = text.lines().find(|l| l.starts_with("export SWITCHYARD_API_KEY=")).unwrap_or_default();
        line.trim_start_matches("export SWITCHYARD_API_KEY=").to_owned()
    };
    let first = key_of(&invoke(&webview, "setup_for", json!({"target": "codex-cli"})).expect("setup text"));
    assert!(first.starts_with("sk-sy-"), "{first}");
    let second = key_of(&invoke(&webview, "setup_for", json!({"target": "codex-cli"})).expect("setup text"));
    assert!(second.starts_with("sk-sy-") && second != first);
    on_runtime(async {
        let call = |key: String| {
            gw.anonymous.post(gw.url("/v1/chat/completions")).bearer_auth(key).json(&chat("first/gpt-4o")).send()
        };
        assert_eq!(call(second.clone()).await.unwrap().status(), 200);
        assert_eq!(call(first.clone()).await.unwrap().status(), 401, "the replaced key stops working");
        let keys: Value =
            gw.client.get(gw.url("/api/governance/virtual-keys")).send().await.unwrap().json().await.unwrap();
        let names: Vec<&str> =
            keys["virtual_keys"].as_array().unwrap().iter().filter_map(|k| k["name"].as_str()).collect();
        assert_eq!(names, ["tray-test", "codex-cli"]);
    });
}

#[test]
fn local_only_keeps_every_request_off_the_cloud() {
    let (gw, cloud, local) = on_runtime(async {
        let cloud =
            MockUpstream::start_with(MockOptions { models: vec!["gpt-4o".into()], ..MockOptions::default() }).await;
        let local =
            MockUpstream::start_with(MockOptions { models: vec!["qwen3-coder".into()], ..MockOptions::default() })
                .await;
        let toml = format!(
            "{}local = false\n{}[task_classes.coding]\nchain = [\"cloud/gpt-4o\"]\nlocal = [\"home/qwen3-coder\"]\n",
            provider_toml("cloud", &cloud),
            provider_toml("home", &local)
        );
        (gateway(&toml).await, cloud, local)
    });
    let (_app, webview) = app_for(&gw);

    let answer = invoke(&webview, "set_local_only", json!({"enabled": true})).expect("local-only turns on");
    assert_eq!(answer, json!({"outcome": "changed", "enabled": true}));
    cloud.clear();
    on_runtime(async {
        for model in ["coding", "cloud/gpt-4o", "gpt-4o"] {
            for stream in [false, true] {
                let mut body = chat(model);
                body["stream"] = json!(stream);
                let response = gw.post_json("/v1/chat/completions", &body).await;
                assert_eq!(response.status(), 200, "{body}");
                assert_eq!(response.headers()["x-switchyard-provider"], "home", "{body}");
                response.bytes().await.expect("body");
            }
        }
    });
    assert_eq!(cloud.request_count(), 0, "nothing reached the cloud: {:?}", cloud.requests());
    assert_eq!(posts(&local).len(), 6);

    let answer = invoke(&webview, "set_local_only", json!({"enabled": false})).expect("local-only turns off");
    assert_eq!(answer["enabled"], false);
    on_runtime(async {
        let response = gw.post_json("/v1/chat/completions", &chat("coding")).await;
        assert_eq!(response.headers()["x-switchyard-provider"], "cloud");
    });
}

/// A service manager that keeps state in memory, like launchd or systemd would.
#[derive(Clone, Default)]
struct FakeManager {
    dir: PathBuf,
    services: Arc<Mutex<HashMap<String, ServiceState>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl FakeManager {
    fn set(&self, label: &str, running: bool) {
        let mut services = self.services.lock().expect("lock");
        let state = services.entry(label.to_owned()).or_default();
        state.installed = true;
        state.loaded = true;
        state.running = running;
        state.pid = running.then_some(4242);
    }

    fn call(&self, what: String) {
        self.calls.lock().expect("lock").push(what);
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
        self.call(format!("install {}", spec.label));
        std::fs::write(self.definition_path(&spec.label), format!("{spec:?}")).expect("write unit");
        self.set(&spec.label, true);
        Ok(())
    }
    fn uninstall(&self, label: &str) -> Result<(), ServerError> {
        self.call(format!("uninstall {label}"));
        self.services.lock().expect("lock").remove(label);
        Ok(())
    }
    fn start(&self, label: &str) -> Result<(), ServerError> {
        self.call(format!("start {label}"));
        self.set(label, true);
        Ok(())
    }
    fn stop(&self, label: &str) -> Result<(), ServerError> {
        self.call(format!("stop {label}"));
        self.set(label, false);
        Ok(())
    }
    fn restart(&self, label: &str) -> Result<(), ServerError> {
        self.call(format!("restart {label}"));
        self.set(label, true);
        Ok(())
    }
    fn status(&self, label: &str) -> Result<ServiceState, ServerError> {
        Ok(self.services.lock().expect("lock").get(label).cloned().unwrap_or_default())
    }
    fn foreign_service_running(&self, _label: &str) -> Result<bool, ServerError> {
        Ok(false)
    }
}

fn fake_binary(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn local_servers_start_and_stop_and_local_only_offers_to_start_one() {
    let home = tempfile::tempdir().expect("temp dir");
    let units = home.path().join("units");
    std::fs::create_dir_all(&units).expect("units dir");
    let mut config = LocalServersConfig::default();
    config.vllm_mlx.model = Some("mlx-community/Qwen3-8B-4bit".into());
    config.vllm_mlx.binary = Some(fake_binary(home.path(), "vllm-mlx"));
    config.ollama.binary = Some(fake_binary(home.path(), "ollama"));
    config.ollama.prefer_external = false;
    config.health_timeout_ms = 100;
    let manager = FakeManager { dir: units, ..FakeManager::default() };
    let servers = LocalServers::with_backend(
        config,
        HostEnv::isolated(home.path()),
        Box::new(manager.clone()),
        Arc::new(SystemRunner::new()),
    )
    .expect("local servers");
    let options = GatewayOptions {
        env: Arc::new(|_: &str| None),
        local_servers: Some(Arc::new(servers)),
        ..GatewayOptions::default()
    };
    // Only a cloud provider: no local server answers, so local-only cannot turn on yet.
    let (gw, _cloud) = on_runtime(async {
        let cloud = MockUpstream::start().await;
        let toml = format!(
            "[discovery]\nfrom_env = false\nprobe_local = false\n{}local = false\n",
            provider_toml("cloud", &cloud)
        );
        (gateway_raw(&toml, options).await, cloud)
    });
    let (_app, webview) = app_for(&gw);

    let answer = invoke(&webview, "set_local_only", json!({"enabled": true})).expect("an answer, not an error");
    assert_eq!(answer["outcome"], "needs_local_server", "{answer}");
    let startable: Vec<&str> = answer["startable"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
    assert_eq!(startable, ["vllm-mlx", "ollama"], "{answer}");
    on_runtime(async {
        let status: Value = gw.client.get(gw.url("/api/local-only")).send().await.unwrap().json().await.unwrap();
        assert_eq!(status["enabled"], false, "not forced on");
    });

    let started = invoke(&webview, "local_server", json!({"name": "vllm-mlx", "action": "start"})).expect("start");
    assert_eq!(started["status"]["running"], true, "{started}");
    assert!(manager.calls.lock().unwrap().iter().any(|c| c == "install dev.switchyard.vllm-mlx"), "installed first");

    invoke(&webview, "local_server", json!({"name": "vllm-mlx", "action": "stop"})).expect("stop");
    assert_eq!(manager.calls.lock().unwrap().last().map(String::as_str), Some("stop dev.switchyard.vllm-mlx"));
    let status = on_runtime(async {
        let response = gw.client.get(gw.url("/api/local-servers/vllm-mlx")).send().await.unwrap();
        response.json::<Value>().await.unwrap()
    });
    assert_eq!(status["running"], false, "{status}");

    let error =
        invoke(&webview, "local_server", json!({"name": "ollama", "action": "stop"})).expect_err("not installed");
    assert_eq!(error["code"], "not_installed", "{error}");
    let error = invoke(&webview, "local_server", json!({"name": "llama.cpp", "action": "start"})).expect_err("unknown");
    assert_eq!(error["kind"], "unknown_server", "{error}");

    let setup = invoke(&webview, "setup_for", json!({"target": "claude-code"})).expect("setup text");
    assert!(setup.as_str().unwrap().contains(&format!("ANTHROPIC_BASE_URL=http://localhost:{}\n", gw.port())));
}

/// The tray's "MCP servers" submenu, read from a real gateway: each configured server with its
/// state (one that cannot start is an error with its reason, one turned off is disabled).
#[test]
fn the_menu_lists_the_mcp_servers_with_their_states() {
    use switchyard_app::menu_model::{MenuEntry, MenuSpec};

    let gw = on_runtime(gateway(
        "[mcp.servers.broken]\ncommand = \"/nonexistent/switchyard-test-mcp-server\"\n\n\
         [mcp.servers.off]\ncommand = \"true\"\ndisabled = true\n",
    ));
    let controller = Controller::serving(Admin::InProcess(gw.running.state().clone()), gw.port());
    let mcp_labels = |spec: &MenuSpec| -> Vec<String> {
        let submenu = spec.entries.iter().find_map(|e| match e {
            MenuEntry::Submenu { label, entries } if label == "MCP servers" => Some(entries),
            _ => None,
        });
        submenu
            .expect("an MCP servers submenu")
            .iter()
            .map(|e| match e {
                MenuEntry::Item { label, .. } => label.clone(),
                MenuEntry::Separator => "---".into(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let labels = on_runtime(async {
        for _ in 0..100 {
            let labels = mcp_labels(&MenuSpec::from_state(&controller.read_state(false).await));
            if labels[0].starts_with("✕ broken — error") {
                return labels;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the broken server never showed as an error");
    });
    assert!(labels[0].starts_with("✕ broken — error: "), "{labels:?}");
    assert_eq!(labels[1..], ["– off — disabled", "---", "Open Tools (MCP)…"], "{labels:?}");
}
