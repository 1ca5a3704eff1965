"""The real OpenAI Python SDK as a drop-in client of the gateway.

Run by tests/tests/sdk_conformance.rs against a gateway in front of a mock upstream; the base URL
comes in argv[1] (either `.../v1` or `.../openai`). Every check raises on failure.
"""

import json
import sys

import openai
from openai import OpenAI

base_url = sys.argv[1]
client = OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0, timeout=30)

# Non-streaming chat.
completion = client.chat.completions.create(
    model="mock/mock-model",
    messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello sdk"}],
)
assert completion.choices[0].message.content == "echo: hello sdk", completion
assert completion.usage.prompt_tokens == 12, completion.usage

# Streaming chat with usage requested.
text = ""
usage = None
with client.chat.completions.create(
    model="mock/mock-model",
    messages=[{"role": "user", "content": "stream me please"}],
    stream=True,
    stream_options={"include_usage": True},
) as stream:
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
assert text.strip() == "echo: stream me please", text
assert usage is not None and usage.completion_tokens == 5, usage

# Streaming without usage: the SDK must see no usage chunk.
chunks = list(
    client.chat.completions.create(
        model="mock/mock-model", messages=[{"role": "user", "content": "x"}], stream=True
    )
)
assert all(c.usage is None for c in chunks), chunks

# Tool calling, streamed arguments assembled by the SDK's helper.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
with client.chat.completions.stream(
    model="mock/tool", messages=[{"role": "user", "content": "weather?"}], tools=tools
) as stream:
    for _ in stream:
        pass
    final = stream.get_final_completion()
call = final.choices[0].message.tool_calls[0]
assert call.function.name == "get_weather", call
assert json.loads(call.function.arguments)["city"] == "Paris", call

# Models, embeddings, legacy completions.
ids = [m.id for m in client.models.list()]
assert "mock/mock-model" in ids, ids
emb = client.embeddings.create(model="mock/mock-model", input=["a", "b"])
assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8, emb
legacy = client.completions.create(model="mock/mock-model", prompt="def fib(")
assert isinstance(legacy.choices[0].text, str), legacy

# Errors surface as the SDK's typed exceptions with the upstream status.
try:
    client.chat.completions.create(model="mock/status-429", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected a rate-limit error")
except openai.RateLimitError as err:
    assert err.status_code == 429
try:
    client.chat.completions.create(model="nosuch/model", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected not found")
except openai.NotFoundError as err:
    assert "nosuch" in str(err)

# A stream that dies midway raises instead of ending cleanly.
try:
    for _ in client.chat.completions.create(
        model="mock/cut-mid-stream", messages=[{"role": "user", "content": "a b c"}], stream=True
    ):
        pass
    raise AssertionError("a cut stream must not end cleanly")
except openai.APIError:
    pass

print(f"openai SDK {openai.__version__}: all checks passed against {base_url}")
