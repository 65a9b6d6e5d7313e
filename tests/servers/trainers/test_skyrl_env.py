"""The SkyRL-gym adapter through skyrl_gym.make: text tool calls, oracle and random policies, seeds, no leaks."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import anyio
import pytest
import skyrl_gym

from codegym_mcp.runtime import Catalog, Gym
from codegym_mcp.servers import OraclePolicy, RandomPolicy, ToolCall
from codegym_mcp.servers.rollout._connectors import http_connector
from codegym_mcp.servers.rollout._policies import Policy
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, run_rollouts
from codegym_mcp.servers.trainers import skyrl_env

from ._harness import FIXTURE, SyncAgent, fixture_episodes


def _text(call: ToolCall) -> str:
    return f"<tool_call>{json.dumps({'name': call.name, 'arguments': call.arguments})}</tool_call>"


def _episode(server: str, gym: Gym, k: int, policy: Policy, seed: int = 0) -> tuple[float, Any, Any]:
    env = skyrl_gym.make(
        "codegym", env_config={"catalog_url": server}, extras={"task_id": gym.task_id, "instance": k}
    )
    try:
        prompt, _info = env.init([])
        agent = SyncAgent.start(
            policy,
            gym,
            text=prompt[-1]["content"],
            tools=env.tools,
            instance=k,
            seed=seed,
            step_budget=gym.manifest.step_budget,
        )
        out: Any = {"reward": 0.0, "metadata": {}}
        text = prompt[-1]["content"]
        while (call := agent.act(text)) is not None:
            out = env.step(_text(call))
            if out["done"]:
                break
            text = out["observations"][0]["content"]
        return float(out["reward"]), out["metadata"], prompt
    finally:
        env.close()


def test_the_oracle_scores_1_on_every_fixture_instance_writing_tool_calls_as_text(server: str) -> None:
    for gym, k in fixture_episodes():
        reward, metadata, prompt = _episode(server, gym, k, OraclePolicy(Catalog(FIXTURE)))
        assert (reward, metadata["end_reason"], metadata["infra_error"]) == (1.0, "submitted", False), (
            gym.task_id,
            k,
        )
        assert [m["role"] for m in prompt] == ["system", "user"] and "<tool_call>" in prompt[0]["content"]


def test_the_random_policy_scores_what_it_scores_through_the_env_api(server: str) -> None:
    episodes = [(gym, k, 200 + i) for i, (gym, k) in enumerate(fixture_episodes())]
    adapter = [_episode(server, gym, k, RandomPolicy(), seed)[0] for gym, k, seed in episodes]
    specs = [
        EpisodeSpec(index=i, task_id=g.task_id, instance=k, seed=s) for i, (g, k, s) in enumerate(episodes)
    ]
    records, _ = anyio.run(
        lambda: run_rollouts(
            specs, connect=http_connector(server), policy=RandomPolicy(), catalog=Catalog(FIXTURE)
        )
    )
    assert adapter == [float(r.reward or 0) for r in records]


def test_several_calls_in_one_turn_run_in_order_and_bad_blocks_are_reported(server: str) -> None:
    env = skyrl_gym.make(
        "codegym", env_config={"catalog_url": server}, extras={"task_id": "Fixture_vowels", "seed": 4}
    )
    try:
        env.init([{"role": "user", "content": "my own prompt"}])
        out = env.step(
            '<tool_call>{"name": "task", "arguments": {}}</tool_call> then <tool_call>not json</tool_call>'
            '<tool_call>{"name": "observe", "arguments": "{}"}</tool_call>'
        )
        content = out["observations"][0]["content"]
        assert content.count("<tool_response>") == 3 and "not JSON" in content
        assert [s["step"] for s in out["metadata"]["steps"]] == [1, 2] and not out["done"]
        out = env.step("I think the answer is 3")
        assert "no tool call found" in out["observations"][0]["content"]
    finally:
        env.close()


def test_the_same_seed_in_extras_plays_the_same_instance(server: str) -> None:
    def instance_of(seed: int) -> str:
        env = skyrl_gym.make(
            "codegym", env_config={"catalog_url": server}, extras={"task_id": "Fixture_maxsub", "seed": seed}
        )
        try:
            env.init([])
            return str(
                env.step('<tool_call>{"name": "task", "arguments": {}}</tool_call>')["metadata"]["steps"][0][
                    "instance_id"
                ]
            )
        finally:
            env.close()

    seen = {seed: instance_of(seed) for seed in range(6)}
    assert len(set(seen.values())) > 1
    assert all(instance_of(seed) == expected for seed, expected in seen.items())


def test_making_the_env_without_a_catalog_url_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="catalog_url"):
        skyrl_gym.make("codegym", env_config={}, extras={"task_id": "Fixture_vowels"})


def test_without_skyrl_gym_the_import_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "skyrl_gym", None)
    monkeypatch.delitem(sys.modules, skyrl_env.__name__)
    with pytest.raises(ImportError, match=r"pip install 'codegym-mcp\[skyrl\]'"):
        importlib.import_module(skyrl_env.__name__)
