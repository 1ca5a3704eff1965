//! Who is calling: the tool behind each request. In order: the `x-switchyard-client` header;
//! the User-Agent and the tools' own headers (Claude Code, Codex, Gemini CLI, aider, OpenCode,
//! the OpenAI and Anthropic SDKs, curl, …); else the process at the other end of the loopback
//! connection, found from the peer port (`PeerLookup`) and cached per connection. Also reads the
//! client's session id. Nothing else from the request is kept; never the Authorization header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, header};

/// Header a caller sets to name itself.
pub const CLIENT_HEADER: &str = "x-switchyard-client";
// Header names built once: a lookup by `&str` parses the name again every time.
const CLIENT: HeaderName = HeaderName::from_static(CLIENT_HEADER);
const ORIGINATOR: HeaderName = HeaderName::from_static("originator");
/// Session ids: Claude Code, then Codex.
const SESSION_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-claude-code-session-id"),
    HeaderName::from_static("session-id"),
    HeaderName::from_static("x-session-id"),
];
/// Longest client name or session id kept.
const MAX_LEN: usize = 128;

/// What attribution found about a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub client: Option<String>,
    pub session_id: Option<String>,
    pub user_agent: Option<String>,
}

/// Identifies the caller. Awaits a peer-process lookup (off the runtime's threads) only for a
/// request with no recognisable header, and only once per connection.
pub async fn identify(headers: &HeaderMap, peer: Option<SocketAddr>) -> Caller {
    let mut caller = from_headers(headers);
    if caller.client.is_none()
        && let Some(peer) = peer.filter(|p| p.ip().is_loopback())
    {
        caller.client = peer_process(peer).await;
    }
    if caller.client.is_none() {
        caller.client = caller.user_agent.as_deref().and_then(product_token);
    }
    caller
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn clean(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(MAX_LEN).collect()
}

/// Attribution from the headers alone.
pub fn from_headers(headers: &HeaderMap) -> Caller {
    let user_agent = header(headers, &header::USER_AGENT).map(clean);
    let session_id = SESSION_HEADERS.iter().find_map(|name| header(headers, name)).map(clean);
    let client = header(headers, &CLIENT)
        .map(clean)
        .or_else(|| header(headers, &ORIGINATOR).and_then(known_originator).map(str::to_owned))
        .or_else(|| user_agent.as_deref().and_then(known_agent).map(str::to_owned));
    Caller { client, session_id, user_agent }
}

/// Codex sends `originator: codex_cli_rs` (or `codex_exec`, `codex_vscode`).
fn known_originator(originator: &str) -> Option<&'static str> {
    originator.starts_with("codex").then_some("codex")
}

/// The tools Switchyard knows by their User-Agent. First match wins, so wrappers come before the
/// SDKs they are built on.
const AGENTS: &[(&str, &str)] = &[
    ("claude-cli/", "claude-code"),
    ("claude-code", "claude-code"),
    ("codex_", "codex"),
    ("codex-", "codex"),
    ("geminicli", "gemini-cli"),
    ("gemini-cli", "gemini-cli"),
    // Google's genai SDKs (Python and JS), after Gemini CLI, which is built on the JS one.
    ("google-genai-sdk/", "google-genai"),
    ("aider", "aider"),
    ("litellm", "litellm"),
    ("opencode", "opencode"),
    ("ai-sdk", "opencode"),
    ("openai/python", "openai-python"),
    ("openai/js", "openai-js"),
    ("anthropic/python", "anthropic-python"),
    ("anthropic/js", "anthropic-js"),
    ("anthropic/", "anthropic-sdk"),
    ("curl/", "curl"),
    ("wget/", "wget"),
    ("python-requests/", "python-requests"),
    ("python-httpx/", "python-httpx"),
    ("python-urllib/", "python-urllib"),
    ("aiohttp/", "python-aiohttp"),
    ("node-fetch", "node"),
    ("undici", "node"),
    ("go-http-client/", "go"),
    ("httpie/", "httpie"),
];

