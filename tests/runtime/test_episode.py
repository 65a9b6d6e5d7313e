"""A session's episodes (runtime.Session): tools, coercion errors, scoring, budget, reset, infra failures, records."""

from __future__ import annotations

import dataclasses
import json
import shutil
import types
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.runtime import (
    CallFailed,
    CallTimeout,
    Catalog,
    Gym,
    KilledBySignal,
    MemoryLimitExceeded,
    OutputTooLarge,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    WorkerCrashed,
    WorkerPool,
    decode,
    encode,
)
from codegym_mcp.runtime._recorder import Recorder
from codegym_mcp.runtime._session import BadReset, InstancePicker, Session, ToolFailed, ToolOk
from codegym_mcp.schemas import EpisodeRecord, ParamSpec, ToolSpec

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalog"
pytestmark = pytest.mark.anyio


class InProcessRunner:
    """Runs the (trusted) fixture tools in this process: the sandbox seam, faked."""

    def __init__(self, *, fail_with: Exception | None = None) -> None:
        self.calls = 0
        self.fail_with = fail_with
        self._modules: dict[str, types.ModuleType] = {}

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        module = self._modules.get(source)
        if module is None:
            module = types.ModuleType("tools")
            exec(compile(source, "tools.py", "exec"), module.__dict__)
            self._modules[source] = module
        try:
            value = getattr(module, function)(*[decode(a) for a in args])
        except Exception as exc:
            raise CallFailed(type(exc).__name__, str(exc)) from None
        return encode(value)


def maxsub() -> Gym:
    return Catalog(FIXTURE).load("Fixture_maxsub")


def ok(outcome: object) -> dict[str, Any]:
    assert isinstance(outcome, ToolOk), outcome
    return dict(outcome.structured)


def failed(outcome: object) -> str:
    assert isinstance(outcome, ToolFailed), outcome
    return outcome.message


async def test_observe_reveals_the_hidden_input_as_plain_json() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert ok(await session.step("observe", {})) == {"nums": [-2, 1, -3, 4, -1, 2, 1, -5, 4]}


async def test_a_hidden_param_is_bound_to_the_instance_and_the_agent_passes_the_rest() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert ok(await session.step("subarray_sum", {"start": 3, "end": 6})) == {"result": 6}
    assert ok(await session.step("get_length", {})) == {"result": 9}


async def test_a_segment_with_several_returns_shows_named_fields() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert ok(await session.step("kadane_step", {"best": 1, "current": -2, "x": 4})) == {
        "best": 4,
        "current": 4,
    }


async def test_a_stateful_tool_keeps_its_state_until_reset() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert ok(await session.step("track_best", {"value": 5})) == {"result": 5}
    assert ok(await session.step("track_best", {"value": 2})) == {"result": 5}
    session.reset()
    assert ok(await session.step("track_best", {"value": 2})) == {"result": 2}


async def test_a_bad_argument_names_the_field_and_type_and_costs_a_step() -> None:
    runner = InProcessRunner()
    session = Session(maxsub(), runner)
    message = failed(await session.step("subarray_sum", {"start": 0, "end": "two"}))
    assert message == 'invalid argument end: expected int, got "two"'
    assert failed(await session.step("subarray_sum", {"start": 0})) == "missing argument end: expected int"
    assert "unexpected argument stop" in failed(await session.step("subarray_sum", {"start": 0, "stop": 1}))
    assert runner.calls == 0
    assert len(session.steps) == 3 and not session.done
    assert session.steps[0].error == message


async def test_an_exception_in_tool_code_is_shown_as_type_and_message() -> None:
    session = Session(maxsub(), InProcessRunner())
    message = failed(await session.step("subarray_sum", {"start": 5, "end": 2}))
    assert message.startswith("IndexError: need 0 <= start <= end < 9")
    assert not session.done


async def test_an_unknown_tool_is_an_error_listing_the_tools() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert "this gym's tools are get_length, kadane_step" in failed(await session.step("solve", {}))


