"""Self-check of embedding_server.py: the real model tells paraphrases from unrelated prompts.

Starts the server beside this file with the same interpreter, embeds the pairs below over HTTP
(the OpenAI embeddings API, as the gateway calls it), prints a table of cosine similarities and
asserts that every paraphrase pair is above the threshold and every unrelated pair below it; also
checks list input, the error answers, /stats, and that the server exits when its stdin closes.
Exit 0 when all hold, 1 otherwise.

Usage: python embedding_server_check.py [--threshold 0.85]

0.85 is the threshold recommended for the cache's tests with this model: the paraphrases here
measure 0.89-0.97 and the unrelated pairs under 0.1. Prompts on the same topic that ask
something else land in between (0.57-0.80), and a few that swap two words score near 1.0 (see
NEAR; printed, not asserted): a cache test should not rely on the model telling those apart.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# Straight to loopback, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MODEL = "all-minilm-l6-v2"

PARAPHRASES = [
    ("How do I reverse a list in Python?", "What's the way to reverse a Python list?"),
    ("Write a haiku about autumn leaves", "Compose a haiku on falling autumn leaves"),
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("Explain how photosynthesis works", "Can you explain the process of photosynthesis?"),
    ("How can I convert a string to an integer in JavaScript?",
     "In JavaScript, how do I turn a string into an integer?"),
    ("Translate 'good morning' into Spanish", "How do you say 'good morning' in Spanish?"),
    ("What are the health benefits of drinking green tea?", "Why is green tea good for your health?"),
    ("Summarize the plot of Romeo and Juliet", "Give me a summary of the story of Romeo and Juliet"),
]
UNRELATED = [
    ("How do I reverse a list in Python?", "What is the capital of France?"),
    ("Write a haiku about autumn leaves", "How do I reverse a list in Python?"),
    ("Write a haiku about autumn leaves", "What is the capital of France?"),
    ("Explain how photosynthesis works", "How can I convert a string to an integer in JavaScript?"),
    ("What are the health benefits of drinking green tea?", "Summarize the plot of Romeo and Juliet"),
    ("Translate 'good morning' into Spanish", "What's the way to reverse a Python list?"),
    ("What is the capital of France?", "Compose a haiku on falling autumn leaves"),
    ("How do I bake sourdough bread?", "What is the time complexity of quicksort?"),
]
# Same topic, another question: informational only.
NEAR = [
    ("How do I reverse a list in Python?", "How do I sort a list in Python?"),
    ("What is the capital of France?", "What is the capital of Germany?"),
    ("Write a haiku about autumn leaves", "Write a haiku about spring flowers"),
    ("How can I convert a string to an integer in JavaScript?",
     "How can I convert an integer to a string in JavaScript?"),
]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)


def start_server():
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "embedding_server.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True,
    )
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    if not line or not line[0].startswith("listening on http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"FAIL: the server did not announce its port (got {line!r}, exit {proc.poll()})")
    return proc, line[0].strip().removeprefix("listening on ")


def call(base, method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with OPENER.open(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=0.85)
    args = ap.parse_args()
    threshold = args.threshold

    t0 = time.monotonic()
    proc, base = start_server()
    print(f"server up at {base} in {time.monotonic() - t0:.1f}s", flush=True)
    try:
        status, health = call(base, "GET", "/health")
        check(status == 200 and health.get("model") == MODEL and health.get("dimensions") == 384,
              f"/health: {status} {health}")
        status, models = call(base, "GET", "/v1/models")
        check(status == 200 and [m["id"] for m in models.get("data", [])] == [MODEL], f"/v1/models: {models}")

        # Every distinct text in one list request, then each pair's similarity from those vectors.
        texts = sorted({t for pairs in (PARAPHRASES, UNRELATED, NEAR) for pair in pairs for t in pair})
        status, out = call(base, "POST", "/v1/embeddings", {"model": MODEL, "input": texts})
        check(status == 200, f"list input: {status} {out}")
        if status != 200:
            return 1
        check(out["object"] == "list" and out["model"] == MODEL, f"response shape: {out.get('object')} {out.get('model')}")
        check([d["index"] for d in out["data"]] == list(range(len(texts))), "indexes are 0..n-1 in order")
        check(all(len(d["embedding"]) == 384 for d in out["data"]), "384 dimensions")
        check(out["usage"]["prompt_tokens"] > 0 and out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"],
              f"usage: {out['usage']}")
        vec = {t: d["embedding"] for t, d in zip(texts, out["data"])}

        # A single string, on the other path, gives the same vector as in the batch.
        status, one = call(base, "POST", "/embeddings", {"model": MODEL, "input": texts[0], "encoding_format": "float"})
        check(status == 200 and len(one["data"]) == 1, f"string input: {status}")
        if status == 200:
            check(cosine(one["data"][0]["embedding"], vec[texts[0]]) > 0.9999, "single vs batch vector")
            norm = math.sqrt(sum(x * x for x in one["data"][0]["embedding"]))
            check(abs(norm - 1.0) < 1e-3, f"unit length (norm {norm})")

        rows = []
        for kind, pairs in (("paraphrase", PARAPHRASES), ("unrelated", UNRELATED), ("near (info)", NEAR)):
            for a, b in pairs:
                rows.append((kind, cosine(vec[a], vec[b]), a, b))
        print(f"\n{'pair':<12} {'cosine':>7}  texts")
        for kind, c, a, b in rows:
            print(f"{kind:<12} {c:7.4f}  {a!r} | {b!r}")
        para = [c for k, c, _, _ in rows if k == "paraphrase"]
        unrel = [c for k, c, _, _ in rows if k == "unrelated"]
        print(f"\nparaphrases min {min(para):.4f}, unrelated max {max(unrel):.4f}, threshold {threshold}\n")
        for kind, c, a, b in rows:
            if kind == "paraphrase":
                check(c > threshold, f"paraphrase {c:.4f} <= {threshold}: {a!r} | {b!r}")
            elif kind == "unrelated":
                check(c < threshold, f"unrelated {c:.4f} >= {threshold}: {a!r} | {b!r}")

        # Bad input: 400 with an OpenAI-shaped error.
        for body in ({"model": MODEL}, {"model": MODEL, "input": ""}, {"model": MODEL, "input": []},
                     {"model": MODEL, "input": [1, 2, 3]}, {"model": MODEL, "input": "x", "encoding_format": "base64"},
                     {"input": "x"}):
            status, err = call(base, "POST", "/v1/embeddings", body)
            check(status == 400 and err.get("error", {}).get("type") == "invalid_request_error",
                  f"{body} -> {status} {err}")
        status, err = call(base, "POST", "/v1/embeddings", raw=b"{not json")
        check(status == 400 and "error" in err, f"bad JSON -> {status} {err}")
        status, err = call(base, "POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"})
        check(status == 404 and err["error"]["code"] == "model_not_found", f"unknown model -> {status} {err}")

        # Every POST to an embeddings path counted: 2 good + 7 bad + 1 unknown model.
        status, stats = call(base, "GET", "/stats")
        check(stats.get("requests") == 10 and stats.get("errors") == 8 and stats.get("last_input") == [texts[0]],
              f"/stats: {stats}")
        status, stats = call(base, "POST", "/stats/reset", {})
        check(stats.get("requests") == 0, f"/stats/reset: {stats}")
    finally:
        # Closing stdin is how a test's end (or death) stops the server.
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            check(False, "the server did not exit within 10 s of its stdin closing")
    check(proc.returncode == 0, f"server exit code {proc.returncode}")

    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        return 1
    print("embedding server check: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
