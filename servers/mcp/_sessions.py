"""Live sessions of an HTTP gym server, for long RL runs: admission, idle reaping, drain, health, auth.

:class:`SessionGate` sits in front of the streamable-HTTP session managers (one per gym) and keeps
the one count of live MCP sessions across all gyms of a catalog server:

- ``max_sessions``: a request that would open one more session gets HTTP 503 with a JSON-RPC error
  naming the limit and the flag (``--max-sessions``); open sessions are never affected;
- ``idle_timeout``: a session with no request for that long (no POST in flight; an open GET
  stream does not hold it) is closed: its running episode ends unscored as ``idle_timeout`` (its
  record written), then the session is terminated (its id answers 404 from then on);
- drain (SIGTERM/SIGINT): new sessions get 503 while live episodes may finish, up to a deadline;
  what still runs then ends as ``shutdown``, records written;
- ``GET /health``: ``{"status", "sessions", "max_sessions", "workers", "draining", ...}``;
- :class:`BearerAuth`: every request but ``/health`` needs ``Authorization: Bearer TOKEN``.

Episodes are attached to their session by the gym server (``GymServer(on_episode=...)``) when the
session's first tool call creates them.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...runtime import Session
from ...schemas import EndReason

__all__ = [
    "AUTH_TOKEN_ENV",
    "STEP_META",
    "BearerAuth",
    "SessionGate",
    "SessionLimits",
    "json_rpc_error",
    "step_index",
]

STEP_META = "codegym/step"
"""Key of the step index in a ``tools/call`` request's ``_meta`` (idempotent retries)."""
AUTH_TOKEN_ENV = "CODEGYM_AUTH_TOKEN"
"""Environment variable holding the bearer token (read by ``serve``, ``rollout`` and ``CodeGymEnv``)."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts only this machine reaches: the one place a server may listen without authentication."""

_SESSION_HEADER = b"mcp-session-id"


def step_index(meta: Mapping[str, Any] | None) -> int | str | None:
    """The step index a request's ``_meta`` carries: None without the key, else the index, or the
    message saying why the value is not one."""
    if not meta or STEP_META not in meta:
        return None
    value = meta[STEP_META]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return (
            f"bad _meta {STEP_META!r}: expected the 0-based index of this call in the episode "
            f"(an integer >= 0), got {json.dumps(value)}"
        )
    return value


