"""Oracle episodes from a minimal streamable-HTTP JSON-RPC client, for thousands of sessions at once.

The SDK client (``mcp.Client``, what ``CodeGymEnv`` uses) holds per session a GET event stream,
two task groups and memory streams; thousands of them in one benchmark process make the client
the bottleneck of a scale run. This one speaks the protocol's plain JSON form over one pooled
httpx2 client: ``initialize`` and ``notifications/initialized`` open a session, each call of the
instance's recorded oracle trace is a ``tools/call`` POST (answered as JSON by the catalog
server), ``DELETE`` ends the session. Every result is checked against the trace; the submit's
reward and the server's episode id are kept, to be matched against the records the servers wrote.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from codegym_mcp.runtime import EPISODE_META_KEY, Gym, canonical_json
from codegym_mcp.servers.mcp._sessions import STEP_META

__all__ = ["LightEpisode", "LightSession", "open_session"]

PROTOCOL = "2025-06-18"
_JSON = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
_INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}


class ProtocolFailure(RuntimeError):
    """The server answered a request with an HTTP or JSON-RPC error (the message holds both)."""


@dataclass
class LightEpisode:
    """What one played episode showed the client."""

    reward: float | None = None
    episode_id: str | None = None
    calls: int = 0
    divergences: int = 0
    """Results that differ from the recorded trace (an oracle replay has none)."""
    error: str | None = None


@dataclass
class LightSession:
    """One open MCP session of a catalog server (or of the front before it)."""

    http: httpx2.AsyncClient
    url: str
    session_id: str
    headers: dict[str, str] = field(default_factory=dict)
    limit: anyio.Semaphore | None = None
    """Requests in flight at most, over every session sharing it (FIFO: no session starves)."""
    _next_id: int = 1

    def _slot(self) -> AbstractAsyncContextManager[Any]:
        return self.limit if self.limit is not None else nullcontext()

    async def _send(self, method: str, body: dict[str, Any] | None) -> httpx2.Response:
        """One request of this session; sent once more when the connection was closed under it
        (a keep-alive connection the server closed as the request went out: it was not served).

        Raises:
            httpx2.HTTPError: the transport failed twice.
        """
        for attempt in (1, 2):
            try:
                async with self._slot():
                    return await self.http.request(method, self.url, json=body, headers=self.headers)
            except httpx2.RemoteProtocolError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def call_tool(self, name: str, arguments: dict[str, Any], *, step: int) -> dict[str, Any]:
        """One ``tools/call`` (the episode's call ``step``, 0-based); its JSON-RPC result.

        Raises:
            ProtocolFailure: an HTTP error status or a JSON-RPC error.
            httpx2.HTTPError: the transport failed.
        """
        # the step index makes a resent call idempotent on the server (served once)
        return await self.call(name, arguments, {STEP_META: step})

    async def call(self, name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        """One ``tools/call`` with ``meta`` as its ``_meta`` (a step index, the harness key); its
        JSON-RPC result.

        Raises:
            ProtocolFailure: an HTTP error status or a JSON-RPC error.
            httpx2.HTTPError: the transport failed.
        """
        self._next_id += 1
        body = {
            "jsonrpc": "2.0",
            "id": self._next_id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments, "_meta": meta},
        }
        answer = await self._send("POST", body)
        payload = answer.json() if answer.content else {}
        if answer.status_code != 200 or "result" not in payload:
            raise ProtocolFailure(f"tools/call {name}: HTTP {answer.status_code}, {payload.get('error')}")
        result: dict[str, Any] = payload["result"]
        return result

    async def play_trace(self, gym: Gym, instance: int) -> LightEpisode:
        """Replay instance ``instance``'s oracle trace (the session plays that instance)."""
        episode = LightEpisode()
        try:
            for index, step in enumerate(gym.instances[instance].oracle_trace):
                result = await self.call_tool(step.tool, dict(step.arguments), step=index)
                episode.calls += 1
                structured = result.get("structuredContent")
                if result.get("isError") or canonical_json(structured) != canonical_json(step.result):
                    episode.divergences += 1
                meta = (result.get("_meta") or {}).get(EPISODE_META_KEY) or {}
                episode.episode_id = meta.get("episode_id", episode.episode_id)
                if step.tool == "submit" and isinstance(structured, dict):
                    episode.reward = float(structured.get("reward") or 0)
        except (ProtocolFailure, httpx2.HTTPError, ValueError) as exc:
            episode.error = f"{type(exc).__name__}: {exc}"
        return episode

    async def close(self) -> str | None:
        """``DELETE`` the session (the server writes the record of an episode still running); the
        failure, if any (the server's idle timeout closes the session anyway)."""
        try:
            answer = await self._send("DELETE", None)
        except httpx2.HTTPError as exc:
            return f"DELETE: {type(exc).__name__}: {exc}"
        return None if answer.status_code < 300 else f"DELETE: HTTP {answer.status_code}"


async def open_session(
    http: httpx2.AsyncClient, url: str, *, limit: anyio.Semaphore | None = None
) -> LightSession:
    """``initialize`` then ``notifications/initialized`` at ``url``; the open session.

    Raises:
        ProtocolFailure: the server refused the session (its status and message).
        httpx2.HTTPError: the transport failed.
    """
    session = LightSession(http=http, url=url, session_id="", limit=limit)
    async with session._slot():
        answer = await http.post(url, json=_INIT, headers=_JSON)
    session_id = answer.headers.get("mcp-session-id")
    if answer.status_code != 200 or session_id is None:
        raise ProtocolFailure(f"initialize: HTTP {answer.status_code}: {answer.text[:300]}")
    session.session_id = session_id
    session.headers = {**_JSON, "mcp-session-id": session_id, "mcp-protocol-version": PROTOCOL}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    async with session._slot():
        done = await http.post(url, json=initialized, headers=session.headers)
    if done.status_code >= 300:
        raise ProtocolFailure(f"notifications/initialized: HTTP {done.status_code}: {done.text[:300]}")
    return session
