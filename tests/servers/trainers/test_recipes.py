"""verl and TRL recipes: what can be checked without a GPU (the tool config verl loads, TRL's chat rows)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from omegaconf import OmegaConf

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import CodeGymEnv, ToolCall, catalog_task_url
from codegym_mcp.servers.rollout._connectors import catalog_inprocess
from codegym_mcp.servers.trainers.recipes import trl_conversation, verl_tool_config

from ._harness import FIXTURE


@pytest.mark.anyio
async def test_the_verl_tool_config_loads_with_omegaconf_and_matches_the_listed_tools(tmp_path: Path) -> None:
    async with (
        catalog_inprocess(FIXTURE) as base,
        await CodeGymEnv.connect(catalog_task_url(base, "Fixture_maxsub")) as env,
    ):
        tools = env.agent_tools
    path = tmp_path / "codegym_tools.yaml"
    path.write_text(
        yaml.safe_dump(verl_tool_config(tools, class_name="my_verl_tools.CodeGymTool")), encoding="utf-8"
    )
    loaded = OmegaConf.to_container(OmegaConf.load(path))  # how verl reads tools_config_file
    assert isinstance(loaded, dict)
    entries = loaded["tools"]
    assert [e["tool_schema"]["function"]["name"] for e in entries] == [t.name for t in tools]
    for entry, tool in zip(entries, tools, strict=True):
        assert entry["class_name"] == "my_verl_tools.CodeGymTool" and entry["config"] == {"type": "native"}
        assert entry["tool_schema"]["type"] == "function"
        assert entry["tool_schema"]["function"]["parameters"] == tool.input_schema
        jsonschema.Draft202012Validator.check_schema(entry["tool_schema"]["function"]["parameters"])


@pytest.mark.anyio
async def test_an_oracle_episode_becomes_a_trl_row_whose_calls_fit_their_tools() -> None:
    gym = Catalog(FIXTURE).load("Fixture_vowels")
    async with (
        catalog_inprocess(FIXTURE) as base,
        await CodeGymEnv.connect(catalog_task_url(base, gym.task_id, instance=1), task_id=gym.task_id) as env,
    ):
        await env.reset()
        for call in gym.instances[1].oracle_trace:
            await env.step(ToolCall(call.tool, dict(call.arguments)))
        row = trl_conversation(env.chat_messages(style="hf"), env.agent_tools)
        with pytest.raises(ValueError, match="style='hf'"):
            trl_conversation(env.chat_messages(style="openai"), env.agent_tools)
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in row["tools"]}
    calls = [c for m in row["messages"] for c in m.get("tool_calls") or []]
    assert len(calls) == len(gym.instances[1].oracle_trace)
    for call in calls:
        jsonschema.validate(call["function"]["arguments"], schemas[call["function"]["name"]])
    assert [m["role"] for m in row["messages"][:2]] == ["system", "user"]
    assert row["messages"][-1]["role"] == "tool" and '"reward": 1' in row["messages"][-1]["content"]
