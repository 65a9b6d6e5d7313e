"""Tool names, parameters and descriptions derived from the tool's own code; tools worth calling.

The solutions here are written by the tests (trusted); the carved tools run in-process through the
proxy of test_carve.
"""

from __future__ import annotations

import re

import libcst as cst
import pytest

from codegym_mcp.generator.carving._carve import carve_function_problem
from codegym_mcp.generator.carving._carve_common import Namer
from codegym_mcp.generator.carving._carving_types import Carving, Granularity
from codegym_mcp.generator.carving._describe import expr_name, statement_name
from codegym_mcp.generator.carving._describe_text import faithfulness_problems
from codegym_mcp.generator.statements._leaks import solution_lines_in
from codegym_mcp.generator.verification._one_call import one_call_answers
from codegym_mcp.schemas import Instance, ParamSpec, Problem, ToolSpec, TraceCall

from .test_carve import _run


def _carve(solution: str, params: list[str], granularity: Granularity = "fine") -> Carving:
    problem = Problem(
        problem_id="T/1",
        task_id="T_1",
        source="test",
        question="q",
        solution=solution,
        tests="",
        test_style="pytest",
        entry_point="solve",
    )
    out = carve_function_problem(problem, entry_params=params, granularity=granularity)
    assert isinstance(out, Carving), out
    return out


def _function_code(carving: Carving, name: str) -> str:
    module = cst.parse_module(carving.tools_source)
    fn = next(s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == name)
    return module.code_for_node(fn)


@pytest.mark.parametrize(
    ("code", "prefix", "name"),
    [
        ("idx%2==0 and x%2==1", "check", "check_idx_is_even_and_x_is_odd"),
        ("i % 4 == 0 and i%3 != 0", "check", "check_i_divisible_by_4_and_i_not_divisible_by_3"),
        ("arr[i] < arr[i-1]", "check", "check_arr_at_i_lt_arr_at_i_minus_1"),
        ("len(x) * 2", "compute", "compute_len_of_x_times_2"),
        ('b == "<"', "check", "check_b_eq_left_angle"),
    ],
)
def test_a_name_keeps_every_operator_constant_and_clause_of_its_expression(
    code: str, prefix: str, name: str
) -> None:
    assert expr_name(code, prefix, ["p"]) == name


def test_a_reading_too_long_for_a_name_gives_an_abstract_name_that_claims_no_operator() -> None:
    code = "a * a == b * b + c * c or b * b == a * a + c * c or c * c == a * a + b * b"
    name = expr_name(code, "check", ["a", "b", "c"])
    assert name == "check_any_condition_on_a_b_c"
    fn = f"def {name}(a, b, c):\n    return {code}\n"
    assert faithfulness_problems(name, "Check whether a, b, c: a b c a b c a b c", fn) == []


def test_a_run_of_statements_is_named_by_reading_each_statement() -> None:
    assert statement_name("depth += 1\npath.append(c)\n") == "add_1_to_depth_then_append_c_to_path"
    assert statement_name("depth -= 1\npath.append(c)\n") == "subtract_1_from_depth_then_append_c_to_path"


def test_a_name_collision_is_resolved_without_a_numeric_suffix() -> None:
    namer = Namer(frozenset({"taken"}))
    names = [namer.unique("update_total") for _ in range(30)] + [namer.unique("taken")]
    assert len(set(names)) == len(names)
    assert not any(re.search(r"_\d+$", n) for n in names)
    assert names[:3] == ["update_total", "update_total_b", "update_total_c"]


def test_the_faithfulness_check_catches_a_name_that_drops_a_clause_and_a_cut_description() -> None:
    fn = "def check_idx_mod_2_eq_0(idx, x):\n    return idx % 2 == 0 and x % 2 == 1\n"
    problems = faithfulness_problems("check_idx_mod_2_eq_0", "Test `idx%2==0 and ...`", fn)
    assert "name 'check_idx_mod_2_eq_0' leaves out operator 'and'" in problems
    assert "truncation mark '...'" in problems
    assert any("leaves out 'x'" in p for p in problems)


