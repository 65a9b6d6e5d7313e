"""The oracle agent under partial observation: instances that observe alike are told apart by reads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codegym_mcp.runtime import Catalog, Gym
from codegym_mcp.schemas import Instance, TraceCall
from codegym_mcp.servers.rollout._env import Observation, ToolCall
from codegym_mcp.servers.rollout._policies import OracleAgent, PolicyError

FIXTURE = Path(__file__).parents[2] / "fixtures" / "catalog"
pytestmark = pytest.mark.anyio


def _instance(iid: str, items: list[int], answer: int) -> Instance:
    trace = [
        TraceCall(tool="observe", arguments={}, result={"nums": {"length": len(items)}}),
        TraceCall(
            tool="read_nums", arguments={"start": 0, "count": len(items)}, result={"items": list(items)}
        ),
        TraceCall(tool="submit", arguments={"answer": answer}, result={"reward": 1}),
    ]
    return Instance(
        instance_id=iid, input={"nums": list(items)}, expected=answer, oracle_steps=3, oracle_trace=trace
    )


def _gym(*instances: Instance) -> Gym:
    return dataclasses.replace(Catalog(FIXTURE).load("Fixture_maxsub"), instances=instances)


async def _play(agent: OracleAgent, results: list[dict[str, object]]) -> list[ToolCall]:
    calls: list[ToolCall] = []
    obs = Observation(text="the task")
    for result in [*results, None]:
        action = await agent.act(obs)
        if action is None:
            break
        calls.append(action)
        obs = Observation(text=str(result), structured=result)  # type: ignore[arg-type]
    return calls


async def test_instances_that_observe_alike_are_told_apart_by_the_first_read() -> None:
    gym = _gym(_instance("a", [1, 2], 3), _instance("b", [5, 7], 12))
    agent = OracleAgent(gym=gym, instance=None)
    calls = await _play(agent, [{"nums": {"length": 2}}, {"items": [5, 7]}, {"reward": 1}])
    assert [c.name for c in calls] == ["observe", "read_nums", "submit"]
    assert calls[-1].arguments == {"answer": 12}
    assert agent.instance is not None and agent.instance.instance_id == "b"


async def test_results_that_match_no_instance_are_a_policy_error() -> None:
    agent = OracleAgent(gym=_gym(_instance("a", [1, 2], 3), _instance("b", [5, 7], 12)), instance=None)
    with pytest.raises(PolicyError, match="match none"):
        await _play(agent, [{"nums": {"length": 2}}, {"items": [9, 9]}])
