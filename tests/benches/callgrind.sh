#!/usr/bin/env bash
# Instructions per request of the release gateway, counted by valgrind's callgrind: steady on a
# noisy machine where times are not. Used to compare hot-path changes, and by
# scripts/check-instructions (CI) against the numbers in tests/benches/instructions.toml.
#
#   tests/benches/callgrind.sh [--quiet] [--paced] [--oha] [REQUESTS] [KIND]
#
# Starts switchyard-mock (CPU1) and switchyard-gateway under callgrind (CPU0) with the usage log
# on, sends 200 warm-up requests, then counts only while REQUESTS (default 2000) requests of the
# bench's body are answered (4 keep-alive connections, oha's headers with User-Agent curl so no
# peer lookup; every answer must be 200), and prints instructions per request (all threads, the
# usage writer included) and the top functions by their own instructions.
# KIND: chat (default: passthrough), messages (translated).
#
# --quiet  print only the instructions per request (a number) on stdout, and delete the work dir
# --paced  one connection, 40 ms from each answer to the next request (50 warm-up requests): every
#          usage row has its own transaction and every request wakes an idle gateway, so the
#          count does not depend on the machine's speed (the closed loop's moves by ~10 % with
#          it: docs/benchmarks.md); what scripts/check-instructions counts
# --oha    send the load with oha (cargo install oha --locked) instead of bench_helper.py's
#          sender (Python's http.client in 4 threads); the counts agree (docs/benchmarks.md)
#
# Needs the release binaries (cargo build --release -p gateway-core -p switchyard-mock; honours
# CARGO_TARGET_DIR) and valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
quiet=0 loadgen=python paced=0 args=()
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --oha) loadgen=oha ;;
    --paced) paced=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "callgrind.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    *) args+=("$arg") ;;
  esac
done
n=${args[0]:-2000} kind=${args[1]:-chat}
target_dir=${CARGO_TARGET_DIR:-$root/target}
helper=(python3 "$root/tests/benches/bench_helper.py")
for tool in valgrind callgrind_control taskset; do
  command -v "$tool" >/dev/null 2>&1 || { echo "callgrind.sh: '$tool' is required (Debian: apt-get install valgrind util-linux)" >&2; exit 1; }
done
for bin in switchyard-gateway switchyard-mock; do
  [ -x "$target_dir/release/$bin" ] || {
    echo "callgrind.sh: $target_dir/release/$bin missing (cargo build --release -p gateway-core -p switchyard-mock)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-callgrind.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ "$quiet" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "callgrind.sh: $1" >&2
  for log in mock gateway; do
    [ -s "$work/$log.log" ] && { echo "--- $log log (last 20 lines)" >&2; tail -20 "$work/$log.log" >&2; }
  done
  exit 1
}
mock_port=$("${helper[@]}" free-port)
gw_port=$("${helper[@]}" free-port)
while [ "$gw_port" = "$mock_port" ]; do gw_port=$("${helper[@]}" free-port); done
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
"${helper[@]}" wait "$mock_port" 15 /v1/models || fail "the mock upstream did not start"
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$target_dir/release/switchyard-gateway" --config "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
"${helper[@]}" wait "$gw_port" 120 || fail "the gateway did not start under valgrind"
case $kind in
  chat) url=http://127.0.0.1:$gw_port/v1/chat/completions body='{"model":"mock/bench","messages":[{"role":"user","content":"hi"}]}' ;;
  messages) url=http://127.0.0.1:$gw_port/v1/messages body='{"model":"mock/bench","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}' ;;
  *) echo "callgrind.sh: unknown kind '$kind' (chat or messages)" >&2; exit 2 ;;
esac
say() { if [ "$quiet" = 1 ]; then cat >/dev/null; else cat >&2; fi; }
send() {
  if [ "$loadgen" = oha ]; then
    command -v oha >/dev/null 2>&1 || fail "--oha: oha is not installed (cargo install oha --locked)"
    # oha reports failures in its summary rather than its exit status.
    local conns=(-c 4)
    [ "$paced" = 1 ] && conns=(-c 1 -q 20)
    taskset -c 1 oha -n "$1" "${conns[@]}" --no-tui -m POST -H 'content-type: application/json' -H 'user-agent: curl/8.0' \
      -d "$body" "$url" >"$work/oha.txt" || fail "oha failed"
    grep -E 'Success rate|Requests/sec' "$work/oha.txt" | say
    grep -qE '^\s*\[200\] '"$1"' responses' "$work/oha.txt" || { cat "$work/oha.txt" >&2; fail "not every answer was 200"; }
  else
    local conns=(--connections 4)
    [ "$paced" = 1 ] && conns=(--connections 1 --pause-ms 40)
    taskset -c 1 "${helper[@]}" send --url "$url" --body "$body" --n "$1" "${conns[@]}" >"$work/send.json" ||
      fail "the load failed"
    say <"$work/send.json"
  fi
}
if [ "$paced" = 1 ]; then send 50; else send 200; fi
callgrind_control -i on "$gw_pid" >/dev/null 2>&1
send "$n"
sleep 1 # the usage writer's last batch
callgrind_control -i off "$gw_pid" >/dev/null 2>&1
callgrind_control -d "$gw_pid" >/dev/null 2>&1
sleep 1
out=$(ls -S "$work"/callgrind.out* | head -1) # the dump (the largest file)
# The dump's own total (every thread: callgrind's default is one profile for the process).
total=$(awk '$1 == "totals:" {print $2; exit}' "$out")
[ -n "$total" ] || fail "no total in $out"
if [ "$quiet" = 1 ]; then
  echo $((total / n))
  exit 0
fi
echo "instructions per request ($kind, $n requests): $((total / n))"
callgrind_annotate --auto=no --threshold=80 "$out" 2>/dev/null | sed -n '/file:function/,$p' | head -45
echo "callgrind output: $out"
