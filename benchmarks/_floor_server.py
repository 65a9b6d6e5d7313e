"""The protocol floor: a trivial tool served over streamable HTTP by the same MCP SDK (no sandbox, no gym).

``python -m benchmarks._floor_server`` binds 127.0.0.1 on a free port, prints
``floor server on http://127.0.0.1:PORT/mcp`` and serves until killed. The tool returns
structured content with an output schema, like a gym tool, so the two paths differ only by
what codegym-mcp adds (episode bookkeeping, argument coercion, the sandbox round trip).
"""

from __future__ import annotations

import sys

import anyio
from mcp.server.mcpserver import MCPServer


def build() -> MCPServer:
    """The floor server: one tool, ``add(a, b) -> {"result": a + b}``."""
    server: MCPServer = MCPServer("floor", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return server


async def _main() -> None:
    import uvicorn

    from codegym_mcp.servers.mcp._catalog_server import bind_socket

    server = build()
    sock = bind_socket("127.0.0.1", 0)  # TCP_NODELAY on accepted sockets, like our server
    host, port = sock.getsockname()[:2]
    print(f"floor server on http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    app = server.streamable_http_app(json_response=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(_main)
