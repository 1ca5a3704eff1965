//! `switchyard-mcp-bench`: what a `tools/call` through the gateway's `/mcp` adds over calling the
//! same MCP server directly (the target: at most 0.5 ms p50). `scripts/bench --mcp` runs
//! it; everything is on 127.0.0.1.
//!
//!   switchyard-mcp-bench serve [--port P]
//!       a tiny MCP server made with the official Rust SDK (rmcp), one `echo` tool, over
//!       Streamable HTTP at `/mcp` (the SDK's defaults: sessions, answers as SSE); prints
//!       `READY <port>` once it listens
//!   switchyard-mcp-bench run --direct URL --gateway URL [--n 2000] [--warmup 200] [--rounds 3]
//!       [--gateway-pid PID] [--json FILE] [--note KEY=VALUE]...
//!       rmcp clients, one session to each URL (initialize), then per round, direct then
//!       gateway, `warmup` calls and `n` timed calls, one at a time; prints p50/p90/p99 per path
//!       and the added p50 (markdown), and writes the figures as JSON. Two kinds of client, each
//!       measured (`--clients`): `keepalive`, a pooled reqwest client (connections kept open, as
//!       the Python and TypeScript SDKs' clients and the gateway's own upstream client do), and
//!       `per-call`, rmcp's default client (`StreamableHttpClientTransport::from_uri`: no idle
//!       pool, so a new TCP connection for every request)
//!
//! The gateway is expected to serve the bench server as `bench` (its tool is `bench_echo`).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig, ContentBlock, ErrorCode,
    ErrorData, Implementation, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

/// The target for the added p50, in ms.
const TARGET_ADDED_P50_MS: f64 = 0.5;
/// The text echoed by every call (a short argument, as most tool calls carry).
const ECHO_TEXT: &str = "hello from switchyard-mcp-bench";

#[derive(Parser)]
#[command(name = "switchyard-mcp-bench", about = "MCP tools/call latency: direct and through Switchyard's /mcp")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the `echo` tool over Streamable HTTP at http://127.0.0.1:PORT/mcp.
    Serve {
        /// 0 picks a free port (printed as `READY <port>`).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Time `tools/call` directly and through the gateway, in interleaved rounds.
    Run {
        /// The bench server's MCP URL.
        #[arg(long)]
        direct: String,
        /// The gateway's MCP URL (`http://127.0.0.1:PORT/mcp`).
        #[arg(long)]
        gateway: String,
        /// The tool's name on the bench server.
        #[arg(long, default_value = "echo")]
        direct_tool: String,
        /// The tool's name as the gateway serves it.
        #[arg(long, default_value = "bench_echo")]
        gateway_tool: String,
        /// Timed calls per path per round.
        #[arg(long, default_value_t = 2000)]
        n: usize,
        /// Untimed calls before each path's timed calls, in every round.
        #[arg(long, default_value_t = 200)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The gateway's process: its CPU time per call is reported (/proc/PID/stat).
        #[arg(long)]
        gateway_pid: Option<u32>,
        /// Which clients to measure: keepalive, per-call or both.
        #[arg(long, value_enum, default_value_t = Clients::Both)]
        clients: Clients,
        /// Where to write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Extra fields for the JSON file (date, machine, git revision).
        #[arg(long = "note", value_name = "KEY=VALUE")]
        notes: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Clients {
    Keepalive,
    PerCall,
    Both,
}

/// How a client reaches its server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    /// A pooled reqwest client: one connection, kept open.
    KeepAlive,
    /// rmcp's default client: no idle pool, a new connection per request.
    PerCall,
}

impl ClientKind {
    fn key(self) -> &'static str {
        match self {
            ClientKind::KeepAlive => "keepalive",
            ClientKind::PerCall => "per_call",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ClientKind::KeepAlive => "keep-alive client",
            ClientKind::PerCall => "rmcp default client (new connection per call)",
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Serve { port } => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| err.to_string())
            .and_then(|runtime| runtime.block_on(serve(port))),
        // The client is one task making one call at a time: a single-threaded runtime keeps its
        // own noise low (its process is pinned to one CPU by scripts/bench anyway).
        Command::Run { .. } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| err.to_string())
            .and_then(|runtime| runtime.block_on(run(args.command))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchyard-mcp-bench: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

// ----- the server -----

/// One tool, `echo`: answers its `text` argument as a text block.
#[derive(Clone)]
struct EchoServer;

fn echo_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": { "text": { "type": "string" } },
        "required": ["text"],
    });
    let Value::Object(schema) = schema else { unreachable!("a JSON object literal") };
    Tool::new("echo", "Answers its `text` argument.", Arc::new(schema))
}

