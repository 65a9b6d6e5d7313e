"""The gym MCP server driven in-process through mcp.Client: tools, episodes, errors, records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp_types import RequestParamsMeta

from codegym_mcp.runtime import Catalog, SandboxConfig, WorkerPool
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY, HARNESS_KEY_META, GymServer, ServeOptions

from .._serve_helpers import FIXTURE, crashing_catalog, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        yield pool


def harness(server: GymServer) -> RequestParamsMeta:
    """The ``_meta`` with which the harness (and only it) may reset."""
    return cast(RequestParamsMeta, {HARNESS_KEY_META: server.harness_key})


def meta(result: Any) -> dict[str, Any]:
    value = result.meta[EPISODE_META_KEY]
    assert isinstance(value, dict)
    return value


async def test_tools_are_listed_with_the_manifests_schemas_and_the_task_as_instructions(
    pool: WorkerPool,
) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    async with Client(GymServer(gym, pool).server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert client.instructions is not None and gym.manifest.task in client.instructions
        assert "reset" not in client.instructions
    assert set(listed) == {t.name for t in gym.manifest.tools}
    for spec in gym.manifest.tools:
        assert listed[spec.name].input_schema == spec.input_schema
        assert listed[spec.name].output_schema == spec.output_schema
        assert listed[spec.name].description == spec.description


async def test_an_agent_cannot_reset_without_the_harness_key(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    records: list[EpisodeRecord] = []
    server = GymServer(gym, pool, options=ServeOptions(harness_key="k" * 32), on_end=records.append)
    async with Client(server.server) as agent:
        await agent.call_tool("observe", {})
        guesses: list[dict[str, Any] | None] = [None, {HARNESS_KEY_META: "guess"}, {HARNESS_KEY_META: 42}]
        for guess in guesses:
            refused = await agent.call_tool("reset", {"instance": 1}, meta=cast(RequestParamsMeta, guess))
            assert refused.is_error and text_of(refused).startswith("unknown tool 'reset'")
        assert meta(refused)["step"] == 4 and meta(refused)["instance"] == 0 and not meta(refused)["done"]
        listed = await agent.list_tools(meta=cast(RequestParamsMeta, {HARNESS_KEY_META: "guess"}))
        assert "reset" not in {t.name for t in listed.tools}
    assert [(r.end_reason, len(r.steps)) for r in records] == [("disconnected", 4)]


async def test_the_harness_key_in_meta_lists_reset_and_starts_the_next_episode(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    server = GymServer(gym, pool)
    assert len(server.harness_key) >= 32  # a random secret when none is given
    async with Client(server.server) as client:
        listed = await client.list_tools(meta=harness(server))
        assert "reset" in {t.name for t in listed.tools}
        reset = await client.call_tool("reset", {"instance": 2}, meta=harness(server))
        assert not reset.is_error and meta(reset)["instance"] == 2 and meta(reset)["step"] == 0


async def test_allow_reset_lists_reset_for_manual_play_and_says_so(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    async with Client(GymServer(gym, pool, options=ServeOptions(allow_reset=True)).server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert listed["reset"].output_schema is not None
        assert client.instructions is not None and "`reset` starts the next instance" in client.instructions
        await client.call_tool("submit", {"answer": 0})
        after = await client.call_tool("observe", {})
        assert text_of(after).endswith("Call reset to start the next one.")
        reset = await client.call_tool("reset", {})
        assert not reset.is_error and meta(reset)["instance"] == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("task_id", ["Fixture_maxsub", "Fixture_vowels"])
async def test_the_oracle_trace_replays_to_reward_1_on_every_instance(
    pool: WorkerPool, mode: str, task_id: str
) -> None:
    gym = Catalog(FIXTURE).load(task_id)
    server = GymServer(gym, pool)
    async with Client(server.server, mode=mode) as client:
        for index, instance in enumerate(gym.instances):
            reset = await client.call_tool("reset", {"instance": index}, meta=harness(server))
            assert reset.structured_content is not None
            assert reset.structured_content["instance_id"] == instance.instance_id
            for call in instance.oracle_trace:
                result = await client.call_tool(call.tool, call.arguments)
                assert not result.is_error, text_of(result)
                assert result.structured_content == call.result
            assert meta(result)["done"] and meta(result)["reward"] == 1


async def test_a_bad_argument_is_a_tool_error_that_costs_a_step_and_the_server_carries_on(
    pool: WorkerPool,
) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    async with Client(GymServer(gym, pool).server) as client:
        bad = await client.call_tool("subarray_sum", {"start": "zero", "end": 2})
        assert bad.is_error
        assert text_of(bad) == 'invalid argument start: expected int, got "zero"'
        assert meta(bad)["step"] == 1 and not meta(bad)["done"]
        good = await client.call_tool("subarray_sum", {"start": 0, "end": 2})
        assert good.structured_content == {"result": -4}
        assert meta(good)["step"] == 2
        raised = await client.call_tool("subarray_sum", {"start": 2, "end": 0})
        assert raised.is_error and text_of(raised).startswith("IndexError: ")


async def test_submit_scores_1_or_0_and_later_calls_say_the_episode_is_over(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_vowels")
    server = GymServer(gym, pool, options=ServeOptions(instance=0))
    async with Client(server.server) as client:
        right = await client.call_tool("submit", {"answer": 3})
        assert right.structured_content == {"reward": 1}
        assert meta(right)["end_reason"] == "submitted"
        after = await client.call_tool("get_length", {})
        assert after.is_error and "The episode is over" in text_of(after) and "reset" not in text_of(after)
        await client.call_tool("reset", {}, meta=harness(server))
        wrong = await client.call_tool("submit", {"answer": 3})
        assert wrong.structured_content == {"reward": 0}
        assert meta(wrong)["instance"] == 1 and meta(wrong)["reward"] == 0


async def test_reset_starts_a_chosen_or_seeded_instance_and_rejects_bad_ones(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    async with Client(GymServer(gym, pool, options=ServeOptions(allow_reset=True)).server) as client:
        first = await client.call_tool("observe", {})
        assert first.structured_content == {"nums": [-2, 1, -3, 4, -1, 2, 1, -5, 4]}
        reset = await client.call_tool("reset", {"instance": 3})
        assert reset.structured_content is not None and reset.structured_content["task"] == gym.manifest.task
        assert (await client.call_tool("observe", {})).structured_content == {"nums": [5, 4, -1, 7, 8]}
        a = await client.call_tool("reset", {"seed": 5})
        b = await client.call_tool("reset", {"seed": 5})
        assert a.structured_content is not None and b.structured_content is not None
        assert a.structured_content["instance"] == b.structured_content["instance"]
        bad = await client.call_tool("reset", {"instance": 9})
        assert bad.is_error and "instances 0..3" in text_of(bad)
        typo = await client.call_tool("reset", {"index": 1})
        assert typo.is_error and "reset takes instance, seed" in text_of(typo)


async def test_the_step_budget_ends_the_episode_with_reward_0(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    records: list[EpisodeRecord] = []
    server = GymServer(gym, pool, options=ServeOptions(max_steps=2), on_end=records.append).server
    async with Client(server) as client:
        await client.call_tool("observe", {})
        last = await client.call_tool("get_length", {})
        assert not last.is_error and last.structured_content == {"result": 9}
        assert "step budget of 2 calls is used up" in last.content[-1].text  # type: ignore[union-attr]
        assert meta(last)["done"] and meta(last)["end_reason"] == "step_budget" and meta(last)["reward"] == 0
        after = await client.call_tool("submit", {"answer": 6})
        assert after.is_error and "step budget" in text_of(after)
    assert [(r.end_reason, r.reward) for r in records] == [("step_budget", 0)]


async def test_the_task_tool_returns_the_statement(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_vowels")
    async with Client(GymServer(gym, pool).server) as client:
        result = await client.call_tool("task", {})
        assert result.structured_content == {"task": gym.manifest.task}


async def test_a_dead_worker_is_an_infra_error_never_a_reward_of_0(pool: WorkerPool, tmp_path: Path) -> None:
    gym = Catalog(crashing_catalog(tmp_path)).load("Fixture_maxsub")
    records: list[EpisodeRecord] = []
    server = GymServer(gym, pool, on_end=records.append)
    async with Client(server.server) as client:
        await client.call_tool("observe", {})
        boom = await client.call_tool("explode", {})
        assert boom.is_error and meta(boom)["infra"] and meta(boom)["end_reason"] == "infra_error"
        assert "sandbox failure" in text_of(boom) and "reset" not in text_of(boom)
        await client.call_tool("reset", {}, meta=harness(server))
        healthy = await client.call_tool("get_length", {})  # the pool replaced the worker
        assert healthy.structured_content == {"result": 1}
    assert [(r.end_reason, r.reward) for r in records] == [("infra_error", None), ("disconnected", None)]


async def test_each_connection_is_its_own_episode_and_a_disconnect_is_recorded(pool: WorkerPool) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    records: list[EpisodeRecord] = []
    gym_server = GymServer(gym, pool, on_end=records.append)
    async with Client(gym_server.server) as one, Client(gym_server.server) as two:
        await one.call_tool("track_best", {"value": 10})
        result = await two.call_tool("track_best", {"value": 1})
        assert result.structured_content == {"result": 1}
        assert meta(result)["step"] == 1
    assert sorted(r.end_reason for r in records) == ["disconnected", "disconnected"]
    assert all(r.reward is None for r in records)


async def test_tools_run_in_the_nsjail_sandbox() -> None:
    from codegym_mcp.runtime import SandboxUnavailable

    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    try:
        async with (
            WorkerPool(SandboxConfig(), size=1) as jailed,
            Client(GymServer(gym, jailed).server) as client,
        ):
            for call in gym.instances[0].oracle_trace:
                result = await client.call_tool(call.tool, call.arguments)
                assert result.structured_content == call.result
    except SandboxUnavailable as exc:
        pytest.skip(f"nsjail cannot run here: {exc}")


async def test_a_sandbox_that_cannot_start_makes_tool_calls_infra_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from codegym_mcp.runtime import SandboxUnavailable
    from codegym_mcp.servers.cli._cmd_serve import _StartingPool

    class BrokenPool(WorkerPool):
        async def start(self) -> None:
            raise SandboxUnavailable("nsjail cannot start: libnl missing (install libnl-route-3-200)")

    runner = _StartingPool(BrokenPool(SandboxConfig(isolation="none"), size=1))
    await runner.start()
    assert "the sandbox failed to start" in capsys.readouterr().err
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    async with Client(GymServer(gym, runner).server) as client:
        assert (await client.call_tool("observe", {})).structured_content is not None  # no sandbox needed
        failed = await client.call_tool("get_length", {})
        assert failed.is_error and "libnl" in text_of(failed) and meta(failed)["infra"]


def test_published_number_schemas_admit_the_plain_form_of_non_finite_floats() -> None:
    from codegym_mcp.servers.mcp._server import json_safe_schema

    schema = {
        "type": "object",
        "properties": {"x": {"type": "number"}, "xs": {"type": "array", "items": {"type": "number"}}},
        "required": ["x"],
    }
    safe = json_safe_schema(schema)
    widened = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
    assert safe["properties"]["x"] == widened
    assert safe["properties"]["xs"]["items"] == widened
    assert safe["required"] == ["x"]
    assert json_safe_schema(safe) == safe
    assert json_safe_schema({"type": "integer"}) == {"type": "integer"}