async def test_the_task_tool_is_free_and_still_answers_after_the_end() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert "largest sum" in str(ok(await session.step("task", {}))["task"])
    assert session.steps == []
    await session.step("submit", {"answer": 6})
    assert "largest sum" in str(ok(await session.step("task", {}))["task"])


@pytest.mark.parametrize(("answer", "reward"), [(6, 1), ("6", 1), (6.0, 1), (7, 0)])
async def test_submit_scores_the_coerced_answer(answer: Any, reward: int) -> None:
    ended: list[EpisodeRecord] = []
    session = Session(maxsub(), InProcessRunner(), on_end=ended.append)
    await session.step("observe", {})
    assert ok(await session.step("submit", {"answer": answer})) == {"reward": reward}
    assert session.done
    (record,) = ended
    assert record.reward == reward and record.end_reason == "submitted"
    assert [s.tool for s in record.steps] == ["observe", "submit"]
    assert record.submission == answer and record.expected == 6


async def test_an_answer_that_does_not_fit_the_output_type_is_a_fixable_error() -> None:
    session = Session(maxsub(), InProcessRunner())
    assert (
        failed(await session.step("submit", {"answer": "six"}))
        == 'invalid argument answer: expected int, got "six"'
    )
    assert not session.done
    assert ok(await session.step("submit", {"answer": 6})) == {"reward": 1}


async def test_calls_after_the_end_say_the_episode_is_over_and_cost_nothing() -> None:
    session = Session(maxsub(), InProcessRunner())
    await session.step("submit", {"answer": 0})
    message = failed(await session.step("observe", {}))
    assert message == (
        "The episode is over: an answer was submitted (reward 0). "
        "No call counts any more: the next episode is started for you, not by a tool."
    )
    assert len(session.steps) == 1


async def test_the_end_of_an_episode_points_to_reset_only_when_the_agent_has_it() -> None:
    offered = Session(maxsub(), InProcessRunner(), max_steps=1, reset_offered=True)
    outcome = await offered.step("observe", {})
    assert isinstance(outcome, ToolOk) and outcome.notice is not None
    assert outcome.notice.endswith("Call reset to start the next one.")
    assert failed(await offered.step("observe", {})).endswith("Call reset to start the next one.")
    hidden = Session(maxsub(), InProcessRunner(), max_steps=1)
    outcome = await hidden.step("observe", {})
    assert isinstance(outcome, ToolOk) and outcome.notice is not None
    assert "reset" not in outcome.notice and "reset" not in failed(await hidden.step("observe", {}))


async def test_an_unknown_tool_costs_a_step_and_reset_is_one_of_them() -> None:
    session = Session(maxsub(), InProcessRunner())
    message = failed(await session.step("reset", {}))
    assert message.startswith("unknown tool 'reset': this gym's tools are ")
    assert "reset" not in message.removeprefix("unknown tool 'reset'")
    assert len(session.steps) == 1 and not session.done


async def test_the_step_budget_ends_the_episode_with_reward_0_and_says_so() -> None:
    ended: list[EpisodeRecord] = []
    session = Session(maxsub(), InProcessRunner(), max_steps=2, on_end=ended.append)
    assert session.budget == 2
    assert ok(await session.step("observe", {}))
    outcome = await session.step("get_length", {})
    assert isinstance(outcome, ToolOk) and outcome.notice is not None
    assert "step budget of 2 calls is used up: the episode ended with reward 0" in outcome.notice
    assert ended[0].end_reason == "step_budget" and ended[0].reward == 0
    assert "step budget of 2 calls was used up" in failed(await session.step("observe", {}))


async def test_the_default_budget_is_the_manifests() -> None:
    gym = maxsub()
    assert Session(gym, InProcessRunner()).budget == gym.manifest.step_budget


