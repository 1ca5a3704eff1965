#!/usr/bin/env python3
"""Helpers for scripts/bench (standard library only; all traffic on 127.0.0.1).

  bench_helper.py free-port
  bench_helper.py wait PORT [TIMEOUT_S]             poll GET /health (or /v1/models) until 200
  bench_helper.py startup --port P --runs N --cpu C -- CMD...
                                                    spawn CMD pinned to CPU C, time to first
                                                    GET /health 200, N times; JSON on stdout
  bench_helper.py ttft --port P --path PATH --model M --n N
  bench_helper.py gaps --port P --path PATH --model M --n N
                                                    N sequential streaming chat requests on one
                                                    keep-alive connection; time to the first
                                                    `data:` chunk; JSON on stdout
                                                    [--header 'name: value']... [--shape anthropic]
  bench_helper.py rss PID                           VmRSS in KiB
  bench_helper.py rss-tree PID                      VmRSS in KiB of PID and its descendants
  bench_helper.py cpu PID                           utime,stime in seconds of PID and its
                                                    descendants (/proc/PID/stat)
  bench_helper.py cpu-per-request BEFORE AFTER LOAD_JSON
                                                    CPU µs per answered request between two `cpu`
  bench_helper.py oha FILE                          summary of an oha JSON file
  bench_helper.py send --url U --body B --n N [--connections C] [--pause-ms P] [--header 'name: value']...
                                                    N POSTs as fast as answered over C (default 4)
                                                    keep-alive connections, one thread each (each
                                                    pausing P ms after an answer); every answer
                                                    must be 200 (exit 1 otherwise); the headers oha
                                                    sends (callgrind.sh's load)
  bench_helper.py paced --url U --body B --rate R --seconds S
                                                    fixed-rate client (the wrk fallback)
  bench_helper.py wrk FILE SECONDS                  summary of wrk_post.lua's output
  bench_helper.py report DIR OUT_JSON               the markdown table, and the JSON file
  bench_helper.py peers-report DIR OUT_JSON         the peers' table (medians of the rounds)
  bench_helper.py usage-rows SQLITE                 rows in the usage log's requests table
  bench_helper.py rss-sample PID INTERVAL SECONDS   VmRSS every INTERVAL s; JSON on stdout
  bench_helper.py soak-report DIR RATE SECONDS ROWS_BEFORE ROWS_AFTER RSS_AFTER OUT_JSON
"""
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_once(port, path="/health"):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def wait(port, timeout=30.0, path="/health"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health_once(port, path):
            return True
        time.sleep(0.01)
    return False


def startup(port, runs, cpu, cmd):
    # Stopped by scripts/bench's cleanup: still stop the gateway being timed (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )
        ok = False
        try:
            deadline = t0 + 10
            while time.perf_counter() < deadline:
                if health_once(port):
                    ok = True
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.0005)
            t1 = time.perf_counter()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not ok:
            raise SystemExit(f"bench_helper: {cmd[0]} did not answer GET /health within 10 s")
        times.append((t1 - t0) * 1000)
        time.sleep(0.2)  # let the port be reusable
    return {"runs_ms": times, "median_ms": statistics.median(times)}


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def timed_streams(port, path, body, headers, n, warmup):
    """Sends warmup + n streamed requests one after another on one keep-alive connection. For each
    of the last n that answered 200 with a complete stream (OpenAI's `[DONE]`, Anthropic's
    `message_stop`), returns (sent, pieces, ended): when it was sent, each piece read with its
    arrival time, when the stream ended. Also returns how many failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    streams, errors = [], 0
    for i in range(warmup + n):
        try:
            sent = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            pieces = []
            while True:
                piece = resp.read1(65536)
                if not piece:
                    break
                pieces.append((time.perf_counter(), piece))
            ended = time.perf_counter()
            whole = b"".join(p for _, p in pieces)
            if resp.status != 200 or (b"[DONE]" not in whole and b"message_stop" not in whole):
                raise http.client.HTTPException(f"status {resp.status}, incomplete stream")
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        if i >= warmup:
            streams.append((sent, pieces, ended))
    conn.close()
    return streams, errors


def ttft(port, path, model, n, extra_headers=(), anthropic=False):
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    if anthropic:
        request["max_tokens"] = 64  # required by the Messages API
    headers = {"content-type": "application/json", "host": f"127.0.0.1:{port}"}
    for header in extra_headers:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    streams, errors = timed_streams(port, path, json.dumps(request), headers, n, warmup=5)
    firsts, totals = [], []
    for sent, pieces, ended in streams:
        buf = b""
        for at, piece in pieces:
            buf += piece
            if b"data:" in buf:
                firsts.append((at - sent) * 1000)
                break
        totals.append((ended - sent) * 1000)
    return {
        "n": len(firsts),
        "errors": errors,
        "p50_ms": pct(firsts, 0.5),
        "p99_ms": pct(firsts, 0.99),
        "mean_ms": statistics.fmean(firsts) if firsts else None,
        "whole_stream_p50_ms": pct(totals, 0.5),
    }


def gaps(port, path, model, n):
    """Inter-chunk gaps of n sequential streams on one connection (after 2 warm-up streams): the
    time between consecutive SSE events as they reach the client. With the mock pacing its
    events, the gateway's relay adds (gateway gap − direct gap) per chunk."""
    # The client asks for the usage chunk itself, so the gateway passes every event on (when it
    # adds and strips the usage chunk, the last gap spans two of the mock's pauses).
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True,
                       "stream_options": {"include_usage": True}})
    headers = {"content-type": "application/json", "host": f"127.0.0.1:{port}"}
    streams, errors = timed_streams(port, path, body, headers, n, warmup=2)
    all_gaps, events = [], 0
    for _, pieces, _ in streams:
        times, buf, seen = [], b"", 0
        for at, piece in pieces:
            buf += piece
            count = buf.count(b"\n\n")
            times.extend([at] * (count - seen))
            seen = count
        events += len(times)
        all_gaps += [(b - a) * 1000 for a, b in zip(times, times[1:])]
    return {"n": n, "errors": errors, "events": events, "gaps": len(all_gaps),
            "p50_ms": pct(all_gaps, 0.5), "p99_ms": pct(all_gaps, 0.99)}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def stat_fields(pid):
    """/proc/PID/stat from field 3 (state) on; fields[1] is the parent, [11]/[12] utime/stime."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return stat[stat.rindex(")") + 2 :].split()


def process_tree(pid):
    """PID and all its live descendants (a peer may run its server in a child process)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(stat_fields(entry)[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def rss_tree_kib(pid):
    total = 0
    for p in process_tree(pid):
        try:
            total += rss_kib(p) or 0
        except OSError:
            continue
    return total


def cpu_seconds(pid):
    """(user, system) CPU seconds of all the threads of PID and its descendants (/proc/PID/stat)."""
    user = system = 0
    for p in process_tree(pid):
        try:
            fields = stat_fields(p)
        except OSError:
            continue
        # fields[0] is field 3 (state); utime is field 14, stime field 15.
        user += int(fields[11]) / CLK_TCK
        system += int(fields[12]) / CLK_TCK
    return user, system


def cpu_per_request(before, after, load_json):
    """CPU µs per answered request between two `cpu` readings ("user,sys"), over a load run."""
    (u0, s0), (u1, s1) = [map(float, reading.split(",")) for reading in (before, after)]
    with open(load_json) as f:
        ok = json.load(f)["ok"]
    per = lambda seconds: seconds / ok * 1e6 if ok else None
    return {"requests": ok, "user_s": u1 - u0, "sys_s": s1 - s0,
            "us_per_request": per(u1 - u0 + s1 - s0), "sys_us_per_request": per(s1 - s0)}


def oha_summary(path):
    with open(path) as f:
        data = json.load(f)
    summary = data.get("summary", {})
    lat = data.get("latencyPercentiles", {})
    codes = data.get("statusCodeDistribution", {}) or {}
    errors = data.get("errorDistribution", {}) or {}
    # oha cancels the requests in flight when the duration ends: not failures, not served.
    aborted = int(errors.pop("aborted due to deadline", 0))
    ok = int(codes.get("200", 0))
    total = sum(int(v) for v in codes.values()) + sum(int(v) for v in errors.values())
    return {
        "requests": total,
        "ok": ok,
        "non_200": total - ok,
        "errors": errors,
        "aborted_at_deadline": aborted,
        "rps": summary.get("requestsPerSec"),
        "p50_ms": lat.get("p50") * 1000 if lat.get("p50") is not None else None,
        "p99_ms": lat.get("p99") * 1000 if lat.get("p99") is not None else None,
        "mean_ms": summary.get("average") * 1000 if summary.get("average") is not None else None,
    }


def paced(url, body, rate, seconds):
    """A fixed rate without oha: one request every 1/rate s on one keep-alive connection; the
    latency counts from the scheduled send time, so a late answer also delays the next ones."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {"content-type": "application/json", "host": parts.netloc}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    lat, non_200, n = [], 0, int(rate * seconds)
    start = time.perf_counter() + 0.05
    for k in range(n):
        due = start + k / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                non_200 += 1
        except (OSError, http.client.HTTPException):
            non_200 += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            continue
        lat.append((time.perf_counter() - due) * 1000)
    conn.close()
    return {"requests": n, "ok": n - non_200, "non_200": non_200, "rps": n / seconds,
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "mean_ms": statistics.fmean(lat) if lat else None}


def send(url, body, n, connections=4, extra_headers=(), pause_ms=0.0):
    """N requests over `connections` keep-alive connections, one thread each, each sending its
    next request when the previous is answered; counts answers that are not 200. The headers are
    oha's (Host, Accept, Accept-Encoding, User-Agent, and the body's two), so the gateway parses
    the same request as under `oha -c 4` (callgrind.sh counts the gateway's instructions only)."""
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    data = body.encode()
    headers = [("Accept", "*/*"), ("Accept-Encoding", "gzip, compress, deflate, br"),
               ("User-Agent", "curl/8.0"), ("Content-Type", "application/json")]
    for header in extra_headers:
        name, _, value = header.partition(":")
        headers = [(k, v) for k, v in headers if k.lower() != name.strip().lower()]
        headers.append((name.strip(), value.strip()))
    headers.append(("Content-Length", str(len(data))))
    counter = iter(range(n))
    lock = threading.Lock()
    failures = []

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            try:
                conn.putrequest("POST", parts.path, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(data)
                resp = conn.getresponse()
                answer = resp.read()
                if resp.status != 200:
                    failures.append(f"status {resp.status}: {answer[:200]!r}")
                if pause_ms:
                    time.sleep(pause_ms / 1000)
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"requests": n, "ok": n - len(failures), "non_200": len(failures), "rps": n / elapsed,
            "first_failure": failures[0] if failures else None}


def wrk_summary(path, seconds):
    with open(path) as f:
        line = [l for l in f.read().splitlines() if l.startswith("{")][-1]
    d = json.loads(line)
    bad = d["non_200"] + d["socket_errors"]
    return {"requests": d["requests"], "ok": d["requests"] - d["non_200"], "non_200": bad,
            "rps": d["requests"] / (d["duration_us"] / 1e6), "p50_ms": d["p50_us"] / 1000, "p99_ms": d["p99_us"] / 1000}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt(v, digits=2):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def translated_rows(load, cpu, cl_gw, tt_gw):
    """The translated path beside its passthrough twin: OpenAI → OpenAI-compatible (the main
    closed loop) for the Messages → OpenAI-compatible translation, Messages → Anthropic for the
    Chat → Anthropic one."""
    runs = {name: (load(f"{name}.json"), load(f"{name}.cpu.json"))
            for name in ("tr_messages_to_openai", "tr_messages_to_anthropic", "tr_chat_to_anthropic")}
    if all(v[0] is None for v in runs.values()):
        return []
    passthrough_openai = (cl_gw or {}, {"us_per_request": cpu.get("gateway_us_per_request")})

    def row(label, path, run, twin):
        run_load, run_cpu = run
        twin_load, twin_cpu = twin or (None, None)
        cpu_us = (run_cpu or {}).get("us_per_request")
        rps = (run_load or {}).get("rps")
        twin_cpu_us = (twin_cpu or {}).get("us_per_request")
        twin_rps = (twin_load or {}).get("rps")
        return {"label": label, "path": path, "cpu_us": cpu_us, "rps": rps,
                "cpu_ratio": cpu_us / twin_cpu_us if cpu_us and twin_cpu_us else None,
                "rps_ratio": rps / twin_rps if rps and twin_rps else None}

    return [
        row("Chat Completions → OpenAI-compatible", "passthrough", passthrough_openai, None),
        row("Messages → OpenAI-compatible", "translated", runs["tr_messages_to_openai"], passthrough_openai),
        row("Messages → Anthropic", "passthrough", runs["tr_messages_to_anthropic"], None),
        row("Chat Completions → Anthropic", "translated", runs["tr_chat_to_anthropic"], runs["tr_messages_to_anthropic"]),
    ]


def report(dirname, out_json):
    def load(name):
        path = os.path.join(dirname, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    meta = load("meta.json") or {}
    fr_gw, fr_direct = load("fixed_gateway.json"), load("fixed_direct.json")
    cl_gw, cl_direct = load("closed_gateway.json"), load("closed_direct.json")
    tt_gw, tt_direct = load("ttft_gateway.json"), load("ttft_direct.json")
    gap_gw, gap_direct = load("gaps_gateway.json"), load("gaps_direct.json")
    rss = load("rss.json") or {}
    start = load("startup.json") or {}
    cpu = load("cpu.json") or {}

    def g(d, k):
        return None if d is None else d.get(k)

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    added_p50 = None
    if g(fr_gw, "p50_ms") is not None and g(fr_direct, "p50_ms") is not None:
        added_p50 = fr_gw["p50_ms"] - fr_direct["p50_ms"]
    cpu_gw_us = cpu.get("gateway_us_per_request")
    cpu_mock_us = cpu.get("mock_us_per_request")
    mib = lambda kib: None if kib is None else kib / 1024
    rows = [
        # figure, switchyard, direct, ratio, target
        ("p50 latency at 50 rps (ms)", g(fr_gw, "p50_ms"), g(fr_direct, "p50_ms"), None, None),
        ("p99 latency at 50 rps (ms)", g(fr_gw, "p99_ms"), g(fr_direct, "p99_ms"), None, None),
        ("added p50 at 50 rps (ms)", added_p50, None, None, "≤ 0.1"),
        (f"closed loop rps ({meta.get('connections', '?')} conns)", g(cl_gw, "rps"), g(cl_direct, "rps"), None, "≥ 15,000"),
        ("closed loop p50 (ms)", g(cl_gw, "p50_ms"), g(cl_direct, "p50_ms"), None, None),
        ("CPU per request (µs)", cpu_gw_us, cpu_mock_us, None, "≤ 50"),
        ("  of which in the kernel (µs)", cpu.get("gateway_sys_us_per_request"), cpu.get("mock_sys_us_per_request"), None, None),
        ("stream time to first token p50 (ms)", g(tt_gw, "p50_ms"), g(tt_direct, "p50_ms"), None, "≤ 0.2"),
        ("stream time to first token p99 (ms)", g(tt_gw, "p99_ms"), g(tt_direct, "p99_ms"), None, None),
        ("whole stream p50 (ms)", g(tt_gw, "whole_stream_p50_ms"), g(tt_direct, "whole_stream_p50_ms"), None, None),
        ("stream inter-chunk gap p50 (ms), upstream paced %s ms" % meta.get("gap_pacing_ms", "?"),
         g(gap_gw, "p50_ms"), g(gap_direct, "p50_ms"), None, None),
        ("stream inter-chunk gap p99 (ms)", g(gap_gw, "p99_ms"), g(gap_direct, "p99_ms"), None, None),
        ("RSS idle (MiB)", mib(rss.get("gateway_idle_kib")), mib(rss.get("mock_idle_kib")), None, "≤ 15"),
        ("RSS after load (MiB)", mib(rss.get("gateway_after_kib")), mib(rss.get("mock_after_kib")), None, None),
        ("start to first /health 200 (ms, median of %d)" % len(start.get("runs_ms", [])), start.get("median_ms"), None, None, "≤ 50"),
    ]
    lines = [
        f"Switchyard benchmark, {meta.get('date', '?')}, {meta.get('cpu_model', '?')}, nproc {meta.get('nproc', '?')}"
        f"{' (--quick)' if meta.get('quick') else ''}; gateway on CPU0, mock and load generator on CPU1 ({meta.get('load_generator', '?')}).",
        "",
        "| figure | Switchyard | direct/mock | ratio | target |",
        "|---|---|---|---|---|",
    ]
    table = []
    for name, sw, direct, r, target in rows:
        r = ratio(sw, direct) if r is None else r
        lines.append(f"| {name} | {fmt(sw)} | {fmt(direct)} | {fmt(r) + '×' if r is not None else '—'} | {target or ''} |")
        table.append({"figure": name, "switchyard": sw, "direct": direct, "ratio": r, "target": target})
    errs = []
    for label, d in [("fixed rate via gateway", fr_gw), ("fixed rate direct", fr_direct), ("closed loop via gateway", cl_gw),
                     ("closed loop direct", cl_direct), ("streams via gateway", tt_gw), ("streams direct", tt_direct),
                     ("paced streams via gateway", gap_gw), ("paced streams direct", gap_direct)]:
        if d is None:
            continue
        bad = d.get("non_200", 0) + (d.get("errors", 0) if isinstance(d.get("errors"), int) else 0)
        if bad:
            errs.append(f"{label}: {bad} failed of {d.get('requests', d.get('n'))}")
    translated = translated_rows(load, cpu, cl_gw, tt_gw)
    if translated:
        lines += ["", "Translated path (Anthropic ⇄ OpenAI) beside passthrough, closed loop, "
                  f"{meta.get('connections', '?')} connections; ratio = translated / its passthrough twin "
                  "(target: CPU ratio ≤ 2):", "",
                  "| client API → upstream shape | path | gateway CPU per request (µs) | rps | CPU ratio | rps ratio |",
                  "|---|---|---|---|---|---|"]
        for row in translated:
            lines.append(f"| {row['label']} | {row['path']} | {fmt(row['cpu_us'])} | {fmt(row['rps'])} | "
                         f"{fmt(row['cpu_ratio']) + '×' if row['cpu_ratio'] else '—'} | "
                         f"{fmt(row['rps_ratio']) + '×' if row['rps_ratio'] else '—'} |")
        tt_tr = load("ttft_messages_to_openai.json")
        if tt_tr:
            lines.append(f"| stream time to first token p50 (ms), Messages → OpenAI-compatible | translated | "
                         f"{fmt(g(tt_tr, 'p50_ms'))} vs {fmt(g(tt_gw, 'p50_ms'))} passthrough | | "
                         f"{fmt(ratio(g(tt_tr, 'p50_ms'), g(tt_gw, 'p50_ms'))) + '×'} | |")
        for label, d in [("translated Messages → OpenAI-compatible", load("tr_messages_to_openai.json")),
                         ("passthrough Messages → Anthropic", load("tr_messages_to_anthropic.json")),
                         ("translated Chat → Anthropic", load("tr_chat_to_anthropic.json")),
                         ("translated streams", tt_tr)]:
            if d is not None:
                bad = d.get("non_200", 0) + (d.get("errors", 0) if isinstance(d.get("errors"), int) else 0)
                if bad:
                    errs.append(f"{label}: {bad} failed of {d.get('requests', d.get('n'))}")
    lines.append("")
    lines.append("Errors: " + ("; ".join(errs) if errs else "none (every request answered 200)."))
    lines.append("Direct CPU per request is the mock's own; the direct closed loop shares CPU1 with the load generator.")
    print("\n".join(lines))
    result = {
        "date": meta.get("date"),
        "nproc": meta.get("nproc"),
        "cpu_model": meta.get("cpu_model"),
        "meta": meta,
        "table": table,
        "raw": {
            "fixed_rate": {"gateway": fr_gw, "direct": fr_direct},
            "closed_loop": {"gateway": cl_gw, "direct": cl_direct},
            "ttft": {"gateway": tt_gw, "direct": tt_direct},
            "inter_chunk_gaps": {"gateway": gap_gw, "direct": gap_direct},
            "cpu": cpu,
            "rss": rss,
            "startup": start,
            "translated": translated,
            "ttft_translated": load("ttft_messages_to_openai.json"),
        },
        "errors": errs,
    }
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


def usage_rows(path):
    """Rows in the gateway's usage log (0 when it does not exist yet)."""
    import sqlite3

    if not os.path.exists(path):
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]


def rss_sample(pid, interval, seconds):
    """VmRSS every INTERVAL s for SECONDS s (first sample at once)."""
    samples, t0 = [], time.monotonic()
    while True:
        elapsed = time.monotonic() - t0
        samples.append({"t_s": round(elapsed, 1), "kib": rss_kib(pid)})
        if elapsed + interval > seconds + 0.5:
            break
        time.sleep(max(0.0, t0 + len(samples) * interval - time.monotonic()))
    return samples


def soak_report(dirname, rate, seconds, rows_before, rows_after, rss_settled, out_json):
    with open(os.path.join(dirname, "soak.json")) as f:
        load = json.load(f)
    with open(os.path.join(dirname, "soak_rss.json")) as f:
        samples = json.load(f)
    kib = [s["kib"] for s in samples if s["kib"] is not None]
    # Drift: from the first sample after warm-up (5 s) to the last one during the load.
    warm = [s["kib"] for s in samples if s["t_s"] >= 4.5 and s["kib"] is not None] or kib
    drift = (warm[-1] - warm[0]) / 1024 if len(warm) > 1 else None
    errors = load.get("non_200", 0)
    rows = int(rows_after) - int(rows_before)
    result = {
        "rate_rps": float(rate), "seconds": float(seconds), "requests": load.get("requests"), "ok": load.get("ok"),
        "errors": errors, "error_detail": load.get("errors"), "achieved_rps": load.get("rps"),
        "p50_ms": load.get("p50_ms"), "p99_ms": load.get("p99_ms"),
        "rss_samples": samples, "rss_start_mib": kib[0] / 1024 if kib else None,
        "rss_peak_mib": max(kib) / 1024 if kib else None, "rss_drift_after_warmup_mib": drift,
        "rss_3s_after_mib": int(rss_settled) / 1024, "usage_rows_written": rows,
    }
    lines = [
        f"Soak: {fmt(float(rate))} rps for {fmt(float(seconds))} s through the gateway, usage log on.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| requests answered 200 / sent | {load.get('ok')} / {load.get('requests')} |",
        f"| errors (must be 0) | {errors}{' ' + json.dumps(load.get('errors')) if errors else ''} |",
        f"| achieved rps | {fmt(load.get('rps'))} |",
        f"| p50 / p99 (ms) | {fmt(load.get('p50_ms'))} / {fmt(load.get('p99_ms'))} |",
        f"| RSS at start / peak / 3 s after (MiB) | {fmt(result['rss_start_mib'])} / {fmt(result['rss_peak_mib'])} / "
        f"{fmt(result['rss_3s_after_mib'])} |",
        f"| RSS drift from 5 s to the end (MiB) | {fmt(drift)} |",
        f"| usage rows written during the soak | {rows} |",
        "",
        "RSS every 5 s (MiB): " + ", ".join(fmt(s["kib"] / 1024) for s in samples if s["kib"] is not None),
    ]
    print("\n".join(lines))
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


PEERS = [("switchyard", "Switchyard"), ("litellm", "LiteLLM"), ("portkey", "Portkey"), ("mock", "mock direct")]


def peers_report(dirname, out_json):
    """Medians over the rounds of each figure, per gateway, with the spread (min–max)."""
    def load(name):
        path = os.path.join(dirname, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    meta = load("meta.json") or {}
    rounds = meta.get("rounds", 3)
    figures = {}
    failures = []
    for key, _ in PEERS:
        per_round = {"cpu_us": [], "rps": [], "p50_ms": [], "added_p50_ms": [], "ttft_p50_ms": [], "ttft_p99_ms": []}
        for r in range(1, rounds + 1):
            fixed, closed = load(f"r{r}.{key}.fixed.json"), load(f"r{r}.{key}.closed.json")
            cpu, ttft = load(f"r{r}.{key}.closed.cpu.json"), load(f"r{r}.{key}.ttft.json")
            direct = load(f"r{r}.mock.fixed.json")
            if cpu and cpu.get("us_per_request") is not None:
                per_round["cpu_us"].append(cpu["us_per_request"])
            if closed and closed.get("rps") is not None:
                per_round["rps"].append(closed["rps"] * closed["ok"] / closed["requests"] if closed["requests"] else 0)
            if fixed and fixed.get("p50_ms") is not None:
                per_round["p50_ms"].append(fixed["p50_ms"])
                if key != "mock" and direct and direct.get("p50_ms") is not None:
                    per_round["added_p50_ms"].append(fixed["p50_ms"] - direct["p50_ms"])
            if ttft and ttft.get("p50_ms") is not None:
                per_round["ttft_p50_ms"].append(ttft["p50_ms"])
                per_round["ttft_p99_ms"].append(ttft["p99_ms"])
            for label, d in (("fixed rate", fixed), ("closed loop", closed), ("streams", ttft)):
                if d is None:
                    failures.append(f"{key} round {r} {label}: no result")
                    continue
                bad = d.get("non_200", 0) + (d.get("errors", 0) if isinstance(d.get("errors"), int) else 0)
                if bad:
                    failures.append(f"{key} round {r} {label}: {bad} failed of {d.get('requests', d.get('n'))}")
        summary = {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "rounds": v} if v else None
                   for k, v in per_round.items()}
        idle, after, start = load(f"{key}.rss_idle.json"), load(f"{key}.rss_after.json"), load(f"{key}.startup.json")
        summary["rss_idle_mib"] = idle["idle_kib"] / 1024 if idle else None
        summary["rss_after_mib"] = after["after_kib"] / 1024 if after else None
        summary["startup_ms"] = start.get("median_ms") if start else None
        figures[key] = summary

    def cell(key, fig, digits=2):
        v = figures[key].get(fig)
        if v is None:
            return "—"
        if isinstance(v, dict):
            if len(v["rounds"]) > 1 and v["max"] != v["min"]:
                return f"{fmt(v['median'], digits)} ({fmt(v['min'], digits)}–{fmt(v['max'], digits)})"
            return fmt(v["median"], digits)
        return fmt(v, digits)

    rows = [
        ("CPU per request (µs)", "cpu_us"),
        ("requests per second, one core, closed loop", "rps"),
        ("p50 at a fixed 50 rps (ms)", "p50_ms"),
        ("added p50 at 50 rps (ms)", "added_p50_ms"),
        ("stream time to first token p50 (ms)", "ttft_p50_ms"),
        ("stream time to first token p99 (ms)", "ttft_p99_ms"),
        ("RSS idle (MiB)", "rss_idle_mib"),
        ("RSS after the rounds (MiB)", "rss_after_mib"),
        ("start to first answer (ms)", "startup_ms"),
    ]
    lines = [
        f"Side by side: medians of {rounds} interleaved rounds (min–max in brackets); each gateway pinned to CPU0, "
        f"the mock and the load generator on CPU1. LiteLLM {meta.get('litellm', '?')} (1 worker, {meta.get('python', '?')}), "
        f"Portkey {meta.get('portkey', '?')} (Node {meta.get('node', '?')}; streaming with the harness fix "
        "tests/benches/portkey_fetch_fix.mjs).",
        "",
        "| figure | " + " | ".join(label for _, label in PEERS) + " |",
        "|---|" + "---|" * len(PEERS),
    ]
    for label, fig in rows:
        lines.append(f"| {label} | " + " | ".join(cell(key, fig) for key, _ in PEERS) + " |")
    lines.append("")
    lines.append("Failures: " + ("; ".join(failures) if failures else "none (every request answered 200)."))
    lines.append("Start-up: Switchyard's is the median of its runs above; a peer's is one spawn to its first "
                 "health answer (LiteLLM: /health/liveliness, Portkey: /).")
    print("\n".join(lines))
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump({"meta": meta, "figures": figures, "failures": failures}, f, indent=2)
        f.write("\n")


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "free-port":
        print(free_port())
    elif cmd == "wait":
        port = int(args[0])
        timeout = float(args[1]) if len(args) > 1 else 30.0
        path = args[2] if len(args) > 2 else "/health"
        return 0 if wait(port, timeout, path) else 1
    elif cmd == "startup":
        sep = args.index("--")
        opts = dict(zip(args[:sep:2], args[1:sep:2]))
        print(json.dumps(startup(int(opts["--port"]), int(opts["--runs"]), int(opts["--cpu"]), args[sep + 1 :])))
    elif cmd == "ttft":
        pairs = list(zip(args[::2], args[1::2]))
        opts = dict(pairs)
        headers = [v for k, v in pairs if k == "--header"]
        anthropic = opts.get("--shape") == "anthropic"
        print(json.dumps(ttft(int(opts["--port"]), opts["--path"], opts["--model"], int(opts["--n"]), headers, anthropic)))
    elif cmd == "gaps":
        opts = dict(zip(args[::2], args[1::2]))
        print(json.dumps(gaps(int(opts["--port"]), opts["--path"], opts["--model"], int(opts["--n"]))))
    elif cmd == "rss":
        print(rss_kib(int(args[0])))
    elif cmd == "rss-tree":
        print(rss_tree_kib(int(args[0])))
    elif cmd == "usage-rows":
        print(usage_rows(args[0]))
    elif cmd == "rss-sample":
        print(json.dumps(rss_sample(int(args[0]), float(args[1]), float(args[2]))))
    elif cmd == "soak-report":
        soak_report(*args)
    elif cmd == "peers-report":
        peers_report(args[0], args[1])
    elif cmd == "cpu":
        user, system = cpu_seconds(int(args[0]))
        print(f"{user:.4f},{system:.4f}")
    elif cmd == "cpu-per-request":
        print(json.dumps(cpu_per_request(args[0], args[1], args[2])))
    elif cmd == "oha":
        print(json.dumps(oha_summary(args[0])))
    elif cmd == "paced":
        opts = dict(zip(args[::2], args[1::2]))
        print(json.dumps(paced(opts["--url"], opts["--body"], float(opts["--rate"]), float(opts["--seconds"]))))
    elif cmd == "send":
        pairs = list(zip(args[::2], args[1::2]))
        opts = dict(pairs)
        headers = [v for k, v in pairs if k == "--header"]
        result = send(opts["--url"], opts["--body"], int(opts["--n"]), int(opts.get("--connections", 4)), headers,
                      float(opts.get("--pause-ms", 0)))
        print(json.dumps(result))
        if result["non_200"]:
            print(f"bench_helper: {result['non_200']} of {result['requests']} requests failed; first: "
                  f"{result['first_failure']}", file=sys.stderr)
            return 1
    elif cmd == "wrk":
        print(json.dumps(wrk_summary(args[0], float(args[1]))))
    elif cmd == "cpu-model":
        print(cpu_model())
    elif cmd == "report":
        report(args[0], args[1])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