SOLUTIONS = [
    ("def solve(lst):\n    return sum([x for idx, x in enumerate(lst) if idx%2==0 and x%2==1])\n", ["lst"]),
    (
        "def solve(arr):\n    ind = -1\n    i = 1\n    while i < len(arr):\n"
        "        if arr[i] < arr[i-1]:\n            ind = i\n        i += 1\n    return ind\n",
        ["arr"],
    ),
    (
        "def solve(lst):\n    result = []\n    for i in range(len(lst)):\n        if i % 3 == 0:\n"
        "            result.append(lst[i]**2)\n        elif i % 4 == 0 and i%3 != 0:\n"
        "            result.append(lst[i]**3)\n        else:\n            result.append(lst[i])\n"
        "    return sum(result)\n",
        ["lst"],
    ),
    (
        "def solve(s):\n    depth, best, parts = 0, 0, []\n    for c in s:\n        if c == '(':\n"
        "            depth += 1\n            parts.append(c)\n        elif c == ')':\n            depth -= 1\n"
        "            parts.append(c)\n        best = max(best, depth)\n    return best * len(parts)\n",
        ["s"],
    ),
    ("def solve(text):\n    return [len(w) * 2 for w in text.split(' ') if w]\n", ["text"]),
]


@pytest.mark.parametrize(("solution", "params"), SOLUTIONS)
def test_every_carved_name_and_description_is_faithful_to_the_tool_body(
    solution: str, params: list[str]
) -> None:
    carving = _carve(solution, params)
    assert carving.tools
    for tool in carving.tools:
        assert not re.search(r"_\d+$", tool.name) or tool.name.split("_")[-1] in _function_code(
            carving, tool.function
        )
        state = next((p.name for p in tool.params if p.source == "state"), None)
        code = _function_code(carving, tool.function)
        assert faithfulness_problems(tool.name, tool.description, code, state=state) == []
        assert "Returns:" in tool.description
        assert "of the reference solution" not in tool.description


def test_plan_variables_feeding_a_tool_are_named_by_role_not_by_expression_slug() -> None:
    carving = _carve(SOLUTIONS[0][0], ["lst"])
    params = {p.name for t in carving.tools for p in t.params}
    assert "selected" in params
    assert not any("_for_" in p or p.startswith("x_") for p in params)


def test_a_helper_without_a_docstring_is_described_from_its_body() -> None:
    source = (
        "def twice_plus(v, k):\n    return v * 2 + k\n\n\n"
        "def solve(xs):\n    total = 0\n    for x in xs:\n        total = twice_plus(x, total)\n    return total\n"
    )
    carving = _carve(source, ["xs"])
    helper = next(t for t in carving.tools if t.name == "twice_plus")
    assert helper.description.startswith("Compute twice_plus(v, k): the result is (v times 2) plus k.")
    assert _run(carving, {"xs": [1, 2, 3]})[0] == 12


def test_a_description_reads_conditions_loops_and_returns_in_words_not_as_solution_lines() -> None:
    source = (
        "def parse_group(s):\n    depth = 0\n    max_depth = 0\n    for c in s:\n"
        "        if c == '(':\n            depth += 1\n            max_depth = max(depth, max_depth)\n"
        "        else:\n            depth -= 1\n    while max_depth is None:\n        depth = 0\n"
        "    return max_depth\n\n\n"
        "def solve(xs):\n    best = None\n    out = []\n    for x in xs:\n        if best is None:\n"
        "            best = x\n        else:\n            best = max(best, x)\n        out.append(best)\n"
        "    return [parse_group(s) for s in out]\n"
    )
    carving = _carve(source, ["xs"])
    described = "\n".join(t.description for t in carving.tools)
    assert "the result is max_depth" in described
    assert solution_lines_in(described, source) == []


def test_two_expressions_with_the_same_body_become_one_tool() -> None:
    source = (
        "def solve(xs, ys):\n    a = [x for x in xs if x % 3 == 1]\n"
        "    b = [y for y in ys if y % 3 == 1]\n    return len(a) * 10 + len(b)\n"
    )
    carving = _carve(source, ["xs", "ys"])
    checks = [t for t in carving.tools if t.name.startswith("check_")]
    assert [t.name for t in checks] == ["check_x_mod_3_eq_1"]
    answer, calls = _run(carving, {"xs": [1, 4, 5], "ys": [7, 2]})
    assert answer == 21
    assert calls.count("check_x_mod_3_eq_1") == 5


def test_a_single_operator_is_left_to_the_plan_and_not_offered_as_a_tool() -> None:
    source = (
        "def solve(n, xs):\n    if n <= 1:\n        return 0\n    return sum(x * x for x in xs) + xs[0]\n"
    )
    carving = _carve(source, ["n", "xs"])
    assert "if n <= 1:" in carving.oracle_source
    assert all("n <= 1" not in _function_code(carving, t.function) for t in carving.tools)