/// A known tool from a User-Agent (case-insensitive substring match).
pub fn known_agent(user_agent: &str) -> Option<&'static str> {
    let lower = user_agent.to_ascii_lowercase();
    AGENTS.iter().find(|(needle, _)| lower.contains(needle)).map(|(_, name)| *name)
}

/// An unknown User-Agent's product name: `MyTool/1.2 (…)` → `mytool`.
fn product_token(user_agent: &str) -> Option<String> {
    let token = user_agent.split(['/', ' ']).next()?.trim().to_ascii_lowercase();
    (!token.is_empty()).then(|| token.chars().take(32).collect())
}

/// The process on the other end of a loopback connection.
pub trait PeerLookup: Send + Sync {
    /// The name of the process that owns the socket whose local address is `peer`. Blocking.
    fn process_name(&self, peer: SocketAddr) -> Option<String>;
}

/// Answers for this platform: /proc on Linux, libproc on macOS, `None` elsewhere.
pub fn platform_lookup() -> &'static dyn PeerLookup {
    #[cfg(target_os = "linux")]
    {
        &linux::ProcNet
    }
    #[cfg(target_os = "macos")]
    {
        &macos::LibProc
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        &Unsupported
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
struct Unsupported;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
impl PeerLookup for Unsupported {
    fn process_name(&self, _peer: SocketAddr) -> Option<String> {
        None
    }
}

/// Peer lookups, cached per connection (peer address) for a while.
type PeerCache = HashMap<SocketAddr, (Instant, Option<Arc<str>>)>;
static PEER_CACHE: LazyLock<Mutex<PeerCache>> = LazyLock::new(|| Mutex::new(HashMap::new()));
const PEER_TTL: Duration = Duration::from_secs(30);
const PEER_CACHE_MAX: usize = 4096;

async fn peer_process(peer: SocketAddr) -> Option<String> {
    if let Ok(cache) = PEER_CACHE.lock()
        && let Some((at, name)) = cache.get(&peer)
        && at.elapsed() < PEER_TTL
    {
        return name.as_deref().map(str::to_owned);
    }
    let name = tokio::task::spawn_blocking(move || platform_lookup().process_name(peer)).await.ok().flatten();
    if let Ok(mut cache) = PEER_CACHE.lock() {
        if cache.len() >= PEER_CACHE_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < PEER_TTL);
            if cache.len() >= PEER_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(peer, (Instant::now(), name.as_deref().map(Arc::from)));
    }
    name
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::SocketAddr;

    use super::PeerLookup;

    /// `/proc/net/tcp(6)` gives the inode of the socket whose local port is the peer's port;
    /// `/proc/*/fd` gives the process holding it; `/proc/<pid>/comm` its name.
    pub struct ProcNet;

    impl PeerLookup for ProcNet {
        fn process_name(&self, peer: SocketAddr) -> Option<String> {
            let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
                .iter()
                .find_map(|table| std::fs::read_to_string(table).ok().and_then(|t| socket_inode(&t, peer.port())))?;
            let target = format!("socket:[{inode}]");
            for entry in std::fs::read_dir("/proc").ok()?.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
                let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
                for fd in fds.flatten() {
                    if std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target.as_str()) {
                        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                        let comm = comm.trim();
                        return (!comm.is_empty()).then(|| comm.to_owned());
                    }
                }
            }
            None
        }
    }

    /// The inode of the established socket whose local port is `port`.
    pub fn socket_inode(table: &str, port: u16) -> Option<u64> {
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let state = fields.get(3)?;
            if u16::from_str_radix(local_port, 16).ok()? != port || *state != "01" {
                return None;
            }
            fields.get(9)?.parse::<u64>().ok().filter(|inode| *inode != 0)
        })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn finds_the_established_socket_by_local_port() {
            let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
               0: 0100007F:7580 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n\
               1: 0100007F:D431 0100007F:7580 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1\n\
               2: 0100007F:7580 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1\n";
            assert_eq!(super::socket_inode(table, 0xD431), Some(222));
            assert_eq!(super::socket_inode(table, 0x7580), Some(333));
            assert_eq!(super::socket_inode(table, 1), None);
        }
    }
}

