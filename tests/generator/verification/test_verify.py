"""Verification replays the oracle through the MCP coercion path in the sandbox."""

from __future__ import annotations

from typing import Any

from codegym_mcp.generator.pipeline._pipeline import generic_tools
from codegym_mcp.generator.verification._verify import Candidate, Verification, VerifyFailed, verify_gym
from codegym_mcp.runtime import Worker, encode
from codegym_mcp.schemas import ParamSpec, ToolSpec

from .._pipeline_fakes import sandbox_worker

__all__ = ["sandbox_worker"]

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"nums": {"type": "array", "items": {"type": "integer"}}},
    "required": ["nums"],
    "additionalProperties": False,
}

TOOLS_PY = """
def pair_sum(nums, i, j):
    return nums[i] + nums[j]

def is_zero(x):
    return x == 0

def span(nums):
    return (min(nums), max(nums))

def add_seen(state, x):
    seen = set() if state is None else state
    seen.add(x)
    return [seen, len(seen)]

def boom(x):
    return 1 // 0
"""


def _tool(name: str, params: list[ParamSpec], **extra: Any) -> ToolSpec:
    return ToolSpec(
        name=name,
        kind="helper",
        description=name,
        function=name,
        params=params,
        input_schema={},
        output_schema={
            "type": "object",
            "properties": {f: {} for f in extra.get("result_fields") or ["result"]},
        },
        **extra,
    )


def _tools(output_schema: dict[str, Any]) -> list[ToolSpec]:
    observe, submit, task = generic_tools(INPUT_SCHEMA, output_schema)
    hidden = ParamSpec(name="nums", source="hidden", hidden_key="nums")
    return [
        observe,
        _tool("pair_sum", [hidden, ParamSpec(name="i", source="agent"), ParamSpec(name="j", source="agent")]),
        _tool("is_zero", [ParamSpec(name="x", source="agent")]),
        _tool("span", [hidden], result_fields=["low", "high"]),
        _tool(
            "add_seen",
            [ParamSpec(name="state", source="state"), ParamSpec(name="x", source="agent")],
            stateful=True,
        ),
        _tool("boom", [ParamSpec(name="x", source="agent")]),
        submit,
        task,
    ]


ORACLE_PY = """
def oracle(tools):
    nums = tools.observe()["nums"]
    low, high = tools.span()
    assert isinstance(low, int) and isinstance(high, int)
    for i in range(len(nums)):
        tools.add_seen(x=nums[i])
        for j in range(i + 1, len(nums)):
            if tools.is_zero(x=tools.pair_sum(i=i, j=j)):
                return tools.submit(answer=True)
    return tools.submit(answer=False)
"""


def _verify(worker: Worker, oracle: str, candidates: list[Candidate]) -> Verification | VerifyFailed:
    return verify_gym(
        worker=worker,
        tools_source=TOOLS_PY,
        oracle_source=oracle,
        tools=_tools({"type": "boolean"}),
        candidates=candidates,
        input_schema=INPUT_SCHEMA,
        output_schema={"type": "boolean"},
    )


CANDIDATES = [
    Candidate(input={"nums": [1, 3, -1]}, expected=True),
    Candidate(input={"nums": [1, 2]}, expected=False),
]


def test_oracle_replay_infers_missing_schemas_and_records_the_trace(sandbox_worker: Worker) -> None:
    result = _verify(sandbox_worker, ORACLE_PY, CANDIDATES)
    assert isinstance(result, Verification), result
    by_name = {t.name: t for t in result.tools}
    assert by_name["pair_sum"].input_schema["properties"] == {
        "i": {"type": "integer"},
        "j": {"type": "integer"},
    }
    assert by_name["pair_sum"].output_schema["properties"] == {"result": {"type": "integer"}}
    assert by_name["span"].output_schema["properties"] == {
        "low": {"type": "integer"},
        "high": {"type": "integer"},
    }
    assert by_name["boom"].input_schema["properties"] == {"x": {}}  # never called: stays "any"
    first = result.instances[0]
    assert [c.tool for c in first.oracle_trace][:3] == ["observe", "span", "add_seen"]
    assert first.oracle_trace[1].result == {"low": -1, "high": 3}
    assert first.oracle_trace[-1].result == {"reward": 1}
    assert first.oracle_steps == len(first.oracle_trace)


def test_a_wrong_answer_rejects_the_gym_naming_the_instance(sandbox_worker: Worker) -> None:
    wrong = "def oracle(tools):\n    tools.observe()\n    return tools.submit(answer=True)\n"
    result = _verify(sandbox_worker, wrong, CANDIDATES)
    assert isinstance(result, VerifyFailed)
    assert result.stage == "verify"
    assert "differs from the expected output" in result.reason
    assert "instance" in result.reason


def test_a_tool_that_raises_is_reported_with_its_exception(sandbox_worker: Worker) -> None:
    raising = "def oracle(tools):\n    tools.boom(x=1)\n    return tools.submit(answer=True)\n"
    result = _verify(sandbox_worker, raising, CANDIDATES)
    assert isinstance(result, VerifyFailed)
    assert "ZeroDivisionError" in result.reason


