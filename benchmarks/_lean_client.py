"""A lean MCP client for the soak: raw streamable-HTTP JSON-RPC over one shared httpx client.

It plays real oracle episodes through the real catalog server: ``initialize`` opens a session on
the episode's gym and instance, the oracle trace of the instance is replayed as ``tools/call``
requests (with the step index ``_meta``, as ``CodeGymEnv`` sends it), the next episodes of the
session start with the harness's ``reset`` (the harness key in ``_meta``), and ``DELETE`` ends the
session. What it leaves out is the SDK client's machinery (pydantic models, stream task groups,
the GET stream): the soak then measures the server, not the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

from codegym_mcp.runtime import Gym
from codegym_mcp.servers.mcp._catalog_server import catalog_task_url
from codegym_mcp.servers.mcp._server import HARNESS_KEY_META
from codegym_mcp.servers.mcp._sessions import STEP_META

PROTOCOL = "2025-06-18"
_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@dataclass
class LeanTally:
    """What the lean client saw: episodes ended, scored 1, and the first few failures."""

    episodes: int = 0
    scored_1: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.failed += 1
        if len(self.failures) < 5:
            self.failures.append(why)


class _Session:
    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.headers = dict(_HEADERS)
        self.next_id = 0

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        response = await self.http.post(self.url, json=body, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{method}: HTTP {response.status_code}: {response.text[:200]}")
        if method == "initialize":
            self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
            self.headers["mcp-protocol-version"] = PROTOCOL
        answer = response.json()
        if "result" not in answer:
            raise RuntimeError(f"{method}: {answer.get('error')}")
        result = answer["result"]
        assert isinstance(result, dict)
        return result

    async def call(self, name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        return await self.request("tools/call", {"name": name, "arguments": arguments, "_meta": meta})


async def play_session(
    http: httpx2.AsyncClient, base: str, gym: Gym, instances: Sequence[int], *, key: str, tally: LeanTally
) -> None:
    """Play the oracle episodes of ``instances`` (0-based episodes of ``gym``) one after another in
    one MCP session; a failure ends the session (its unplayed episodes count as failed)."""
    if gym.manifest.batch_size > 1:
        raise ValueError(f"{gym.task_id}: the lean client plays gyms of one instance an episode, not batches")
    url = catalog_task_url(base, gym.task_id, instance=instances[0])
    session = _Session(http, url)
    played = 0
    try:
        init = {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "soak", "version": "1"},
        }
        await session.request("initialize", init)
        await http.post(
            url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session.headers
        )
        for n, instance in enumerate(instances):
            if n:
                reset = await session.call("reset", {"instance": instance}, {HARNESS_KEY_META: key})
                if reset.get("isError"):
                    raise RuntimeError(f"reset: {reset.get('content')}")
            trace = gym.instances[instance].oracle_trace
            result: dict[str, Any] = {}
            for step, call in enumerate(trace):
                result = await session.call(call.tool, dict(call.arguments), {STEP_META: step})
                if result.get("isError"):
                    raise RuntimeError(f"{call.tool}: {result.get('content')}")
            played += 1
            tally.episodes += 1
            reward = (result.get("structuredContent") or {}).get("reward")
            if reward == 1:
                tally.scored_1 += 1
            else:
                tally.fail(f"{gym.task_id}#{instance}: reward {reward!r}")
    except (RuntimeError, KeyError, ValueError, httpx2.HTTPError) as exc:
        for _ in instances[played:]:
            tally.fail(f"{gym.task_id}#{instances[played]}: {type(exc).__name__}: {exc}")
    finally:
        if "mcp-session-id" in session.headers:
            await http.delete(url, headers=session.headers)


async def play_lean(
    http: httpx2.AsyncClient,
    base: str,
    sessions: Sequence[tuple[Gym, Sequence[int]]],
    *,
    key: str,
    concurrency: int,
    tally: LeanTally,
) -> None:
    """Play every session (a gym and its episodes), ``concurrency`` sessions at a time."""
    queue = iter(sessions)

    async def worker() -> None:
        for gym, instances in queue:
            await play_session(http, base, gym, instances, key=key, tally=tally)

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(sessions))):
            tg.start_soon(worker)
