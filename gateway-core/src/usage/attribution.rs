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
    /// The user id owning the client socket of the loopback connection from `peer` to `local`
    /// (the gateway's end). Blocking. `None`: not found, or not a system that can tell.
    fn owner_uid(&self, peer: SocketAddr, local: SocketAddr) -> Option<u32>;
}

/// The effective user id of this process, to compare peers with; `None` where the platform
/// cannot tell (then nothing is compared).
pub fn own_uid() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        // `/proc/self` belongs to the process's effective user.
        std::fs::metadata("/proc/self").ok().map(|m| m.uid())
    }
    #[cfg(target_os = "macos")]
    {
        macos::own_uid()
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        None
    }
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

    fn owner_uid(&self, _peer: SocketAddr, _local: SocketAddr) -> Option<u32> {
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

        fn owner_uid(&self, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
            let table = if peer.is_ipv4() { "/proc/net/tcp" } else { "/proc/net/tcp6" };
            // An IPv4 client of a dual-stack listener may show in either table.
            [table, "/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|table| {
                std::fs::read_to_string(table).ok().and_then(|t| socket_uid(&t, peer.port(), local.port()))
            })
        }
    }

    /// The `uid` column of the client end of a connection: the socket whose local port is
    /// `peer_port` and remote port `server_port`. A socket in TIME_WAIT (06) has no owner left
    /// (its uid reads 0) and a listening one (0A) is not a connection: both are skipped.
    pub fn socket_uid(table: &str, peer_port: u16, server_port: u16) -> Option<u32> {
        let port = |address: &str| address.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
        table.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if port(fields.get(1)?)? != peer_port || port(fields.get(2)?)? != server_port {
                return None;
            }
            if matches!(*fields.get(3)?, "06" | "0A") {
                return None;
            }
            fields.get(7)?.parse::<u32>().ok()
        })
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

        #[test]
        fn reads_the_uid_of_the_client_end() {
            // Client 0xD431 (uid 1001) to the gateway on 0x7580; the gateway's end is uid 1000.
            let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
               0: 0100007F:7580 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n\
               1: 0100007F:D431 0100007F:7580 01 00000000:00000000 00:00000000 00000000  1001        0 222 1 0 20 4 30 10 -1\n\
               2: 0100007F:7580 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1\n\
               3: 0100007F:D432 0100007F:7580 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0 20 4 30 10 -1\n";
            assert_eq!(super::socket_uid(table, 0xD431, 0x7580), Some(1001));
            assert_eq!(super::socket_uid(table, 0xD432, 0x7580), None, "TIME_WAIT has no owner");
            assert_eq!(super::socket_uid(table, 0xD431, 1), None);
        }

        /// The real table: a loopback connection made here is owned by this process's user.
        #[test]
        fn a_real_loopback_connection_is_this_users() {
            use crate::usage::attribution::PeerLookup;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (_server, peer) = listener.accept().unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            let uid = super::ProcNet.owner_uid(peer, listener.local_addr().unwrap());
            assert_eq!(uid, crate::usage::attribution::own_uid());
            assert!(uid.is_some());
        }
    }
}

#[cfg(target_os = "macos")]
mod macos {
    //! libproc (the `libproc` crate): list every process's descriptors (`PROC_PIDLISTFDS`),
    //! read each socket's `socket_fdinfo` (`PROC_PIDFDSOCKETINFO`) and match the TCP socket
    //! whose local port is the peer's; then the owner's name (`proc_name`).

    use std::net::SocketAddr;

    use libproc::bsd_info::BSDInfo;
    use libproc::file_info::{ListFDs, ProcFDType, pidfdinfo};
    use libproc::net_info::{InSockInfo, SocketFDInfo, SocketInfoKind};
    use libproc::proc_pid::{self, listpidinfo, pidinfo};
    use libproc::processes::{ProcFilter, pids_by_type};

    use super::PeerLookup;

    pub struct LibProc;

    impl PeerLookup for LibProc {
        fn process_name(&self, peer: SocketAddr) -> Option<String> {
            let own = i32::try_from(std::process::id()).ok();
            let mut pids: Vec<i32> = pids_by_type(ProcFilter::All)
                .ok()?
                .into_iter()
                .filter_map(|pid| i32::try_from(pid).ok())
                .filter(|pid| *pid > 0)
                .collect();
            // The peer is usually another process; look at ours last.
            pids.sort_by_key(|pid| Some(*pid) == own);
            let pid = pids.into_iter().find(|pid| owns_socket(*pid, peer.port()))?;
            let name = proc_pid::name(pid).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        }