async def test_a_sandbox_failure_ends_the_episode_unscored_never_as_reward_0() -> None:
    ended: list[EpisodeRecord] = []
    runner = InProcessRunner(fail_with=WorkerCrashed("exited with status 3", exit_code=3))
    session = Session(maxsub(), runner, on_end=ended.append)
    outcome = await session.step("get_length", {})
    assert isinstance(outcome, ToolFailed) and outcome.infra
    assert "sandbox failure in get_length: worker crashed" in outcome.message
    assert session.status().infra and session.status().done
    (record,) = ended
    assert record.end_reason == "infra_error" and record.reward is None
    assert record.detail is not None and "worker crashed" in record.detail


async def test_a_tool_result_that_does_not_fit_the_manifest_is_a_tool_error_and_the_episode_goes_on() -> None:
    gym = maxsub()
    broken = [
        t.model_copy(update={"result_fields": ["best", "current", "extra"]}) if t.name == "kadane_step" else t
        for t in gym.manifest.tools
    ]
    gym = dataclasses.replace(gym, manifest=gym.manifest.model_copy(update={"tools": broken}))
    ended: list[EpisodeRecord] = []
    session = Session(gym, InProcessRunner(), on_end=ended.append)
    outcome = await session.step("kadane_step", {"best": 1, "current": 1, "x": 2})
    assert isinstance(outcome, ToolFailed) and not outcome.infra
    assert outcome.message.startswith(
        "kadane_step returned tuple for these arguments instead of its 3 values (best, current, extra). "
        "The call had no effect and cost one step; the episode goes on"
    )
    assert ended == [] and not session.done and len(session.steps) == 1
    assert ok(await session.step("submit", {"answer": 6})) == {"reward": 1}


class ScriptedRunner:
    """Returns the given results in turn, whatever is called."""

    def __init__(self, *results: Any) -> None:
        self.results = list(results)

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        return encode(self.results.pop(0))


async def test_a_stateful_result_that_does_not_fit_keeps_the_previous_state() -> None:
    session = Session(maxsub(), ScriptedRunner([-5, -5], [7.5, 7.5], 3))
    assert ok(await session.step("track_best", {"value": -5})) == {"result": -5}
    outcome = await session.step("track_best", {"value": 7})  # a float where the schema says int
    assert isinstance(outcome, ToolFailed) and not outcome.infra
    assert "outside its declared output type" in outcome.message
    assert decode(session.state) == -5 and not session.done
    outcome = await session.step("track_best", {"value": 1})  # a result that is not a pair
    assert isinstance(outcome, ToolFailed) and not outcome.infra
    assert "instead of its [new_state, result] pair" in outcome.message
    assert decode(session.state) == -5 and len(session.steps) == 3


