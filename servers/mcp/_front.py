"""One URL in front of several catalog server replicas, with MCP session affinity.

A request without an ``mcp-session-id`` header (an ``initialize``) goes to the least-loaded live
replica: the fewest sessions by its last ``GET /health`` (polled every second) plus the sessions
sent to it since. The replica's session id comes back to the client prefixed with the replica's
key (``r1-<id>``), so every later request of that session goes to the same replica without the
front keeping any table (several fronts could share the replicas). Everything else passes
through unchanged, both ways: method, path, query, headers (``Authorization`` included), body,
and the response streamed back (JSON or server-sent events).

A replica answering 503 (full, or draining) to a new session is skipped for the next one; when
every replica refuses, the client gets 503 naming the replicas. A replica that cannot be reached
is marked gone: its sessions get a JSON-RPC error saying so (HTTP 404, the session no longer
exists: start a new one), new sessions go elsewhere. ``GET /health`` of the front sums the
replicas' and lists each one.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ._catalog_server import KEEP_ALIVE

__all__ = ["POOLS", "SESSION_HEADER", "Front", "Replica", "serve_front"]

SESSION_HEADER = "mcp-session-id"
POOLS = 16
"""Upstream connection pools (one httpx2 client each) the front deals its requests over in turn.
A pool scans every connection it holds on each request and each release (and probes each idle
one's socket), so a request costs time in proportion to its pool's connections: with thousands
of sessions in flight one pool made that the front's main cost; 16 pools divide it by 16."""
_IDLE_KEPT = 1024
"""Idle upstream connections kept open, over all pools."""
POLL_EVERY = 1.0
"""Seconds between two ``GET /health`` of each replica."""
_GONE_AFTER = 3
"""Refused health polls in a row after which a replica counts as gone (a slow answer never counts:
a busy replica still holds its sessions)."""
_HOP_BY_HOP = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


@dataclass(kw_only=True)
class Replica:
    """One catalog server behind the front, and what the front knows of its load."""

    key: str
    url: str
    sessions: int = 0
    opened: int = 0
    """New sessions sent since the last health poll."""
    closed: int = 0
    """Sessions ended by the client (DELETE) since the last health poll."""
    max_sessions: int | None = None
    workers: int | None = None
    draining: bool = False
    full_until: float = 0.0
    gone: str | None = None
    """Why the replica counts as gone (None while it serves)."""
    failures: int = 0
    replaced_by: str | None = None

    def load(self) -> int:
        return max(0, self.sessions + self.opened - self.closed)

    def takes_new(self, now: float) -> bool:
        return self.gone is None and not self.draining and now >= self.full_until

    def status(self) -> dict[str, Any]:
        state = "gone" if self.gone else "draining" if self.draining else "ok"
        body: dict[str, Any] = {"key": self.key, "url": self.url, "status": state, "sessions": self.load()}
        body.update(max_sessions=self.max_sessions, workers=self.workers)
        if self.gone:
            body["reason"] = self.gone
            body["replaced_by"] = self.replaced_by
        return body


class Front:
    """The affinity proxy: ``Front(replicas, auth_token=...)``, served with ``front.app()``.

    ``auth_token`` (the replicas' bearer token, if they need one) is sent with the front's own
    health polls; clients' requests carry their own ``Authorization``, passed through as is.
    ``pools``: upstream connection pools the requests are dealt over (see :data:`POOLS`).
    """

    def __init__(
        self,
        replicas: Sequence[Replica],
        *,
        auth_token: str | None = None,
        poll_every: float = POLL_EVERY,
        pools: int = POOLS,
    ) -> None:
        if pools < 1:
            raise ValueError(f"a front needs at least one upstream pool, got pools={pools}")
        self.replicas: dict[str, Replica] = {r.key: r for r in replicas}
        self._auth = {"authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._poll_every = poll_every
        self._pool_count = pools
        self._pools: list[httpx2.AsyncClient] = []
        self._turn = 0
        self.draining = False

    def add(self, replica: Replica, *, replaces: str | None = None) -> None:
        """Serve new sessions on ``replica`` too: one more, or the replacement of the gone replica
        ``replaces`` (still listed: its sessions keep getting the error that says it is gone)."""
        self.replicas[replica.key] = replica
        if replaces is not None:
            self.replicas[replaces].replaced_by = replica.key

    def app(self) -> Starlette:
        """The ASGI app; its lifespan holds the upstream connection pools and the health poller."""
        methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
        routes = [
            Route("/health", self._health, methods=["GET"]),
            Route("/{path:path}", self._proxy, methods=methods),
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, _: Starlette) -> AsyncIterator[None]:
        timeout = httpx2.Timeout(30.0, read=None)  # an SSE stream may stay silent for long
        # an idle upstream connection is dropped well before the replica (a catalog server) drops it
        # (KEEP_ALIVE): a request never goes out on a connection the replica is closing
        idle = max(1, _IDLE_KEPT // self._pool_count)
        limits = httpx2.Limits(
            max_connections=None, max_keepalive_connections=idle, keepalive_expiry=KEEP_ALIVE / 2
        )
        async with AsyncExitStack() as stack:
            pools = [httpx2.AsyncClient(timeout=timeout, limits=limits) for _ in range(self._pool_count)]
            for pool in pools:
                await stack.enter_async_context(pool)
            tg = await stack.enter_async_context(anyio.create_task_group())
            self._pools = pools
            await self.poll()
            tg.start_soon(self._poll_forever)
            try:
                yield
            finally:
                self.draining = True
                tg.cancel_scope.cancel()
                self._pools = []

    def _pool(self) -> httpx2.AsyncClient | None:
        """The next upstream pool in turn (None when the app is not running)."""
        if not self._pools:
            return None
        self._turn = (self._turn + 1) % len(self._pools)
        return self._pools[self._turn]

    async def _poll_forever(self) -> None:
        while True:
            await anyio.sleep(self._poll_every)
            await self.poll()

    async def poll(self) -> None:
        """Read every live replica's ``/health`` once (concurrently)."""
        async with anyio.create_task_group() as tg:
            for replica in list(self.replicas.values()):
                if replica.gone is None:
                    tg.start_soon(self._poll_one, replica)

    async def _poll_one(self, replica: Replica) -> None:
        http = self._pool()
        if http is None:  # the app is not running (yet, or any more)
            return
        try:
            answer = await http.get(f"{replica.url}/health", headers=self._auth, timeout=5.0)
        except httpx2.ConnectError as exc:  # nothing listens there any more
            replica.failures += 1
            if replica.failures >= _GONE_AFTER:
                self.mark_gone(
                    replica, f"its port refused {replica.failures} health checks in a row: {exc!r}"
                )
            return
        except httpx2.HTTPError:  # busy (a timeout): it still holds its sessions
            return
        replica.failures = 0
        if answer.status_code != 200:  # an older server without /health: keep counting ourselves
            return
        try:
            body = answer.json()
        except ValueError:
            return
        replica.sessions = int(body.get("sessions") or 0)
        replica.opened = replica.closed = 0
        replica.max_sessions = body.get("max_sessions")
        replica.workers = body.get("workers")
        replica.draining = bool(body.get("draining"))

    def mark_gone(self, replica: Replica, reason: str) -> None:
        """Send no more sessions to ``replica``; its sessions get ``reason`` from now on."""
        if replica.gone is None:
            replica.gone = reason

    async def _health(self, _: Request) -> Response:
        replicas = list(self.replicas.values())
        live = [r for r in replicas if r.gone is None]
        lost = [r for r in replicas if r.gone is not None and r.replaced_by is None]
        maxima = [r.max_sessions for r in live]
        workers = [r.workers for r in live]
        body = {
            "status": "down" if not live else "degraded" if lost else "ok",
            "sessions": sum(r.load() for r in live),
            "max_sessions": sum(m for m in maxima if m is not None) if None not in maxima and live else None,
            "workers": sum(w for w in workers if w is not None),
            "draining": self.draining,
            "replicas": [r.status() for r in replicas],
        }
        return JSONResponse(body, status_code=200 if live else 503)

    async def _proxy(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # nobody to answer
            return Response(status_code=499)
        session = request.headers.get(SESSION_HEADER)
        if session is None:
            return await self._new_session(request, body)
        key, _, inner = session.partition("-")
        replica = self.replicas.get(key)
        if replica is None or not inner:
            return _error(404, body, f"no session {session!r} here: start a new session (initialize)")
        if replica.gone is not None:
            return _error(
                404,
                body,
                f"replica {key} ({replica.url}) that held session {session!r} is gone ({replica.gone}): "
                "its episode ended unscored; start a new session (initialize)",
            )
        try:
            response = await self._forward(replica, request, body, session=inner)
            if request.method == "DELETE" and response.status_code < 300:
                replica.closed += 1
            return response
        except httpx2.TransportError as exc:
            if isinstance(exc, httpx2.ConnectError):
                self.mark_gone(replica, f"connection refused: {exc!r}")
            return _error(
                502, body, f"replica {key} ({replica.url}) did not answer for session {session!r}: {exc!r}"
            )

    async def _new_session(self, request: Request, body: bytes) -> Response:
        tried: list[str] = []
        refused: Response | None = None
        while True:
            now = time.monotonic()
            candidates = [r for r in self.replicas.values() if r.takes_new(now) and r.key not in tried]
            if not candidates:
                break
            replica = min(candidates, key=Replica.load)
            tried.append(replica.key)
            replica.opened += 1
            try:
                response = await self._forward(replica, request, body, session=None)
            except httpx2.TransportError as exc:
                replica.opened -= 1
                if isinstance(exc, httpx2.ConnectError):
                    self.mark_gone(replica, f"connection refused: {exc!r}")
                continue
            if response.status_code != 503:
                if SESSION_HEADER not in response.headers:  # not a new session (an error, a GET)
                    replica.opened -= 1
                return response
            replica.opened -= 1
            replica.full_until = time.monotonic() + self._poll_every
            refused = response
        if refused is not None:
            return refused  # the last replica's own 503 (it names its limit)
        names = ", ".join(f"{r.key} ({r.status()['status']})" for r in self.replicas.values())
        return _error(503, body, f"no replica takes new sessions now (replicas: {names}); retry later")

    async def _forward(
        self, replica: Replica, request: Request, body: bytes, *, session: str | None
    ) -> Response:
        """Send the request to ``replica`` and return its answer: server-sent events streamed as
        they come, anything else read whole.

        Raises:
            httpx2.TransportError: the replica could not be reached or broke off.
        """
        http = self._pool()
        assert http is not None, "the front's lifespan is not running"
        headers = [(k, v) for k, v in request.headers.items() if k not in _HOP_BY_HOP and k != SESSION_HEADER]
        if session is not None:
            headers.append((SESSION_HEADER, session))
        url = f"{replica.url}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        upstream = http.build_request(request.method, url, headers=headers, content=body)
        response = await http.send(upstream, stream=True)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            try:  # a JSON answer (or an error): read whole, cheaper than a relay
                content = b"".join([chunk async for chunk in response.aiter_raw()])  # as sent (encoded)
            finally:
                await response.aclose()
            return Response(
                content, status_code=response.status_code, headers=_headers(response, replica.key)
            )
        return StreamingResponse(
            _relay(response),
            status_code=response.status_code,
            headers=_headers(response, replica.key),
            background=BackgroundTask(response.aclose),
        )


async def _relay(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The upstream body as it comes; the upstream response is closed however the relay ends
    (a client that goes away mid-stream cancels it)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()


def _headers(response: httpx2.Response, key: str) -> dict[str, str]:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP}
    for name in list(headers):
        if name.lower() == SESSION_HEADER:
            headers[name] = f"{key}-{headers[name]}"
    return headers


def _error(status: int, body: bytes, message: str) -> Response:
    """A JSON-RPC error answering the request in ``body`` (its id when it has one)."""
    request_id: Any = None
    try:
        parsed = json.loads(body) if body else None
        if isinstance(parsed, dict):
            request_id = parsed.get("id")
    except ValueError:
        pass
    payload = {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": message}}
    return JSONResponse(payload, status_code=status)


async def serve_front(app: Starlette, sock: socket.socket) -> None:
    """Serve the front with uvicorn on a bound socket until SIGINT/SIGTERM (graceful stop)."""
    import uvicorn

    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE
    )
    await uvicorn.Server(config).serve(sockets=[sock])
