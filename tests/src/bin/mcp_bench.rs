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
//!       an rmcp client: one session to each URL (initialize), then per round, direct then
//!       gateway, `warmup` calls and `n` timed calls, one at a time; prints p50/p90/p99 per path
//!       and the added p50 (markdown), and writes the figures as JSON
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
        /// Where to write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Extra fields for the JSON file (date, machine, git revision).
        #[arg(long = "note", value_name = "KEY=VALUE")]
        notes: Vec<String>,
    },
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

async fn connect(url: &str) -> Result<Client, String> {
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("switchyard-mcp-bench", env!("CARGO_PKG_VERSION")),
    );
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
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
    let ms = |us: f64| (us / 1000.0 * 1e4).round() / 1e4;
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

async fn run(command: Command) -> Result<(), String> {
    let Command::Run { direct, gateway, direct_tool, gateway_tool, n, warmup, rounds, gateway_pid, json, notes } =
        command
    else {
        return Err("not the run command".into());
    };
    if n == 0 || rounds == 0 {
        return Err("--n and --rounds must be at least 1".into());
    }
    let arguments = echo_arguments();
    let direct_client = connect(&direct).await?;
    let gateway_client = connect(&gateway).await?;
    call(&direct_client, &direct_tool, &arguments).await?;
    wait_for_tool(&gateway_client, &gateway_tool, &arguments).await?;

    let mut direct_rounds = Vec::new();
    let mut gateway_rounds = Vec::new();
    let mut gateway_cpu = 0.0;
    let mut gateway_cpu_known = gateway_pid.is_some();
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}: direct, then through the gateway ({warmup} warm-up + {n} timed calls each)");
        timed_calls(&direct_client, &direct_tool, &arguments, warmup).await?;
        direct_rounds.push(timed_calls(&direct_client, &direct_tool, &arguments, n).await?);
        timed_calls(&gateway_client, &gateway_tool, &arguments, warmup).await?;
        let before = gateway_pid.and_then(cpu_seconds);
        gateway_rounds.push(timed_calls(&gateway_client, &gateway_tool, &arguments, n).await?);
        match (before, gateway_pid.and_then(cpu_seconds)) {
            (Some(before), Some(after)) => gateway_cpu += after - before,
            _ => gateway_cpu_known = false,
        }
    }
    let _ = direct_client.cancel().await;
    let _ = gateway_client.cancel().await;

    let direct = summarize(&direct_rounds);
    let gateway = summarize(&gateway_rounds);
    let added_p50 = gateway.p50 - direct.p50;
    let round_added: Vec<f64> = gateway.round_p50.iter().zip(&direct.round_p50).map(|(g, d)| g - d).collect();
    let added_median_of_rounds = median(&round_added);
    let cpu_us_per_call = gateway_cpu_known.then(|| gateway_cpu / gateway.calls as f64 * 1e6);
    let met = added_p50 / 1000.0 <= TARGET_ADDED_P50_MS;

    let ms = |us: f64| us / 1000.0;
    println!("MCP tools/call, {rounds} interleaved rounds of {n} sequential calls per path ({warmup} warm-up each)");
    println!();
    println!("| path | calls | p50 ms | p90 ms | p99 ms | mean ms | round p50s ms |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (name, summary) in [("direct (rmcp server)", &direct), ("through Switchyard /mcp", &gateway)] {
        let rounds: Vec<String> = summary.round_p50.iter().map(|&us| format!("{:.3}", ms(us))).collect();
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            summary.calls,
            ms(summary.p50),
            ms(summary.p90),
            ms(summary.p99),
            ms(summary.mean),
            rounds.join(", ")
        );
    }
    println!(
        "| added by the gateway | | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
        ms(added_p50),
        ms(gateway.p90 - direct.p90),
        ms(gateway.p99 - direct.p99),
        ms(gateway.mean - direct.mean),
        round_added.iter().map(|&us| format!("{:.3}", ms(us))).collect::<Vec<_>>().join(", ")
    );
    println!();
    println!(
        "added p50: {:.3} ms (median of the rounds' {:.3} ms); target ≤ {TARGET_ADDED_P50_MS} ms: {}",
        ms(added_p50),
        ms(added_median_of_rounds),
        if met { "met" } else { "NOT met" }
    );
    if let Some(cpu) = cpu_us_per_call {
        println!("gateway CPU per call: {cpu:.0} µs (user+sys, /proc, 10 ms ticks over the timed calls)");
    }

    if let Some(path) = json {
        let mut out = json!({
            "calls_per_round": n,
            "warmup_per_round": warmup,
            "rounds": rounds,
            "direct": summary_json(&direct),
            "gateway": summary_json(&gateway),
            "added_p50_ms": (ms(added_p50) * 1e4).round() / 1e4,
            "added_p90_ms": (ms(gateway.p90 - direct.p90) * 1e4).round() / 1e4,
            "added_p99_ms": (ms(gateway.p99 - direct.p99) * 1e4).round() / 1e4,
            "added_p50_ms_median_of_rounds": (ms(added_median_of_rounds) * 1e4).round() / 1e4,
            "target_added_p50_ms": TARGET_ADDED_P50_MS,
            "target_met": met,
            "gateway_cpu_us_per_call": cpu_us_per_call.map(|us| us.round()),
        });
        if let Value::Object(fields) = &mut out {
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
