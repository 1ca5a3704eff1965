"""A real MCP server over Streamable HTTP, built with the official Python SDK (`mcp`, MCPServer).

The MCP gateway's end-to-end tests start it as an upstream server and drive it through Switchyard.

    python mcp_http_server.py --port 0 [--name NAME] [--require-header K:V ...]

Listens on 127.0.0.1 at path /mcp. Once the socket accepts connections it prints exactly one
line, `READY <port>`, on stdout (logs go to stderr). With --require-header, every HTTP request
to the server lacking that header (exact value) is answered 401, so a test can check that the
gateway sends its configured upstream headers.

Tools: echo(text) -> text; add(a, b) -> a + b; slow(seconds, steps) -> "done" after reporting
progress 1..steps (total steps) spread over `seconds`; fail(message) -> a tool error
(isError true, content text = message); hang() -> never returns (until cancelled).
Prompt: greet(name). Resource: note://hello ("hello from http server").
"""

from __future__ import annotations

import argparse
import socket
import sys

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build_server(name: str) -> MCPServer:
    server = MCPServer(name=name, version="1.0.0", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def slow(seconds: float, steps: int, ctx: Context) -> str:
        """Report progress `steps` times over `seconds`, then return "done"."""
        steps = max(steps, 0)
        for i in range(1, steps + 1):
            await anyio.sleep(seconds / steps)
            await ctx.report_progress(i, steps, f"step {i}/{steps}")
        return "done"

    @server.tool()
    def weather(city: str, unit: str = "celsius") -> str:
        """The weather in a city (the mock model's tool calls carry these arguments)."""
        return f"Sunny in {city} ({unit})"

    @server.tool()
    def fail(message: str) -> str:
        """Fail with a tool error carrying `message`."""
        raise ToolError(message)

    @server.tool()
    async def hang() -> str:
        """Never return (until the request is cancelled)."""
        await anyio.sleep_forever()
        return "unreachable"

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone by name."""
        return f"Hello, {name}! Please greet them back."

    @server.resource("note://hello", name="hello", mime_type="text/plain")
    def hello_note() -> str:
        """A short note."""
        return "hello from http server"

    return server


class RequireHeaders:
    """ASGI wrapper answering 401 to any HTTP request missing one of the required headers."""

    def __init__(self, app, required: list[tuple[str, str]]):
        self.app = app
        self.required = [(k.lower().encode(), v.encode()) for k, v in required]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.required:
            headers = scope.get("headers") or []
            for key, value in self.required:
                if not any(k == key and v == value for k, v in headers):
                    body = b'{"error":"missing or wrong header ' + key + b'"}'
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def parse_header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected K:V, got {text!r}")
    return key.strip(), value.strip()


async def serve(
    port: int, name: str, required: list[tuple[str, str]], allow_hosts: list[str], transport: str
) -> None:
    mcp_server = build_server(name)
    # The SDK's DNS-rebinding guard accepts loopback names only; --allow-host adds a name a test
    # maps to loopback (a server "elsewhere" that is really on this machine).
    security = None
    if allow_hosts:
        loopback = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        security = TransportSecuritySettings(
            allowed_hosts=loopback + [f"{h}:*" for h in allow_hosts],
            allowed_origins=[f"http://{h}:*" for h in ["127.0.0.1", "localhost", "[::1]"] + allow_hosts],
        )
    if transport == "sse":
        # The older HTTP+SSE transport (2024-11-05): GET /sse, POST /messages/.
        inner = mcp_server.sse_app(host="127.0.0.1", transport_security=security)
    else:
        inner = mcp_server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1", transport_security=security)
    app = RequireHeaders(inner, required)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port = sock.getsockname()[1]

    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            await anyio.sleep(0.01)
        print(f"READY {bound_port}", flush=True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--name", default="switchyard-test-http", help="server name sent in serverInfo")
    parser.add_argument("--require-header", type=parse_header, action="append", default=[], metavar="K:V")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also accept this Host name (one the test maps to loopback)")
    parser.add_argument("--transport", choices=("http", "sse"), default="http",
                        help="http: Streamable HTTP at /mcp; sse: the older HTTP+SSE at /sse")
    args = parser.parse_args()
    try:
        anyio.run(serve, args.port, args.name, args.require_header, args.allow_host, args.transport)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
