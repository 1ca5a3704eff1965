"""A real MCP client, the official Python SDK (`mcp`), as a black-box driver for the MCP gateway.

Prints one JSON object on stdout with what it observed, and exits 0; on any failure it prints
{"ok": false, "script": ..., "error": "..."} on stdout, the same message on stderr, and exits 1.
The whole run is bounded by --timeout (30 s by default).

    python mcp_client.py --url URL [--header K:V ...] --script basic
        [--tool NAME --args JSON [--progress]]
    python mcp_client.py --url URL --script error-tool [--tool fail --args '{"message":"boom"}']
    python mcp_client.py --url URL --script prompts-resources [--prompt NAME --prompt-args JSON]
        [--resource URI]
    python mcp_client.py --script stdio-list --command CMD [--arg A ...]
        [--tool NAME --args JSON [--progress]]

Streamable HTTP to --url, or, when --command is given (any script; stdio-list requires it), stdio
to the spawned CMD; stdio-list is basic over stdio.
--mode legacy (the default) connects with the initialize handshake (protocol 2025-11-25);
--mode auto probes `server/discover` first (protocol 2026-07-28) and falls back to initialize.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

SCRIPTS = ("basic", "error-tool", "prompts-resources", "stdio-list")


class Failure(Exception):
    """A check this script makes failed (as opposed to an SDK or transport error)."""


def parse_header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected K:V, got {text!r}")
    return key.strip(), value.strip()


def parse_json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def content_text(content: list[Any]) -> str:
    return "\n".join(getattr(c, "text", "") for c in content if getattr(c, "type", None) == "text")


def describe(exc: BaseException) -> str:
    """One readable line for an exception, unwrapping anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    text = str(exc) or repr(exc)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if code is not None:
        text = f"[{code}] {text}"
        data = getattr(error, "data", None)
        if data is not None:
            text += f" (data: {json.dumps(data, default=str)[:500]})"
    return f"{type(exc).__name__}: {text}"


def make_client(args: argparse.Namespace) -> tuple[Client, httpx2.AsyncClient | None]:
    common: dict[str, Any] = {"mode": args.mode, "cache": None, "read_timeout_seconds": args.timeout}
    if args.script == "stdio-list" and not args.command:
        raise Failure("--script stdio-list needs --command")
    if args.command:
        params = StdioServerParameters(command=args.command, args=list(args.arg), env=dict(os.environ))
        return Client(params, **common), None
    if not args.url:
        raise Failure(f"--script {args.script} needs --url (or --command for stdio)")
    http = httpx2.AsyncClient(
        headers=dict(args.header),
        timeout=httpx2.Timeout(args.timeout, read=args.timeout),
    )
    return Client(streamable_http_client(args.url, http_client=http), **common), http


def server_fields(client: Client) -> dict[str, Any]:
    info = client.server_info
    return {
        "server": {"name": info.name, "version": info.version} if info else None,
        "protocolVersion": client.protocol_version,
    }


async def call(client: Client, name: str, arguments: dict[str, Any], progress: bool) -> dict[str, Any]:
    events: list[dict[str, Any]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        events.append({"progress": value, "total": total, "message": message})

    result = await client.call_tool(name, arguments, progress_callback=on_progress if progress else None)
    out: dict[str, Any] = {
        "tool": name,
        "isError": bool(result.is_error),
        "text": content_text(result.content),
        "content": [dump(c) for c in result.content],
    }
    if result.structured_content is not None:
        out["structuredContent"] = result.structured_content
    if progress:
        out["progress"] = [e["progress"] for e in events]
        out["progressEvents"] = events
    return out


async def script_basic(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    out = server_fields(client)
    tools = await client.list_tools()
    out["tools"] = [t.name for t in tools.tools]
    if args.tool:
        out["call"] = await call(client, args.tool, args.args, args.progress)
    return out


async def script_error_tool(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    tool = args.tool or "fail"
    arguments = args.args if args.args else {"message": "boom"}
    result = await call(client, tool, arguments, False)
    if not result["isError"]:
        raise Failure(f"tool {tool!r} did not return isError=true: {result['text']!r}")
    out = server_fields(client)
    out.update({"tool": tool, "isError": result["isError"], "text": result["text"]})
    return out


async def script_prompts_resources(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    out = server_fields(client)
    prompts = await client.list_prompts()
    out["prompts"] = [p.name for p in prompts.prompts]
    if args.prompt:
        got = await client.get_prompt(args.prompt, {k: str(v) for k, v in args.prompt_args.items()})
        out["prompt"] = {
            "name": args.prompt,
            "description": got.description,
            "messages": [{"role": m.role, "text": getattr(m.content, "text", None)} for m in got.messages],
        }
    resources = await client.list_resources()
    out["resources"] = [{"uri": str(r.uri), "name": r.name, "mimeType": r.mime_type} for r in resources.resources]
    if args.resource:
        read = await client.read_resource(args.resource)
        out["resource"] = {
            "uri": args.resource,
            "contents": [
                {"uri": str(c.uri), "mimeType": c.mime_type, "text": getattr(c, "text", None)} for c in read.contents
            ],
        }
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with anyio.fail_after(args.timeout):
        client, http = make_client(args)
        async with AsyncExitStack() as stack:
            if http is not None:
                await stack.enter_async_context(http)
            await stack.enter_async_context(client)
            if args.script in ("basic", "stdio-list"):
                out = await script_basic(client, args)
            elif args.script == "error-tool":
                out = await script_error_tool(client, args)
            else:
                out = await script_prompts_resources(client, args)
    return {"ok": True, "script": args.script, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="the MCP endpoint (Streamable HTTP), e.g. http://127.0.0.1:PORT/mcp")
    parser.add_argument("--header", type=parse_header, action="append", default=[], metavar="K:V")
    parser.add_argument("--script", choices=SCRIPTS, default="basic")
    parser.add_argument("--mode", default="legacy", help="legacy (initialize, default), auto, or 2026-07-28")
    parser.add_argument("--tool")
    parser.add_argument("--args", type=parse_json_object, default={}, metavar="JSON")
    parser.add_argument("--progress", action="store_true", help="call with a progress callback")
    parser.add_argument("--prompt")
    parser.add_argument("--prompt-args", type=parse_json_object, default={}, metavar="JSON")
    parser.add_argument("--resource")
    parser.add_argument("--command", help="use stdio: the server command to spawn (instead of --url)")
    parser.add_argument("--arg", action="append", default=[], help="with --command: one argument (repeatable)")
    parser.add_argument("--timeout", type=float, default=30.0, help="overall limit in seconds")
    args = parser.parse_args()

    # Last resort if shutdown itself wedges: the process never outlives the limit by much.
    watchdog = threading.Timer(args.timeout + 5, lambda: (_fail(args, "watchdog: still running", 2)))
    watchdog.daemon = True
    watchdog.start()

    try:
        out = anyio.run(run, args)
    except TimeoutError:
        _fail(args, f"timed out after {args.timeout:g} s", 1)
    except BaseException as e:  # noqa: BLE001 - report anything, including exception groups
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        _fail(args, describe(e), 1)
    print(json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)


def _fail(args: argparse.Namespace, message: str, code: int) -> None:
    print(f"mcp_client.py ({args.script}): {message}", file=sys.stderr, flush=True)
    print(json.dumps({"ok": False, "script": args.script, "error": message}), flush=True)
    os._exit(code)


if __name__ == "__main__":
    main()
