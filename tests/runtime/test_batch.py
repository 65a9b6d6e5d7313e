"""Batched episodes: K cases per episode, a `case` argument, per-case state, all-or-nothing submit."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codegym_mcp.runtime import BrokenGym, Catalog, Gym, decode
from codegym_mcp.runtime._batch import episode_count, episode_instances, published_tools
from codegym_mcp.runtime._session import Session
from codegym_mcp.schemas import EpisodeRecord

from .test_episode import FIXTURE, InProcessRunner, failed, ok

pytestmark = pytest.mark.anyio


def batched(k: int = 2) -> Gym:
    """The fixture maxsub gym (4 instances) played K instances per episode."""
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    manifest = gym.manifest.model_copy(update={"batch_size": k, "step_budget": k * gym.manifest.step_budget})
    return dataclasses.replace(gym, manifest=manifest)


def nums(gym: Gym, index: int) -> Any:
    return decode(gym.instances[index].input["nums"])


async def test_episode_g_plays_instances_g_times_k_onward_and_names_them_all() -> None:
    gym = batched(2)
    assert episode_count(gym) == 2
    assert [i.instance_id for i in episode_instances(gym, 1)] == [i.instance_id for i in gym.instances[2:4]]
    session = Session(gym, InProcessRunner())
    ids = [i.instance_id for i in gym.instances]
    assert session.status().instance_id == f"{ids[0]}+{ids[1]}"
    status = session.reset(instance=1)
    assert (status.instance, status.instance_id) == (1, f"{ids[2]}+{ids[3]}")
    with pytest.raises(ValueError, match=r"instances 0\.\.1"):
        session.reset(instance=2)


async def test_each_call_sees_the_hidden_input_of_the_case_it_names() -> None:
    gym = batched(2)
    session = Session(gym, InProcessRunner())
    assert ok(await session.step("observe", {"case": 1})) == {"nums": nums(gym, 1)}
    assert ok(await session.step("observe", {"case": 0})) == {"nums": nums(gym, 0)}
    assert ok(await session.step("get_length", {"case": 0})) == {"result": len(nums(gym, 0))}
    assert ok(await session.step("get_length", {"case": 1})) == {"result": len(nums(gym, 1))}


async def test_stateful_tools_keep_one_state_per_case() -> None:
    session = Session(batched(2), InProcessRunner())
    assert ok(await session.step("track_best", {"case": 0, "value": 5})) == {"result": 5}
    assert ok(await session.step("track_best", {"case": 1, "value": 1})) == {"result": 1}
    assert ok(await session.step("track_best", {"case": 0, "value": 3})) == {"result": 5}
    assert ok(await session.step("track_best", {"case": 1, "value": 2})) == {"result": 2}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({}, "missing argument case"),
        ({"case": 2}, "2 is not a case"),
        ({"case": -1}, "-1 is not a case"),
        ({"case": "first"}, "invalid argument case"),
        ({"case": True}, "invalid argument case"),
        ({"case": 0, "extra": 1}, "unexpected argument extra"),
    ],
)
async def test_a_missing_or_bad_case_is_a_tool_error_that_names_the_valid_range(
    arguments: dict[str, Any], said: str
) -> None:
    session = Session(batched(2), InProcessRunner())
    message = failed(await session.step("observe", arguments))
    assert said in message
    if "extra" not in arguments:
        assert "0..1" in message
    assert len(session.steps) == 1 and not session.done


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (6, "a list of 2 answers"),
        ([6], "got a list of 1"),
        ([6, 1, 1], "got a list of 3"),
        (["six", 1], "answer[0]"),
    ],
)
async def test_submit_needs_a_list_of_exactly_k_answers_of_the_answer_type(answer: Any, said: str) -> None:
    session = Session(batched(2), InProcessRunner())
    message = failed(await session.step("submit", {"answer": answer}))
    assert said in message
    assert not session.done and session.reward is None


async def test_submit_takes_no_case_and_scores_one_only_if_every_answer_is_right() -> None:
    gym = batched(2)
    records: list[EpisodeRecord] = []
    session = Session(gym, InProcessRunner(), on_end=records.append)
    right: list[Any] = [i.expected for i in gym.instances[:2]]
    assert "unexpected argument case" in failed(await session.step("submit", {"answer": right, "case": 0}))
    assert ok(await session.step("submit", {"answer": [right[0], right[1] + 1]})) == {"reward": 0}
    assert session.done and session.reward == 0
    session.reset(instance=0)
    assert ok(await session.step("submit", {"answer": right})) == {"reward": 1}
    record = records[-1]
    assert record.reward == 1
    assert record.instance_id == "+".join(i.instance_id for i in gym.instances[:2])
    assert record.expected == right
    assert record.submission == right


async def test_the_task_tool_takes_no_case_and_costs_no_step() -> None:
    session = Session(batched(2), InProcessRunner())
    assert "task" in ok(await session.step("task", {}))
    assert session.steps == []


def test_published_tools_add_a_required_case_to_every_tool_but_submit_and_task() -> None:
    gym = batched(3)
    tools = {t.name: t for t in published_tools(gym.manifest.tools, 3)}
    for name, tool in tools.items():
        schema: dict[str, Any] = tool.input_schema
        if name in ("submit", "task"):
            assert "case" not in schema["properties"]
        else:
            case = schema["properties"]["case"]
            assert (case["type"], case["minimum"], case["maximum"]) == ("integer", 0, 2)
            assert "case" in schema["required"]
    submit: dict[str, Any] = tools["submit"].input_schema
    answer = submit["properties"]["answer"]
    assert answer["minItems"] == answer["maxItems"] == 3
    assert answer["items"] == {"type": "integer"}
    assert published_tools(gym.manifest.tools, 1) == list(gym.manifest.tools)


def test_a_gym_whose_batch_is_larger_than_its_instances_does_not_load(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE, catalog)
    path = catalog / "Fixture_maxsub" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["batch_size"] = 5
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BrokenGym, match="batch_size 5 is above its 4 instances"):
        Catalog(catalog).load("Fixture_maxsub")
