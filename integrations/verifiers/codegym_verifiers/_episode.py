"""One episode: one MCP session with a catalog server, opened and closed by its owner.

Every tool call carries its step index in ``_meta["codegym/step"]``; a call that fails in
transport is sent again with the same index, and the server answers a repeated index with the
first result, so a retried call never runs twice. The server's episode bookkeeping
(``_meta["codegym/episode"]``: done, reward, infra, instance) is read from every result.
"""

from __future__ import annotations

import json
import time
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

__all__ = ["EPISODE_META", "STEP_META", "EpisodeSession", "ServerFailure", "StepResult"]

STEP_META = "codegym/step"
EPISODE_META = "codegym/episode"
_TRANSPORT_ATTEMPTS = 3


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


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx2.TransportError | anyio.BrokenResourceError | anyio.ClosedResourceError)


class EpisodeSession:
    """An open MCP session on ``url`` (``BASE/<task_id>/mcp?instance=K``): the tools, the statement, calls.

    Use it as ``async with await EpisodeSession.open(url) as episode``; leaving the block ends the
    session (the server records an unfinished episode as disconnected).
    """

    def __init__(self, client: Client, stack: AsyncExitStack, tools: list[dict[str, Any]]) -> None:
        self._client = client
        self._stack = stack
        self.tools = tools
        self.instructions = client.instructions or ""
        self.instance_id: str | None = None
        self.steps = 0
        self.step_ms: list[float] = []  # each call's round trip, retries included
        self.last: StepResult | None = None
        self._next_step = 0

    @classmethod
    async def open(cls, url: str, *, read_timeout: float = 300.0) -> Self:
        """Open the session and list its tools (as OpenAI function tools).

        Raises:
            ServerFailure: the server could not be reached or refused the session.
        """
        stack = AsyncExitStack()
        try:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=auth_headers(), timeout=httpx2.Timeout(30.0, read=read_timeout))
            )
            transport = streamable_http_client(url, http_client=http)
            client = await stack.enter_async_context(
                Client(transport, mode="legacy", read_timeout_seconds=read_timeout)
            )
            listed = await client.list_tools()
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, Exception):
                raise ServerFailure(
                    f"could not open an MCP session at {url}: {type(exc).__name__}: {exc}; "
                    "check that `codegym-mcp serve --all` runs there"
                ) from exc
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
        return cls(client, stack, tools)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """End the MCP session (idempotent)."""
        stack, self._stack = self._stack, AsyncExitStack()
        await stack.aclose()

    async def call(self, name: str, arguments: Mapping[str, Any]) -> StepResult:
        """Call one tool as the episode's next step (a transport failure is retried with the same index).

        Raises:
            ServerFailure: the call failed in transport on every attempt.
        """
        meta = cast(RequestParamsMeta, {STEP_META: self._next_step})
        started = time.perf_counter()
        for attempt in range(_TRANSPORT_ATTEMPTS):
            try:
                result = await self._client.call_tool(name, dict(arguments), meta=meta)
                break
            except Exception as exc:
                if not _transient(exc) or attempt == _TRANSPORT_ATTEMPTS - 1:
                    raise ServerFailure(
                        f"tool call {name} (step {self._next_step}) failed: {type(exc).__name__}: {exc}"
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
