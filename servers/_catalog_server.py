"""Gyms over streamable HTTP: one gym, or every gym of a catalog from one server.

URLs::

    /mcp                      the gym (single-gym mode)
    /<task_id>/mcp            a catalog's gym (also /mcp/<task_id>); the dataset id works too,
                              URL-encoded (HumanEval%2F0)
    ...?instance=K | ?seed=S  the first instance of the session's episodes
    /tasks                    GET: the task ids served, as JSON

Each gym gets its own MCP ``Server`` and streamable-HTTP session manager, created on the first
request for it; all share one sandbox pool and one recorder. Every MCP session is its own
isolated episode (see :mod:`._server`). The server is stateless apart from its live sessions,
so replicas can sit behind one URL with session affinity.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..runtime._catalog import Catalog, CatalogError, Gym, UnknownTask
from ..runtime._episode import ToolRunner
from ..schemas import EndReason, EpisodeRecord
from ._server import GymServer, ServeOptions

__all__ = ["HttpGyms", "bind_socket", "serve_http"]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class HttpGyms:
    """A Starlette app serving one gym (``Gym``) or a whole catalog (``Catalog``).

    Args:
        source: the gym, or the catalog whose gyms are served by task id.
        runner: the shared sandbox pool.
        options: first instance and step budget of every session (a session URL's
            ``?instance=``/``?seed=`` overrides the first instance).
        on_end: receives every ended episode's record.
        host: the interface served; on a loopback host DNS-rebinding protection is on.
    """

    def __init__(
        self,
        source: Gym | Catalog,
        runner: ToolRunner,
        *,
        options: ServeOptions | None = None,
        on_end: Callable[[EpisodeRecord], None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.source = source
        self._runner = runner
        self._options = options or ServeOptions()
        self._on_end = on_end
        self._security = (
            TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
                allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
            )
            if host in _LOCAL_HOSTS
            else None
        )
        self._apps: dict[str, StreamableHTTPASGIApp] = {}
        self._lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None
        self._closing = False
        self.sessions_served = 0

    def closing_reason(self) -> EndReason:
        return "shutdown" if self._closing else "disconnected"

    def app(self) -> Starlette:
        """The ASGI app; its lifespan runs the session managers."""
        routes = [Route("/tasks", self._tasks, methods=["GET"])]
        if isinstance(self.source, Gym):
            routes.append(Route("/mcp", _Endpoint(self, self.source.task_id)))
        routes += [Route("/{task_id}/mcp", _Endpoint(self, None)), Route("/mcp/{task_id}", _Endpoint(self, None))]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._closing = True  # sessions cancelled from here on end as "shutdown"
                tg.cancel_scope.cancel()
                self._tg = None

    async def _tasks(self, request: Request) -> Response:
        if isinstance(self.source, Gym):
            return JSONResponse({"tasks": [self.source.task_id]})
        return JSONResponse({"tasks": self.source.task_ids()})

    def _gym(self, name: str) -> Gym:
        if isinstance(self.source, Gym):
            if name in (self.source.task_id, self.source.manifest.problem_id):
                return self.source
            raise UnknownTask(name, self.source.path.parent, [self.source.task_id])
        return self.source.load(name)

    async def endpoint_for(self, name: str) -> StreamableHTTPASGIApp:
        """The MCP endpoint of one gym, starting its session manager on first use.

        Raises:
            CatalogError: no such gym, or its files are broken.
            RuntimeError: the app's lifespan is not running.
        """
        app = self._apps.get(name)
        if app is not None:
            return app
        async with self._lock:
            gym = self._gym(name)
            app = self._apps.get(gym.task_id)
            if app is None:
                if self._tg is None:
                    raise RuntimeError("the HTTP app is not running: serve it with its lifespan")
                server = GymServer(
                    gym, self._runner, options=self._options, on_end=self._on_end, closing_reason=self.closing_reason
                )
                manager = StreamableHTTPSessionManager(
                    app=server.server, json_response=True, security_settings=self._security
                )
                await self._tg.start(_run_manager, manager)
                app = StreamableHTTPASGIApp(manager)
                self._apps[gym.task_id] = app
            self._apps[name] = app
            return app


class _Endpoint:
    """ASGI endpoint: route a request to its gym's session manager."""

    def __init__(self, gyms: HttpGyms, task_id: str | None) -> None:
        self._gyms = gyms
        self._task_id = task_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self._task_id or str(scope.get("path_params", {}).get("task_id", ""))
        try:
            app = await self._gyms.endpoint_for(name)
        except CatalogError as exc:
            body: dict[str, Any] = {"error": str(exc)}
            if isinstance(exc, UnknownTask):
                body["suggestions"] = exc.suggestions
            status = 404 if isinstance(exc, UnknownTask) else 500
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        await app(scope, receive, send)


async def _run_manager(
    manager: StreamableHTTPSessionManager, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    async with manager.run():
        task_status.started()
        await anyio.sleep_forever()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one).

    Raises:
        OSError: the address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve_http(app: Starlette, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` with uvicorn on an already bound socket until cancelled or signalled."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5)
    await uvicorn.Server(config).serve(sockets=[sock])
