"""Gyms generated under each observation policy, end to end: files, traces, check, MCP replay."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from codegym_mcp.generator._results import GenerateSettings
from codegym_mcp.generator.audit._check import check_gym
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline._run import generate
from codegym_mcp.runtime import ITEMS_CAP, TEXT_CAP, Catalog, SandboxConfig, Worker, WorkerPool
from codegym_mcp.schemas import ObservationPolicy
from codegym_mcp.servers.cli import main
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY, GymServer, ServeOptions, json_safe_schema
from codegym_mcp.servers.rollout._env import CodeGymEnv
from codegym_mcp.servers.rollout._policies import EpisodeContext, OraclePolicy

# a list of floats and a float; a string; a string whose reference carves into no tool
IDS = ["HumanEval/0", "HumanEval/1", "HumanEval/27"]
TASKS = ["HumanEval_0", "HumanEval_1", "HumanEval_27"]


def _generate(root: Path, observe: ObservationPolicy) -> Catalog:
    problems = [p for p in load_dataset("humaneval").problems if p.problem_id in IDS]
    generate(
        problems,
        catalog=root,
        dataset="humaneval",
        # one instance per episode: the traces replay as they are; every gym kept (unfiltered)
        settings=GenerateSettings.unfiltered(observe=observe, batch=1),
        sandbox=SandboxConfig(isolation="nsjail"),
        workers=1,
    )
    return Catalog(root)


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return _generate(tmp_path_factory.mktemp("partial"), "partial")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return _generate(tmp_path_factory.mktemp("full"), "full")


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation="nsjail")) as w:
        yield w


def test_partial_is_the_default_of_generation_and_is_written_in_every_manifest(partial: Catalog) -> None:
    assert GenerateSettings().observe == "partial"
    assert GenerateSettings().as_report()["observe"] == "partial"
    assert partial.task_ids() == sorted(TASKS)
    for task in TASKS:
        assert partial.load(task).manifest.observation == "partial"


def test_a_list_input_is_shown_by_length_and_read_through_its_read_tool(partial: Catalog) -> None:
    gym = partial.load("HumanEval_0")
    tools = {t.name: t for t in gym.manifest.tools}
    read = tools["read_numbers"]
    assert read.kind == "read" and read.function is None
    props = read.input_schema["properties"]
    assert isinstance(props, dict)
    assert props["count"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": ITEMS_CAP,
        "description": "how many items (1 to 5)",
    }
    assert not [name for name in tools if name.startswith("get_")]
    for inst in gym.instances:
        numbers = inst.input["numbers"]
        assert isinstance(numbers, list)
        observed = inst.oracle_trace[0]
        assert observed.tool == "observe"
        assert observed.result == {"numbers": {"length": len(numbers)}, "threshold": inst.input["threshold"]}
        items: list[Any] = []
        for call in inst.oracle_trace:
            if call.tool == "read_numbers":
                assert isinstance(call.result, dict) and isinstance(call.result["items"], list)
                items += call.result["items"]
                count = call.arguments["count"]
                assert isinstance(count, int) and 1 <= count <= ITEMS_CAP
        assert items == numbers
    oracle = (gym.path / "oracle.py").read_text(encoding="utf-8")
    assert "tools.read_numbers" in oracle  # a reader of oracle.py sees the reads


def test_a_string_is_read_ten_characters_at_a_time_by_the_oracle(partial: Catalog) -> None:
    gym = partial.load("HumanEval_1")
    for inst in gym.instances:
        text = inst.input["paren_string"]
        assert isinstance(text, str)
        reads = [c.result for c in inst.oracle_trace if c.tool == "read_paren_string"]
        assert "".join(str(r["text"]) for r in reads if isinstance(r, dict)) == text
        assert len(reads) == -(-len(text) // TEXT_CAP)


def test_a_problem_with_no_carved_tool_offers_no_whole_input_getter(partial: Catalog) -> None:
    gym = partial.load("HumanEval_27")
    assert [t.name for t in gym.manifest.tools] == ["observe", "read_string", "submit", "task"]


def test_every_partial_gym_passes_check(partial: Catalog, worker: Worker) -> None:
    for task in TASKS:
        assert check_gym(partial.path / task, worker) == []


def test_full_keeps_observe_revealing_everything_and_offers_no_read_tool(full: Catalog) -> None:
    for task in TASKS:
        gym = full.load(task)
        assert gym.manifest.observation == "full"
        assert not [t for t in gym.manifest.tools if t.kind == "read"]
        for inst in gym.instances:
            first = inst.oracle_trace[0]
            if first.tool == "observe":
                assert json.dumps(first.result, sort_keys=True) == json.dumps(inst.input, sort_keys=True)
    oracle = (full.path / "HumanEval_0" / "oracle.py").read_text(encoding="utf-8")
    assert "_in = tools.observe()" in oracle and "read_whole" not in oracle
    tools = [t.name for t in full.load("HumanEval_27").manifest.tools]
    assert "get_string_length" in tools  # the getters carving keeps its item getters under full


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    async with WorkerPool(SandboxConfig(isolation="nsjail"), size=1) as pool:
        yield pool


@pytest.mark.anyio
async def test_the_partial_oracle_trace_replays_to_reward_1_over_mcp(
    partial: Catalog, pool: WorkerPool
) -> None:
    for task in TASKS:
        gym = partial.load(task)
        for index, instance in enumerate(gym.instances):  # one session per episode
            async with Client(GymServer(gym, pool, options=ServeOptions(instance=index)).server) as client:
                listed = {t.name: t for t in (await client.list_tools()).tools}
                for spec in gym.manifest.tools:
                    if spec.kind == "read":
                        assert listed[spec.name].input_schema == spec.input_schema
                        assert listed[spec.name].output_schema == json_safe_schema(spec.output_schema)
                result: Any = None
                for call in instance.oracle_trace:
                    result = await client.call_tool(call.tool, call.arguments)
                    assert not result.is_error and result.structured_content == call.result
                assert result.meta[EPISODE_META_KEY]["reward"] == 1


@pytest.mark.anyio
async def test_a_read_past_the_end_is_a_tool_error_over_mcp(partial: Catalog, pool: WorkerPool) -> None:
    gym = partial.load("HumanEval_0")
    numbers = gym.instances[0].input["numbers"]
    assert isinstance(numbers, list)
    n = len(numbers)
    async with Client(GymServer(gym, pool).server) as client:
        result = await client.call_tool("read_numbers", {"start": n, "count": 1})
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert f"start {n} is past the end: `numbers` has {n} items (0..{n - 1})" in text
        assert result.meta is not None and not result.meta[EPISODE_META_KEY]["done"]


@pytest.mark.anyio
async def test_the_oracle_policy_finds_its_instance_without_being_told(
    partial: Catalog, pool: WorkerPool
) -> None:
    gym = partial.load("HumanEval_0")
    last = len(gym.instances) - 1
    server = GymServer(gym, pool, options=ServeOptions(instance=last))
    env = await CodeGymEnv.connect(server.server, task_id=gym.task_id)
    async with env:
        obs, _ = await env.reset()
        agent = OraclePolicy(partial).agent(
            EpisodeContext(task_id=gym.task_id, task_text=obs.text, tools=env.tools)
        )
        reward = 0.0
        while (action := await agent.act(obs)) is not None:
            obs, reward, terminated, _, _ = await env.step(action)
            if terminated:
                break
        assert reward == 1.0


def test_the_observe_flag_sets_the_policy_and_resume_refuses_another_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog"
    args = [
        "generate",
        "--dataset",
        "humaneval",
        "--tasks",
        "HumanEval/27",
        "--out",
        str(out),
        "--workers",
        "1",
        "--augment",
        "0",
        "--no-filters",  # the tests' instances only, unfiltered: the flag under test is --observe
    ]
    assert main([*args, "--observe", "full"]) == 0
    assert Catalog(out).load("HumanEval_27").manifest.observation == "full"
    capsys.readouterr()
    assert main(args) == 2  # the default, partial, differs from the catalog's policy
    assert "observe 'full' (now 'partial')" in capsys.readouterr().err
    assert main([*args, "--no-resume"]) == 0
    assert Catalog(out).load("HumanEval_27").manifest.observation == "partial"
