"""The real OpenAI Python SDK through the gateway to an Anthropic upstream (translated); the
same checks run against a Gemini upstream (prefix `gem/`).

Usage: openai_sdk_to_anthropic.py BASE_URL MODEL_PREFIX   (BASE_URL ends with /v1)
"""

import json
import sys

import openai

base, prefix = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
USER = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED {name}: {detail}")
    print(f"ok {name}")


chat = client.chat.completions.create(model=prefix + "mock-model", messages=USER)
check("chat", chat.choices[0].message.content == "echo: hi there", chat)
check("chat usage", chat.usage.completion_tokens == 5 and chat.choices[0].finish_reason == "stop", chat)

stream = client.chat.completions.create(model=prefix + "mock-model", messages=USER, stream=True,
                                        stream_options={"include_usage": True})
text, usage = "", None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
    if chunk.usage:
        usage = chunk.usage
check("stream", text == "echo: hi there", text)
check("stream usage", usage is not None and usage.completion_tokens == 5, usage)

chat = client.chat.completions.create(model=prefix + "tool", messages=USER, tools=TOOLS)
call = chat.choices[0].message.tool_calls[0]
check("tool call", call.function.name == "get_weather" and json.loads(call.function.arguments)["city"] == "Paris", chat)
check("tool finish", chat.choices[0].finish_reason == "tool_calls", chat)

stream = client.chat.completions.create(model=prefix + "tool", messages=USER, tools=TOOLS, stream=True)
arguments, name, finish = "", None, None
for chunk in stream:
    for choice in chunk.choices:
        for tc in choice.delta.tool_calls or []:
            name = tc.function.name or name
            arguments += tc.function.arguments or ""
        finish = choice.finish_reason or finish
check("streamed tool call", name == "get_weather" and json.loads(arguments)["city"] == "Paris", arguments)
check("streamed tool finish", finish == "tool_calls", finish)

followup = client.chat.completions.create(model=prefix + "mock-model", tools=TOOLS, messages=USER + [
    {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
    {"role": "tool", "tool_call_id": call.id, "content": "hello-from-tool"},
])
check("tool round trip", followup.choices[0].message.content == "tool result: hello-from-tool", followup)

try:
    client.chat.completions.create(model=prefix + "status-429", messages=USER)
    check("429", False, "no exception")
except openai.RateLimitError as err:
    check("429 is RateLimitError", err.status_code == 429, err)

print("all checks passed")