        /// The owner of the process holding the client socket. Another user's processes cannot
        /// be inspected without root, so a socket held by one is not found: `None`, which the
        /// caller treats as not this user's.
        fn owner_uid(&self, peer: SocketAddr, _local: SocketAddr) -> Option<u32> {
            let own = i32::try_from(std::process::id()).ok();
            let pid = pids_by_type(ProcFilter::All)
                .ok()?
                .into_iter()
                .filter_map(|pid| i32::try_from(pid).ok())
                .filter(|pid| *pid > 0 && Some(*pid) != own)
                .chain(own)
                .find(|pid| owns_socket(*pid, peer.port()))?;
            pidinfo::<BSDInfo>(pid, 0).ok().map(|info| info.pbi_uid)
        }
    }

    /// This process's effective user id (`pbi_uid`).
    pub fn own_uid() -> Option<u32> {
        let pid = i32::try_from(std::process::id()).ok()?;
        pidinfo::<BSDInfo>(pid, 0).ok().map(|info| info.pbi_uid)
    }

    /// Whether process `pid` holds a TCP socket whose local port is `port`. A process that
    /// exits, or that we may not inspect (another user's), does not.
    fn owns_socket(pid: i32, port: u16) -> bool {
        let Ok(info) = pidinfo::<BSDInfo>(pid, 0) else { return false };
        // `pbi_nfiles` is the size of the descriptor table: room for every open descriptor.
        let Ok(fds) = listpidinfo::<ListFDs>(pid, info.pbi_nfiles as usize) else { return false };
        fds.iter()
            .filter(|fd| matches!(ProcFDType::from(fd.proc_fdtype), ProcFDType::Socket))
            .filter_map(|fd| pidfdinfo::<SocketFDInfo>(pid, fd.proc_fd).ok())
            .any(|socket| local_port(&socket) == Some(port))
    }

    /// The local port of a TCP socket (IPv4 or IPv6); `None` for any other socket.
    fn local_port(socket: &SocketFDInfo) -> Option<u16> {
        if !matches!(SocketInfoKind::from(socket.psi.soi_kind), SocketInfoKind::Tcp) {
            return None;
        }
        // The port is kept in network byte order in the low 16 bits.
        u16::try_from(inet_info(socket).insi_lport).ok().map(u16::from_be)
    }

    /// The address part of a TCP socket's `soi_proto`.
    #[allow(unsafe_code)]
    fn inet_info(socket: &SocketFDInfo) -> InSockInfo {
        // SAFETY: reading a union field is the only unsafe step, and no safe API offers it.
        // `soi_proto` is a `#[repr(C)]` union of plain C structs (integers only, every bit
        // pattern valid). `pri_tcp.tcpsi_ini` is an `InSockInfo` at offset 0, the same bytes as
        // `pri_in`, which `SocketFDInfo::default()` initialises before the kernel overwrites the
        // whole `socket_fdinfo`; the caller has checked `soi_kind` is TCP, so they hold a TCP
        // socket's addresses.
        unsafe { socket.psi.soi_proto.pri_tcp.tcpsi_ini }
    }

    #[cfg(test)]
    mod tests {
        use libproc::net_info::SocketInfoProto;

        use super::*;

        #[test]
        fn reads_the_local_port_of_a_tcp_socket_only() {
            let mut socket = SocketFDInfo::default();
            socket.psi.soi_kind = SocketInfoKind::Tcp as i32;
            let ini = InSockInfo { insi_lport: i32::from(54321u16.to_be()), ..InSockInfo::default() };
            socket.psi.soi_proto = SocketInfoProto { pri_in: ini };
            assert_eq!(local_port(&socket), Some(54321));
            socket.psi.soi_kind = SocketInfoKind::Un as i32;
            assert_eq!(local_port(&socket), None);
        }

        /// The real lookup: the client end of a loopback connection is found in this process.
        #[test]
        fn finds_this_process_behind_a_loopback_connection() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let _server = listener.accept().unwrap();
            let peer = client.local_addr().unwrap();
            let expected = proc_pid::name(i32::try_from(std::process::id()).unwrap()).unwrap();
            assert_eq!(LibProc.process_name(peer).as_deref(), Some(expected.trim()));
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