#[cfg(target_os = "macos")]
mod macos {
    //! libproc: list every process's descriptors (`PROC_PIDLISTFDS`), read each socket's
    //! `socket_fdinfo` (`PROC_PIDFDSOCKETINFO`) and match the TCP socket whose local port is the
    //! peer's. libc has the functions but not `socket_fdinfo`, so its fields are read at their
    //! offsets in `<sys/proc_info.h>` (stable since 10.5), checked against the socket's kind and
    //! family before the port is trusted.

    use std::ffi::{c_int, c_void};
    use std::net::SocketAddr;

    use super::PeerLookup;

    const PROC_PIDFDSOCKETINFO: c_int = 3;
    /// `sizeof(struct socket_fdinfo)` is 792; a little more room costs nothing.
    const SOCKET_FDINFO_SIZE: usize = 1024;
    /// Offsets in `struct socket_fdinfo`: `pfi` (24 bytes) then `struct socket_info`, whose
    /// `soi_family` is at 160, `soi_kind` at 232 and `soi_proto` (`in_sockinfo` / `tcp_sockinfo`,
    /// `insi_fport` then `insi_lport`) at 240.
    const FAMILY_AT: usize = 24 + 160;
    const KIND_AT: usize = 24 + 232;
    const LPORT_AT: usize = 24 + 240 + 4;
    const SOCKINFO_TCP: i32 = 2;

    pub struct LibProc;

    impl PeerLookup for LibProc {
        fn process_name(&self, peer: SocketAddr) -> Option<String> {
            let own = std::process::id() as c_int;
            // The peer is usually another process; look at ours last.
            let mut pids = all_pids();
            pids.sort_by_key(|pid| *pid == own);
            pids.into_iter().find(|pid| owns_socket(*pid, peer.port())).and_then(name)
        }
    }

    fn all_pids() -> Vec<c_int> {
        // SAFETY: a null buffer asks for the count; the buffer passed next is as large as stated.
        unsafe {
            let count = libc::proc_listallpids(std::ptr::null_mut(), 0);
            if count <= 0 {
                return Vec::new();
            }
            let mut pids = vec![0 as c_int; count as usize + 64];
            let size = (pids.len() * size_of::<c_int>()) as c_int;
            let found = libc::proc_listallpids(pids.as_mut_ptr().cast::<c_void>(), size);
            pids.truncate(found.max(0) as usize);
            pids.retain(|pid| *pid > 0);
            pids
        }
    }