async def test_a_result_outside_the_published_output_schema_is_a_tool_error_naming_types_not_values() -> None:
    """A type inferred from the oracle's calls can be narrower than what the code returns for other
    arguments (10 ** -3 from an integer tool); MCP clients reject such a response whole, so it never
    reaches them: the call fails, costs a step, and the episode goes on."""
    gym = maxsub()
    narrowed = [
        t.model_copy(
            update={
                "output_schema": {
                    "type": "object",
                    "properties": {"result": {"type": "string"}},
                    "required": ["result"],
                    "additionalProperties": False,
                }
            }
        )
        if t.name == "get_length"
        else t
        for t in gym.manifest.tools
    ]
    gym = dataclasses.replace(gym, manifest=gym.manifest.model_copy(update={"tools": narrowed}))
    ended: list[EpisodeRecord] = []
    session = Session(gym, InProcessRunner(), on_end=ended.append)
    outcome = await session.step("get_length", {})
    assert isinstance(outcome, ToolFailed) and not outcome.infra
    assert outcome.message.startswith(
        "get_length returned a result outside its declared output type for these arguments "
        "(result.result: expected str, got int). The call had no effect and cost one step"
    )
    assert "9" not in outcome.message  # the value itself is not shown
    assert ended == [] and not session.done and len(session.steps) == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (CallTimeout(0.5), "it ran past the per-call time limit of 0.5 s"),
        (CallTimeout(1.0, limit="cpu"), "it ran past the per-call CPU-time limit of 1 s"),
        (MemoryLimitExceeded(512, how="MemoryError"), "it went over the per-call memory limit of 512 MB"),
        (OutputTooLarge("what the call printed", 1024), "what the call printed went over the per-call cap"),
        (KilledBySignal(11), "its process died (killed by signal 11 (SIGSEGV))"),
    ],
)
async def test_a_call_stopped_by_a_per_call_limit_is_a_tool_error_and_the_episode_goes_on(
    error: SandboxError, reason: str
) -> None:
    ended: list[EpisodeRecord] = []
    runner = InProcessRunner()
    session = Session(maxsub(), runner, on_end=ended.append)
    assert ok(await session.step("track_best", {"value": 4})) == {"result": 4}
    runner.fail_with = error
    message = failed(await session.step("track_best", {"value": 10**9}))
    assert message.startswith(f"track_best was stopped by the sandbox with these arguments: {reason}")
    assert "The call had no effect and cost one step; the episode goes on" in message
    assert not session.done and not session.status().infra and ended == []
    runner.fail_with = None
    assert ok(await session.step("track_best", {"value": 1})) == {"result": 4}  # the state was kept
    assert ok(await session.step("submit", {"answer": 6}))["reward"] == 1


async def test_a_sandbox_that_cannot_start_still_ends_the_episode_unscored() -> None:
    runner = InProcessRunner(fail_with=SandboxUnavailable("nsjail cannot start: no user namespaces"))
    session = Session(maxsub(), runner)
    outcome = await session.step("get_length", {})
    assert isinstance(outcome, ToolFailed) and outcome.infra
    assert session.status().end_reason == "infra_error" and session.reward is None


async def test_a_worker_killed_at_the_time_limit_is_replaced_and_the_episode_keeps_its_state(
    tmp_path: Path,
) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE, catalog)
    folder = catalog / "Fixture_maxsub"
    with (folder / "tools.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef spin(n: int) -> int:\n    while n > 0:\n        pass\n    return n\n")
    gym = Catalog(catalog).load("Fixture_maxsub")
    spin = ToolSpec(
        name="spin",
        kind="helper",
        description="Loops forever for a positive n.",
        function="spin",
        params=[ParamSpec(name="n", source="agent", type_schema={"type": "integer"})],
        input_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        output_schema={"type": "object", "properties": {"result": {"type": "integer"}}},
    )
    gym = dataclasses.replace(
        gym, manifest=gym.manifest.model_copy(update={"tools": [*gym.manifest.tools, spin]})
    )
    async with WorkerPool(SandboxConfig(isolation="none", call_timeout=0.5), size=1) as pool:
        session = Session(gym, pool)
        assert ok(await session.step("track_best", {"value": 5})) == {"result": 5}
        (pid,) = pool.pids
        message = failed(await session.step("spin", {"n": 1}))
        assert "per-call time limit of 0.5 s" in message and not session.done
        assert ok(await session.step("spin", {"n": 0})) == {"result": 0}  # a new worker answers
        assert pool.pids != [pid]
        assert ok(await session.step("track_best", {"value": 2})) == {"result": 5}
        assert ok(await session.step("submit", {"answer": 6}))["reward"] == 1


async def test_a_tool_reading_a_hidden_input_the_instance_lacks_ends_the_episode_unscored() -> None:
    gym = maxsub()
    broken = [
        t.model_copy(update={"params": [p.model_copy(update={"hidden_key": "numbers"}) for p in t.params]})
        if t.name == "get_length"
        else t
        for t in gym.manifest.tools
    ]
    gym = dataclasses.replace(gym, manifest=gym.manifest.model_copy(update={"tools": broken}))
    runner = InProcessRunner()
    session = Session(gym, runner)
    outcome = await session.step("get_length", {})
    assert isinstance(outcome, ToolFailed) and outcome.infra and runner.calls == 0
    assert "gym bug: tool get_length reads hidden input 'numbers'" in outcome.message
    assert session.status().end_reason == "infra_error"


