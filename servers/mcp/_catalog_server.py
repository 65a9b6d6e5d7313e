"""Gyms over streamable HTTP: one gym, or every gym of a catalog from one server.

URLs::

    /mcp                      the gym (single-gym mode)
    /<task_id>/mcp            a catalog's gym (also /mcp/<task_id>); the dataset id works too,
                              URL-encoded (HumanEval%2F0)
    ...?instance=K | ?seed=S  the first instance of the session's episodes
    /tasks                    GET: the task ids served, as JSON; ``?detail=1`` adds, per gym, its
                              episode count and the statement a session is told first (``gyms``)
    /health                   GET: live sessions, limits, workers, draining (open without a token)

Each gym gets its own MCP ``Server`` and streamable-HTTP session manager, created on the first
request for it; all share one sandbox pool and one recorder. Every MCP session is its own
isolated episode (see :mod:`._server`). The server is stateless apart from its live sessions,
so replicas can sit behind one URL with session affinity.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import anyio.abc
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...runtime import Catalog, CatalogError, Gym, ToolRunner, UnknownTask, episode_count
from ...schemas import EndReason, EpisodeRecord
from ._server import GymServer, ServeOptions, gym_instructions
from ._sessions import BearerAuth, SessionGate, SessionLimits

__all__ = [
    "KEEP_ALIVE",
    "HttpGyms",
    "base_url",
    "bind_socket",
    "catalog_task_url",
    "running_http_server",
    "serve_http",
]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


KEEP_ALIVE = 30
"""Seconds the HTTP servers (a catalog server, the Ray front) keep an idle client connection: longer
than clients keep idle pooled connections (httpx: 5 s), so a client never sends on a connection
the server is closing at that moment (a ReadError for a call never served)."""


class HttpGyms:
    """A Starlette app serving one gym (``Gym``) or a whole catalog (``Catalog``).

    Args:
        source: the gym, or the catalog whose gyms are served by task id.
        runner: the shared sandbox pool.
        options: first instance and step budget of every session (a session URL's
            ``?instance=``/``?seed=`` overrides the first instance).
        on_end: receives every ended episode's record.
        host: the interface served; on a loopback host DNS-rebinding protection is on.
        limits: idle timeout, session limit and drain deadline (see :mod:`._sessions`).
        workers: the sandbox pool's size, reported at ``/health``.
        auth_token: when set, every request but ``GET /health`` needs ``Authorization: Bearer TOKEN``.
    """

    def __init__(
        self,
        source: Gym | Catalog,
        runner: ToolRunner,
        *,
        options: ServeOptions | None = None,
        on_end: Callable[[EpisodeRecord], None] | None = None,
        host: str = "127.0.0.1",
        limits: SessionLimits | None = None,
        workers: int | None = None,
        auth_token: str | None = None,
    ) -> None:
        self.source = source
        self.gate = SessionGate(limits, workers=workers)
        self._auth_token = auth_token
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
        """How a session closing now ends its episode: ``shutdown`` once the app stops."""
        return "shutdown" if self._closing else "disconnected"

    def app(self) -> ASGIApp:
        """The ASGI app; its lifespan runs the session managers (and the idle-session reaper)."""
        routes = [
            Route("/tasks", self._tasks, methods=["GET"]),
            Route("/health", self._health, methods=["GET"]),
        ]
        if isinstance(self.source, Gym):
            routes.append(Route("/mcp", _Endpoint(self, self.source.task_id)))
        # `path` converters: a dataset id such as HumanEval/0 may be used as written.
        routes += [
            Route("/mcp/{task_id:path}", _Endpoint(self, None)),
            Route("/{task_id:path}/mcp", _Endpoint(self, None)),
        ]
        app = Starlette(routes=routes, lifespan=self._lifespan)
        return BearerAuth(app, self._auth_token) if self._auth_token else app

    @asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self.gate.reap_idle)
            try:
                yield
            finally:
                self._closing = True  # sessions cancelled from here on end as "shutdown"
                tg.cancel_scope.cancel()
                self._tg = None

    async def _health(self, request: Request) -> Response:
        return JSONResponse(self.gate.health())

    async def _tasks(self, request: Request) -> Response:
        try:
            ids = [self.source.task_id] if isinstance(self.source, Gym) else self.source.task_ids()
            if not request.query_params.get("detail"):
                return JSONResponse({"tasks": ids})
            # Loading every gym reads and validates its files: off the event loop, which serves sessions.
            gyms = await anyio.to_thread.run_sync(lambda: [self._gym(name) for name in ids])
        except CatalogError as exc:  # the folder went away while serving
            return JSONResponse({"error": str(exc)}, status_code=500)
        detail = [
            {
                "task_id": gym.task_id,
                "problem_id": gym.manifest.problem_id,
                "episodes": episode_count(gym),
                "statement": gym_instructions(gym, self._options),
            }
            for gym in gyms
        ]
        return JSONResponse({"tasks": ids, "gyms": detail})

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
                    gym,
                    self._runner,
                    options=self._options,
                    on_end=self._on_end,
                    closing_reason=self.closing_reason,
                    on_session=self.gate.attach,
                )
                # Episodes live in MCP sessions, which only the handshake era has over HTTP: refuse
                # the 2026 discovery probe so that "auto" clients fall back to initialize.
                server.server.add_request_handler("server/discover", types.RequestParams, _no_discover)
                # Idle reaping and the session limit are the gate's, across all gyms.
                manager = StreamableHTTPSessionManager(
                    app=server.server,
                    json_response=True,
                    security_settings=self._security,
                    session_idle_timeout=None,
                    max_sessions=None,
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
        await self._gyms.gate.handle(app, scope, receive, send)


async def _no_discover(
    ctx: ServerRequestContext[Any, Any], params: types.RequestParams
) -> types.DiscoverResult:
    raise MCPError(
        code=types.METHOD_NOT_FOUND,
        message="this gym server plays its episodes in an MCP session: use the initialize handshake",
    )


async def _run_manager(
    manager: StreamableHTTPSessionManager,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
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
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP; without it every response waits ~40 ms for Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)  # a burst of new sessions (thousands of rollout clients) must not be reset
    sock.setblocking(False)
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket (an IPv6 host in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve_http(
    app: ASGIApp,
    sock: socket.socket,
    *,
    stop: anyio.Event | None = None,
    log_level: str = "warning",
    drain: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Serve ``app`` with uvicorn on an already bound socket until ``stop`` is set, or (with
    ``drain``) until SIGTERM/SIGINT.

    ``drain`` turns the signals on: the first one runs ``drain()`` (stop opening sessions, let live
    episodes finish, end the rest as ``shutdown``) while requests are still served, then the server
    stops; a second signal stops it at once. Either way the app's lifespan ends, so sessions still
    open end their episodes as ``shutdown``, and the process exits normally (status 0), not by the
    signal.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # signals are serve_http's (a drain first), not uvicorn's (exit by the signal)

    config = uvicorn.Config(
        app, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE
    )
    server = _Server(config)

    async def watch() -> None:
        assert stop is not None
        await stop.wait()
        server.should_exit = True

    async def watch_signals(drain: Callable[[], Awaitable[object]]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
            async with anyio.create_task_group() as tg:

                async def drain_then_exit() -> None:
                    await drain()
                    tg.cancel_scope.cancel()

                tg.start_soon(drain_then_exit)
                async for _ in signals:  # a second signal: stop now
                    tg.cancel_scope.cancel()
                    break
            server.should_exit = True

    async with anyio.create_task_group() as tg:
        if stop is not None:
            tg.start_soon(watch)
        if drain is not None:
            tg.start_soon(watch_signals, drain)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


def catalog_task_url(
    base_url: str, task_id: str, *, instance: int | None = None, seed: int | None = None
) -> str:
    """The MCP URL of one gym of a catalog server: ``BASE/<task_id>/mcp[?instance=K|?seed=S]``.

    ``instance`` is the 0-based line of instances.jsonl the session's first episode plays.
    """
    url = f"{base_url.rstrip('/')}/{quote(task_id, safe='/')}/mcp"
    query = {k: v for k, v in (("instance", instance), ("seed", seed)) if v is not None}
    return f"{url}?{urlencode(query)}" if query else url


@asynccontextmanager
async def running_http_server(
    source: Gym | Catalog,
    runner: ToolRunner,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    options: ServeOptions | None = None,
    on_end: Callable[[EpisodeRecord], None] | None = None,
    limits: SessionLimits | None = None,
    auth_token: str | None = None,
) -> AsyncIterator[str]:
    """Serve a gym or a catalog over HTTP in this event loop; yields the base URL (``http://HOST:PORT``).

    Port 0 picks a free port. On exit the server shuts down gracefully (open sessions end their
    episodes as ``shutdown``). The runner (pool) is the caller's to start and close. ``limits`` and
    ``auth_token``: see :class:`HttpGyms`.

    Raises:
        OSError: the address cannot be bound.
    """
    sock = bind_socket(host, port)
    base = base_url(sock)
    gyms = HttpGyms(
        source, runner, options=options, on_end=on_end, host=host, limits=limits, auth_token=auth_token
    )
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(serve_http, gyms.app(), sock, stop=stop))
            try:
                yield base
            finally:
                stop.set()
    finally:
        sock.close()
