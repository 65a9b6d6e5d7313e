"""One episode: one MCP session with a catalog server, opened and closed by its owner.

Every tool call carries its step index in ``_meta["codegym/step"]``, and the server answers a
repeated index with the first result, so a call sent again (by a proxy, or a harness that resumes
an episode) never runs twice. The server's episode bookkeeping
(``_meta["codegym/episode"]``: done, reward, infra, instance) is read from every result.

Every session of an event loop shares one HTTP client (:func:`shared_http_client`): keep-alive
connections and one TLS context per process, not per episode. A server that dies mid-episode
breaks the session's transport: the call, and closing, raise :class:`ServerFailure` (closing is
bounded by ``close_timeout`` whatever the server does).
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Self, cast

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, RequestParamsMeta

from ._catalog import auth_headers

__all__ = [
    "EPISODE_META",
    "STEP_META",
    "EpisodeSession",
    "ServerFailure",
    "StepResult",
    "close_shared_http_client",
    "shared_http_client",
    "transport_cause",
]

STEP_META = "codegym/step"
EPISODE_META = "codegym/episode"


class ServerFailure(RuntimeError):
    """The catalog server could not be reached or failed mid-episode (an infrastructure failure)."""


@dataclass(frozen=True)
class StepResult:
    """What one tool call gave: the text the agent reads, and the episode's state after it."""

    text: str
    is_error: bool
    done: bool
    reward: float | None
    infra: bool
    end_reason: str | None


def _text(result: CallToolResult) -> str:
    texts = [block.text for block in result.content if block.type == "text"]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return ""


_TRANSPORT = (httpx2.TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError)
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def transport_cause(exc: BaseException) -> BaseException | None:
    """The connection error inside ``exc`` (the MCP client's task groups wrap it), else None."""
    if isinstance(exc, _TRANSPORT):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        causes = [transport_cause(e) for e in exc.exceptions]
        return next((c for c in causes if c is not None), None)
    return None


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside task-group wrappers (what went wrong, for a message)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def shared_http_client() -> httpx2.AsyncClient:
    """The HTTP client every episode of the running event loop uses (created on first use).

    One per loop: its keep-alive connections are reused from episode to episode and its TLS
    context is built once, where a client per episode cost a new context (~10-25 ms) each time.
    It sends ``$CODEGYM_AUTH_TOKEN`` as read when it is created; no read timeout of its own (each
    MCP request has the session's ``read_timeout``).
    """
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None or client.is_closed:
        limits = httpx2.Limits(max_connections=None, max_keepalive_connections=64)
        timeout = httpx2.Timeout(30.0, read=None)
        client = httpx2.AsyncClient(headers=auth_headers(), timeout=timeout, limits=limits)
        _CLIENTS[loop] = client
    return client


async def close_shared_http_client() -> None:
    """Close the running loop's shared HTTP client, if any (a later episode makes a new one)."""
    client = _CLIENTS.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


