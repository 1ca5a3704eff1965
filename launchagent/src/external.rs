//! Finds an Ollama that runs without Switchyard (Ollama.app, `brew services`, the Linux
//! installer's system unit, or `ollama serve` typed in a terminal), so the caller uses it instead
//! of starting a second copy that would load every model twice.
//!
//! Gathering the evidence (processes, service managers, HTTP) is separate from judging it, so the
//! judgement is tested with plain data.

use std::{collections::HashSet, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{
    health,
    procs::{self, ProcInfo},
};

/// launchd label of `brew services start ollama`.
pub const HOMEBREW_OLLAMA_LABEL: &str = "homebrew.mxcl.ollama";
/// The unit Ollama's Linux install script creates (system manager, not `--user`).
pub const SYSTEM_OLLAMA_UNIT: &str = "ollama";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExternalKind {
    /// The Ollama menu-bar app.
    App,
    /// `brew services start ollama` (launchd `homebrew.mxcl.ollama`).
    Homebrew,
    /// The system unit `ollama.service` on Linux.
    SystemUnit,
    /// `ollama serve` started by hand.
    Manual,
    /// Nothing recognisable, but `GET /api/version` answers like Ollama.
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalServer {
    pub kind: ExternalKind,
    pub pid: Option<u32>,
    /// Where it answered `GET /api/version`, if it did.
    pub base_url: Option<String>,
    pub detail: String,
}

/// Everything that was observed.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    pub processes: &'a [ProcInfo],
    /// Processes of Switchyard's own Ollama service, to be ignored.
    pub own_pids: HashSet<u32>,
    pub homebrew_service_running: bool,
    pub system_unit_running: bool,
    /// The first port (not our own service's) where Ollama's API answered.
    pub answering_port: Option<u16>,
}

/// The most specific explanation of an Ollama we did not start, if there is one.
pub fn classify(e: &Evidence<'_>) -> Option<ExternalServer> {
    let base_url = e.answering_port.map(|p| format!("http://127.0.0.1:{p}"));
    let foreign = |p: &&ProcInfo| !e.own_pids.contains(&p.pid);
    let server_pid = e.processes.iter().filter(foreign).find(|p| procs::is_ollama_server(p)).map(|p| p.pid);
    let found = |kind, pid, detail: &str| {
        Some(ExternalServer { kind, pid, base_url: base_url.clone(), detail: detail.to_owned() })
    };

    if let Some(app) = e.processes.iter().filter(foreign).find(|p| procs::is_ollama_app(p)) {
        return found(ExternalKind::App, server_pid.or(Some(app.pid)), "the Ollama app is running");
    }
    if e.homebrew_service_running {
        return found(ExternalKind::Homebrew, server_pid, "Homebrew's service `homebrew.mxcl.ollama` is running");
    }
    if e.system_unit_running {
        return found(ExternalKind::SystemUnit, server_pid, "the system unit `ollama.service` is active");
    }
    if server_pid.is_some() {
        return found(ExternalKind::Manual, server_pid, "an `ollama serve` process is running");
    }
    if let Some(port) = e.answering_port {
        return found(ExternalKind::Http, None, &format!("something answers Ollama's API on port {port}"));
    }
    None
}

/// Whether Ollama's API answers on `port`: a 2xx to `/api/version` with a `version` field, so a
/// vllm-mlx on the same port (which answers 404 there) is not mistaken for it.
pub fn ollama_answers(port: u16, timeout: Duration) -> bool {
    health::get(&format!("http://127.0.0.1:{port}/api/version"), timeout)
        .is_ok_and(|r| (200..300).contains(&r.status) && r.body.contains("\"version\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procs::proc_info;

    #[test]
    fn nothing_found() {
        assert_eq!(classify(&Evidence::default()), None);
    }

    #[test]
    fn app_wins_and_reports_its_server_pid() {
        let procs = [
            proc_info(100, Some(1), &["/Applications/Ollama.app/Contents/MacOS/Ollama"]),
            proc_info(101, Some(100), &["/Applications/Ollama.app/Contents/Resources/ollama", "serve"]),
        ];
        let found = classify(&Evidence {
            processes: &procs,
            homebrew_service_running: true,
            answering_port: Some(11434),
            ..Evidence::default()
        })
        .expect("found");
        assert_eq!(found.kind, ExternalKind::App);
        assert_eq!(found.pid, Some(101));
        assert_eq!(found.base_url.as_deref(), Some("http://127.0.0.1:11434"));
    }

    #[test]
    fn service_managers_then_hand_started_then_http() {
        let procs = [proc_info(7, Some(1), &["/opt/homebrew/bin/ollama", "serve"])];
        let e = Evidence { processes: &procs, homebrew_service_running: true, ..Evidence::default() };
        assert_eq!(classify(&e).expect("found").kind, ExternalKind::Homebrew);

        let e = Evidence { processes: &procs, system_unit_running: true, ..Evidence::default() };
        assert_eq!(classify(&e).expect("found").kind, ExternalKind::SystemUnit);

        let e = Evidence { processes: &procs, ..Evidence::default() };
        let found = classify(&e).expect("found");
        assert_eq!((found.kind, found.pid), (ExternalKind::Manual, Some(7)));

        let e = Evidence { answering_port: Some(11434), ..Evidence::default() };
        assert_eq!(classify(&e).expect("found").kind, ExternalKind::Http);
    }

    #[test]
    fn our_own_ollama_is_not_external() {
        let procs = [
            proc_info(50, Some(1), &["/opt/homebrew/bin/ollama", "serve"]),
            proc_info(51, Some(50), &["/opt/homebrew/bin/ollama", "runner"]),
        ];
        let e = Evidence { processes: &procs, own_pids: HashSet::from([50, 51]), ..Evidence::default() };
        assert_eq!(classify(&e), None);
    }

    #[test]
    fn http_probe_needs_ollamas_answer() {
        use std::{
            io::{Read, Write},
            net::TcpListener,
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            for reply in [
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"version\":\"0.12.3\"}",
            ] {
                let (mut conn, _) = listener.accept().expect("accept");
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).expect("read");
                conn.write_all(reply.as_bytes()).expect("write");
            }
        });
        assert!(!ollama_answers(port, Duration::from_secs(2)), "a 404 is not Ollama");
        assert!(ollama_answers(port, Duration::from_secs(2)));
        server.join().expect("server");
    }
}
