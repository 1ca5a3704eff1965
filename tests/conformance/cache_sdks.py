"""The response cache (issue 14) through the real SDKs: a streamed answer replayed to the OpenAI
SDK (passed through), the Anthropic SDK (translated to an OpenAI-compatible upstream) and Google's
genai SDK (passed through to a Gemini upstream, and translated to an OpenAI-compatible one), each
identical to the first answer as the SDK parses it, chunk by chunk. Whole answers too.

Usage: cache_sdks.py BASE_URL ADMIN_TOKEN OPENAI_PREFIX GEMINI_PREFIX
BASE_URL is the gateway without /v1 (`http://127.0.0.1:PORT`); the gateway runs `[cache] mode =
"exact"`. OPENAI_PREFIX names an OpenAI-compatible mock provider (`mock/`), GEMINI_PREFIX a
Gemini-shaped one (`gem/`). The mocks number their answers (`chatcmpl-mock-N`, `mock-N`), so an
answer that reached the upstream again differs from the first.

Each pair: the first request is a `miss`; the script then waits until the cache's writer stored
the entry (`GET /api/cache/stats`: `entries` one more); the second is a `hit-exact`, counted in
`hits.exact`, and equal to the first in every parsed chunk. Every prompt is used by one pair only
(the Rust test checks each reached its upstream once). Exits non-zero on the first failure.
"""

import json
import sys
import time
import urllib.request

import anthropic
import openai
from google import genai
from google.genai import types
from openai import OpenAI

base, admin_token, oa_prefix, gem_prefix = sys.argv[1:5]


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED {name}: {detail}")
    print(f"ok {name}")


def same(name, first, second):
    """Equal, or a failure that says where they part."""
    if first == second:
        print(f"ok {name}")
        return
    if isinstance(first, list) and isinstance(second, list):
        for index, (a, b) in enumerate(zip(first, second)):
            if a != b:
                raise SystemExit(
                    f"FAILED {name}: chunk {index} of {len(first)}/{len(second)} differs:\n"
                    f"first:  {json.dumps(a, default=str)}\nreplay: {json.dumps(b, default=str)}"
                )
        raise SystemExit(f"FAILED {name}: {len(first)} chunks first, {len(second)} replayed")
    raise SystemExit(f"FAILED {name}:\nfirst:  {first}\nreplay: {second}")


def stats():
    request = urllib.request.Request(f"{base}/api/cache/stats", headers={"x-switchyard-admin-token": admin_token})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_stored(before, name):
    """Waits until the writer stored the first answer (it does so on its own thread)."""
    deadline = time.monotonic() + 10
    while True:
        now = stats()
        if now["entries"] > before["entries"]:
            check(f"{name}: stored once", now["entries"] == before["entries"] + 1, now)
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"FAILED {name}: the first answer was never stored: {now}")
        time.sleep(0.02)


def header(headers, name):
    """A header from httpx's headers or genai's plain dict, whatever its case."""
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value
    return None


def pair(name, make, cache_of):
    """Makes the request twice; checks miss then hit; returns both results."""
    before = stats()
    first = make()
    check(f"{name}: first is a miss", cache_of(first) == "miss", cache_of(first))
    wait_stored(before, name)
    second = make()
    check(f"{name}: second is a hit", cache_of(second) == "hit-exact", cache_of(second))
    after = stats()
    check(f"{name}: counted as an exact hit", after["hits"]["exact"] == before["hits"]["exact"] + 1, after)
    return first, second


# --- OpenAI SDK at /v1, passed through ----------------------------------------------------------
oa = OpenAI(base_url=f"{base}/v1", api_key="sk-client-key", max_retries=0, timeout=30)


def openai_stream():
    raw = oa.chat.completions.with_raw_response.create(
        model=oa_prefix + "mock-model",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "cache openai stream"}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.2,
    )
    chunks = [chunk.model_dump() for chunk in raw.parse()]
    return {"cache": raw.headers.get("x-switchyard-cache"), "chunks": chunks}


first, second = pair("openai stream", openai_stream, lambda r: r["cache"])
for label, run in (("first", first), ("replay", second)):
    chunks = run["chunks"]
    text = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"])
    check(f"openai stream {label}: text", text == "echo: cache openai stream", text)
    check(f"openai stream {label}: chunks", len(chunks) >= 3, len(chunks))
    check(f"openai stream {label}: one id", len({c["id"] for c in chunks}) == 1, chunks)
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    check(f"openai stream {label}: finish", finish == ["stop"], finish)
    usage = chunks[-1]["usage"]
    check(f"openai stream {label}: usage", usage is not None and usage["completion_tokens"] > 0, chunks[-1])
same("openai stream: id", first["chunks"][0]["id"], second["chunks"][0]["id"])
same("openai stream: model", [c["model"] for c in first["chunks"]], [c["model"] for c in second["chunks"]])
same("openai stream: every chunk", first["chunks"], second["chunks"])


def openai_whole():
    raw = oa.chat.completions.with_raw_response.create(
        model=oa_prefix + "mock-model", messages=[{"role": "user", "content": "cache openai whole"}]
    )
    return {"cache": raw.headers.get("x-switchyard-cache"), "completion": raw.parse().model_dump()}


