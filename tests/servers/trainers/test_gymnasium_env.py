"""The Gymnasium adapter through gymnasium.make: oracle and random policies, seeds, sync rules, no leaks."""

from __future__ import annotations

import importlib
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import gymnasium
import pytest

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import OraclePolicy, RandomPolicy
from codegym_mcp.servers.rollout._connectors import http_connector
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, run_rollouts
from codegym_mcp.servers.trainers import gymnasium_env
from codegym_mcp.servers.trainers._bridge import BlockingCallInLoop

from ._harness import FIXTURE, SyncAgent, fixture_episodes

ENV_ID = "codegym/CodeGym-v0"


def _tools(env: Any) -> Any:
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, gymnasium_env.CodeGymGymnasiumEnv)
    return unwrapped.tools


def _play(env: Any, agent: SyncAgent, first: str) -> tuple[float, dict[str, Any]]:
    text, structured, is_error = first, None, False
    reward, info = 0.0, {}
    while (action := agent.act(text, structured, is_error)) is not None:
        text, reward, terminated, truncated, info = env.step(
            {"name": action.name, "arguments": action.arguments}
        )
        structured, is_error = info["structured"], info["is_error"]
        if terminated or truncated:
            break
    return float(reward), info


def test_the_oracle_scores_1_on_every_fixture_instance_through_gymnasium_make(server: str) -> None:
    for gym, k in fixture_episodes():
        env = gymnasium.make(ENV_ID, catalog_url=server, task_id=gym.task_id)
        try:
            text, info = env.reset(options={"instance": k})
            agent = SyncAgent.start(
                OraclePolicy(Catalog(FIXTURE)),
                gym,
                text=text,
                tools=_tools(env),
                instance=k,
                step_budget=info["step_budget"] or gym.manifest.step_budget,
            )
            reward, last = _play(env, agent, text)
            assert (reward, last["end_reason"]) == (1.0, "submitted"), (gym.task_id, k, last)
            assert last["instance_id"] == gym.instances[k].instance_id
        finally:
            env.close()


def test_the_random_policy_scores_what_it_scores_through_the_env_api(server: str) -> None:
    episodes = [(gym, k, 100 + i) for i, (gym, k) in enumerate(fixture_episodes())]
    adapter: list[float] = []
    for gym, k, seed in episodes:
        env = gymnasium.make(ENV_ID, catalog_url=server, task_id=gym.task_id)
        try:
            text, _info = env.reset(options={"instance": k})
            agent = SyncAgent.start(
                RandomPolicy(),
                gym,
                text=text,
                tools=_tools(env),
                instance=k,
                seed=seed,
                step_budget=gym.manifest.step_budget,
            )
            adapter.append(_play(env, agent, text)[0])
        finally:
            env.close()
    specs = [
        EpisodeSpec(index=i, task_id=g.task_id, instance=k, seed=s) for i, (g, k, s) in enumerate(episodes)
    ]
    records, _ = anyio.run(
        lambda: run_rollouts(
            specs, connect=http_connector(server), policy=RandomPolicy(), catalog=Catalog(FIXTURE)
        )
    )
    assert adapter == [float(r.reward or 0) for r in records]
    assert sum(adapter) < len(adapter)  # a baseline, not a solver


def test_the_same_seed_plays_the_same_instance_and_a_seeded_env_replays_its_sequence(server: str) -> None:
    env = gymnasium.make(ENV_ID, catalog_url=server, task_id="Fixture_maxsub")

    def instance_after(**reset: Any) -> str:
        env.reset(**reset)
        info = env.step({"name": "task", "arguments": {}})[4]
        return str(info["instance_id"])

    try:
        by_seed = {seed: instance_after(seed=seed) for seed in range(8)}
        assert len(set(by_seed.values())) > 1  # seeds reach different instances
        assert all(instance_after(seed=seed) == expected for seed, expected in by_seed.items())
        first = [instance_after(seed=42)] + [instance_after() for _ in range(5)]
        again = [instance_after(seed=42)] + [instance_after() for _ in range(5)]
        assert first == again
    finally:
        env.close()


def test_actions_are_openai_tool_calls_and_sampled_ones_belong_to_the_space(server: str) -> None:
    env = gymnasium.make(ENV_ID, catalog_url=server, task_id="Fixture_vowels")
    try:
        env.reset(seed=1)
        env.action_space.seed(3)
        for _ in range(5):
            action = env.action_space.sample()
            assert env.action_space.contains(action)
            text, _, terminated, _, info = env.step(action)
            assert isinstance(text, str) and "is_error" in info
            if terminated:
                break
        assert not env.action_space.contains({"name": "no_such_tool", "arguments": {}})
        with pytest.raises(TypeError, match="tool call"):
            env.step("observe")
    finally:
        env.close()


def test_a_sync_step_inside_a_running_event_loop_is_refused_not_run(server: str) -> None:
    env = gymnasium.make(ENV_ID, catalog_url=server, task_id="Fixture_vowels")
    try:
        env.reset(seed=0)

        async def inside_a_loop() -> None:
            env.step({"name": "task", "arguments": {}})

        with pytest.raises(BlockingCallInLoop, match="async env API"):
            anyio.run(inside_a_loop)
        assert env.step({"name": "task", "arguments": {}})[4]["step"] == 1  # the refused call never ran
    finally:
        env.close()


def test_an_env_made_in_one_thread_is_stepped_and_closed_from_others(server: str) -> None:
    # trainers step their envs from executor pools: each call may come from another thread
    env = gymnasium.make(ENV_ID, catalog_url=server, task_id="Fixture_vowels")
    with ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(env.reset, seed=0).result()
        steps = [
            pool.submit(env.step, {"name": "task", "arguments": {}}).result()[4]["step"] for _ in range(3)
        ]
        pool.submit(env.close).result()
    assert steps == [1, 2, 3]
    with pytest.raises(RuntimeError, match="closed"):
        env.reset(seed=0)


def test_closing_twice_is_harmless_and_a_closed_env_says_so(server: str) -> None:
    env = gymnasium.make(ENV_ID, catalog_url=server, task_id="Fixture_vowels")
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset(seed=0)


def test_without_gymnasium_the_import_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    monkeypatch.delitem(sys.modules, gymnasium_env.__name__)
    with pytest.raises(ImportError, match=r"pip install 'codegym-mcp\[gymnasium\]'"):
        importlib.import_module(gymnasium_env.__name__)
