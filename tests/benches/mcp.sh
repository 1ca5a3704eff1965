# shellcheck shell=bash
# scripts/bench --mcp: what a `tools/call` through the gateway's /mcp adds over calling the same
# MCP server directly (the issue's target: at most 0.5 ms p50). Sourced by scripts/bench, which
# has built the binaries and defined $work, $pids, $helper, run and the cleanup.
#
# The server is switchyard-mcp-bench's own (tests/src/bin/mcp_bench.rs): the official Rust SDK
# (rmcp) with one `echo` tool over Streamable HTTP, the SDK's defaults (sessions, SSE answers),
# pinned to CPU1. The gateway (CPU0, usage log on as in real use) serves it as `bench`. The
# client (rmcp too, CPU1) opens one session to each, then in interleaved rounds (direct, then the
# gateway; SWITCHYARD_BENCH_MCP_ROUNDS, default 3) makes warm-up calls and then timed calls one at
# a time (SWITCHYARD_BENCH_MCP_CALLS, default 2000; --quick 500). Two clients are measured: one
# that keeps its connection open (as the Python and TypeScript SDKs do), and rmcp's default
# client, which opens a new connection for every request (its reqwest client has no idle pool).

run_mcp() {
  local bench_bin=$target_dir/release/switchyard-mcp-bench
  local calls=${SWITCHYARD_BENCH_MCP_CALLS:-2000} warmup=200 rounds=${SWITCHYARD_BENCH_MCP_ROUNDS:-3}
  [ "$quick" = 1 ] && calls=${SWITCHYARD_BENCH_MCP_CALLS:-500} warmup=100
  local server_port="" gateway_port gateway_pid server_pid

  echo "==> MCP bench server (rmcp, Streamable HTTP, one echo tool) (CPU1)" >&2
  taskset -c 1 "$bench_bin" serve --port 0 >"$work/mcp_server.out" 2>"$work/mcp_server.log" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 100); do
    server_port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/mcp_server.out")
    [ -n "$server_port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$server_port" ]; then
    echo "scripts/bench: the MCP bench server did not start" >&2; cat "$work/mcp_server.log" >&2; exit 1
  fi

  gateway_port=$("${helper[@]}" free-port)
  while [ "$gateway_port" = "$server_port" ]; do gateway_port=$("${helper[@]}" free-port); done
  cat >"$work/gateway-mcp.toml" <<TOML
[server]
host = "127.0.0.1"
port = $gateway_port

[discovery]
from_env = false
probe_local = false

# The usage log is on, as in real use (each tool call is a row of mcp_calls), but kept out of the
# user's own log; so are servers added through the admin API and virtual keys.
[usage]
path = "$work/usage.sqlite3"

[governance]
file = "$work/governance.json"

[mcp]
file = "$work/mcp.json"

[mcp.servers.bench]
type = "http"
url = "http://127.0.0.1:$server_port/mcp"
TOML

  echo "==> gateway on 127.0.0.1:$gateway_port (CPU0), serving the bench server as \`bench\`" >&2
  taskset -c 0 "$gateway_bin" --config "$work/gateway-mcp.toml" >"$work/gateway-mcp.log" 2>&1 &
  gateway_pid=$!
  pids+=("$gateway_pid")
  "${helper[@]}" wait "$gateway_port" 15 || {
    echo "scripts/bench: the gateway did not start" >&2; cat "$work/gateway-mcp.log" >&2; exit 1; }

  local git_rev
  git_rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git -C "$root" diff --quiet HEAD 2>/dev/null || git_rev="$git_rev-dirty"
  echo "==> MCP tools/call: $rounds rounds, each $warmup warm-up + $calls timed calls direct, then through the gateway (client on CPU1)" >&2
  run taskset -c 1 "$bench_bin" run \
    --direct "http://127.0.0.1:$server_port/mcp" --gateway "http://127.0.0.1:$gateway_port/mcp" \
    --n "$calls" --warmup "$warmup" --rounds "$rounds" --gateway-pid "$gateway_pid" \
    --json "$root/target/bench/mcp.json" \
    --note "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --note "nproc=$(nproc)" \
    --note "cpu_model=$("${helper[@]}" cpu-model)" --note "kernel=$(uname -r)" --note "gateway_git=$git_rev" \
    --note "pinning=gateway CPU0; bench server and client CPU1" --note "switchyard_log=${SWITCHYARD_LOG:-}" \
    >"$work/mcp_table.md" || {
      echo "scripts/bench: the MCP benchmark failed" >&2
      echo "--- gateway log" >&2; tail -20 "$work/gateway-mcp.log" >&2
      exit 1
    }

  sleep 2 # the usage writer batches: let it write the last rows
  local logged
  logged=$(python3 - "$work/usage.sqlite3" <<'PY'
import sqlite3, sys
try:
    print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM mcp_calls").fetchone()[0])
except Exception as err:
    print(f"? ({err})")
PY
)
  echo >&2
  cat "$work/mcp_table.md"
  echo "usage log: $logged tool calls recorded (mcp_calls)"
  echo >&2
  echo "JSON: target/bench/mcp.json" >&2
}