first, second = pair("openai whole", openai_whole, lambda r: r["cache"])
content = first["completion"]["choices"][0]["message"]["content"]
check("openai whole: text", content == "echo: cache openai whole", first)
same("openai whole: completion", first["completion"], second["completion"])

# --- Anthropic SDK at /, translated to the OpenAI-compatible upstream ------------------------------
an = anthropic.Anthropic(base_url=base, api_key="sk-client-not-forwarded", max_retries=0)


def anthropic_stream():
    with an.messages.stream(
        model=oa_prefix + "mock-model", max_tokens=256, messages=[{"role": "user", "content": "cache anthropic stream"}]
    ) as stream:
        cache = stream.response.headers.get("x-switchyard-cache")
        events = [event.model_dump() for event in stream]
        final = stream.get_final_message().model_dump()
    return {"cache": cache, "events": events, "final": final}


first, second = pair("anthropic stream", anthropic_stream, lambda r: r["cache"])
for label, run in (("first", first), ("replay", second)):
    final = run["final"]
    text = "".join(b["text"] for b in final["content"] if b["type"] == "text")
    check(f"anthropic stream {label}: text", text == "echo: cache anthropic stream", final)
    check(f"anthropic stream {label}: stop_reason", final["stop_reason"] == "end_turn", final)
    check(f"anthropic stream {label}: usage", final["usage"]["output_tokens"] > 0, final)
    deltas = [e for e in run["events"] if e["type"] == "content_block_delta"]
    check(f"anthropic stream {label}: deltas", len(deltas) >= 2, run["events"])
same("anthropic stream: message id", first["final"]["id"], second["final"]["id"])
same("anthropic stream: usage", first["final"]["usage"], second["final"]["usage"])
same("anthropic stream: final message", first["final"], second["final"])
same("anthropic stream: every event", first["events"], second["events"])


def anthropic_whole():
    raw = an.messages.with_raw_response.create(
        model=oa_prefix + "mock-model", max_tokens=256, messages=[{"role": "user", "content": "cache anthropic whole"}]
    )
    return {"cache": raw.headers.get("x-switchyard-cache"), "message": raw.parse().model_dump()}


first, second = pair("anthropic whole", anthropic_whole, lambda r: r["cache"])
check("anthropic whole: text", first["message"]["content"][0]["text"] == "echo: cache anthropic whole", first)
same("anthropic whole: message", first["message"], second["message"])

# --- genai SDK at /v1beta: passed through to Gemini, translated to OpenAI-compatible ------------------
gm = genai.Client(
    api_key="client-key-not-forwarded",
    http_options=types.HttpOptions(base_url=base, retry_options=types.HttpRetryOptions(attempts=1)),
)
CONFIG = types.GenerateContentConfig(system_instruction="be brief", temperature=0.2, max_output_tokens=256)


def dump(response):
    """The parsed answer without the HTTP response the SDK attaches (its headers differ)."""
    return response.model_dump(exclude={"sdk_http_response"})


for prefix, how in ((gem_prefix, "passed through"), (oa_prefix, "translated")):
    name = f"genai stream {how}"
    prompt = f"cache genai stream {how}"

    def genai_stream(prefix=prefix, prompt=prompt):
        chunks = list(gm.models.generate_content_stream(model=prefix + "mock-model", contents=prompt, config=CONFIG))
        caches = {header(c.sdk_http_response.headers, "x-switchyard-cache") for c in chunks if c.sdk_http_response}
        return {"cache": caches.pop() if len(caches) == 1 else caches, "chunks": chunks}

    first, second = pair(name, genai_stream, lambda r: r["cache"])
    for label, run in (("first", first), ("replay", second)):
        chunks = run["chunks"]
        text = "".join(c.text or "" for c in chunks)
        check(f"{name} {label}: text", text == f"echo: {prompt}", text)
        check(f"{name} {label}: chunks", len(chunks) >= 3, len(chunks))
        check(f"{name} {label}: finish", chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP, chunks[-1])
    texts = ["".join(c.text or "" for c in run["chunks"]) for run in (first, second)]
    same(f"{name}: text", texts[0], texts[1])
    same(f"{name}: response id", first["chunks"][0].response_id, second["chunks"][0].response_id)
    same(f"{name}: every chunk", [dump(c) for c in first["chunks"]], [dump(c) for c in second["chunks"]])

    name = f"genai whole {how}"
    prompt = f"cache genai whole {how}"

    def genai_whole(prefix=prefix, prompt=prompt):
        response = gm.models.generate_content(model=prefix + "mock-model", contents=prompt, config=CONFIG)
        return {"cache": header(response.sdk_http_response.headers, "x-switchyard-cache"), "response": response}

    first, second = pair(name, genai_whole, lambda r: r["cache"])
    check(f"{name}: text", first["response"].text == f"echo: {prompt}", first["response"])
    same(f"{name}: response", dump(first["response"]), dump(second["response"]))

final = stats()
check("hits counted", final["hits"]["exact"] == 8, final)
print(
    f"openai {openai.__version__}, anthropic {anthropic.__version__}, google-genai {genai.__version__}: "
    "all checks passed"
)
