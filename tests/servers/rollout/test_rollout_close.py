"""A connection lost while an episode's session closes keeps the finished episode's record; a
session that leaks a cancellation costs its own episode only, recorded as an infrastructure failure."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers import Observation, ToolCall
from codegym_mcp.servers.rollout._env import CodeGymEnv
from codegym_mcp.servers.rollout._policies import OraclePolicy
from codegym_mcp.servers.rollout._policy_types import Agent, EpisodeContext
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, plan_episodes, play_in_new_session, run_rollouts

from .._rollout_fakes import INPUTS, TASK_ID, toy_server, write_toy_catalog

pytestmark = pytest.mark.anyio


async def connect_losing_on_close(spec: EpisodeSpec) -> CodeGymEnv:
    """An env whose close fails the way a stale keep-alive connection does (the DELETE is reset)."""
    env = await CodeGymEnv.connect(toy_server(first_instance=spec.instance).server, task_id=spec.task_id)
    close = env.close

    async def losing_close() -> None:
        await close()
        raise ExceptionGroup(
            "unhandled errors in a TaskGroup", [httpx2.ReadError("connection reset by peer")]
        )

    env.close = losing_close  # type: ignore[method-assign]
    return env


async def test_a_connection_lost_while_closing_keeps_the_scored_episode(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))
    spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=1, seed=0)
    record = await play_in_new_session(
        spec, connect=connect_losing_on_close, policy=OraclePolicy(catalog), gym=catalog.load(TASK_ID)
    )
    assert (record.reward, record.end_reason) == (1, "submitted")
    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=4)
    _, summary = await run_rollouts(
        specs, connect=connect_losing_on_close, policy=OraclePolicy(catalog), catalog=catalog
    )
    assert summary.successes == 4


async def test_a_bug_while_closing_still_surfaces(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        env = await CodeGymEnv.connect(toy_server().server, task_id=spec.task_id)
        close = env.close

        async def buggy_close() -> None:
            await close()
            raise KeyError("a bug")

        env.close = buggy_close  # type: ignore[method-assign]
        return env

    with pytest.raises(KeyError):
        await play_in_new_session(
            EpisodeSpec(0, TASK_ID, 0, 0),
            connect=connect,
            policy=OraclePolicy(catalog),
            gym=catalog.load(TASK_ID),
        )


class _LeakingAgent:
    async def act(self, obs: Observation) -> ToolCall | None:
        raise anyio.get_cancelled_exc_class()()  # what a broken MCP session's task group leaks


class _LeakingOracle(OraclePolicy):
    """The oracle, except that the episodes of instance 1 leak a cancellation out of their session."""

    def agent(self, ctx: EpisodeContext) -> Agent:
        return _LeakingAgent() if ctx.instance_index == 1 else super().agent(ctx)


async def test_a_session_leaking_a_cancellation_costs_its_own_episode_recorded_as_infra(
    tmp_path: Path,
) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        return await CodeGymEnv.connect(toy_server(first_instance=spec.instance).server, task_id=spec.task_id)

    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=2 * len(INPUTS))
    sunk: list[EpisodeRecord] = []
    records, summary = await run_rollouts(
        specs,
        connect=connect,
        policy=_LeakingOracle(catalog),
        catalog=catalog,
        concurrency=1,
        sink=sunk.append,
    )
    assert len(records) == len(sunk) == len(specs)  # the worker went on after each leak
    leaked = [r for r, s in zip(records, specs, strict=True) if s.instance == 1]
    assert len(leaked) == 2
    assert all((r.reward, r.end_reason) == (None, "infra_error") for r in leaked)
    assert all("without a record" in (r.detail or "") for r in leaked)
    assert (summary.successes, summary.infra_errors) == (len(specs) - 2, 2)