def test_no_tool_calls_a_recursive_entry_point_so_none_answers_for_a_shifted_input() -> None:
    source = "def solve(n):\n    if n < 2:\n        return n\n    return solve(n - 1) + solve(n - 2) * 2\n"
    carving = _carve(source, ["n"])
    for tool in carving.tools:
        assert "solve(" not in _function_code(carving, tool.function)


def _tool(name: str, params: list[ParamSpec]) -> ToolSpec:
    return ToolSpec(
        name=name,
        kind="segment",
        description="d",
        function=name,
        params=params,
        input_schema={"type": "object"},
        output_schema={"type": "object"},
    )


def _instance(n: int, expected: int, calls: list[TraceCall]) -> Instance:
    return Instance(
        instance_id=f"i{n}", input={"n": n}, expected=expected, oracle_steps=len(calls), oracle_trace=calls
    )


def test_a_recursive_helper_whose_one_call_answers_on_the_hidden_input_is_found() -> None:
    hidden = [ParamSpec(name="n", source="hidden", hidden_key="n")]
    agent = [ParamSpec(name="k", source="agent")]
    tools = [_tool("fib", hidden), _tool("step", agent)]
    instances = [
        _instance(n, f, [TraceCall(tool="fib", arguments={}, result={"result": f})])
        for n, f in [(5, 5), (6, 8), (7, 13)]
    ]
    assert one_call_answers(tools, instances) == ["fib"]
    # a tool whose argument equals the input by coincidence, on fewer than half of the instances
    coincidence = [
        _instance(3, 3, [TraceCall(tool="step", arguments={"k": 3}, result={"result": 3})]),
        _instance(4, 9, [TraceCall(tool="step", arguments={"k": 7}, result={"result": 9})]),
        _instance(5, 9, [TraceCall(tool="step", arguments={"k": 8}, result={"result": 9})]),
    ]
    assert one_call_answers(tools, coincidence) == []


def test_a_tool_fed_the_whole_observed_input_whose_result_is_the_answer_is_found() -> None:
    # the audit's definition, shared: the oracle passes what observe showed, not a hidden binding
    tools = [_tool("double", [ParamSpec(name="m", source="agent")])]
    instances = [
        _instance(n, 2 * n, [TraceCall(tool="double", arguments={"m": n}, result={"result": 2 * n})])
        for n in (3, 4, 5)
    ]
    # on one instance the oracle passes a value it worked out first (not the input): still found
    instances.append(_instance(7, 14, [TraceCall(tool="double", arguments={"m": 70}, result={"result": 14})]))
    assert one_call_answers(tools, instances) == ["double"]
    # a wrong result on one call of it: not an answer in one call
    instances.append(_instance(6, 12, [TraceCall(tool="double", arguments={"m": 6}, result={"result": 11})]))
    assert one_call_answers(tools, instances) == []


STATEFUL = """
def solve(xs):
    total, seen = 0, []
    for x in xs:
        if x % 3 == 0:
            total += x * x
        seen.append(x)
    return total * len(seen)
"""


def test_a_loop_whose_values_start_from_literals_keeps_them_in_the_episode_state() -> None:
    carving = _carve(STATEFUL, ["xs"])
    step = next(t for t in carving.tools if t.name == "loop_step_over_x")
    assert step.stateful
    assert [(p.name, p.source) for p in step.params] == [("state", "state"), ("x", "agent")]
    assert "keeps total, seen between calls (starting total from 0, seen from [] in each episode)" in (
        step.description
    )
    answer, calls = _run(carving, {"xs": [3, 1, 6]})
    assert answer == (9 + 36) * 3
    assert calls.count("loop_step_over_x") == 3


def test_a_loop_whose_values_start_from_computed_values_passes_them_as_arguments() -> None:
    carving = _carve(STATEFUL.replace("total, seen = 0, []", "total, seen = len(xs), []"), ["xs"])
    step = next(t for t in carving.tools if t.name == "loop_step_over_x")
    assert not step.stateful
    assert {p.name for p in step.params if p.source == "agent"} == {"x", "total", "seen"}
    assert _run(carving, {"xs": [3, 1, 6]})[0] == (3 + 9 + 36) * 3