impl rmcp::ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("switchyard-mcp-bench", env!("CARGO_PKG_VERSION"));
        info
    }

    fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, ErrorData>> + Send + '_ {
        std::future::ready(Ok(ListToolsResult::with_all_items(vec![echo_tool()])))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        (name == "echo").then(echo_tool)
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + Send + '_ {
        let answer = if request.name == "echo" {
            let text =
                request.arguments.as_ref().and_then(|args| args.get("text")).and_then(Value::as_str).unwrap_or("");
            Ok(CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(text)])))
        } else {
            Err(ErrorData::new(ErrorCode(-32602), format!("no tool `{}`", request.name), None))
        };
        std::future::ready(answer)
    }
}

async fn serve(port: u16) -> Result<(), String> {
    use axum::serve::ListenerExt;

    let service = StreamableHttpService::new(
        || Ok(EchoServer),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().route_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|err| format!("bind: {err}"))?;
    let port = listener.local_addr().map_err(|err| err.to_string())?.port();
    println!("READY {port}");
    // Small answers written in parts (SSE) must not wait on Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await.map_err(|err| format!("serve: {err}"))
}

// ----- the client -----

type Client = RunningService<RoleClient, ClientConfig>;

async fn connect(url: &str, kind: ClientKind) -> Result<Client, String> {
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("switchyard-mcp-bench", env!("CARGO_PKG_VERSION")),
    );
    let transport = match kind {
        ClientKind::PerCall => StreamableHttpClientTransport::from_uri(url.to_owned()),
        ClientKind::KeepAlive => {
            let http = reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .map_err(|err| format!("cannot build an HTTP client: {err}"))?;
            StreamableHttpClientTransport::with_client(
                http,
                StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
            )
        }
    };
    info.serve(transport).await.map_err(|err| format!("cannot connect to {url}: {err}"))
}

fn echo_arguments() -> JsonObject {
    let mut arguments = JsonObject::new();
    arguments.insert("text".into(), Value::String(ECHO_TEXT.into()));
    arguments
}

async fn call(client: &Client, tool: &str, arguments: &JsonObject) -> Result<(), String> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = Some(arguments.clone());
    let result = client.call_tool(params).await.map_err(|err| format!("tools/call {tool}: {err}"))?;
    let text = result.content.first().and_then(ContentBlock::as_text).map(|t| t.text.as_str());
    if result.is_error == Some(true) || text != Some(ECHO_TEXT) {
        return Err(format!("tools/call {tool} answered {result:?}"));
    }
    Ok(())
}

/// `n` sequential calls; each one's time in µs.
async fn timed_calls(client: &Client, tool: &str, arguments: &JsonObject, n: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call(client, tool, arguments).await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(times)
}