class EpisodeSession:
    """An open MCP session on ``url`` (``BASE/<task_id>/mcp?instance=K``): the tools, the statement, calls.

    Use it as ``async with await EpisodeSession.open(url) as episode``; leaving the block ends the
    session (the server records an unfinished episode as disconnected).
    """

    def __init__(
        self,
        client: Client,
        stack: AsyncExitStack,
        tools: list[dict[str, Any]],
        *,
        url: str,
        scope: anyio.CancelScope,
        close_timeout: float,
    ) -> None:
        self._client = client
        self._stack = stack
        self._scope = scope
        self.url = url
        self.close_timeout = close_timeout
        self.tools = tools
        self.instructions = client.instructions or ""
        self.instance_id: str | None = None
        self.steps = 0
        self.step_ms: list[float] = []  # each call's round trip (ms)
        self.last: StepResult | None = None
        self._next_step = 0

    @classmethod
    async def open(cls, url: str, *, read_timeout: float = 300.0, close_timeout: float = 10.0) -> Self:
        """Open the session and list its tools (as OpenAI function tools).

        Args:
            url: the episode's MCP endpoint (``BASE/<task_id>/mcp?instance=K``).
            read_timeout: seconds to wait for any one answer of the server.
            close_timeout: seconds :meth:`close` waits for the server before it drops the session.

        Raises:
            ServerFailure: the server could not be reached or refused the session.
        """
        stack = AsyncExitStack()
        # Everything the session opens runs inside this scope, exited last: close() gives it a
        # deadline, so a hung server's session is cut instead of waited on.
        scope = stack.enter_context(anyio.CancelScope())
        try:
            transport = streamable_http_client(url, http_client=shared_http_client())
            client = await stack.enter_async_context(
                Client(transport, mode="legacy", read_timeout_seconds=read_timeout)
            )
            listed = await client.list_tools()
        except BaseException as exc:
            scope.deadline = anyio.current_time() + close_timeout
            failure: BaseException = exc
            try:
                await stack.aclose()
            except Exception as closing:  # a broken transport fails again (or only) as it closes
                failure = exc if isinstance(exc, Exception) else closing
            if isinstance(failure, Exception):
                cause = transport_cause(failure) or _leaf(failure)
                raise ServerFailure(
                    f"could not open an MCP session at {url}: {type(cause).__name__}: {cause}; "
                    "check that `codegym-mcp serve --all` runs there"
                ) from failure
            raise
        tools = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description or "",
                    "parameters": dict(t.input_schema),
                },
            }
            for t in listed.tools
        ]
        return cls(client, stack, tools, url=url, scope=scope, close_timeout=close_timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """End the MCP session (idempotent), within ``close_timeout`` seconds whatever the server does.

        Raises:
            ServerFailure: the session's transport broke (the server died or dropped the connection).
        """
        stack, self._stack = self._stack, AsyncExitStack()
        self._scope.deadline = anyio.current_time() + self.close_timeout
        try:
            await stack.aclose()
        except Exception as exc:
            cause = transport_cause(exc)
            if cause is None:
                raise
            raise ServerFailure(
                f"the MCP session at {self.url} broke after {self.steps} steps: "
                f"{type(cause).__name__}: {cause}; the catalog server is gone or dropped the connection"
            ) from exc

    async def call(self, name: str, arguments: Mapping[str, Any]) -> StepResult:
        """Call one tool as the episode's next step (its index in ``_meta["codegym/step"]``).

        Raises:
            ServerFailure: the server answered with a protocol error (an HTTP error status, a
                JSON-RPC error). A broken connection fails the session's transport as a whole
                (mcp 2.0.0): the call is cancelled and :meth:`close` raises ServerFailure.
        """
        meta = cast(RequestParamsMeta, {STEP_META: self._next_step})
        started = time.perf_counter()
        try:
            result = await self._client.call_tool(name, dict(arguments), meta=meta)
        except Exception as exc:
            cause = transport_cause(exc) or _leaf(exc)
            raise ServerFailure(
                f"tool call {name} (step {self._next_step}) at {self.url} failed: {type(cause).__name__}: {cause}"
            ) from exc
        self.step_ms.append(round((time.perf_counter() - started) * 1000.0, 3))
        episode = (result.meta or {}).get(EPISODE_META)
        state: Mapping[str, Any] = episode if isinstance(episode, Mapping) else {}
        served = state.get("step")
        self._next_step = served if isinstance(served, int) else self._next_step + 1
        self.steps += 1
        if isinstance(state.get("instance_id"), str):
            self.instance_id = str(state["instance_id"])
        reward = state.get("reward")
        self.last = StepResult(
            text=_text(result),
            is_error=bool(result.is_error),
            done=bool(state.get("done", False)),
            reward=float(reward) if isinstance(reward, int | float) else None,
            infra=bool(state.get("infra", False)),
            end_reason=str(state["end_reason"]) if state.get("end_reason") is not None else None,
        )
        return self.last
