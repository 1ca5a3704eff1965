"""The real Anthropic Python SDK against the gateway (run by tests/tests/sdk_conformance.rs).

Usage: anthropic_sdk.py BASE_URL MODEL_PREFIX
BASE_URL is the gateway without /v1 (as ANTHROPIC_BASE_URL); MODEL_PREFIX picks the provider:
`mock/` (an OpenAI-compatible upstream: translated) or `claude/` (an Anthropic upstream: passed
through). Model names choose the mock's behaviour (tool, reasoning, status-429, cut-mid-stream).
"""

import sys

import anthropic

base, prefix = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base, api_key="sk-client-not-forwarded", max_retries=0)
USER = [{"role": "user", "content": "hi there"}]
WEATHER = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED {name}: {detail}")
    print(f"ok {name}")


# create, not streamed
message = client.messages.create(model=prefix + "mock-model", max_tokens=4096, messages=USER,
                                 system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}])
check("create", message.content[0].type == "text" and message.content[0].text == "echo: hi there", message)
check("create stop_reason", message.stop_reason == "end_turn", message.stop_reason)
check("create usage", message.usage.output_tokens == 5, message.usage)

# streamed, through the SDK's accumulating helper
with client.messages.stream(model=prefix + "mock-model", max_tokens=1024, messages=USER) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
check("stream text", text == "echo: hi there", text)
check("stream final", final.stop_reason == "end_turn" and final.usage.output_tokens == 5, final)

# tools: a tool_use block parsed, then the tool round trip
with client.messages.stream(model=prefix + "tool", max_tokens=1024, messages=USER, tools=[WEATHER]) as stream:
    final = stream.get_final_message()
uses = [b for b in final.content if b.type == "tool_use"]
check("tool_use parsed", len(uses) == 1 and uses[0].name == "get_weather" and uses[0].input.get("city") == "Paris", final)
check("tool stop_reason", final.stop_reason == "tool_use", final.stop_reason)
followup = client.messages.create(
    model=prefix + "mock-model", max_tokens=1024, tools=[WEATHER],
    messages=USER + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "hello-from-tool"}]},
    ])
check("tool round trip", followup.content[0].text == "tool result: hello-from-tool", followup)

created = client.messages.create(model=prefix + "parallel-tool", max_tokens=100, messages=USER, tools=[WEATHER])
cities = [b.input.get("city") for b in created.content if b.type == "tool_use"]
check("parallel tool_use", cities == ["Paris", "Oslo"], created)

# thinking: a thinking block with a signature, echoed back in the next turn
with client.messages.stream(model=prefix + "reasoning", max_tokens=2048, messages=USER,
                            thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
    final = stream.get_final_message()
thinking = [b for b in final.content if b.type == "thinking"]
check("thinking block", len(thinking) == 1 and thinking[0].thinking and thinking[0].signature, final)
again = client.messages.create(
    model=prefix + "mock-model", max_tokens=100,
    messages=USER + [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
                     {"role": "user", "content": "and then?"}])
check("thinking echoed back", again.content[0].text == "echo: and then?", again)

# count_tokens
counted = client.messages.count_tokens(model=prefix + "mock-model", messages=USER)
check("count_tokens", counted.input_tokens > 0, counted)

# models
models = client.models.list()
check("models", any(m.id.startswith(prefix) for m in models.data), models)

# errors, typed
try:
    client.messages.create(model=prefix + "status-429", max_tokens=10, messages=USER)
    check("429", False, "no exception")
except anthropic.RateLimitError as err:
    check("429 is RateLimitError", err.status_code == 429, err)
try:
    client.messages.create(model="nowhere/nothing", max_tokens=10, messages=USER)
    check("404", False, "no exception")
except anthropic.NotFoundError as err:
    check("unknown model is NotFoundError", err.status_code == 404, err)
try:
    with client.messages.stream(model=prefix + "cut-mid-stream", max_tokens=10, messages=USER) as stream:
        for _ in stream.text_stream:
            pass
    check("cut stream", False, "no exception")
except anthropic.APIError as err:
    check("cut stream raises", True, err)

print("all checks passed")
