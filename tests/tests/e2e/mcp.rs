//! The MCP gateway (issue 15) end to end, with real servers and real clients only: the npm
//! servers `@modelcontextprotocol/server-everything` and `server-filesystem` as stdio children,
//! a Streamable HTTP server written with the official Python SDK
//! (`tests/conformance/mcp_http_server.py`), and the official Python client
//! (`tests/conformance/mcp_client.py`) through `/mcp`. `scripts/test` installs them
//! (`SWITCHYARD_TEST_MCP_EVERYTHING`, `SWITCHYARD_TEST_MCP_FILESYSTEM`, `SWITCHYARD_TEST_PYTHON`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::GatewayOptions;
use serde_json::{Value, json};
use switchyard_tests::{TestGateway, gateway, gateway_raw};

fn python() -> PathBuf {
    std::env::var("SWITCHYARD_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|_| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/conformance-venv/bin/python");
        assert!(venv.exists(), "the conformance venv is missing: run `scripts/test`, or set SWITCHYARD_TEST_PYTHON");
        venv
    })
}

fn conformance(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance").join(file)
}

/// An npm server's binary, from `scripts/test`'s cache (or the variable it exports).
fn npm_server(variable: &str, bin: &str) -> String {
    if let Ok(path) = std::env::var(variable) {
        return path;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| format!("{home}/.cache"));
    let path = format!("{cache}/switchyard/clients/{bin}-2026.8.31/node_modules/.bin/{bin}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{bin} is missing: run `scripts/test` (it installs it), or set {variable}"
    );
    path
}

fn everything() -> String {
    npm_server("SWITCHYARD_TEST_MCP_EVERYTHING", "mcp-server-everything")
}

fn filesystem() -> String {
    npm_server("SWITCHYARD_TEST_MCP_FILESYSTEM", "mcp-server-filesystem")
}

/// The Python SDK's Streamable HTTP server on a loopback port; killed on drop.
struct HttpServer {
    child: Child,
    port: u16,
}

