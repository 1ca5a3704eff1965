"""Google's own Python SDK (google-genai) through the gateway: the Gemini API passed through to a
Gemini-shaped upstream, or translated to another provider's.

Usage: genai_sdk.py BASE_URL MODEL_PREFIX   (BASE_URL without /v1beta)
"""

import sys

from google import genai
from google.genai import errors, types

base, prefix = sys.argv[1], sys.argv[2]
client = genai.Client(
    api_key="client-key-not-forwarded",
    http_options=types.HttpOptions(base_url=base, retry_options=types.HttpRetryOptions(attempts=1)),
)
SYSTEM = types.GenerateContentConfig(system_instruction="be brief", temperature=0.2, max_output_tokens=256)
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="weather by city",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)
TOOLS = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED {name}: {detail}")
    print(f"ok {name}")


response = client.models.generate_content(model=prefix + "mock-model", contents="hi there", config=SYSTEM)
check("generate", response.text == "echo: hi there", response)
check("finish", response.candidates[0].finish_reason == types.FinishReason.STOP, response)
check("usage", response.usage_metadata.prompt_token_count == 12 and response.usage_metadata.total_token_count > 12,
      response.usage_metadata)

chunks = list(client.models.generate_content_stream(model=prefix + "stream-delay-5", contents="hi there"))
check("stream", "".join(c.text or "" for c in chunks) == "echo: hi there", chunks)
check("stream chunks", len(chunks) >= 3, len(chunks))
check("stream finish", chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP, chunks[-1])

response = client.models.generate_content(model=prefix + "tool", contents="weather?", config=TOOLS)
calls = response.function_calls or []
check("function call", len(calls) == 1 and calls[0].name == "get_weather" and calls[0].args["city"] == "Paris",
      response)

history = [
    types.Content(role="user", parts=[types.Part.from_text(text="weather?")]),
    response.candidates[0].content,
    types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather",
                                                                        response={"output": "sunny"})]),
]
followup = client.models.generate_content(model=prefix + "tool", contents=history, config=TOOLS)
check("function round trip", followup.text == "tool result: sunny", followup)

count = client.models.count_tokens(model=prefix + "mock-model", contents="a prompt of some forty bytes, roughly")
check("count_tokens", (count.total_tokens or 0) > 0, count)

try:
    client.models.generate_content(model=prefix + "status-429", contents="hi")
    check("429", False, "no exception")
except errors.ClientError as err:
    check("429 is a ClientError", err.code == 429 and err.status == "RESOURCE_EXHAUSTED", err)

try:
    client.models.generate_content(model="nobody/none", contents="hi")
    check("404", False, "no exception")
except errors.ClientError as err:
    check("unknown model is 404", err.code == 404 and err.status == "NOT_FOUND", err)

try:
    for _ in client.models.generate_content_stream(model=prefix + "cut-mid-stream", contents="hi there"):
        pass
    check("cut stream", False, "the stream ended without an error")
except errors.APIError as err:
    check("cut stream raises", err.code >= 500, err)

print("all checks passed")
