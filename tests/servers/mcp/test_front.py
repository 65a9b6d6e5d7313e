"""The affinity front over in-process replicas: real catalog servers, and small fake upstreams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from codegym_mcp.runtime import Catalog, SandboxConfig, WorkerPool
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers.mcp._catalog_server import base_url, bind_socket, running_http_server, serve_http
from codegym_mcp.servers.mcp._front import Front, Replica

from .._serve_helpers import FIXTURE

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1:0 in this loop; yields its base URL."""
    sock = bind_socket("127.0.0.1", 0)
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve_http(app, sock, stop=stop))
        try:
            yield base_url(sock)
        finally:
            stop.set()
    sock.close()


@dataclass
class Gyms:
    """A real catalog server (the fixture catalog, no sandbox) and the records it wrote."""

    url: str = ""
    records: list[EpisodeRecord] = field(default_factory=list)


@asynccontextmanager
async def gyms_server(pool: WorkerPool) -> AsyncIterator[Gyms]:
    gyms = Gyms()
    async with running_http_server(Catalog(FIXTURE), pool, on_end=gyms.records.append) as url:
        gyms.url = url
        yield gyms


@asynccontextmanager
async def front_over(urls: Sequence[str], *, poll_every: float = 0.2) -> AsyncIterator[tuple[str, Front]]:
    front = Front([Replica(key=f"r{i}", url=url) for i, url in enumerate(urls)], poll_every=poll_every)
    async with serving(front.app()) as url:
        yield url, front


async def play_vowels(base: str, instance: int) -> Any:
    """One vowels episode through ``base`` (observe, count, submit); the submit's result."""
    async with Client(f"{base}/Fixture_vowels/mcp?instance={instance}") as client:
        observed = await client.call_tool("observe", {})
        assert observed.structured_content is not None
        answer = sum(ch in "aeiouAEIOU" for ch in str(observed.structured_content["s"]))
        submitted = await client.call_tool("submit", {"answer": answer})
        return submitted.structured_content


async def test_sessions_spread_over_the_replicas_and_each_stays_on_its_replica() -> None:
    opened, all_open = 0, anyio.Event()

    async def held_episode(base: str, instance: int) -> None:
        """Open a session, wait until all six are open (none ends while others are placed), play."""
        nonlocal opened
        async with Client(f"{base}/Fixture_vowels/mcp?instance={instance}") as client:
            opened += 1
            if opened == 6:
                all_open.set()
            await all_open.wait()
            observed = await client.call_tool("observe", {})
            assert observed.structured_content is not None
            answer = sum(ch in "aeiouAEIOU" for ch in str(observed.structured_content["s"]))
            await client.call_tool("submit", {"answer": answer})

    async with WorkerPool(SandboxConfig(isolation="none"), size=2) as pool, AsyncExitStack() as stack:
        first = await stack.enter_async_context(gyms_server(pool))
        second = await stack.enter_async_context(gyms_server(pool))
        # no health poll while the sessions are placed: the front's own count decides, exactly
        base, _ = await stack.enter_async_context(front_over([first.url, second.url], poll_every=3600))
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(held_episode, base, i % 3)
    rewards = [r.reward for r in [*first.records, *second.records]]
    assert rewards == [1] * 6  # every call of a session reached the replica holding its episode
    assert len(first.records) == 3 and len(second.records) == 3  # new sessions went to the less loaded


async def test_the_session_id_names_its_replica_and_health_sums_the_replicas() -> None:
    async def health(_: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "sessions": 3, "max_sessions": 10, "workers": 2, "draining": False}
        )

    async def mcp(_: Request) -> Response:
        return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {}}, headers={"mcp-session-id": "abc"})

    app = Starlette(routes=[Route("/health", health), Route("/{p:path}", mcp, methods=["POST"])])
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize"}
    async with (
        serving(app) as one,
        serving(app) as two,
        front_over([one, two]) as (base, _),
        httpx2.AsyncClient(timeout=60) as http,
    ):
        summed = (await http.get(f"{base}/health")).json()  # it polled the replicas on start
        answer = await http.post(f"{base}/T/mcp", json=initialize)
    got = (summed["status"], summed["sessions"], summed["max_sessions"], summed["workers"])
    assert got == ("ok", 6, 20, 4)
    assert answer.headers["mcp-session-id"] in ("r0-abc", "r1-abc")


async def test_a_full_replica_is_skipped_and_when_all_are_full_the_client_gets_503() -> None:
    seen: dict[str, list[str]] = {"full": [], "open": []}

    def upstream(name: str, status: int) -> Starlette:
        async def mcp(request: Request) -> Response:
            seen[name].append(request.headers.get("authorization", ""))
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "error": {"code": -32000, "message": f"{name}: at --max-sessions 1"},
            }
            if status == 503:
                return JSONResponse(body, status_code=503)
            return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {}}, headers={"mcp-session-id": "s1"})

        return Starlette(routes=[Route("/{p:path}", mcp, methods=["POST"])])  # no /health: counted here

    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize"}
    headers = {"authorization": "Bearer the-token"}
    async with serving(upstream("full", 503)) as full, serving(upstream("open", 200)) as open_:
        async with front_over([full, open_]) as (base, _), httpx2.AsyncClient(timeout=60) as http:
            taken = await http.post(f"{base}/T/mcp", json=request, headers=headers)
        async with front_over([full, full]) as (base, _), httpx2.AsyncClient(timeout=60) as http:
            refused = await http.post(f"{base}/T/mcp", json=request, headers=headers)
    assert taken.status_code == 200 and taken.headers["mcp-session-id"] == "r1-s1"
    assert refused.status_code == 503 and "at --max-sessions 1" in refused.text
    assert seen["open"] == ["Bearer the-token"] and set(seen["full"]) == {"Bearer the-token"}


async def test_a_gone_replica_s_session_gets_an_error_naming_it_and_new_sessions_go_elsewhere() -> None:
    stop, started, stopped = anyio.Event(), anyio.Event(), anyio.Event()
    doomed = Gyms()

    async def doomed_replica(pool: WorkerPool) -> None:
        async with gyms_server(pool) as gyms:
            doomed.url = gyms.url
            started.set()
            await stop.wait()
        stopped.set()

    async with WorkerPool(SandboxConfig(isolation="none"), size=2) as pool, anyio.create_task_group() as tg:
        tg.start_soon(doomed_replica, pool)
        await started.wait()
        async with gyms_server(pool) as survivor, front_over([doomed.url, survivor.url]) as (base, front):
            with anyio.fail_after(60):
                async with Client(f"{base}/Fixture_vowels/mcp?instance=0") as client:
                    await client.call_tool("observe", {})  # on r0 (both empty: the first one)
                    stop.set()  # the replica goes away with the session's episode
                    await stopped.wait()
                    with pytest.raises(MCPError) as raised:
                        await client.call_tool("observe", {})
                played = [await play_vowels(base, i) for i in range(2)]
    assert "replica r0" in str(raised.value)
    assert front.replicas["r0"].gone is not None
    assert played == [{"reward": 1}] * 2
    assert [r.reward for r in survivor.records] == [1, 1]


def test_an_error_answer_carries_the_request_id() -> None:
    from codegym_mcp.servers.mcp._front import _error

    answer = _error(404, json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call"}).encode(), "gone")
    assert json.loads(bytes(answer.body)) == {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {"code": -32000, "message": "gone"},
    }


def test_a_front_without_an_upstream_pool_is_refused_with_the_count() -> None:
    with pytest.raises(ValueError, match="pools=0"):
        Front([Replica(key="r0", url="http://127.0.0.1:1")], pools=0)
