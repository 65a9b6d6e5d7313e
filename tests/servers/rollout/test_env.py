"""CodeGymEnv: Gymnasium-style reset/step over MCP, episode bookkeeping, chat and record exports."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path

import pytest

from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers.mcp._catalog_server import catalog_task_url
from codegym_mcp.servers.rollout._connectors import catalog_inprocess
from codegym_mcp.servers.rollout._env import CodeGymEnv, EnvClosed, EpisodeOver, ServerFailure, ToolCall

from .._rollout_fakes import INPUTS, TASK, toy_server

pytestmark = pytest.mark.anyio

FIXTURE_CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rollout_loop.py"


async def test_reset_gives_the_task_and_the_tools_and_step_follows_gymnasium() -> None:
    async with await CodeGymEnv.connect(toy_server().server, task_id="toy_sum") as env:
        obs, info = await env.reset()
        assert obs.text == TASK
        assert {t.name for t in obs.tools} == {"observe", "add", "submit", "task", "reset"}
        assert {t.name for t in env.agent_tools} == {"observe", "add", "submit", "task"}
        assert info["task_id"] == "toy_sum"
        obs, reward, terminated, truncated, step_info = await env.step(ToolCall("observe"))
        assert obs.structured == {"xs": INPUTS[0]}
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert step_info["step"] == 1 and step_info["instance_id"] == "i1_2_3"
        obs, reward, terminated, truncated, step_info = await env.step(ToolCall("submit", {"answer": 6}))
        assert (reward, terminated, truncated) == (1.0, True, False)
        assert step_info["end_reason"] == "submitted"
        assert env.done


async def test_a_bad_argument_is_an_error_observation_that_costs_a_step() -> None:
    async with await CodeGymEnv.connect(toy_server().server) as env:
        await env.reset()
        obs, reward, terminated, truncated, info = await env.step(ToolCall("add", {"a": "one", "b": 2}))
        assert obs.is_error and "expected int" in obs.text
        assert info["tool_error"] == obs.text
        assert (reward, terminated, truncated, info["step"]) == (0.0, False, False, 1)


async def test_step_after_the_end_raises_and_reset_with_a_seed_starts_the_next_episode() -> None:
    async with await CodeGymEnv.connect(toy_server().server) as env:
        await env.reset()
        await env.step(ToolCall("submit", {"answer": 0}))
        with pytest.raises(EpisodeOver, match="call reset"):
            await env.step(ToolCall("observe"))
        obs, info = await env.reset(seed=3)
        assert obs.text == TASK
        obs, *_ = await env.step(ToolCall("observe"))
        assert obs.structured in [{"xs": xs} for xs in INPUTS]
        _, info = await env.reset(options={"instance": 3})
        assert info["instance_id"] == "i7_-2_10_1"


async def test_reset_as_an_action_is_refused_without_reaching_the_server() -> None:
    fake = toy_server()
    async with await CodeGymEnv.connect(fake.server) as env:
        await env.reset()
        obs, _, terminated, _, _ = await env.step(ToolCall("reset", {"instance": 2}))
        assert obs.is_error and "trainer" in obs.text and not terminated
        obs, *_ = await env.step(ToolCall("observe"))
        assert obs.structured == {"xs": INPUTS[0]}  # still the first episode
    assert fake.calls == 1


async def test_a_result_outside_the_tools_output_schema_is_a_server_failure() -> None:
    fake = toy_server()
    fake.add_breaks_its_schema = True
    async with await CodeGymEnv.connect(fake.server) as env:
        await env.reset()
        with pytest.raises(
            ServerFailure, match="gym defect: Invalid structured content returned by tool add"
        ):
            await env.step(ToolCall("add", {"a": 1, "b": 2}))


async def test_the_step_budget_truncates_with_reward_zero() -> None:
    async with await CodeGymEnv.connect(toy_server(step_budget=2).server) as env:
        await env.reset()
        _, _, _, truncated, _ = await env.step(ToolCall("observe"))
        assert not truncated
        _, reward, terminated, truncated, _ = await env.step(ToolCall("observe"))
        assert (reward, terminated, truncated) == (0.0, False, True)
        assert env.episode_record().end_reason == "step_budget"
        assert env.episode_record().reward == 0


async def test_without_episode_metadata_the_submit_result_gives_the_reward() -> None:
    async with await CodeGymEnv.connect(toy_server(with_meta=False).server) as env:
        await env.reset()
        _, reward, terminated, _, _ = await env.step(ToolCall("submit", {"answer": 6}))
        assert (reward, terminated) == (1.0, True)


async def test_trajectories_export_as_openai_and_hf_chat_messages() -> None:
    async with await CodeGymEnv.connect(toy_server().server) as env:
        await env.reset()
        await env.step(ToolCall("observe", call_id="c1"))
        await env.step(ToolCall("add", {"a": 1, "b": 2}))
        await env.step(ToolCall("submit", {"answer": 6}))
        openai_msgs = env.chat_messages()
        hf_msgs = env.chat_messages(style="hf", system="be brief")
    assert [m["role"] for m in openai_msgs] == ["system", "user"] + ["assistant", "tool"] * 3
    assert openai_msgs[1]["content"] == TASK
    call = openai_msgs[4]["tool_calls"][0]
    assert call["id"] == "call_1" and call["function"]["name"] == "add"
    assert json.loads(str(call["function"]["arguments"])) == {"a": 1, "b": 2}
    assert openai_msgs[2]["tool_calls"][0]["id"] == "c1" == openai_msgs[3]["tool_call_id"]
    assert json.loads(str(openai_msgs[-1]["content"])) == {"reward": 1}
    assert hf_msgs[0]["content"] == "be brief"
    assert hf_msgs[4]["tool_calls"][0]["function"]["arguments"] == {"a": 1, "b": 2}
    json.dumps(openai_msgs)  # plain JSON, ready for a dataset file


async def test_episode_records_validate_and_round_trip() -> None:
    async with await CodeGymEnv.connect(toy_server().server, task_id="toy_sum") as env:
        await env.reset()
        await env.step(ToolCall("observe"))
        await env.step(ToolCall("add", {"a": "x", "b": 1}))
        await env.step(ToolCall("submit", {"answer": 6}))
        record = env.episode_record(expected=6)
    again = EpisodeRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert [s.tool for s in record.steps] == ["observe", "add", "submit"]
    assert record.steps[1].error is not None and record.steps[1].result is None
    assert (record.reward, record.end_reason, record.submission, record.expected) == (1, "submitted", 6, 6)


async def test_a_closed_env_refuses_to_step() -> None:
    env = await CodeGymEnv.connect(toy_server().server)
    await env.reset()
    await env.close()
    with pytest.raises(EnvClosed):
        await env.step(ToolCall("observe"))


async def test_an_unreachable_server_is_a_server_failure() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServerFailure, match="could not open an MCP session"):
        await CodeGymEnv.connect(f"http://127.0.0.1:{port}/x/mcp", read_timeout=10, connect_timeout=10)


async def test_the_env_drives_the_real_catalog_server_over_http() -> None:
    async with catalog_inprocess(FIXTURE_CATALOG, harness_key="the-harness-key") as base:
        url = catalog_task_url(base, "Fixture_vowels", instance=1)
        async with await CodeGymEnv.connect(
            url, task_id="Fixture_vowels", harness_key="the-harness-key"
        ) as env:
            obs, info = await env.reset()
            assert "submit" in obs.text and "reset" not in obs.text
            assert "reset" not in {t.name for t in env.agent_tools}
            obs, *_ = await env.step(ToolCall("observe"))
            assert not obs.is_error
            _, _, _, _, step_info = await env.step(ToolCall("submit", {"answer": -1}))
            assert step_info["end_reason"] == "submitted"
            assert step_info["instance_id"] is not None
            _, info = await env.reset(seed=5)
            assert info["instance_id"] is not None and info["step_budget"] is not None


async def test_an_env_without_the_harness_key_plays_one_episode_and_says_why_it_cannot_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CODEGYM_HARNESS_KEY", raising=False)
    async with catalog_inprocess(FIXTURE_CATALOG, harness_key="the-harness-key") as base:
        url = catalog_task_url(base, "Fixture_vowels", instance=1)
        async with await CodeGymEnv.connect(url, task_id="Fixture_vowels") as env:
            await env.reset()
            _, _, terminated, _, _ = await env.step(ToolCall("submit", {"answer": -1}))
            assert terminated
            with pytest.raises(
                ServerFailure, match=r"refused to reset \(The episode is over.*\): only the harness may reset"
            ):
                await env.reset(seed=5)
        monkeypatch.setenv("CODEGYM_HARNESS_KEY", "the-harness-key")  # the env's default
        async with await CodeGymEnv.connect(url, task_id="Fixture_vowels") as env:
            await env.reset()
            _, info = await env.reset(options={"instance": 0})
            assert info["instance_id"] is not None


async def test_the_rollout_loop_example_runs_and_writes_chat_trajectories(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("rollout_loop_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "chats.jsonl"
    await example.rollout(FIXTURE_CATALOG, out, episodes_per_task=2, max_tasks=2)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4
    assert all(line["reward"] == 1.0 for line in lines)
    assert all(line["messages"][-1]["role"] == "tool" for line in lines)
    assert all("reset" not in {t["function"]["name"] for t in line["tools"]} for line in lines)