/// The gateway connects to its MCP servers after it starts listening: wait until it serves the tool.
async fn wait_for_tool(client: &Client, tool: &str, arguments: &JsonObject) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call(client, tool, arguments).await {
            Ok(()) => return Ok(()),
            Err(err) if Instant::now() > deadline => return Err(format!("the gateway never served it: {err}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// utime + stime of a process (all its threads, the exited ones too), in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses; utime and stime are
    // fields 14 and 15, i.e. the 12th and 13th after the `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    Some((utime + stime) / 100.0)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

struct Summary {
    calls: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
    max: f64,
    round_p50: Vec<f64>,
}

fn summarize(rounds: &[Vec<f64>]) -> Summary {
    let mut all: Vec<f64> = rounds.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let round_p50 = rounds
        .iter()
        .map(|round| {
            let mut sorted = round.clone();
            sorted.sort_by(f64::total_cmp);
            percentile(&sorted, 50.0)
        })
        .collect();
    Summary {
        calls: all.len(),
        p50: percentile(&all, 50.0),
        p90: percentile(&all, 90.0),
        p99: percentile(&all, 99.0),
        mean: all.iter().sum::<f64>() / all.len().max(1) as f64,
        max: all.last().copied().unwrap_or(f64::NAN),
        round_p50,
    }
}

fn summary_json(summary: &Summary) -> Value {
    let ms = ms4;
    json!({
        "calls": summary.calls,
        "p50_ms": ms(summary.p50),
        "p90_ms": ms(summary.p90),
        "p99_ms": ms(summary.p99),
        "mean_ms": ms(summary.mean),
        "max_ms": ms(summary.max),
        "round_p50_ms": summary.round_p50.iter().map(|&us| ms(us)).collect::<Vec<_>>(),
    })
}

/// One client kind's figures: direct and through the gateway.
struct KindResult {
    kind: ClientKind,
    direct: Summary,
    gateway: Summary,
    cpu_us_per_call: Option<f64>,
}

impl KindResult {
    fn added_p50(&self) -> f64 {
        self.gateway.p50 - self.direct.p50
    }

    fn round_added(&self) -> Vec<f64> {
        self.gateway.round_p50.iter().zip(&self.direct.round_p50).map(|(g, d)| g - d).collect()
    }
}

fn ms(us: f64) -> f64 {
    us / 1000.0
}

fn ms4(us: f64) -> f64 {
    (us / 1000.0 * 1e4).round() / 1e4
}

async fn run(command: Command) -> Result<(), String> {
    let Command::Run {
        direct,
        gateway,
        direct_tool,
        gateway_tool,
        n,
        warmup,
        rounds,
        gateway_pid,
        clients,
        json,
        notes,
    } = command
    else {
        return Err("not the run command".into());
    };
    if n == 0 || rounds == 0 {
        return Err("--n and --rounds must be at least 1".into());
    }
    let kinds: &[ClientKind] = match clients {
        Clients::Keepalive => &[ClientKind::KeepAlive],
        Clients::PerCall => &[ClientKind::PerCall],
        Clients::Both => &[ClientKind::KeepAlive, ClientKind::PerCall],
    };
    let arguments = echo_arguments();
    // Per kind: the two sessions, each path's rounds, the gateway's CPU seconds over its timed calls.
    struct Paths {
        kind: ClientKind,
        direct: Client,
        gateway: Client,
        direct_rounds: Vec<Vec<f64>>,
        gateway_rounds: Vec<Vec<f64>>,
        gateway_cpu: Option<f64>,
    }
    let mut paths = Vec::new();
    for &kind in kinds {
        let direct_client = connect(&direct, kind).await?;
        let gateway_client = connect(&gateway, kind).await?;
        call(&direct_client, &direct_tool, &arguments).await?;
        wait_for_tool(&gateway_client, &gateway_tool, &arguments).await?;
        paths.push(Paths {
            kind,
            direct: direct_client,
            gateway: gateway_client,
            direct_rounds: Vec::new(),
            gateway_rounds: Vec::new(),
            gateway_cpu: gateway_pid.map(|_| 0.0),
        });
    }

    for round in 1..=rounds {
        for path in &mut paths {
            eprintln!(
                "round {round}/{rounds}, {}: direct, then through the gateway ({warmup} warm-up + {n} timed calls each)",
                path.kind.label()
            );
            timed_calls(&path.direct, &direct_tool, &arguments, warmup).await?;
            path.direct_rounds.push(timed_calls(&path.direct, &direct_tool, &arguments, n).await?);
            timed_calls(&path.gateway, &gateway_tool, &arguments, warmup).await?;
            let before = gateway_pid.and_then(cpu_seconds);
            path.gateway_rounds.push(timed_calls(&path.gateway, &gateway_tool, &arguments, n).await?);
            path.gateway_cpu = match (path.gateway_cpu, before, gateway_pid.and_then(cpu_seconds)) {
                (Some(total), Some(before), Some(after)) => Some(total + after - before),
                _ => None,
            };
        }
    }

    let mut results = Vec::new();
    for path in paths {
        let _ = path.direct.cancel().await;
        let _ = path.gateway.cancel().await;
        let gateway = summarize(&path.gateway_rounds);
        results.push(KindResult {
            kind: path.kind,
            direct: summarize(&path.direct_rounds),
            cpu_us_per_call: path.gateway_cpu.map(|cpu| cpu / gateway.calls as f64 * 1e6),
            gateway,
        });
    }

    println!("MCP tools/call, {rounds} interleaved rounds of {n} sequential calls per path ({warmup} warm-up each)");
    println!();
    println!("| client | path | calls | p50 ms | p90 ms | p99 ms | mean ms | round p50s ms |");
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    let rounds_text = |values: &[f64]| values.iter().map(|&us| format!("{:.3}", ms(us))).collect::<Vec<_>>().join(", ");
    for result in &results {
        for (name, summary) in [("direct (rmcp server)", &result.direct), ("through Switchyard /mcp", &result.gateway)]
        {
            println!(
                "| {} | {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                result.kind.label(),
                summary.calls,
                ms(summary.p50),
                ms(summary.p90),
                ms(summary.p99),
                ms(summary.mean),
                rounds_text(&summary.round_p50)
            );
        }
        println!(
            "| {} | **added by the gateway** | | **{:.3}** | {:.3} | {:.3} | {:.3} | {} |",
            result.kind.label(),
            ms(result.added_p50()),
            ms(result.gateway.p90 - result.direct.p90),
            ms(result.gateway.p99 - result.direct.p99),
            ms(result.gateway.mean - result.direct.mean),
            rounds_text(&result.round_added())
        );
    }
    println!();
    for result in &results {
        let met = ms(result.added_p50()) <= TARGET_ADDED_P50_MS;
        print!(
            "{}: added p50 {:.3} ms (median of the rounds' {:.3} ms), target ≤ {TARGET_ADDED_P50_MS} ms: {}",
            result.kind.label(),
            ms(result.added_p50()),
            ms(median(&result.round_added())),
            if met { "met" } else { "NOT met" }
        );
        match result.cpu_us_per_call {
            Some(cpu) => println!("; gateway CPU {cpu:.0} µs per call (user+sys, /proc, 10 ms ticks)"),
            None => println!(),
        }
    }

    if let Some(path) = json {
        let mut out = json!({
            "calls_per_round": n,
            "warmup_per_round": warmup,
            "rounds": rounds,
            "target_added_p50_ms": TARGET_ADDED_P50_MS,
        });
        if let Value::Object(fields) = &mut out {
            for result in &results {
                fields.insert(
                    result.kind.key().to_owned(),
                    json!({
                        "client": result.kind.label(),
                        "direct": summary_json(&result.direct),
                        "gateway": summary_json(&result.gateway),
                        "added_p50_ms": ms4(result.added_p50()),
                        "added_p90_ms": ms4(result.gateway.p90 - result.direct.p90),
                        "added_p99_ms": ms4(result.gateway.p99 - result.direct.p99),
                        "added_p50_ms_median_of_rounds": ms4(median(&result.round_added())),
                        "target_met": ms(result.added_p50()) <= TARGET_ADDED_P50_MS,
                        "gateway_cpu_us_per_call": result.cpu_us_per_call.map(f64::round),
                    }),
                );
            }
            for note in &notes {
                let (key, value) = note.split_once('=').ok_or_else(|| format!("--note {note}: expected KEY=VALUE"))?;
                fields.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&out).map_err(|err| err.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|err| format!("{}: {err}", path.display()))?;
    }
    Ok(())
}