    fn owns_socket(pid: c_int, port: u16) -> bool {
        let entry = size_of::<libc::proc_fdinfo>();
        // SAFETY: each call gets a buffer of the size it is told; results are bounds-checked.
        unsafe {
            let bytes = libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0);
            if bytes <= 0 {
                return false;
            }
            let mut fds: Vec<libc::proc_fdinfo> = Vec::with_capacity(bytes as usize / entry + 16);
            let size = (fds.capacity() * entry) as c_int;
            let bytes = libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, fds.as_mut_ptr().cast::<c_void>(), size);
            if bytes <= 0 {
                return false;
            }
            fds.set_len((bytes as usize / entry).min(fds.capacity()));
            let mut info = [0u8; SOCKET_FDINFO_SIZE];
            fds.iter().filter(|fd| fd.proc_fdtype == libc::PROX_FDTYPE_SOCKET as u32).any(|fd| {
                let read = libc::proc_pidfdinfo(
                    pid,
                    fd.proc_fd,
                    PROC_PIDFDSOCKETINFO,
                    info.as_mut_ptr().cast::<c_void>(),
                    SOCKET_FDINFO_SIZE as c_int,
                );
                read > 0 && local_port(&info[..(read as usize).min(SOCKET_FDINFO_SIZE)]) == Some(port)
            })
        }
    }

    /// The local port of a TCP socket described by a `socket_fdinfo`.
    fn local_port(info: &[u8]) -> Option<u16> {
        let int = |at: usize| info.get(at..at + 4).map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let family = int(FAMILY_AT)?;
        if int(KIND_AT)? != SOCKINFO_TCP || !(family == libc::AF_INET || family == libc::AF_INET6) {
            return None;
        }
        // The port is kept in network byte order in the low 16 bits.
        Some(u16::from_be(int(LPORT_AT)? as u16))
    }

    fn name(pid: c_int) -> Option<String> {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is as large as stated.
        let len = unsafe { libc::proc_name(pid, buf.as_mut_ptr().cast::<c_void>(), buf.len() as u32) };
        let name = String::from_utf8_lossy(buf.get(..len.max(0) as usize)?).trim().to_owned();
        (!name.is_empty()).then_some(name)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_the_local_port_of_a_tcp_socket_only() {
            let mut info = [0u8; 792];
            info[FAMILY_AT..FAMILY_AT + 4].copy_from_slice(&libc::AF_INET.to_ne_bytes());
            info[KIND_AT..KIND_AT + 4].copy_from_slice(&SOCKINFO_TCP.to_ne_bytes());
            info[LPORT_AT..LPORT_AT + 4].copy_from_slice(&i32::from(54321u16.to_be()).to_ne_bytes());
            assert_eq!(local_port(&info), Some(54321));
            info[KIND_AT] = 1;
            assert_eq!(local_port(&info), None);
            assert_eq!(local_port(&info[..100]), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn header_then_user_agent() {
        let caller = from_headers(&headers(&[("x-switchyard-client", "my-script"), ("user-agent", "curl/8.5.0")]));
        assert_eq!(caller.client.as_deref(), Some("my-script"));
        let cases = [
            ("claude-cli/1.0.83 (external, cli)", "claude-code"),
            ("codex_exec/0.40.0 (Mac OS 15.6.1; arm64)", "codex"),
            ("GeminiCLI/0.1.5 (darwin; arm64)", "gemini-cli"),
            ("GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview (linux; x64) google-genai-sdk/1.30.0", "gemini-cli"),
            ("google-genai-sdk/3.4.0 gl-python/3.11.2", "google-genai"),
            ("OpenAI/Python 1.99.9", "openai-python"),
            ("OpenAI/JS 5.12.0", "openai-js"),
            ("Anthropic/Python 0.64.0", "anthropic-python"),
            ("opencode/0.5.1 ai-sdk/provider-utils/3.0.1", "opencode"),
            ("ai-sdk/openai-compatible/1.0.1", "opencode"),
            ("litellm/1.75.0", "litellm"),
            ("curl/8.5.0", "curl"),
            ("python-requests/2.32.3", "python-requests"),
        ];
        for (agent, expected) in cases {
            assert_eq!(known_agent(agent), Some(expected), "{agent}");
        }
        let codex = from_headers(&headers(&[("originator", "codex_cli_rs"), ("session-id", "abc-123")]));
        assert_eq!(codex.client.as_deref(), Some("codex"));
        assert_eq!(codex.session_id.as_deref(), Some("abc-123"));
        let claude = from_headers(&headers(&[("x-claude-code-session-id", "s-1"), ("user-agent", "claude-cli/2.0")]));
        assert_eq!((claude.client.as_deref(), claude.session_id.as_deref()), (Some("claude-code"), Some("s-1")));
        assert_eq!(product_token("MyTool/1.2 (x)").as_deref(), Some("mytool"));
    }
}