async def test_reset_picks_instances_by_index_seed_or_sequence() -> None:
    gym = maxsub()
    session = Session(gym, InProcessRunner(), picker=InstancePicker(4, start=2))
    assert session.index == 2
    assert session.reset().instance == 3
    assert session.reset().instance == 0
    assert session.reset(instance=1).instance == 1
    first = session.reset(seed=7).instance
    assert session.reset(seed=7).instance == first
    with pytest.raises(BadReset, match=r"instances 0\.\.3"):
        session.reset(instance=4)


async def test_seeded_sessions_replay_the_same_instances() -> None:
    a, b = InstancePicker(4, seed=11), InstancePicker(4, seed=11)
    assert [a.next() for _ in range(6)] == [b.next() for _ in range(6)]


async def test_reset_records_a_running_episode_but_not_an_untouched_one() -> None:
    ended: list[EpisodeRecord] = []
    session = Session(maxsub(), InProcessRunner(), on_end=ended.append)
    session.reset()
    assert ended == []
    await session.step("observe", {})
    session.reset()
    assert [r.end_reason for r in ended] == ["reset"] and ended[0].reward is None


async def test_the_recorder_writes_one_durable_line_per_episode(tmp_path: Path) -> None:
    path = tmp_path / "out" / "episodes.jsonl"
    with Recorder(path) as recorder:
        session = Session(maxsub(), InProcessRunner(), on_end=recorder.write)
        await session.step("submit", {"answer": 6})
        session.reset()
        await session.step("observe", {})
        assert len(path.read_text(encoding="utf-8").splitlines()) == 1  # on disk before close
        session.close("disconnected")
    lines = [
        EpisodeRecord.model_validate(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert [(r.end_reason, r.reward) for r in lines] == [("submitted", 1), ("disconnected", None)]


async def test_concurrent_calls_in_one_episode_are_serialised() -> None:
    session = Session(maxsub(), InProcessRunner())
    async with anyio.create_task_group() as tg:
        for value in range(10):
            tg.start_soon(session.step, "track_best", {"value": value})
    assert [s.index for s in session.steps] == list(range(10))
    assert ok(await session.step("track_best", {"value": -1})) == {"result": 9}


@pytest.mark.slow
async def test_the_oracle_trace_replays_exactly_through_the_sandbox_pool() -> None:
    catalog = Catalog(FIXTURE)
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        for task_id in catalog.task_ids():
            gym = catalog.load(task_id)
            session = Session(gym, pool)
            for index, instance in enumerate(gym.instances):
                session.reset(instance=index)
                for call in instance.oracle_trace:
                    assert ok(await session.step(call.tool, call.arguments)) == call.result, (task_id, call)
                assert session.reward == 1


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    tool=st.sampled_from(
        ["subarray_sum", "kadane_step", "track_best", "get_length", "observe", "submit", "nope"]
    ),
    arguments=st.dictionaries(
        st.sampled_from(["start", "end", "best", "current", "x", "value", "answer", "zz"]), _JSON
    ),
)
def test_any_json_arguments_give_a_result_or_a_tool_error_and_cost_one_step(
    tool: str, arguments: dict[str, Any]
) -> None:
    async def one_call() -> None:
        session = Session(maxsub(), InProcessRunner())
        outcome = await session.step(tool, arguments)
        assert isinstance(outcome, ToolOk | ToolFailed)
        assert len(session.steps) == 1
        if isinstance(outcome, ToolFailed):
            assert outcome.message and not outcome.infra
        else:
            json.dumps(outcome.structured)  # plain JSON, whatever the tool returned

    anyio.run(one_call)
