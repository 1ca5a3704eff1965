//! The headless binary as a user runs it: config errors name the field and exit 2; it serves,
//! and SIGTERM shuts it down cleanly.
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard-gateway");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn a_bad_config_names_the_field_and_exits_2() {
    let file = config_file("[providers.openai]\ntimeout_secs = \"soon\"\n");
    let output = Command::new(BIN).arg("--config").arg(file.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("providers.openai.timeout_secs"), "{stderr}");
}

#[test]
fn serves_and_stops_on_sigterm() {
    let port = free_port();
    let file = config_file("[discovery]\nfrom_env = false\nprobe_local = false\n");
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(file.path())
        .arg("--port")
        .arg(port.to_string())
        .env("OPENAI_API_KEY", "sk-must-not-be-logged-9876")
        .env("XDG_DATA_HOME", data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = false;
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            answered = response.starts_with("HTTP/1.1 200");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(answered, "the gateway answered /health");
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the gateway did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let output = child.wait_with_output().unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(logs.contains("listening"), "{logs}");
    assert!(!logs.contains("sk-must-not-be-logged"), "{logs}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the port is free again");
    // The SQLite usage log is on by default, in the OS data dir.
    let usage = data.path().join("switchyard/usage.sqlite3");
    assert!(usage.exists(), "the usage log is at {}", usage.display());
}