def json_rpc_error(message: str, status: int, *, headers: Mapping[str, str] | None = None) -> ASGIApp:
    """An ASGI response: a JSON-RPC error body (no request id) with the HTTP ``status``."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": types.INTERNAL_ERROR, "message": message}}
    ).encode("utf-8")

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return respond


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionLimits:
    """How long-run sessions are bounded.

    ``idle_timeout``: seconds without a request before a session is closed (None: never);
    ``max_sessions``: live sessions at most (None: no limit); ``drain_timeout``: seconds that live
    episodes get to finish after SIGTERM/SIGINT.

    Raises:
        ValueError: a value is not positive.
    """

    idle_timeout: float | None = 300.0
    max_sessions: int | None = None
    drain_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.idle_timeout is not None and not self.idle_timeout > 0:
            raise ValueError(f"idle_timeout must be positive (or None for no limit), got {self.idle_timeout}")
        if self.max_sessions is not None and self.max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1 (or None), got {self.max_sessions}")
        if self.drain_timeout < 0:
            raise ValueError(f"drain_timeout must be >= 0, got {self.drain_timeout}")


@dataclass(slots=True)
class _Live:
    """One live session: where its requests go, when it was last used, its episode."""

    app: ASGIApp
    headers: list[tuple[bytes, bytes]]
    path: str
    last: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    episode: Session | None = None


class SessionGate:
    """The live sessions of one HTTP server (all gyms): see the module docstring.

    Args:
        limits: idle timeout, session limit, drain deadline.
        workers: the sandbox pool's size, reported at ``/health``.
    """

    def __init__(self, limits: SessionLimits | None = None, *, workers: int | None = None) -> None:
        self.limits = limits or SessionLimits()
        self.workers = workers
        self.draining = False
        self._live: dict[str, _Live] = {}
        self._opening = 0
        self._changed = anyio.Event()  # set after every request and close (the drain re-checks)
        self.sessions_opened = 0
        self.sessions_reaped = 0

    @property
    def sessions(self) -> int:
        """Live sessions (opened and not yet closed)."""
        return len(self._live)

    def health(self) -> dict[str, Any]:
        """The ``GET /health`` body."""
        running = sum(1 for live in self._live.values() if _running(live.episode))
        return {
            "status": "draining" if self.draining else "ok",
            "sessions": len(self._live),
            "max_sessions": self.limits.max_sessions,
            "workers": self.workers,
            "draining": self.draining,
            "episodes_running": running,
            "idle_timeout": self.limits.idle_timeout,
            "sessions_opened": self.sessions_opened,
            "sessions_reaped": self.sessions_reaped,
        }

    def attach(self, session_id: str, episode: Session) -> None:
        """Tie a session's episode holder to it (so that idle reaping and drain can end it)."""
        live = self._live.get(session_id)
        if live is not None:
            live.episode = episode

    # ------------------------------------------------------------------ requests

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass one MCP request to its gym's session manager ``app``, admitting and tracking sessions."""
        session_id = _header(scope, _SESSION_HEADER)
        if session_id is None:
            if scope.get("method") == "POST":
                await self._open(app, scope, receive, send)
            else:
                await app(scope, receive, send)
            return
        live = self._live.get(session_id)
        if live is None:  # unknown, expired or reaped: the manager answers 404
            await app(scope, receive, send)
            return
        counted = scope.get("method") != "GET"  # an open GET stream does not hold the session
        live.last = time.monotonic()
        live.in_flight += counted
        status: list[int] = []
        try:
            await app(scope, receive, _watch(send, status, None))
        finally:
            live.in_flight -= counted
            live.last = time.monotonic()
            if scope.get("method") == "DELETE" and status and status[0] < 300:
                self._live.pop(session_id, None)
            self._notify()

    async def _open(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.max_sessions
        if self.draining:
            refuse = json_rpc_error(
                "the server is shutting down (draining): it opens no new session; connect to another replica "
                "or retry once it is back",
                503,
                headers={"retry-after": "5"},
            )
            await refuse(scope, receive, send)
            return
        if limit is not None and len(self._live) + self._opening >= limit:
            refuse = json_rpc_error(
                f"too many sessions: this server holds at most {limit} live sessions (--max-sessions {limit}) "
                "and all are in use; retry later, close finished sessions, or raise --max-sessions",
                503,
                headers={"retry-after": "1"},
            )
            await refuse(scope, receive, send)
            return
        self._opening += 1
        status: list[int] = []
        new_id: list[str] = []
        try:
            await app(scope, receive, _watch(send, status, new_id))
        finally:
            self._opening -= 1
        if status and status[0] < 400 and new_id:
            keep = [
                (k, v) for k, v in scope.get("headers", []) if k in (b"host", b"origin", b"authorization")
            ]
            self._live[new_id[0]] = _Live(app=app, headers=keep, path=str(scope.get("path", "/")))
            self.sessions_opened += 1

    # ------------------------------------------------------------------ idle reaping

    async def reap_idle(self) -> None:
        """Close idle sessions until cancelled (run in the app's lifespan; a no-op without a timeout)."""
        timeout = self.limits.idle_timeout
        if timeout is None:
            return
        period = max(0.05, min(1.0, timeout / 10))
        while True:
            await anyio.sleep(period)
            now = time.monotonic()
            idle = [
                sid
                for sid, live in self._live.items()
                if live.in_flight == 0 and now - live.last >= timeout and not _busy(live.episode)
            ]
            for sid in idle:
                await self._close(sid, "idle_timeout")
                self.sessions_reaped += 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _close(self, session_id: str, reason: EndReason) -> None:
        """End a session's episode unscored with ``reason``, then terminate the session (HTTP DELETE)."""
        live = self._live.pop(session_id, None)
        if live is None:
            return
        if live.episode is not None:  # a call in flight gets to finish and be recorded first
            await live.episode.aclose(reason, wait=30.0)
        headers = [*live.headers, (_SESSION_HEADER, session_id.encode("latin-1"))]
        scope: Scope = {
            "type": "http",
            "method": "DELETE",
            "path": live.path,
            "raw_path": live.path.encode("utf-8"),
            "query_string": b"",
            "headers": headers,
            "scheme": "http",
            "server": None,
            "client": None,
            "root_path": "",
            "http_version": "1.1",
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            return None

        with anyio.CancelScope(shield=True):
            await live.app(scope, receive, send)
        self._notify()

    # ------------------------------------------------------------------ drain

    async def drain(self, *, deadline: float | None = None) -> int:
        """Stop opening sessions, wait until no episode runs (at most ``deadline`` seconds, default
        the limits' drain timeout), then end the episodes still running as ``shutdown``.

        Returns:
            how many episodes were ended as ``shutdown``.
        """
        self.draining = True
        wait = self.limits.drain_timeout if deadline is None else deadline
        with anyio.move_on_after(wait):
            while any(_running(live.episode) for live in self._live.values()):
                await self._changed.wait()
        ended = 0
        for sid in list(self._live):
            live = self._live[sid]
            ended += _running(live.episode)
            await self._close(sid, "shutdown")
        return ended


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer TOKEN`` (401 otherwise),
    except the paths in ``open_paths`` (``/health`` by default, for load balancers and the Ray front)."""

    def __init__(
        self, app: ASGIApp, token: str, *, open_paths: frozenset[str] = frozenset({"/health"})
    ) -> None:
        if not token:
            raise ValueError("the bearer token must not be empty")
        self._app = app
        self._expected = f"Bearer {token}".encode("latin-1")
        self._open = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._open:
            await self._app(scope, receive, send)
            return
        given = _header_bytes(scope, b"authorization") or b""
        if not hmac.compare_digest(given, self._expected):
            what = "no Authorization header" if not given else "a wrong bearer token"
            refuse = json_rpc_error(
                f"unauthorized: the request carried {what}; this server needs 'Authorization: Bearer TOKEN' "
                "(rollout --auth-token, CodeGymEnv.connect(auth_token=...) or $CODEGYM_AUTH_TOKEN)",
                401,
                headers={"www-authenticate": 'Bearer realm="codegym-mcp"'},
            )
            await refuse(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _running(episode: Session | None) -> bool:
    """Whether an episode has taken a step and not ended (what a drain waits for)."""
    return episode is not None and not episode.done and bool(episode.steps)


def _busy(episode: Session | None) -> bool:
    return episode is not None and episode.lock.locked()


def _header_bytes(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    value = _header_bytes(scope, name)
    return value.decode("latin-1") if value is not None else None


def _watch(
    send: Send, status: list[int], session_id: list[str] | None
) -> Callable[[Message], Awaitable[None]]:
    """A ``send`` that notes the response status (and the new session id) on its way out."""

    async def watched(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            if session_id is not None:
                for key, value in message.get("headers", []):
                    if bytes(key).lower() == _SESSION_HEADER:
                        session_id.append(bytes(value).decode("latin-1"))
        await send(message)

    return watched
