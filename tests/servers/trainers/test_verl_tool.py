"""verl: the tool config passes verl's own schema model, and CodeGymTool plays whole episodes the
way verl 0.9's ToolAgentLoop calls tools (create, execute, release on every call).

verl itself needs torch, so it is not installed: ``make bootstrap`` downloads its wheel
(``.venv/wheels``) and these tests load verl's ``verl/tools/schemas.py`` from it (pydantic only),
which gives the real ``OpenAIFunctionToolSchema`` and ``ToolResponse``. The loop below follows
``ToolAgentLoop._call_tool`` of verl 0.9.1; it is not verl's code.
"""

from __future__ import annotations

import sys
import types
import uuid
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from omegaconf import OmegaConf

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import CodeGymEnv, ToolInfo, catalog_task_url
from codegym_mcp.servers.trainers import verl_tool
from codegym_mcp.servers.trainers._bridge import open_sessions
from codegym_mcp.servers.trainers.recipes import verl_catalog_config, verl_row, verl_tool_config

from ._harness import FIXTURE, health

WHEELS = Path(sys.prefix) / "wheels"


@pytest.fixture
def verl_schemas(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """verl's ``verl.tools.schemas`` module, from its wheel (its package ``__init__`` imports torch)."""
    wheels = sorted(WHEELS.glob("verl-*.whl"))
    if not wheels:
        pytest.skip(f"no verl wheel in {WHEELS}: run `make bootstrap`")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        source = wheel.read("verl/tools/schemas.py").decode("utf-8")
    module = types.ModuleType("verl.tools.schemas")
    monkeypatch.setitem(sys.modules, "verl.tools.schemas", module)  # pydantic resolves names through it
    exec(compile(source, "verl/tools/schemas.py", "exec"), module.__dict__)  # verl's own file, from its wheel
    for name in ("verl", "verl.tools"):
        package = types.ModuleType(name)
        package.__path__ = []
        monkeypatch.setitem(sys.modules, name, package)
    monkeypatch.setattr(sys.modules["verl.tools"], "schemas", module, raising=False)
    return module


class AgentData:
    """What verl's ToolAgentLoop hands a tool's ``execute`` (the fields CodeGymTool reads)."""

    def __init__(self, tools_kwargs: dict[str, Any]) -> None:
        self.request_id = uuid.uuid4().hex
        self.tools_kwargs = tools_kwargs
        self.extra_fields: dict[str, Any] = {}


def _tools(config_path: Path, schemas: types.ModuleType) -> dict[str, verl_tool.CodeGymTool]:
    """The tools as verl's ``initialize_tools_from_config`` builds them from the file."""
    tools = {}
    for entry in OmegaConf.load(config_path).tools:
        schema = schemas.OpenAIFunctionToolSchema.model_validate(
            OmegaConf.to_container(entry.tool_schema, resolve=True)
        )
        assert entry.class_name == "codegym_mcp.servers.trainers.verl_tool.CodeGymTool"
        config = OmegaConf.to_container(entry.config, resolve=True)
        assert isinstance(config, dict)
        tool = verl_tool.CodeGymTool(config={str(k): v for k, v in config.items()}, tool_schema=schema)
        tools[tool.name] = tool
    return tools


async def _call(
    tools: dict[str, verl_tool.CodeGymTool], data: AgentData, name: str, args: dict[str, Any]
) -> tuple[str, float]:
    """One tool call as ToolAgentLoop._call_tool makes it."""
    tool = tools[name]
    instance_id, _ = await tool.create(create_kwargs=data.tools_kwargs.get(name, {}).get("create_kwargs", {}))
    try:
        response, reward, _ = await tool.execute(instance_id, args, agent_data=data)
    finally:
        await tool.release(instance_id)
    return str(response.text), reward


async def _verl_setup(
    url: str, task_id: str, instance: int, tmp_path: Path, schemas: types.ModuleType, **config: Any
) -> tuple[dict[str, verl_tool.CodeGymTool], dict[str, Any]]:
    """The gym's tools built by verl from the written config file, and its dataset row."""
    async with await CodeGymEnv.connect(catalog_task_url(url, task_id), task_id=task_id) as env:
        obs, _ = await env.reset()
        listed = list(env.agent_tools)
    written = verl_tool_config(listed, catalog_url=url)
    for entry in written["tools"]:
        entry["config"].update(config)
    path = tmp_path / f"{task_id}.yaml"
    path.write_text(yaml.safe_dump(written), encoding="utf-8")
    return _tools(path, schemas), verl_row(obs.text, listed, task_id=task_id, instance=instance)


def test_a_union_parameter_gets_the_list_of_its_types_and_passes_verls_schema_model(
    verl_schemas: types.ModuleType,
) -> None:
    union = {
        "anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}, {"type": "null"}]
    }
    tool = ToolInfo(
        "pick", "Pick one.", {"type": "object", "properties": {"x": union, "y": {}}, "required": ["x"]}, None
    )
    (entry,) = verl_tool_config([tool], catalog_url="http://127.0.0.1:1")["tools"]
    parsed = verl_schemas.OpenAIFunctionToolSchema.model_validate(entry["tool_schema"])
    assert parsed.function.parameters.properties["x"].type == ["integer", "array", "null"]
    assert len(parsed.function.parameters.properties["y"].type) == 7  # any JSON value
    assert entry["tool_schema"]["function"]["parameters"]["properties"]["x"]["anyOf"] == union["anyOf"]
    assert entry["config"] == {"type": "native", "catalog_url": "http://127.0.0.1:1"}
    with pytest.raises(ValueError, match="catalog_url"):
        verl_tool_config([tool])


@pytest.mark.anyio
async def test_every_fixture_instance_is_one_trajectory_scored_1_by_its_submit(
    server: str, verl_schemas: types.ModuleType, tmp_path: Path
) -> None:
    catalog = Catalog(FIXTURE)
    for task_id in catalog.task_ids():
        gym = catalog.load(task_id)
        for instance in range(len(gym.instances)):
            tools, row = await _verl_setup(server, task_id, instance, tmp_path, verl_schemas)
            assert "ground_truth" in row["reward_model"] and row["reward_model"]["ground_truth"] == ""
            data = AgentData(row["extra_info"]["tools_kwargs"])
            rewards = [
                await _call(tools, data, c.tool, dict(c.arguments))
                for c in gym.instances[instance].oracle_trace
            ]
            assert [r for _, r in rewards] == [0.0] * (len(rewards) - 1) + [1.0], (task_id, instance)
            outcome = data.extra_fields[verl_tool.EXTRA_FIELD]
            assert outcome["reward"] == 1.0 and outcome["end_reason"] == "submitted" and not outcome["infra"]
            assert verl_tool.open_trajectories() == 0
            text, reward = await _call(
                tools, data, "submit", dict(gym.instances[instance].oracle_trace[-1].arguments)
            )
            assert "episode is over" in text and reward == 0.0 and verl_tool.open_trajectories() == 0


@pytest.mark.anyio
async def test_a_wrong_answer_scores_0_and_a_trajectory_that_never_submits_is_closed_once_idle(
    server: str, verl_schemas: types.ModuleType, tmp_path: Path
) -> None:
    gym = Catalog(FIXTURE).load("Fixture_vowels")
    tools, row = await _verl_setup(server, gym.task_id, 0, tmp_path, verl_schemas, idle_seconds=0)
    wrong = AgentData(row["extra_info"]["tools_kwargs"])
    answer = gym.instances[0].oracle_trace[-1].arguments["answer"]
    assert isinstance(answer, int)
    _, reward = await _call(tools, wrong, "submit", {"answer": answer + 1})
    assert reward == 0.0 and wrong.extra_fields[verl_tool.EXTRA_FIELD]["reward"] == 0.0
    idle = AgentData(row["extra_info"]["tools_kwargs"])
    await _call(
        tools, idle, gym.instances[0].oracle_trace[0].tool, dict(gym.instances[0].oracle_trace[0].arguments)
    )
    assert verl_tool.open_trajectories() == 1 and verl_tool.EXTRA_FIELD not in idle.extra_fields
    other = AgentData(row["extra_info"]["tools_kwargs"])
    await _call(
        tools, other, gym.instances[0].oracle_trace[0].tool, dict(gym.instances[0].oracle_trace[0].arguments)
    )
    assert verl_tool.open_trajectories() == 1  # the idle one was closed by the next create
    assert idle.extra_fields[verl_tool.EXTRA_FIELD]["end_reason"] == "idle"
    assert idle.extra_fields[verl_tool.EXTRA_FIELD]["reward"] is None
    text, _ = await _call(tools, idle, "submit", {"answer": answer})
    assert "episode is over" in text  # closed for idleness, not restarted
    await verl_tool.close_all()
    assert verl_tool.open_trajectories() == 0
    status = health(server)
    assert status is not None and status["sessions"] == 0


def test_one_catalog_config_lists_a_shared_tool_once_and_renames_a_clash() -> None:
    def submit(kind: str) -> ToolInfo:
        schema = {"type": "object", "properties": {"answer": {"type": kind}}, "required": ["answer"]}
        return ToolInfo("submit", "Submit the answer.", schema, None)

    observe = ToolInfo("observe", "See the task.", {"type": "object", "properties": {}}, None)
    config, names = verl_catalog_config(
        {"A": [observe, submit("integer")], "B": [observe, submit("string")], "C": [submit("integer")]},
        catalog_url="http://127.0.0.1:1",
    )
    assert names == {"A": ["observe", "submit"], "B": ["observe", "submit_2"], "C": ["submit"]}
    listed = {e["tool_schema"]["function"]["name"]: e for e in config["tools"]}
    assert sorted(listed) == ["observe", "submit", "submit_2"]
    assert listed["submit_2"]["config"]["tool"] == "submit"
    assert (
        listed["submit_2"]["tool_schema"]["function"]["parameters"]["properties"]["answer"]["type"]
        == "string"
    )
    row = verl_row("task", names["B"], task_id="B", instance=3)
    assert row["extra_info"]["tool_selection"] == ["observe", "submit_2"]
    assert row["extra_info"]["tools_kwargs"]["submit_2"] == {"create_kwargs": {"task_id": "B", "instance": 3}}


@pytest.mark.anyio
async def test_one_config_for_the_whole_catalog_plays_each_gym_under_its_selected_names(
    server: str, verl_schemas: types.ModuleType, tmp_path: Path
) -> None:
    catalog = Catalog(FIXTURE)
    listed, texts = {}, {}
    for task_id in catalog.task_ids():
        async with await CodeGymEnv.connect(catalog_task_url(server, task_id), task_id=task_id) as env:
            texts[task_id] = (await env.reset())[0].text
            listed[task_id] = list(env.agent_tools)
    config, names = verl_catalog_config(listed, catalog_url=server)
    path = tmp_path / "catalog_tools.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    tools = _tools(path, verl_schemas)
    for task_id in catalog.task_ids():
        trace = catalog.load(task_id).instances[1].oracle_trace
        row = verl_row(texts[task_id], names[task_id], task_id=task_id, instance=1)
        selected = {n: tools[n] for n in row["extra_info"]["tool_selection"]}  # what verl shows this row
        by_gym_name = dict(zip((t.name for t in listed[task_id]), names[task_id], strict=True))
        data = AgentData(row["extra_info"]["tools_kwargs"])
        rewards = [await _call(selected, data, by_gym_name[c.tool], dict(c.arguments)) for c in trace]
        assert rewards[-1][1] == 1.0 and data.extra_fields[verl_tool.EXTRA_FIELD]["reward"] == 1.0, task_id
    assert verl_tool.open_trajectories() == 0


@pytest.mark.anyio
async def test_the_calls_of_one_turn_run_at_once_in_one_episode(
    server: str, verl_schemas: types.ModuleType, tmp_path: Path
) -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    tools, row = await _verl_setup(server, gym.task_id, 0, tmp_path, verl_schemas)
    data = AgentData(row["extra_info"]["tools_kwargs"])
    first = gym.instances[0].oracle_trace[0]
    async with anyio.create_task_group() as tg:  # verl gathers a turn's calls
        for _ in range(3):
            tg.start_soon(_call, tools, data, first.tool, dict(first.arguments))
    assert verl_tool.open_trajectories() == 1 and open_sessions() == 1  # one episode, not three
    await verl_tool.close_all()
    assert data.extra_fields[verl_tool.EXTRA_FIELD]["end_reason"] == "closed"
    assert verl_tool.open_trajectories() == 0