impl HttpServer {
    fn start(extra: &[&str]) -> HttpServer {
        let mut child = Command::new(python())
            .arg(conformance("mcp_http_server.py"))
            .args(["--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mcp_http_server.py");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("READY line");
        let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
        HttpServer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the Python client against the gateway's `/mcp`; its JSON report.
async fn client(gw: &TestGateway, args: &[&str]) -> Value {
    let url = gw.url("/mcp");
    let mut command = Command::new(python());
    command.arg(conformance("mcp_client.py")).args(["--url", &url]).args(args);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run mcp_client.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("mcp_client.py printed no JSON: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    })
}

/// Waits until every named server is connected; returns `/api/mcp/clients`.
async fn connected(gw: &TestGateway, names: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = gw.client.get(gw.url("/api/mcp/clients")).send().await.unwrap().json().await.unwrap();
        let ready = names.iter().all(|name| {
            body["clients"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["config"]["name"] == *name && c["state"] == "connected")
        });
        if ready {
            return body;
        }
        assert!(Instant::now() < deadline, "servers {names:?} did not connect: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_of(clients: &Value, name: &str) -> Value {
    clients["clients"].as_array().unwrap().iter().find(|c| c["config"]["name"] == name).cloned().unwrap_or(Value::Null)
}

async fn wait_for_state(gw: &TestGateway, name: &str, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = gw.client.get(gw.url("/api/mcp/clients")).send().await.unwrap().json().await.unwrap();
        let server = state_of(&body, name);
        if server["state"] == wanted {
            return server;
        }
        assert!(Instant::now() < deadline, "{name} never became {wanted}: {server:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn servers_toml(http: &HttpServer, dir: &std::path::Path) -> String {
    format!(
        "[mcp.servers.everything]\ncommand = \"{}\"\nargs = [\"stdio\"]\n\n\
         [mcp.servers.files]\ncommand = \"{}\"\nargs = [\"{}\"]\ntools_to_execute = [\"read_text_file\", \"list_directory\"]\n\n\
         [mcp.servers.web]\ntype = \"http\"\nurl = \"{}\"\n",
        everything(),
        filesystem(),
        dir.display(),
        http.url()
    )
}

/// Tool calls are logged by the usage writer off the request path: poll.
async fn logged_calls(gw: &TestGateway, query: &str, at_least: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body: Value =
            gw.client.get(gw.url(&format!("/api/mcp/calls?{query}"))).send().await.unwrap().json().await.unwrap();
        let calls = body["calls"].as_array().cloned().unwrap_or_default();
        if calls.len() >= at_least || Instant::now() > deadline {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_real_client_lists_and_calls_every_servers_tools_through_one_endpoint() {
    let http = HttpServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "switchyard was here\n").unwrap();
    let gw = gateway(&servers_toml(&http, dir.path())).await;
    let clients = connected(&gw, &["everything", "files", "web"]).await;
    let files = state_of(&clients, "files");
    assert_eq!(files["config"]["connection_type"], "stdio");
    assert!(files["pid"].as_u64().is_some(), "a stdio server's process id: {files:#}");
    assert_eq!(state_of(&clients, "web")["protocol_version"], "2025-11-25");

    // Listing: every server's tools under `<server>_<tool>`; `files` serves only two.
    let report = client(&gw, &["--script", "basic"]).await;
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["server"]["name"], "switchyard");
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for name in
        ["everything_echo", "everything_get-sum", "files_read_text_file", "files_list_directory", "web_echo", "web_add"]
    {
        assert!(tools.contains(&name), "{name} missing from {tools:?}");
    }
    assert!(!tools.contains(&"files_write_file"), "tools_to_execute limits what is served: {tools:?}");

    // Calls reach the right server and its real result comes back.
    let path = dir.path().join("notes.txt");
    let read = client(
        &gw,
        &["--script", "basic", "--tool", "files_read_text_file", "--args", &json!({"path": path}).to_string()],
    )
    .await;
    assert_eq!(read["call"]["text"], "switchyard was here\n", "{read:#}");
    let sum = client(&gw, &["--script", "basic", "--tool", "web_add", "--args", r#"{"a": 2, "b": 40}"#]).await;
    assert_eq!(sum["call"]["text"], "42", "{sum:#}");
    let echo = client(&gw, &["--script", "basic", "--tool", "everything_echo", "--args", r#"{"message": "hi"}"#]).await;
    assert_eq!(echo["call"]["text"], "Echo: hi");

    // Progress notifications pass through, under the client's own token.
    let slow = client(
        &gw,
        &["--script", "basic", "--tool", "web_slow", "--args", r#"{"seconds": 0.3, "steps": 3}"#, "--progress"],
    )
    .await;
    assert_eq!(slow["call"]["text"], "done", "{slow:#}");
    assert_eq!(slow["call"]["progress"], json!([1.0, 2.0, 3.0]), "{slow:#}");

    // A tool's own error is a result with isError, passed back as the server gave it.
    let failed =
        client(&gw, &["--script", "error-tool", "--tool", "web_fail", "--args", r#"{"message": "boom"}"#]).await;
    assert_eq!(failed["isError"], true, "{failed:#}");
    assert!(failed["text"].as_str().unwrap().contains("boom"));

    // Prompts and resources of the servers that have them.
    let extras = client(
        &gw,
        &[
            "--script",
            "prompts-resources",
            "--prompt",
            "web_greet",
            "--prompt-args",
            r#"{"name": "Ada"}"#,
            "--resource",
            "note://hello",
        ],
    )
    .await;
    assert_eq!(extras["ok"], true, "{extras:#}");
    assert!(extras["prompt"]["messages"][0]["text"].as_str().unwrap().contains("Ada"), "{extras:#}");
    assert_eq!(extras["resource"]["contents"][0]["text"], "hello from http server");

    // Every call is in the log, attributed and timed.
    let calls = logged_calls(&gw, "limit=50", 5).await;
    let add = calls.iter().find(|c| c["tool"] == "add").expect("the add call is logged");
    assert_eq!(add["server"], "web");
    assert_eq!(add["status"], "ok");
    assert_eq!(add["origin"], "mcp");
    assert!(add["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(add["arguments"].is_null(), "arguments are kept only with store_bodies");
    let fail = calls.iter().find(|c| c["tool"] == "fail").unwrap();
    assert_eq!(fail["status"], "tool_error");
    let metrics = gw.client.get(gw.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("switchyard_mcp_tool_calls_total{server=\"web\",tool=\"add\",status=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_mcp_tool_call_duration_seconds_count{server=\"web\",tool=\"add\"} 1"));
}

#[tokio::test]
async fn bifrosts_execute_endpoint_takes_a_tool_call_and_answers_a_tool_message() {
    let http = HttpServer::start(&[]);
    let gw = gateway(&format!("[mcp.servers.web]\ntype = \"http\"\nurl = \"{}\"\n", http.url())).await;
    connected(&gw, &["web"]).await;
    let call = json!({"id": "call_1", "type": "function", "function": {"name": "web_add", "arguments": "{\"a\": 1, \"b\": 2}"}});
    let response = gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).json(&call).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"role": "tool", "content": "3", "tool_call_id": "call_1"})
    );
    // Bifrost's spelling of the name, and the Responses API's item.
    let item =
        json!({"type": "function_call", "call_id": "fc_1", "name": "web-echo", "arguments": "{\"text\": \"hey\"}"});
    let response = gw.anonymous.post(gw.url("/v1/mcp/tool/execute?format=responses")).json(&item).send().await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"type": "function_call_output", "call_id": "fc_1", "output": "hey"})
    );
    // Errors in OpenAI's shape: an unknown tool, bad arguments, a missing name, bad JSON.
    for (body, status, code) in [
        (
            json!({"id": "c", "type": "function", "function": {"name": "web_nope", "arguments": "{}"}}),
            404,
            "tool_not_found",
        ),
        (
            json!({"id": "c", "type": "function", "function": {"name": "web_add", "arguments": "{not json"}}),
            400,
            "null",
        ),
        (json!({"id": "c", "type": "function"}), 400, "null"),
    ] {
        let response = gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().is_some(), "{error}");
        assert_eq!(error["error"]["code"].to_string().trim_matches('"'), code, "{error}");
    }
    let response = gw
        .anonymous
        .post(gw.url("/v1/mcp/tool/execute"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "invalid_json");
}

#[tokio::test]
async fn a_tool_that_hangs_gets_a_timeout_error_and_the_server_stays_usable() {
    let http = HttpServer::start(&[]);
    let gw = gateway(&format!(
        "[mcp]\ntool_timeout_secs = 1\n[mcp.servers.web]\ntype = \"http\"\nurl = \"{}\"\n",
        http.url()
    ))
    .await;
    connected(&gw, &["web"]).await;
    let started = Instant::now();
    let call = json!({"id": "c", "type": "function", "function": {"name": "web_hang", "arguments": "{}"}});
    let response = gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).json(&call).send().await.unwrap();
    assert_eq!(response.status(), 504);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "tool_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Through /mcp: a JSON-RPC error, and the next call works.
    let report = client(&gw, &["--script", "basic", "--tool", "web_hang", "--args", "{}"]).await;
    assert_eq!(report["ok"], false);
    assert!(report["error"].as_str().unwrap().contains("did not answer within 1 s"), "{report:#}");
    let sum = client(&gw, &["--script", "basic", "--tool", "web_add", "--args", r#"{"a": 1, "b": 1}"#]).await;
    assert_eq!(sum["call"]["text"], "2");
    let calls = logged_calls(&gw, "status=timeout", 2).await;
    assert_eq!(calls.len(), 2, "{calls:#?}");
}

#[tokio::test]
async fn a_killed_stdio_server_is_restarted_and_reported() {
    let gw = gateway(&format!("[mcp.servers.everything]\ncommand = \"{}\"\nargs = [\"stdio\"]\n", everything())).await;
    let clients = connected(&gw, &["everything"]).await;
    let pid = state_of(&clients, "everything")["pid"].as_u64().expect("pid") as i32;
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    // The loss is seen, said, and the server comes back with a new process.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_error = false;
    loop {
        let body: Value = gw.client.get(gw.url("/api/mcp/clients")).send().await.unwrap().json().await.unwrap();
        let server = state_of(&body, "everything");
        if server["state"] == "error" {
            saw_error = true;
            assert!(server["reason"].as_str().unwrap().contains("closed"), "{server:#}");
        }
        if server["state"] == "connected" && server["pid"].as_u64() != Some(pid as u64) {
            assert!(server["restarts"].as_u64().unwrap() >= 1, "{server:#}");
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {server:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_error, "the error state was shown before the restart");
    let echo =
        client(&gw, &["--script", "basic", "--tool", "everything_echo", "--args", r#"{"message": "back"}"#]).await;
    assert_eq!(echo["call"]["text"], "Echo: back");
}

#[tokio::test]
async fn malformed_json_rpc_and_foreign_origins_get_json_rpc_errors() {
    let gw = gateway("").await;
    let post = |body: &'static str| {
        gw.anonymous
            .post(gw.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    for body in ["{", "[]", r#"{"jsonrpc": "2.0", "method": 5, "id": 1}"#, r#"{"hello": "world"}"#] {
        let response = post(body).await.unwrap();
        assert!(response.status().is_client_error(), "{body}: {}", response.status());
        let text = response.text().await.unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{body}: not JSON: {text}"));
        assert_eq!(parsed["jsonrpc"], "2.0", "{body}: {parsed}");
        assert!(parsed["error"]["code"].as_i64().is_some(), "{body}: {parsed}");
    }
    // A web page's request (DNS rebinding, CSRF) is refused before the MCP server sees it.
    let response = gw
        .anonymous
        .post(gw.url("/mcp"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["error"]["code"], -32003);
}

#[tokio::test]
async fn a_virtual_key_sees_and_calls_only_its_tools() {
    let http = HttpServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(&servers_toml(&http, dir.path())).await;
    connected(&gw, &["everything", "files", "web"]).await;
    let key: Value = gw
        .client
        .post(gw.url("/api/governance/virtual-keys"))
        .json(&json!({"name": "adder", "mcp_configs": [{"mcp_client_name": "web", "tools_to_execute": ["add"]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = key["virtual_key"]["value"].as_str().expect("the key's value").to_owned();
    let header = format!("x-bf-vk:{value}");
    let report =
        client(&gw, &["--header", &header, "--script", "basic", "--tool", "web_add", "--args", r#"{"a": 3, "b": 4}"#])
            .await;
    assert_eq!(report["tools"], json!(["web_add"]), "{report:#}");
    assert_eq!(report["call"]["text"], "7");
    let denied =
        client(&gw, &["--header", &header, "--script", "basic", "--tool", "web_echo", "--args", r#"{"text": "x"}"#])
            .await;
    assert_eq!(denied["ok"], false);
    assert!(denied["error"].as_str().unwrap().contains("may not use"), "{denied:#}");
    // The same through the execute endpoint.
    let call = json!({"id": "c", "type": "function", "function": {"name": "everything_echo", "arguments": "{\"message\":\"x\"}"}});
    let response =
        gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).header("x-bf-vk", &value).json(&call).send().await.unwrap();
    assert_eq!(response.status(), 403);
    // Without a key, everything; with require_virtual_key, nothing without one.
    let open = client(&gw, &["--script", "basic"]).await;
    assert!(open["tools"].as_array().unwrap().len() > 5);
    let calls = logged_calls(&gw, "status=denied", 2).await;
    assert!(calls.iter().all(|c| c["virtual_key"].is_string()), "{calls:#?}");
}

#[tokio::test]
async fn with_keys_required_mcp_needs_one() {
    let http = HttpServer::start(&[]);
    let gw = gateway(&format!(
        "[governance]\nrequire_virtual_key = true\n[mcp.servers.web]\ntype = \"http\"\nurl = \"{}\"\n",
        http.url()
    ))
    .await;
    connected(&gw, &["web"]).await;
    let refused = client(&gw, &["--script", "basic"]).await;
    assert_eq!(refused["ok"], false, "{refused:#}");
    let response = gw
        .anonymous
        .post(gw.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], -32001, "{error}");
}

#[tokio::test]
async fn local_only_hides_a_server_off_this_machine_and_brings_it_back() {
    let http = HttpServer::start(&["--allow-host", "far.example.test"]);
    // "far.example.test" stands for a server elsewhere; the gateway's MCP client maps it to the
    // loopback server, so nothing leaves this machine.
    let far = format!("http://far.example.test:{}/mcp", http.port);
    let toml = format!(
        "[discovery]\nfrom_env = false\nprobe_local = false\n\
         [mcp.servers.everything]\ncommand = \"{}\"\nargs = [\"stdio\"]\n\
         [mcp.servers.remote]\ntype = \"http\"\nurl = \"{far}\"\n",
        everything()
    );
    let options = GatewayOptions {
        env: Arc::new(|_: &str| None),
        mcp_resolve: vec![("far.example.test".into(), SocketAddr::from(([127, 0, 0, 1], http.port)))],
        ..GatewayOptions::default()
    };
    let gw = gateway_raw(&toml, options).await;
    connected(&gw, &["everything", "remote"]).await;
    let before = client(&gw, &["--script", "basic"]).await;
    assert!(before["tools"].as_array().unwrap().iter().any(|t| t == "remote_add"), "{before:#}");

    let on =
        gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": true, "force": true})).send().await.unwrap();
    assert_eq!(on.status(), 200);
    let remote = wait_for_state(&gw, "remote", "disabled").await;
    assert!(remote["reason"].as_str().unwrap().contains("local-only"), "{remote:#}");
    assert_eq!(remote["hidden_by_local_only"], true);
    let during = client(&gw, &["--script", "basic"]).await;
    let tools = during["tools"].as_array().unwrap();
    assert!(!tools.iter().any(|t| t.as_str().unwrap().starts_with("remote_")), "{during:#}");
    assert!(tools.iter().any(|t| t == "everything_echo"), "stdio servers stay: {during:#}");
    let call =
        json!({"id": "c", "type": "function", "function": {"name": "remote_add", "arguments": "{\"a\":1,\"b\":1}"}});
    let refused = gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).json(&call).send().await.unwrap();
    assert_eq!(refused.status(), 404);

    let off = gw.client.put(gw.url("/api/local-only")).json(&json!({"enabled": false})).send().await.unwrap();
    assert_eq!(off.status(), 200);
    wait_for_state(&gw, "remote", "connected").await;
    let after = gw.anonymous.post(gw.url("/v1/mcp/tool/execute")).json(&call).send().await.unwrap();
    assert_eq!(after.json::<Value>().await.unwrap()["content"], "2");
}

#[tokio::test]
async fn servers_are_added_changed_and_removed_through_bifrosts_admin_api_and_kept() {
    let http = HttpServer::start(&["--require-header", "Authorization: Bearer tok-secret-42"]);
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("mcp.json");
    let toml = format!("[mcp]\nfile = \"{}\"\n", file.display());
    let gw = gateway(&toml).await;
    // Bifrost's body, as its docs write it.
    let body = json!({
        "name": "docs",
        "connection_type": "http",
        "connection_string": http.url(),
        "auth_type": "headers",
        "headers": {"Authorization": "Bearer tok-secret-42"},
        "tools_to_execute": ["*"],
        "is_ping_available": true
    });
    let response = gw.client.post(gw.url("/api/mcp/client")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success");
    assert!(answer["warnings"][0].as_str().unwrap().contains("is_ping_available"), "{answer}");
    let clients = connected(&gw, &["docs"]).await;
    let docs = state_of(&clients, "docs");
    assert_eq!(docs["config"]["headers"]["Authorization"], "secret.mcp.docs.header.Authorization", "{docs:#}");
    assert!(!clients.to_string().contains("tok-secret-42"), "the token is never shown");
    assert!(!std::fs::read_to_string(&file).unwrap().contains("tok-secret-42"), "nor written to the file");
    assert!(docs["tools"].as_array().unwrap().iter().any(|t| t["name"] == "add" && t["served_as"] == "docs_add"));

    // Errors name the field.
    let bad = gw
        .client
        .post(gw.url("/api/mcp/client"))
        .json(&json!({"name": "x", "connection_type": "http", "bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("bogus"));
    let dup = gw.client.post(gw.url("/api/mcp/client")).json(&body).send().await.unwrap();
    assert_eq!(dup.status(), 409);
    let bad_name = gw
        .client
        .post(gw.url("/api/mcp/client"))
        .json(&json!({"name": "has-dash", "connection_type": "stdio", "stdio_config": {"command": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_name.status(), 400);

    // Narrowed to one tool, then disabled, then removed.
    let edit = gw
        .client
        .put(gw.url("/api/mcp/client/docs"))
        .json(&json!({"tools_to_execute": ["echo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    connected(&gw, &["docs"]).await;
    let tools: Value = gw.client.get(gw.url("/api/mcp/tools")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = tools["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, vec!["docs_echo"]);
    let reconnect = gw.client.post(gw.url("/api/mcp/client/docs/reconnect")).send().await.unwrap();
    assert_eq!(reconnect.status(), 200);
    connected(&gw, &["docs"]).await;

    // Kept across a restart: a new gateway on the same file connects with the stored secret.
    let secrets = gw.running.state().inner().secrets.clone();
    gw.running.shutdown().await;
    let options = GatewayOptions { env: Arc::new(|_: &str| None), secrets, ..GatewayOptions::default() };
    let again = gateway_raw(&format!("[discovery]\nfrom_env = false\nprobe_local = false\n{toml}"), options).await;
    connected(&again, &["docs"]).await;
    let removed = again.client.delete(again.url("/api/mcp/client/docs")).send().await.unwrap();
    assert_eq!(removed.status(), 200);
    let body: Value = again.client.get(again.url("/api/mcp/clients")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["count"], 0);
    assert!(again.running.state().inner().secrets.get("mcp.docs.header.Authorization").unwrap().is_none());
    let missing = again.client.delete(again.url("/api/mcp/client/docs")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

fn agent_toml(http: &HttpServer, mock: &switchyard_tests::switchyard_mock::MockUpstream, auto: &str) -> String {
    format!(
        "{}[mcp.servers.web]\ntype = \"http\"\nurl = \"{}\"\ntools_to_auto_execute = [{auto}]\n\
         [task_classes.weatherish]\nchain = [\"mock/tool-model\"]\nmcp = [\"web/weather\"]\n",
        switchyard_tests::provider_toml("mock", mock),
        http.url()
    )
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name").or_else(|| t.get("name")).and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn asked_for_tools_are_added_to_model_requests_and_calls_go_back_to_the_client() {
    let http = HttpServer::start(&[]);
    let mock = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let gw = gateway(&agent_toml(&http, &mock, "")).await;
    connected(&gw, &["web"]).await;
    // Switchyard's header: one tool; the model (a mock that calls the first tool) calls it and,
    // the tool not being auto-executed, the call goes back to the client.
    let body = json!({"model": "mock/tool-model", "messages": [{"role": "user", "content": "weather?"}]});
    let response = gw
        .anonymous
        .post(gw.url("/v1/chat/completions"))
        .header("x-switchyard-mcp", "web/weather")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "web_weather", "{answer:#}");
    let sent: Value = serde_json::from_slice(&switchyard_tests::posts(&mock)[0].body).unwrap();
    assert_eq!(tool_names(&sent), vec!["web_weather"]);
    // Bifrost's header: a whole server, in Anthropic's shape for a Messages client.
    let body = json!({"model": "mock/tool-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let response = gw
        .anonymous
        .post(gw.url("/v1/messages"))
        .header("x-bf-mcp-include-clients", "web")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent: Value = serde_json::from_slice(&switchyard_tests::posts(&mock)[1].body).unwrap();
    let names = tool_names(&sent);
    for name in ["web_echo", "web_add", "web_weather"] {
        assert!(names.contains(&name.to_owned()), "{names:?}");
    }
    // No header, no class: the body goes through untouched.
    let plain = json!({"model": "mock/tool-model", "messages": [{"role": "user", "content": "x"}]});
    gw.anonymous.post(gw.url("/v1/chat/completions")).json(&plain).send().await.unwrap();
    let sent: Value = serde_json::from_slice(&switchyard_tests::posts(&mock)[2].body).unwrap();
    assert!(tool_names(&sent).is_empty());
    // A key with MCP tools gets them in its requests (Bifrost's injection), only those.
    let key: Value = gw
        .client
        .post(gw.url("/api/governance/virtual-keys"))
        .json(&json!({"name": "echoer", "allow_all_providers": true, "mcp_configs": [{"mcp_client_name": "web", "tools_to_execute": ["echo"]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = key["virtual_key"]["value"].as_str().expect("the key's value").to_owned();
    let response =
        gw.anonymous.post(gw.url("/v1/chat/completions")).header("x-bf-vk", &value).json(&plain).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent: Value = serde_json::from_slice(&switchyard_tests::posts(&mock)[3].body).unwrap();
    assert_eq!(tool_names(&sent), vec!["web_echo"]);
}

#[tokio::test]
async fn agent_mode_runs_auto_executed_tools_and_asks_the_model_again() {
    let http = HttpServer::start(&[]);
    let mock = switchyard_tests::switchyard_mock::MockUpstream::start().await;
    let gw = gateway(&agent_toml(&http, &mock, "\"weather\"")).await;
    connected(&gw, &["web"]).await;
    // The class asks for the tool; the gateway runs the model's call and asks again.
    for (path, body) in [
        ("/v1/chat/completions", json!({"model": "weatherish", "messages": [{"role": "user", "content": "weather?"}]})),
        (
            "/v1/messages",
            json!({"model": "weatherish", "max_tokens": 50, "messages": [{"role": "user", "content": "weather?"}]}),
        ),
        ("/v1/responses", json!({"model": "weatherish", "input": "weather?"})),
        (
            "/v1beta/models/weatherish:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "weather?"}]}]}),
        ),
    ] {
        let before = switchyard_tests::posts(&mock).len();
        let response = gw.anonymous.post(gw.url(path)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let answer = response.text().await.unwrap();
        assert!(answer.contains("tool result: Sunny in Paris (celsius)"), "{path}: {answer}");
        assert_eq!(switchyard_tests::posts(&mock).len() - before, 2, "{path}: two model rounds");
    }
    let calls = logged_calls(&gw, "tool=weather", 4).await;
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c["origin"] == "agent" && c["status"] == "ok"), "{calls:#?}");
    // A streamed request is not run by the gateway: the call goes back to the client.
    let streamed =
        json!({"model": "weatherish", "stream": true, "messages": [{"role": "user", "content": "weather?"}]});
    let text =
        gw.anonymous.post(gw.url("/v1/chat/completions")).json(&streamed).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("web_weather") && !text.contains("Sunny"), "{text}");
}

#[tokio::test]
async fn a_server_on_the_older_http_sse_transport_is_served_too() {
    let sse = HttpServer::start(&["--transport", "sse"]);
    let url = format!("http://127.0.0.1:{}/sse", sse.port);
    let gw = gateway(&format!("[mcp.servers.legacy]\ntype = \"sse\"\nurl = \"{url}\"\n")).await;
    let clients = connected(&gw, &["legacy"]).await;
    assert_eq!(state_of(&clients, "legacy")["config"]["connection_type"], "sse");
    let sum = client(&gw, &["--script", "basic", "--tool", "legacy_add", "--args", r#"{"a": 20, "b": 22}"#]).await;
    assert_eq!(sum["call"]["text"], "42", "{sum:#}");
    let slow = client(
        &gw,
        &["--script", "basic", "--tool", "legacy_slow", "--args", r#"{"seconds": 0.2, "steps": 2}"#, "--progress"],
    )
    .await;
    assert_eq!(slow["call"]["progress"], json!([1.0, 2.0]), "{slow:#}");
    // The server goes away: reported, and connected again when it is back on the same port.
    let port = sse.port;
    drop(sse);
    let down = wait_for_state(&gw, "legacy", "error").await;
    assert!(down["reason"].as_str().is_some(), "{down:#}");
    let _back = HttpServer::start(&["--transport", "sse", "--port", &port.to_string()]);
    gw.client.post(gw.url("/api/mcp/client/legacy/reconnect")).send().await.unwrap();
    wait_for_state(&gw, "legacy", "connected").await;
}
