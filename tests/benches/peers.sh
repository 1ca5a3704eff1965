# Sourced by scripts/bench --peers (not run on its own): LiteLLM proxy and the Portkey gateway
# against the same mock as Switchyard, each pinned to CPU0 like Switchyard, measured in rounds
# interleaved with Switchyard and the mock alone; bench_helper.py peers-report takes the medians.
#
# Installed once, outside the repository, into ${XDG_CACHE_HOME:-~/.cache}/switchyard/bench/:
#   litellm/venv   python3 -m venv + pip install 'litellm[proxy]==1.106.2'
#   portkey/       npm install @portkey-ai/gateway@1.15.2
# Uses from scripts/bench: root, work, helper, on_cpu1, run, load, closed_cpu, req_headers, pids,
# mock_port, mock_pid, gateway_port, gateway_pid, gateway_url, gateway_body, direct_url,
# direct_body, gw_idle, mock_idle, rate, streams.

LITELLM_VERSION=1.106.2
PORTKEY_VERSION=1.15.2
peer_cache=${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/bench
# LiteLLM refuses to start its proxy without a master key; clients send it as a bearer token.
litellm_master_key=sk-switchyard-bench-master

ensure_litellm() {
  local venv=$peer_cache/litellm/venv
  if [ -x "$venv/bin/litellm" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" = "$LITELLM_VERSION" ]; then
    return 0
  fi
  echo "==> installing LiteLLM proxy $LITELLM_VERSION into $venv (pip)" >&2
  mkdir -p "$peer_cache/litellm"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION" >&2
}

ensure_portkey() {
  local dir=$peer_cache/portkey
  if [ -f "$dir/node_modules/@portkey-ai/gateway/package.json" ] &&
    grep -q "\"version\": \"$PORTKEY_VERSION\"" "$dir/node_modules/@portkey-ai/gateway/package.json"; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { echo "scripts/bench: --peers needs Node.js 20+ and npm for Portkey" >&2; exit 1; }
  echo "==> installing the Portkey gateway $PORTKEY_VERSION into $dir (npm)" >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || printf '{"name":"switchyard-bench-portkey","private":true}\n' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent "@portkey-ai/gateway@$PORTKEY_VERSION") >&2
}

# start_peer NAME PORT HEALTH_PATH CMD...: spawns CMD pinned to CPU0 (like Switchyard), waits for
# GET HEALTH_PATH to answer 200 and writes the spawn-to-200 time to $work/peers/NAME.startup.json;
# sets peer_pid.
start_peer() {
  local name=$1 port=$2 health=$3 t0 t1
  shift 3
  t0=$(date +%s%N)
  taskset -c 0 "$@" >"$work/peers/$name.log" 2>&1 &
  peer_pid=$!
  pids+=("$peer_pid")
  if ! "${helper[@]}" wait "$port" 300 "$health"; then
    echo "scripts/bench: $name did not answer GET $health within 300 s:" >&2
    tail -30 "$work/peers/$name.log" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  echo "{\"median_ms\": $(((t1 - t0) / 1000000)), \"runs_ms\": [$(((t1 - t0) / 1000000))]}" >"$work/peers/$name.startup.json"
}

# measure_target NAME ROUND URL BODY PORT PATH MODEL PID [HEADER...]: fixed rate, closed loop with
# PID's CPU (process tree), streams; $work/peers/rROUND.NAME.*.json
measure_target() {
  local name=$1 round=$2 url=$3 body=$4 port=$5 path=$6 model=$7 pid=$8 h
  shift 8
  req_headers=("$@")
  local ttft_headers=()
  for h in "$@"; do ttft_headers+=(--header "$h"); done
  echo "    round $round: $name" >&2
  load "peers/r$round.$name.fixed" "$url" "$body" "$rate"
  closed_cpu "peers/r$round.$name.closed" "$url" "$body" "$pid"
  run "${on_cpu1[@]}" "${helper[@]}" ttft --port "$port" --path "$path" --model "$model" --n "$streams" \
    "${ttft_headers[@]}" >"$work/peers/r$round.$name.ttft.json"
  req_headers=()
}

run_peers() {
  mkdir -p "$work/peers"
  ensure_litellm
  ensure_portkey

  local litellm_port portkey_port litellm_pid portkey_pid rounds=${SWITCHYARD_BENCH_ROUNDS:-3} round
  litellm_port=$("${helper[@]}" free-port)
  portkey_port=$("${helper[@]}" free-port)
  while [ "$portkey_port" = "$litellm_port" ]; do portkey_port=$("${helper[@]}" free-port); done

  cat >"$work/peers/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: http://127.0.0.1:$mock_port/v1
      api_key: sk-bench-upstream
general_settings:
  master_key: $litellm_master_key
YAML
  echo "==> peers: LiteLLM proxy $LITELLM_VERSION on 127.0.0.1:$litellm_port (CPU0, 1 worker)" >&2
  # The local copy of the model cost map: no fetch from GitHub at start (all traffic stays local).
  LITELLM_LOCAL_MODEL_COST_MAP=True start_peer litellm "$litellm_port" /health/liveliness \
    "$peer_cache/litellm/venv/bin/litellm" --config "$work/peers/litellm.yaml" \
    --host 127.0.0.1 --port "$litellm_port" --num_workers 1
  litellm_pid=$peer_pid

  echo "==> peers: Portkey gateway $PORTKEY_VERSION on port $portkey_port (CPU0)" >&2
  # portkey_fetch_fix.mjs: the harness-side fix of Portkey's streaming on Node 20 (see that file).
  start_peer portkey "$portkey_port" / \
    node --import "$root/tests/benches/portkey_fetch_fix.mjs" \
    "$peer_cache/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" --port="$portkey_port" --headless
  portkey_pid=$peer_pid

  local litellm_url=http://127.0.0.1:$litellm_port/v1/chat/completions
  local portkey_url=http://127.0.0.1:$portkey_port/v1/chat/completions
  local peer_body='{"model":"bench","messages":[{"role":"user","content":"hi"}]}'
  local litellm_headers=("authorization: Bearer $litellm_master_key")
  local portkey_headers=("x-portkey-provider: openai" "x-portkey-custom-host: http://127.0.0.1:$mock_port/v1"
    "authorization: Bearer sk-bench-upstream")
  check "$litellm_url" "$peer_body" 'Hello from the mock LLM' "${litellm_headers[@]}"
  check "$portkey_url" "$peer_body" 'Hello from the mock LLM' "${portkey_headers[@]}"

  # Idle RSS: the peers' now, Switchyard's and the mock's from their fresh start above (both
  # have served load since).
  sleep 2
  local name pid
  for name in litellm portkey; do
    case $name in litellm) pid=$litellm_pid ;; portkey) pid=$portkey_pid ;; esac
    echo "{\"idle_kib\": $("${helper[@]}" rss-tree "$pid")}" >"$work/peers/$name.rss_idle.json"
  done
  echo "{\"idle_kib\": $gw_idle}" >"$work/peers/switchyard.rss_idle.json"
  echo "{\"idle_kib\": $mock_idle}" >"$work/peers/mock.rss_idle.json"
  cp "$work/startup.json" "$work/peers/switchyard.startup.json"

  for round in $(seq "$rounds"); do
    echo "==> peers: round $round of $rounds" >&2
    measure_target switchyard "$round" "$gateway_url" "$gateway_body" "$gateway_port" /v1/chat/completions mock/bench "$gateway_pid"
    measure_target litellm "$round" "$litellm_url" "$peer_body" "$litellm_port" /v1/chat/completions bench "$litellm_pid" \
      "${litellm_headers[@]}"
    measure_target portkey "$round" "$portkey_url" "$peer_body" "$portkey_port" /v1/chat/completions bench "$portkey_pid" \
      "${portkey_headers[@]}"
    measure_target mock "$round" "$direct_url" "$direct_body" "$mock_port" /v1/chat/completions bench "$mock_pid"
  done

  for name in switchyard litellm portkey mock; do
    case $name in
      switchyard) pid=$gateway_pid ;; litellm) pid=$litellm_pid ;; portkey) pid=$portkey_pid ;; mock) pid=$mock_pid ;;
    esac
    echo "{\"after_kib\": $("${helper[@]}" rss-tree "$pid")}" >"$work/peers/$name.rss_after.json"
  done
  python3 - "$work/peers/meta.json" "$rounds" "$LITELLM_VERSION" "$PORTKEY_VERSION" "$(node --version)" \
    "$("$peer_cache/litellm/venv/bin/python" --version 2>&1)" <<'PY'
import json, sys
out, rounds, litellm, portkey, node, python = sys.argv[1:]
json.dump({"rounds": int(rounds), "litellm": litellm, "portkey": portkey, "node": node, "python": python}, open(out, "w"))
PY
}