def test_an_oracle_that_never_submits_is_rejected(sandbox_worker: Worker) -> None:
    result = _verify(sandbox_worker, "def oracle(tools):\n    tools.observe()\n", CANDIDATES)
    assert isinstance(result, VerifyFailed)
    assert "never called submit" in result.reason


def test_unknown_tool_arguments_are_a_contract_violation(sandbox_worker: Worker) -> None:
    bad = "def oracle(tools):\n    tools.is_zero(y=1)\n    return tools.submit(answer=True)\n"
    result = _verify(sandbox_worker, bad, CANDIDATES)
    assert isinstance(result, VerifyFailed)
    assert "unexpected argument y: is_zero takes x" in result.reason


def test_tools_that_do_not_import_are_a_render_failure(sandbox_worker: Worker) -> None:
    result = verify_gym(
        worker=sandbox_worker,
        tools_source="def broken(:\n",
        oracle_source=ORACLE_PY,
        tools=_tools({"type": "boolean"}),
        candidates=CANDIDATES,
        input_schema=INPUT_SCHEMA,
        output_schema={"type": "boolean"},
    )
    assert isinstance(result, VerifyFailed)
    assert result.stage == "render"
    assert "tools.py does not import" in result.reason


def test_tuples_survive_the_mcp_path_through_inferred_schemas(sandbox_worker: Worker) -> None:
    tools_py = "def pairs(nums):\n    return [(a, b) for a, b in zip(nums, nums[1:])]\n"
    observe, submit, task = generic_tools(INPUT_SCHEMA, {})
    pairs = _tool("pairs", [ParamSpec(name="nums", source="hidden", hidden_key="nums")])
    oracle = "def oracle(tools):\n    got = tools.pairs()\n    assert got[0] == (1, 2), got\n    return tools.submit(answer=got)\n"
    expected = encode([(1, 2), (2, 3)])
    candidates = [Candidate(input={"nums": [1, 2, 3]}, expected=expected)]
    tuple_list = {
        "type": "array",
        "items": {
            "type": "array",
            "x-python": "tuple",
            "prefixItems": [{"type": "integer"}, {"type": "integer"}],
            "minItems": 2,
            "maxItems": 2,
        },
    }
    result = verify_gym(
        worker=sandbox_worker,
        tools_source=tools_py,
        oracle_source=oracle,
        tools=[observe, pairs, submit, task],
        candidates=candidates,
        input_schema=INPUT_SCHEMA,
        output_schema=tuple_list,
    )
    assert isinstance(result, Verification), result
    assert result.tools[1].output_schema["properties"] == {"result": tuple_list}
    assert result.instances[0].oracle_trace[0].result == {"result": [[1, 2], [2, 3]]}


def test_a_tool_that_mutates_the_hidden_input_does_not_change_it_for_the_next_call(
    sandbox_worker: Worker,
) -> None:
    tools_py = "def pop_last(nums):\n    nums.pop()\n    return len(nums)\n"
    observe, submit, task = generic_tools(INPUT_SCHEMA, {"type": "integer"})
    pop = _tool("pop_last", [ParamSpec(name="nums", source="hidden", hidden_key="nums")])
    oracle = "def oracle(tools):\n    tools.pop_last()\n    return tools.submit(answer=tools.pop_last())\n"
    result = verify_gym(
        worker=sandbox_worker,
        tools_source=tools_py,
        oracle_source=oracle,
        tools=[observe, pop, submit, task],
        candidates=[Candidate(input={"nums": [1, 2, 3]}, expected=2)],
        input_schema=INPUT_SCHEMA,
        output_schema={"type": "integer"},
    )
    assert isinstance(result, Verification), result
    assert [c.result for c in result.instances[0].oracle_trace] == [
        {"result": 2},
        {"result": 2},
        {"reward": 1},
    ]


def test_a_failing_augmented_instance_is_dropped_and_counted_not_fatal(sandbox_worker: Worker) -> None:
    derived = Candidate(input={"nums": [0, 0]}, expected=False, origin="augmented", tier="easy")
    result = _verify(sandbox_worker, ORACLE_PY, [*CANDIDATES, derived])
    assert isinstance(result, Verification), result
    assert len(result.instances) == 2
    assert result.dropped == {"augment: the oracle does not reproduce the reference": 1}


def test_instances_over_the_step_cap_are_dropped_and_none_left_fails(sandbox_worker: Worker) -> None:
    def run(max_calls: int) -> Verification | VerifyFailed:
        return verify_gym(
            worker=sandbox_worker,
            tools_source=TOOLS_PY,
            oracle_source=ORACLE_PY,
            tools=_tools({"type": "boolean"}),
            candidates=CANDIDATES,
            input_schema=INPUT_SCHEMA,
            output_schema={"type": "boolean"},
            max_calls=max_calls,
        )

    short = run(7)  # [1, 2] needs 6 calls, [1, 3, -1] needs 8
    assert isinstance(short, Verification), short
    assert [i.input for i in short.instances] == [{"nums": [1, 2]}]
    assert short.dropped == {"oracle makes more than 7 tool calls": 1}
    none = run(3)
    assert isinstance(none, VerifyFailed)
    assert "no instance could be replayed" in none.reason
