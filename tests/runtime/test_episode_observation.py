"""Episodes under the partial observation policy: observe shows sizes, read tools give windows."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from codegym_mcp.generator.pipeline._pipeline import generic_tools
from codegym_mcp.runtime import Catalog, Gym
from codegym_mcp.runtime._session import Session, ToolFailed, ToolOk

from .test_episode import InProcessRunner

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalog"
pytestmark = pytest.mark.anyio


def partial_maxsub() -> Gym:
    """The fixture gym with the partial policy: its observe and a read_nums tool."""
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    manifest = gym.manifest
    generic = generic_tools(manifest.input_schema, manifest.output_schema, observation="partial")
    problem = [t for t in manifest.tools if t.function is not None]
    tools = [*generic[:-2], *problem, *generic[-2:]]
    return dataclasses.replace(
        gym, manifest=manifest.model_copy(update={"observation": "partial", "tools": tools})
    )


def ok(outcome: object) -> dict[str, Any]:
    assert isinstance(outcome, ToolOk), outcome
    return dict(outcome.structured)


def failed(outcome: object) -> ToolFailed:
    assert isinstance(outcome, ToolFailed), outcome
    return outcome


async def test_observe_under_partial_shows_only_the_length_of_a_list() -> None:
    session = Session(partial_maxsub(), InProcessRunner())
    assert ok(await session.step("observe", {})) == {"nums": {"length": 9}}


async def test_the_read_tool_returns_windows_of_the_hidden_list() -> None:
    session = Session(partial_maxsub(), InProcessRunner())
    assert ok(await session.step("read_nums", {"start": 0, "count": 5})) == {"items": [-2, 1, -3, 4, -1]}
    assert ok(await session.step("read_nums", {"start": 5, "count": 5})) == {"items": [2, 1, -5, 4]}
    assert len(session.steps) == 2


async def test_a_bad_read_is_a_tool_error_that_costs_a_step_and_keeps_the_episode() -> None:
    runner = InProcessRunner()
    session = Session(partial_maxsub(), runner)
    past = failed(await session.step("read_nums", {"start": 40, "count": 1}))
    assert past.message == "read_nums: start 40 is past the end: `nums` has 9 items (0..8)"
    over = failed(await session.step("read_nums", {"start": 0, "count": 9}))
    assert "count 9 is over the cap of 5" in over.message
    assert not past.infra and not over.infra
    assert len(session.steps) == 2 and not session.done
    assert runner.calls == 0  # reads never reach the sandbox


async def test_a_gym_without_the_observation_field_still_observes_everything() -> None:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    assert gym.manifest.observation == "full"
    session = Session(gym, InProcessRunner())
    assert ok(await session.step("observe", {})) == {"nums": [-2, 1, -3, 4, -1, 2, 1, -5, 4]}
