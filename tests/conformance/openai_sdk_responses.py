"""The real OpenAI Python SDK's Responses API (`client.responses.create` / `.stream`) through the
gateway.

Run by tests/tests/e2e/sdk_conformance.rs; argv[1] is the base URL (`.../v1`), argv[2] the
provider prefix (`mock/`: an OpenAI-compatible upstream, translated to Chat; `claude/`: an
Anthropic upstream, translated through Chat; `gem/`: a Gemini upstream, translated through
Chat; `oai/`: a provider that speaks Responses, passed through). argv[3] is the input-token count the upstream reports (Anthropic counts cached tokens
apart). Every check raises on failure.
"""

import json
import sys

import openai
from openai import OpenAI

base_url, prefix, input_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0, timeout=30)

# Plain, with instructions and a developer message.
response = client.responses.create(
    model=f"{prefix}echo",
    instructions="be brief",
    input=[
        {"role": "developer", "content": "answer plainly"},
        {"role": "user", "content": [{"type": "input_text", "text": "hello responses"}]},
    ],
    store=False,
)
assert response.object == "response", response
assert response.status == "completed", response
assert response.output_text == "echo: hello responses", response
assert response.usage.input_tokens == input_tokens, response.usage
assert response.usage.output_tokens == 5, response.usage
assert response.usage.input_tokens_details.cached_tokens == 4, response.usage

# A string input.
response = client.responses.create(model=f"{prefix}echo", input="just a string")
assert response.output_text == "echo: just a string", response

# Streamed with the SDK's helper: it checks event order, item identities and indexes, and
# assembles the final response from the events.
deltas = []
with client.responses.stream(model=f"{prefix}echo", input="stream me please") as stream:
    for event in stream:
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
    final = stream.get_final_response()
assert "".join(deltas) == "echo: stream me please", deltas
assert final.output_text == "echo: stream me please", final
assert final.usage.output_tokens == 5, final.usage

# Raw streaming events, as Codex reads them.
kinds = [event.type for event in client.responses.create(model=f"{prefix}echo", input="raw", stream=True)]
assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
             "response.content_part.done", "response.output_item.done"):
    assert kind in kinds, (kind, kinds)

# Tools: the function is called (streamed arguments assembled by the helper); a non-function
# tool (web_search) is dropped by translation, never an error.
tools = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
]
if prefix != "oai/":
    tools.append({"type": "web_search"})
with client.responses.stream(model=f"{prefix}tool", input="weather in Paris?", tools=tools) as stream:
    argument_deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
    final = stream.get_final_response()
calls = [item for item in final.output if item.type == "function_call"]
assert len(calls) == 1, final.output
call = calls[0]
assert call.name == "get_weather", call
assert json.loads(call.arguments)["city"] == "Paris", call
assert "".join(argument_deltas) == call.arguments, (argument_deltas, call)

# The tool result goes back as a function_call_output item; the model answers with text.
followup = client.responses.create(
    model=f"{prefix}tool",
    input=[
        {"role": "user", "content": "weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
    ],
    tools=tools,
)
assert followup.output_text == "tool result: sunny, 21 C", followup

# Errors surface as the SDK's typed exceptions.
try:
    client.responses.create(model=f"{prefix}status-429", input="x")
    raise AssertionError("expected a rate-limit error")
except openai.RateLimitError as err:
    assert err.status_code == 429
try:
    client.responses.create(model="nowhere/model", input="x")
    raise AssertionError("expected not found")
except openai.NotFoundError as err:
    assert err.body["code"] == "model_not_found", err.body
if prefix != "oai/":
    try:
        client.responses.create(model=f"{prefix}echo", input="more", previous_response_id="resp_123")
        raise AssertionError("expected previous_response_id to be refused")
    except openai.BadRequestError as err:
        assert err.body["param"] == "previous_response_id", err.body

print("all checks passed")
