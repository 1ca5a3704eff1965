//! `switchyard-mock`: serves the mock LLM provider until Ctrl-C (or SIGTERM).
//!
//! ```text
//! switchyard-mock --port 30999 [--host 127.0.0.1] [--latency-ms N] [--stream-chunks N]
//!                 [--models a,b] [--ollama] [--no-record]
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use switchyard_mock::{MockOptions, MockUpstream};

/// A fake LLM provider (OpenAI, Anthropic, Gemini, Ollama shapes); the model name chooses the
/// behaviour (echo, tool, reasoning, status-429, stream-delay-50, hang, cut-mid-stream, bench…).
#[derive(Parser, Debug)]
#[command(name = "switchyard-mock", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 30999)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Fixed delay before answering every inference request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Text chunks in a streamed answer.
    #[arg(long, default_value_t = 3)]
    stream_chunks: usize,
    /// Model ids served by the model lists (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "mock-model")]
    models: Vec<String>,
    /// Also answer Ollama's /api/tags and /api/version.
    #[arg(long)]
    ollama: bool,
    /// Do not record requests (long benchmarks: memory stays flat).
    #[arg(long)]
    no_record: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = MockOptions {
        models: args.models,
        latency: Duration::from_millis(args.latency_ms),
        ollama: args.ollama,
        stream_chunks: args.stream_chunks,
        record_disabled: args.no_record,
        ..MockOptions::default()
    };
    let mock = match MockUpstream::bind(SocketAddr::new(args.host, args.port), options).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("switchyard-mock: cannot listen on {}:{}: {e}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("switchyard-mock listening on {}", mock.base_url());
    shutdown_signal().await;
    drop(mock);
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
