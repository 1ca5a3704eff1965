#!/usr/bin/env bash
# Instructions per request of the release gateway, counted by valgrind's callgrind: steady on a
# noisy machine where times are not. Not part of the tests; used to compare hot-path changes.
#
#   tests/benches/callgrind.sh [REQUESTS] [MODEL_BODY_KIND]
#
# Starts switchyard-mock (CPU1) and switchyard-gateway under callgrind (CPU0) with the usage log
# on, sends 200 warm-up requests, then counts only while REQUESTS (default 2000) requests of the
# bench's body are answered (oha, 4 connections, User-Agent curl so no peer lookup), and prints
# instructions per request (all threads, the usage writer included) and the top functions by
# their own instructions. KIND: chat (default: passthrough), messages (translated).
# Needs the release binaries (cargo build --release -p gateway-core -p switchyard-mock) and
# valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
n=${1:-2000} kind=${2:-chat}
target_dir=${CARGO_TARGET_DIR:-$root/target}
helper=(python3 "$root/tests/benches/bench_helper.py")
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-callgrind.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
mock_port=$("${helper[@]}" free-port)
gw_port=$("${helper[@]}" free-port)
cat >"$work/gateway.toml" <<TOML
[server]
host = "127.0.0.1"
port = $gw_port
[discovery]
from_env = false
probe_local = false
[usage]
path = "$work/usage.sqlite3"
[providers.mock]
kind = "openai-compatible"
base_url = "http://127.0.0.1:$mock_port/v1"
TOML
taskset -c 1 "$target_dir/release/switchyard-mock" --port "$mock_port" --no-record >"$work/mock.log" 2>&1 &
pids+=($!)
"${helper[@]}" wait "$mock_port" 15 /v1/models
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$target_dir/release/switchyard-gateway" --config "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
"${helper[@]}" wait "$gw_port" 120
case $kind in
  chat) url=http://127.0.0.1:$gw_port/v1/chat/completions body='{"model":"mock/bench","messages":[{"role":"user","content":"hi"}]}' ;;
  messages) url=http://127.0.0.1:$gw_port/v1/messages body='{"model":"mock/bench","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' ;;
  *) echo "callgrind.sh: unknown kind $kind" >&2; exit 2 ;;
esac
send() { taskset -c 1 oha -n "$1" -c 4 --no-tui -m POST -H 'content-type: application/json' -H 'user-agent: curl/8.0' -d "$body" "$url" | grep -E 'Success rate|Requests/sec' >&2; }
send 200
callgrind_control -i on "$gw_pid" >/dev/null
send "$n"
sleep 1 # the usage writer's last batch
callgrind_control -i off "$gw_pid" >/dev/null
callgrind_control -d "$gw_pid" >/dev/null
sleep 1
out=$(ls -S "$work"/callgrind.out* | head -1) # the dump (the largest file)
callgrind_annotate --auto=no --threshold=80 "$out" >"$work/annotate.txt" 2>/dev/null
total=$(awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}' "$work/annotate.txt")
echo "instructions per request ($kind, $n requests): $((total / n))"
sed -n '/file:function/,$p' "$work/annotate.txt" | head -45
echo "callgrind output: $out"
