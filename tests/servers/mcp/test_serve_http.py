"""Catalog mode over streamable HTTP, in-process (uvicorn on 127.0.0.1:0) with real mcp.Clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from codegym_mcp.runtime import Catalog, SandboxConfig, WorkerPool
from codegym_mcp.servers.mcp._catalog_server import catalog_task_url, running_http_server
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY

from .._serve_helpers import FIXTURE
from ._served import Served, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
async def catalog_server() -> AsyncIterator[Served]:
    async with serving(workers=2) as served:
        yield served


def episode_meta(result: Any) -> dict[str, Any]:
    value = result.meta[EPISODE_META_KEY]
    assert isinstance(value, dict)
    return value


async def test_many_concurrent_sessions_are_isolated_episodes(catalog_server: Served) -> None:
    outcomes: dict[int, tuple[str, Any, Any, Any]] = {}

    async def session(i: int) -> None:
        task = ["Fixture_maxsub", "Fixture_vowels"][i % 2]
        instance = i % 3
        async with Client(f"{catalog_server.base}/{task}/mcp?instance={instance}") as client:
            observed = await client.call_tool("observe", {})
            if task == "Fixture_maxsub":
                await client.call_tool("track_best", {"value": 100 + i})
                tracked = await client.call_tool("track_best", {"value": 0})
                assert tracked.structured_content == {"result": 100 + i}  # this session's state only
            submitted = await client.call_tool("submit", {"answer": -1})
            outcomes[i] = (
                task,
                observed.structured_content,
                episode_meta(submitted),
                submitted.structured_content,
            )

    async with anyio.create_task_group() as tg:
        for i in range(16):
            tg.start_soon(session, i)
    catalog = Catalog(FIXTURE)
    episode_ids = set()
    for i, (task, observed, meta, submitted) in outcomes.items():
        instance = catalog.load(task).instances[i % 3]
        assert meta["task_id"] == task and meta["instance_id"] == instance.instance_id
        assert observed == {k: v for k, v in instance.input.items()}
        assert meta["step"] == (4 if task == "Fixture_maxsub" else 2)
        assert submitted == {"reward": int(instance.expected == -1)}
        episode_ids.add(meta["episode_id"])
    assert len(episode_ids) == 16


async def test_a_dataset_id_as_written_and_the_alternative_path_reach_the_gym(
    catalog_server: Served,
) -> None:
    for url in (
        f"{catalog_server.base}/Fixture/vowels/mcp?seed=3",
        f"{catalog_server.base}/mcp/Fixture_vowels",
    ):
        async with Client(url) as client:
            result = await client.call_tool("get_length", {})
            assert episode_meta(result)["task_id"] == "Fixture_vowels"


async def test_an_unknown_task_is_a_404_naming_the_nearest_ids(catalog_server: Served) -> None:
    def post() -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{catalog_server.base}/Fixture_vowles/mcp",
            data=b"{}",
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    status, body = await anyio.to_thread.run_sync(post)
    assert status == 404
    assert body["suggestions"][0] == "Fixture_vowels"


async def test_the_tasks_endpoint_lists_the_catalog(catalog_server: Served) -> None:
    def get() -> Any:
        with urllib.request.urlopen(f"{catalog_server.base}/tasks", timeout=10) as response:
            return json.loads(response.read())

    assert await anyio.to_thread.run_sync(get) == {"tasks": ["Fixture_maxsub", "Fixture_vowels"]}


async def test_a_closed_session_records_its_running_episode_as_disconnected(catalog_server: Served) -> None:
    async with Client(f"{catalog_server.base}/Fixture_maxsub/mcp") as client:
        await client.call_tool("observe", {})
    record = await catalog_server.next_record()
    assert record.end_reason == "disconnected" and record.reward is None
    assert [s.tool for s in record.steps] == ["observe"]


async def test_a_stateless_2026_request_is_refused_with_a_protocol_error(catalog_server: Served) -> None:
    async with Client(f"{catalog_server.base}/Fixture_maxsub/mcp", mode="2026-07-28") as client:
        listed = await client.list_tools()
        assert "submit" in {t.name for t in listed.tools}
        with pytest.raises(MCPError, match="plays its episodes in an MCP session"):
            await client.call_tool("observe", {})


async def test_a_single_gym_is_served_at_slash_mcp() -> None:
    gym = Catalog(FIXTURE).load("Fixture_vowels")
    async with (
        WorkerPool(SandboxConfig(isolation="none"), size=1) as pool,
        running_http_server(gym, pool) as base,
    ):
        async with Client(f"{base}/mcp?instance=1") as client:
            assert (await client.call_tool("observe", {})).structured_content == {"s": "Rhythm"}
            submitted = await client.call_tool("submit", {"answer": 0})
            assert submitted.structured_content == {"reward": 1}
        async with Client(catalog_task_url(base, "Fixture_vowels")) as client:
            assert (await client.call_tool("get_length", {})).structured_content == {"result": 6}


def test_catalog_task_urls_name_the_task_and_the_first_instance() -> None:
    assert (
        catalog_task_url("http://h:1/", "HumanEval/0", instance=3) == "http://h:1/HumanEval/0/mcp?instance=3"
    )
    assert catalog_task_url("http://h:1", "T_1", seed=2) == "http://h:1/T_1/mcp?seed=2"
    assert catalog_task_url("http://h:1", "T_1") == "http://h:1/T_1/mcp"
