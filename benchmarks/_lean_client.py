"""The soak's client: oracle episodes, many per MCP session, over the minimal JSON-RPC client.

It plays real oracle episodes through the real catalog server with ``_jsonrpc_client``'s sessions
(raw streamable-HTTP JSON-RPC over one shared httpx client): ``initialize`` opens a session on the
episode's gym and instance, the oracle trace of the instance is replayed as ``tools/call``
requests (with the step index ``_meta``, as ``CodeGymEnv`` sends it), the next episodes of the
session start with the harness's ``reset`` (the harness key in ``_meta``), and ``DELETE`` ends the
session. What it leaves out is the SDK client's machinery (pydantic models, stream task groups,
the GET stream): the soak then measures the server, not the client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import httpx2

from codegym_mcp.runtime import Gym
from codegym_mcp.servers.mcp._catalog_server import catalog_task_url
from codegym_mcp.servers.mcp._server import HARNESS_KEY_META

from ._jsonrpc_client import LightSession, open_session


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


async def play_session(
    http: httpx2.AsyncClient, base: str, gym: Gym, instances: Sequence[int], *, key: str, tally: LeanTally
) -> None:
    """Play the oracle episodes of ``instances`` (0-based episodes of ``gym``) one after another in
    one MCP session; a failure ends the session (its unplayed episodes count as failed).

    Raises:
        ValueError: ``gym`` plays several instances an episode (a batch gym).
    """
    if gym.manifest.batch_size > 1:
        raise ValueError(f"{gym.task_id}: the lean client plays gyms of one instance an episode, not batches")
    url = catalog_task_url(base, gym.task_id, instance=instances[0])
    session: LightSession | None = None
    played = 0
    try:
        session = await open_session(http, url)
        for n, instance in enumerate(instances):
            if n:
                reset = await session.call("reset", {"instance": instance}, {HARNESS_KEY_META: key})
                if reset.get("isError"):
                    raise RuntimeError(f"reset: {reset.get('content')}")
            result: dict[str, object] = {}
            for step, call in enumerate(gym.instances[instance].oracle_trace):
                result = await session.call_tool(call.tool, dict(call.arguments), step=step)
                if result.get("isError"):
                    raise RuntimeError(f"{call.tool}: {result.get('content')}")
            played += 1
            tally.episodes += 1
            structured = result.get("structuredContent")
            reward = structured.get("reward") if isinstance(structured, dict) else None
            if reward == 1:
                tally.scored_1 += 1
            else:
                tally.fail(f"{gym.task_id}#{instance}: reward {reward!r}")
    except (RuntimeError, KeyError, ValueError, httpx2.HTTPError) as exc:  # ProtocolFailure is a RuntimeError
        for _ in instances[played:]:
            tally.fail(f"{gym.task_id}#{instances[played]}: {type(exc).__name__}: {exc}")
    finally:
        if session is not None:
            await session.close()


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
