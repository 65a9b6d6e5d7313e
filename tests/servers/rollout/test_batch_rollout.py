"""Batched gyms over MCP: published `case` schemas, the oracle's batch replay, random calls, one episode each."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from codegym_mcp.runtime import Catalog, SandboxConfig, WorkerPool
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY, GymServer
from codegym_mcp.servers.rollout._connectors import memory_connector
from codegym_mcp.servers.rollout._policies import OraclePolicy, RandomPolicy
from codegym_mcp.servers.rollout._rollout import plan_episodes, run_rollouts

from .._serve_helpers import FIXTURE, text_of

pytestmark = pytest.mark.anyio
TASK = "Fixture_maxsub"


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        yield pool


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """The fixture catalog with maxsub (4 instances) played 2 instances per episode."""
    root = tmp_path / "catalog"
    shutil.copytree(FIXTURE, root)
    path = root / TASK / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["batch_size"] = 2
    manifest["step_budget"] = 2 * manifest["step_budget"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return Catalog(root)


async def test_the_server_publishes_case_on_every_tool_but_submit_and_task(
    catalog: Catalog, pool: WorkerPool
) -> None:
    gym = catalog.load(TASK)
    async with Client(GymServer(gym, pool).server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        bad = await client.call_tool("observe", {"case": 7})
        good = await client.call_tool("observe", {"case": 1})
    for spec in gym.manifest.tools:
        schema: dict[str, Any] = listed[spec.name].input_schema
        if spec.kind in ("submit", "task"):
            assert "case" not in schema["properties"]
        else:
            assert schema["properties"]["case"]["maximum"] == 1 and "case" in schema["required"]
    assert listed["submit"].input_schema["properties"]["answer"]["maxItems"] == 2
    assert bad.is_error and "valid cases are 0..1" in text_of(bad)
    assert good.structured_content == {"nums": json.loads(json.dumps(gym.instances[1].input["nums"]))}
    assert good.meta is not None
    ids = "+".join(i.instance_id for i in gym.instances[:2])
    assert good.meta[EPISODE_META_KEY]["instance_id"] == ids


async def test_the_oracle_scores_one_on_every_batched_episode_over_mcp(
    catalog: Catalog, pool: WorkerPool
) -> None:
    gym = catalog.load(TASK)
    specs = plan_episodes([(TASK, 2)], episodes=4)
    records, summary = await run_rollouts(
        specs,
        connect=memory_connector(catalog, pool),
        policy=OraclePolicy(catalog),
        catalog=catalog,
        concurrency=2,
    )
    assert summary.episodes == 4 and summary.success_rate == 1.0 and summary.tool_errors == 0
    pairs = ["+".join(i.instance_id for i in gym.instances[g * 2 : g * 2 + 2]) for g in (0, 1)]
    assert [r.instance_id for r in records] == [pairs[0], pairs[1], pairs[0], pairs[1]]
    first = records[0]
    assert first.expected == [i.expected for i in gym.instances[:2]]
    assert [s.tool for s in first.steps].count("submit") == 1
    assert all(s.arguments.get("case") in (0, 1) for s in first.steps if s.tool != "submit")
    calls = sum(len(i.oracle_trace) for i in gym.instances[:2]) - 1  # one submit for both cases
    assert len(first.steps) == calls


async def test_the_random_policy_sends_valid_cases_and_a_list_of_k_answers(
    catalog: Catalog, pool: WorkerPool
) -> None:
    specs = plan_episodes([(TASK, 2)], episodes=12, seed=5)
    records, summary = await run_rollouts(
        specs, connect=memory_connector(catalog, pool), policy=RandomPolicy(), catalog=catalog, concurrency=2
    )
    assert summary.episodes == 12 and summary.infra_errors == 0
    for record in records:
        submit = record.steps[-1]
        assert submit.tool == "submit" and submit.error is None
        assert isinstance(submit.arguments["answer"], list) and len(submit.arguments["answer"]) == 2
        for step in record.steps[:-1]:
            assert step.arguments["case"] in (0, 1)
            assert step.error is None or "case" not in step.error
