"""Verification and the live runtime follow one set of tool-call rules (issue 12).

The same calls go through both paths: the oracle harness in a jailed worker (what verification
runs) and the runtime's :class:`Session` (what an agent's MCP calls run). Their results, their
messages for calls that break the rules, and their rewards must agree.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from codegym_mcp.generator.verification._verify import HARNESS_MODULE, Candidate, _spec
from codegym_mcp.runtime import CallFailed, Catalog, Gym, SandboxConfig, decode, encode
from codegym_mcp.runtime._session import Session, ToolFailed, ToolOk
from codegym_mcp.runtime._worker import Worker

FIXTURE = Path(__file__).parents[2] / "fixtures" / "catalog"
NO_EFFECT = ". The call had no effect and cost one step"
# kadane_step declares two result fields; this variant returns them as a list, not a tuple
LIST_RESULT = ("    return best, current\n", "    return [best, current]\n")


class InProcessRunner:
    """Runs the (trusted) fixture tools in this process: the runtime's sandbox seam, faked."""

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        module = types.ModuleType("tools")
        exec(compile(source, "tools.py", "exec"), module.__dict__)
        try:
            return encode(getattr(module, function)(*[decode(a) for a in args]))
        except Exception as exc:
            raise CallFailed(type(exc).__name__, str(exc)) from None


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation="nsjail")) as w:
        yield w


def _gym(tools_source: str | None = None) -> Gym:
    gym = Catalog(FIXTURE).load("Fixture_maxsub")
    return gym if tools_source is None else dataclasses.replace(gym, tools_source=tools_source)


def _oracle(calls: list[tuple[str, dict[str, Any]]], answer: Any) -> str:
    lines = ["def oracle(tools):"]
    lines += [f"    tools.{tool}(**{arguments!r})" for tool, arguments in calls]
    lines.append(f"    return tools.submit(answer={answer!r})")
    return "\n".join(lines) + "\n"


def _verification(worker: Worker, gym: Gym, calls: list[tuple[str, dict[str, Any]]], answer: Any) -> Any:
    """What the oracle harness makes of the calls (one oracle run on instance 0)."""
    suffix = str(abs(hash((gym.tools_source, repr(calls), repr(answer)))))
    names = (f"agree_tools_{suffix}", f"agree_oracle_{suffix}")
    worker.load(names[0], gym.tools_source)
    worker.load(names[1], _oracle(calls, answer))
    instance = gym.instances[0]
    spec = _spec(
        names=names,
        tools=list(gym.manifest.tools),
        candidate=Candidate(input=instance.input, expected=instance.expected),
        input_schema=gym.manifest.input_schema,
        output_schema=gym.manifest.output_schema,
        infer=False,
        max_calls=0,
        observation=gym.manifest.observation,
    )
    return worker.call(HARNESS_MODULE, "run_oracle", args=[spec])


def _runtime(gym: Gym, calls: list[tuple[str, dict[str, Any]]], answer: Any) -> list[ToolOk | ToolFailed]:
    """What the runtime answers to the same calls, then to the submission (instance 0)."""

    async def play() -> list[ToolOk | ToolFailed]:
        session = Session(gym, InProcessRunner())
        outcomes = [await session.step(tool, arguments) for tool, arguments in calls]
        return [*outcomes, await session.step("submit", {"answer": answer})]

    return anyio.run(play)


def test_well_formed_calls_give_the_same_results_and_reward_on_both_paths(worker: Worker) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("subarray_sum", {"start": 3, "end": 6}),
        ("kadane_step", {"best": 1, "current": 1, "x": 2}),
        ("track_best", {"value": 5}),
        ("track_best", {"value": 3}),
        ("get_length", {}),
    ]
    for answer, reward in ((6, 1), ("6", 1), (7, 0)):
        verified = _verification(worker, _gym(), calls, answer)
        live = _runtime(_gym(), calls, answer)
        assert verified["reward"] == reward
        assert all(isinstance(o, ToolOk) for o in live), live
        assert [t["result"] for t in verified["trace"]] == [
            o.structured for o in live if isinstance(o, ToolOk)
        ]
        assert live[-1] == ToolOk({"reward": reward})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            ("subarray_sum", {"start": 0, "end": 1, "step": 1}),
            "unexpected argument step: subarray_sum takes end, start",
        ),
        (("subarray_sum", {"start": 0}), "missing argument end: expected int"),
        (("get_length", {"nums": [1]}), "unexpected argument nums: get_length takes no arguments"),
    ],
)
def test_arguments_that_break_the_rules_get_the_same_message_on_both_paths(
    worker: Worker, call: tuple[str, dict[str, Any]], message: str
) -> None:
    verified = _verification(worker, _gym(), [call], 6)
    live = _runtime(_gym(), [call], 6)
    assert live[0] == ToolFailed(message)
    assert not verified["ok"] and verified["error"].endswith(message)


def test_an_argument_of_the_wrong_type_fails_on_both_paths_with_the_same_coercion_error(
    worker: Worker,
) -> None:
    call = ("kadane_step", {"best": "one", "current": 1, "x": 2})
    verified = _verification(worker, _gym(), [call], 6)
    live = _runtime(_gym(), [call], 6)
    assert live[0] == ToolFailed('invalid argument best: expected int, got "one"')
    assert not verified["ok"] and verified["error"].endswith('best: expected int, got "one"')


def test_several_values_returned_as_a_list_instead_of_a_tuple_are_refused_on_both_paths(
    worker: Worker,
) -> None:
    source = _gym().tools_source
    assert LIST_RESULT[0] in source
    gym = _gym(source.replace(*LIST_RESULT))
    call = ("kadane_step", {"best": 1, "current": 1, "x": 2})
    verified = _verification(worker, gym, [call], 6)
    live = _runtime(gym, [call], 6)
    message = "kadane_step returned list for these arguments instead of its 2 values (best, current)"
    assert verified["ok"] is False and verified["error"] == message
    assert isinstance(live[0], ToolFailed) and live[0].message.startswith(message + NO_EFFECT)
    assert live[-1] == ToolOk({"reward": 1})  # the refused call had no effect on the episode


def test_a_stateful_pair_may_be_a_list_or_a_tuple_on_both_paths(worker: Worker) -> None:
    source = _gym().tools_source
    assert "    return [best, best]\n" in source
    for variant in (source, source.replace("    return [best, best]\n", "    return (best, best)\n")):
        calls: list[tuple[str, dict[str, Any]]] = [("track_best", {"value": 5}), ("track_best", {"value": 9})]
        verified = _verification(worker, _gym(variant), calls, 6)
        live = _runtime(_gym(variant), calls, 6)
        assert verified["ok"] is True
        assert [t["result"] for t in verified["trace"][:2]] == [{"result": 5}, {"result": 9}]
        assert [o.structured for o in live[:2] if isinstance(o, ToolOk)] == [{"result": 5}, {"result": 9}]
