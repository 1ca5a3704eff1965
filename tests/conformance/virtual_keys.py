"""The real OpenAI and Anthropic Python SDKs with virtual keys, as Bifrost's examples use them:
`api_key="vk-free"` (a key made with that id) and a key's `sk-sy-…` value.

Run by tests/tests/e2e/sdk_conformance.rs against a gateway with two mock providers and two keys:
`vk-free` may use `cheap/mock-model` only, with 3 requests a minute; the value in argv[2] may use
every provider. argv[1] is the gateway's base URL (`http://127.0.0.1:PORT`). Every check raises
on failure.
"""

import sys

import anthropic
import openai
from openai import OpenAI

base, value = sys.argv[1], sys.argv[2]
free = OpenAI(base_url=f"{base}/v1", api_key="vk-free", max_retries=0, timeout=30)

# The key's provider and model: served, and the answer says where it went.
raw = free.chat.completions.with_raw_response.create(
    model="cheap/mock-model", messages=[{"role": "user", "content": "hello free"}]
)
assert raw.headers["x-switchyard-provider"] == "cheap", raw.headers
assert raw.headers["x-ratelimit-limit-requests"] == "3", raw.headers
assert raw.parse().choices[0].message.content == "echo: hello free"

# Another provider: refused before any upstream call, as the SDK's PermissionDeniedError.
try:
    free.chat.completions.create(model="premium/mock-model", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("premium was allowed to vk-free")
except openai.PermissionDeniedError as err:
    assert err.body["code"] == "provider_blocked", err.body

# /v1/models shows the key only what it may use.
ids = {m.id for m in free.models.list() if "/" in m.id}
assert ids == {"cheap/mock-model"}, ids

# Three requests a minute: the third is the last, the fourth is a RateLimitError with Retry-After.
free.chat.completions.create(model="cheap/mock-model", messages=[{"role": "user", "content": "2"}])
free.chat.completions.create(model="cheap/mock-model", messages=[{"role": "user", "content": "3"}])
try:
    free.chat.completions.create(model="cheap/mock-model", messages=[{"role": "user", "content": "4"}])
    raise AssertionError("the fourth request in a minute was served")
except openai.RateLimitError as err:
    assert err.body["code"] == "request_limited", err.body
    assert 1 <= int(err.response.headers["retry-after"]) <= 60, err.response.headers

# The Anthropic SDK with the other key's value as its API key (sent as x-api-key), translated.
claude = anthropic.Anthropic(base_url=base, api_key=value, max_retries=0, timeout=30)
message = claude.messages.create(
    model="premium/mock-model", max_tokens=64, messages=[{"role": "user", "content": "hello premium"}]
)
assert message.content[0].text == "echo: hello premium", message

# A made-up value is refused, in Anthropic's shape.
stranger = anthropic.Anthropic(base_url=base, api_key="sk-sy-" + "0" * 64, max_retries=0, timeout=30)
try:
    stranger.messages.create(model="premium/mock-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    raise AssertionError("an unknown key was served")
except anthropic.AuthenticationError as err:
    assert err.body["error"]["type"] == "authentication_error", err.body

print("virtual keys: all checks passed")
