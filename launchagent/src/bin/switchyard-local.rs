//! `switchyard-local`: manage Switchyard's local model servers from a terminal. The same
//! [`LocalServers`] the gateway uses, with its configuration taken from flags and from what was
//! installed before.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use launchagent::{LocalServers, LocalServersConfig, ServerError, ServerName, StartOutcome, presets};

#[derive(Parser)]
#[command(name = "switchyard-local", version, about = "Manage Switchyard's local model servers (vllm-mlx, Ollama)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the status of every server, or of one, as JSON.
    Status {
        #[arg(value_parser = parse_name)]
        name: Option<ServerName>,
    },
    /// Write the service definition and (re)start the server with it.
    Install {
        #[arg(value_parser = parse_name)]
        name: ServerName,
        /// Model for vllm-mlx (Hugging Face id or local path); defaults to the installed one.
        #[arg(long)]
        model: Option<String>,
        /// Port to listen on; defaults to the installed one, else 11434 (vllm-mlx) / 11435 (Ollama).
        #[arg(long)]
        port: Option<u16>,
        /// Use `<VENV>/bin/vllm-mlx`.
        #[arg(long)]
        venv: Option<PathBuf>,
        /// Use this binary instead of searching for it.
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Extra argument for `vllm-mlx serve` (repeat for several).
        #[arg(long = "arg", allow_hyphen_values = true)]
        extra_args: Vec<String>,
        /// Install Ollama even when another Ollama is already running.
        #[arg(long)]
        ignore_external: bool,
    },
    /// Stop the server and remove its service definition (logs are kept).
    Uninstall {
        #[arg(value_parser = parse_name)]
        name: ServerName,
    },
    /// Start the server (and again at every login).
    Start {
        #[arg(value_parser = parse_name)]
        name: ServerName,
    },
    /// Stop the server (it stays stopped across logins).
    Stop {
        #[arg(value_parser = parse_name)]
        name: ServerName,
    },
    /// Restart the server.
    Restart {
        #[arg(value_parser = parse_name)]
        name: ServerName,
    },
    /// Print the last lines of the server's log.
    Logs {
        #[arg(value_parser = parse_name)]
        name: ServerName,
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
}

fn parse_name(s: &str) -> Result<ServerName, String> {
    s.parse().map_err(|e: ServerError| e.to_string())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), ServerError> {
    match cli.command {
        Command::Status { name } => {
            let servers = LocalServers::new(LocalServersConfig::default())?;
            let json = match name {
                Some(name) => serde_json::to_string_pretty(&servers.status(name)),
                None => serde_json::to_string_pretty(&servers.list()),
            };
            println!("{}", json.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")));
        }
        Command::Install { name, model, port, venv, binary, extra_args, ignore_external } => {
            // Installing again keeps the model and port of the previous install unless overridden.
            let previous = LocalServers::new(LocalServersConfig::default())?.installed_spec(name)?;
            let mut config = LocalServersConfig::default();
            // Only the server being installed is configured here; a clash with the other one's
            // installed port is still caught by `install`.
            match name {
                ServerName::VllmMlx => {
                    config.ollama.enabled = false;
                    let c = &mut config.vllm_mlx;
                    c.model =
                        model.or_else(|| previous.as_ref().and_then(|s| presets::vllm_mlx_model(s)).map(str::to_owned));
                    c.port = port.or(previous.as_ref().map(|s| s.port)).unwrap_or(c.port);
                    c.venv = venv;
                    c.binary = binary;
                    c.extra_args = extra_args;
                }
                ServerName::Ollama => {
                    config.vllm_mlx.enabled = false;
                    let c = &mut config.ollama;
                    c.port = port.or(previous.as_ref().map(|s| s.port)).unwrap_or(c.port);
                    c.binary = binary;
                    c.prefer_external = !ignore_external;
                }
            }
            let servers = LocalServers::new(config)?;
            report_start(name, servers.install(name)?, "installed and started");
            println!("definition: {}", servers.definition_path(name).display());
        }
        Command::Uninstall { name } => {
            LocalServers::new(LocalServersConfig::default())?.uninstall(name)?;
            println!("{name}: uninstalled");
        }
        Command::Start { name } => {
            let outcome = LocalServers::new(LocalServersConfig::default())?.start(name)?;
            report_start(name, outcome, "started");
        }
        Command::Stop { name } => {
            LocalServers::new(LocalServersConfig::default())?.stop(name)?;
            println!("{name}: stopped");
        }
        Command::Restart { name } => {
            LocalServers::new(LocalServersConfig::default())?.restart(name)?;
            println!("{name}: restarted");
        }
        Command::Logs { name, lines } => {
            let tails = LocalServers::new(LocalServersConfig::default())?.logs(name, lines)?;
            let many = tails.len() > 1;
            for tail in tails {
                if many {
                    println!("==> {} <==", tail.path.display());
                }
                for line in tail.lines {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

fn report_start(name: ServerName, outcome: StartOutcome, done: &str) {
    match outcome {
        StartOutcome::Started => println!("{name}: {done}"),
        StartOutcome::External { server } => println!(
            "{name}: not started: {} ({}); use it{}",
            server.detail,
            serde_json::to_value(server.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            server.base_url.map(|u| format!(" at {u}")).unwrap_or_default()
        ),
    }
}
