"""Carving function problems: tools, hidden binding, the oracle plan, determinism.

The solutions here are written by the tests (trusted), so their carvings run in-process through
a proxy that crosses the same boundary as the MCP path: to_plain on the way out, coerce back.
"""

from __future__ import annotations

import copy
from typing import Any

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.generator.carving._analysis import SolutionFacts, analyse_solution
from codegym_mcp.generator.carving._carve import carve_function_problem
from codegym_mcp.generator.carving._carving_types import CarvedTool, CarveRejected, Carving
from codegym_mcp.runtime import coerce, decode, encode, infer_schema, to_plain, values_equal
from codegym_mcp.schemas import Problem


def _problem(solution: str, entry: str | None = "solve") -> Problem:
    return Problem(
        problem_id="T/1",
        task_id="T_1",
        source="test",
        question="q",
        solution=solution,
        tests="",
        test_style="pytest",
        entry_point=entry,
    )


def _carve(solution: str, params: list[str], **kw: Any) -> Carving:
    out = carve_function_problem(_problem(solution), entry_params=params, **kw)
    assert isinstance(out, Carving), out
    return out


class _Submitted(Exception):
    def __init__(self, answer: Any) -> None:
        self.answer = answer


def _cross(value: Any, schema: dict[str, Any] | None) -> Any:
    return coerce(to_plain(value), schema if schema is not None else infer_schema([value]))


class _Proxy:
    """What the MCP path does to every call, without a sandbox: plain JSON both ways."""

    def __init__(self, carving: Carving, inputs: dict[str, Any]) -> None:
        self.ns: dict[str, Any] = {"__name__": "gym_tools"}
        exec(compile(carving.tools_source, "tools.py", "exec"), self.ns)
        self.specs = {t.name: t for t in carving.tools}
        self.inputs = inputs
        self.calls: list[str] = []
        self.state: Any = None  # the episode state of stateful tools, kept in wire form

    def observe(self) -> dict[str, Any]:
        self.calls.append("observe")
        return {k: _cross(v, None) for k, v in self.inputs.items()}

    def submit(self, answer: Any) -> Any:
        raise _Submitted(answer)

    def __getattr__(self, name: str) -> Any:
        spec: CarvedTool = self.specs[name]

        def call(**kw: Any) -> Any:
            self.calls.append(name)
            agent = {p.name for p in spec.params if p.source == "agent"}
            assert set(kw) == agent, (name, set(kw), agent)
            args = [
                copy.deepcopy(self.inputs[p.hidden_key])
                if p.hidden_key
                else copy.deepcopy(self.state)
                if p.source == "state"
                else _cross(kw[p.name], p.type_schema)
                for p in spec.params
            ]
            result = self.ns[spec.function](*args)
            if spec.stateful:
                # the runtime keeps the state in wire form, as the harness does
                self.state, result = decode(encode(result[0])), result[1]
            if spec.result_fields:
                return tuple(_cross(v, None) for v in result)
            return _cross(result, spec.returns_schema)

        return call


def _run(carving: Carving, inputs: dict[str, Any]) -> tuple[Any, list[str]]:
    ns: dict[str, Any] = {"__name__": "gym_oracle"}
    exec(compile(carving.oracle_source, "oracle.py", "exec"), ns)
    proxy = _Proxy(carving, inputs)
    with pytest.raises(_Submitted) as done:
        ns["oracle"](proxy)
    return done.value.answer, proxy.calls


def _reference(solution: str, entry: str, inputs: dict[str, Any]) -> Any:
    ns: dict[str, Any] = {}
    exec(compile(solution, "solution.py", "exec"), ns)
    return ns[entry](**copy.deepcopy(inputs))


LONGEST = """
def solve(s: str) -> int:
    best = 0
    for i in range(len(s)):
        for j in range(i + 1, len(s) + 1):
            if s[i:j] == s[i:j][::-1]:
                best = max(best, j - i)
    return best
"""


def test_an_inner_loop_scanning_the_input_becomes_one_tool_with_the_input_hidden() -> None:
    carving = _carve(LONGEST, ["s"])
    inner = next(t for t in carving.tools if t.name.startswith("run_loop_over_j"))
    assert [(p.name, p.source, p.hidden_key) for p in inner.params if p.name == "s"] == [("s", "hidden", "s")]
    answer, calls = _run(carving, {"s": "abacdc"})
    assert answer == 3
    assert calls == ["observe", *[inner.name] * 6]


def test_multiple_live_values_come_back_as_result_fields() -> None:
    source = """
def solve(xs):
    lo, hi = 0, 0
    for x in xs:
        lo = min(lo, x)
        hi = max(hi, x)
    return hi - lo
"""
    carving = _carve(source, ["xs"])
    step = next(t for t in carving.tools if t.result_fields)
    assert step.result_fields == ["lo", "hi"]
    assert _run(carving, {"xs": [3, -2, 7]})[0] == 9


def test_early_return_inside_a_loop_stays_in_the_plan() -> None:
    source = """
def solve(nums, target):
    seen = {}
    for i, n in enumerate(nums):
        if target - n in seen:
            return [seen[target - n], i]
        seen[n] = i
    return []
"""
    carving = _carve(source, ["nums", "target"])
    for nums, target in [([2, 7, 11, 15], 9), ([1, 2], 7), ([3, 3], 6)]:
        inputs = {"nums": nums, "target": target}
        assert _run(carving, inputs)[0] == _reference(source, "solve", inputs)


def test_helpers_and_closures_become_tools() -> None:
    source = '''
def is_vowel(c: str) -> bool:
    """Tell whether c is a vowel."""
    return c in "aeiou"


def solve(word: str, bonus: int) -> int:
    def score(c):
        return bonus if is_vowel(c) else 1

    return sum(score(c) for c in word)
'''
    carving = _carve(source, ["word", "bonus"])
    by_name = {t.name: t for t in carving.tools}
    assert "score" in by_name
    score = by_name["score"]
    assert [(p.name, p.source) for p in score.params] == [("bonus", "hidden"), ("c", "agent")]
    assert _run(carving, {"word": "audio", "bonus": 5})[0] == 21


def test_returned_call_chain_is_split_into_steps_with_a_single_operator_folded_into_its_user() -> None:
    carving = _carve("def solve(s: str) -> int:\n    return len(set(s.lower()))\n", ["s"])
    assert [t.name for t in carving.tools] == ["compute_set_of_lower_s", "compute_len_of_unique_items"]
    answer, calls = _run(carving, {"s": "AbBa"})
    assert answer == 2
    assert len(calls) == 3


def test_boolean_operands_and_conditional_tests_become_checks_keeping_short_circuit() -> None:
    source = """
def is_even(v: int) -> bool:
    return v % 2 == 0


def solve(n: int, xs: list[int]) -> int:
    if n > 3 and is_even(n):
        return 0
    return max(xs) if len(xs) > 2 else -1
"""
    carving = _carve(source, ["n", "xs"])
    assert "tools.is_even(" in carving.oracle_source
    assert " and tools.is_even(" in carving.oracle_source
    assert " if tools.check_len_of_xs_gt_2(" in carving.oracle_source
    for n, xs in [(4, [1, 2, 3]), (2, [5, 1, 9]), (5, [1])]:
        inputs = {"n": n, "xs": xs}
        answer, calls = _run(carving, inputs)
        assert answer == _reference(source, "solve", inputs)
        assert ("is_even" in calls) == (n > 3)


def test_an_assignment_feeding_a_comprehension_to_a_call_is_split() -> None:
    source = "def solve(s: str, bad: str) -> str:\n    s = ''.join([c for c in s if c not in bad])\n    return s[::-1]\n"
    carving = _carve(source, ["s", "bad"])
    assert [t.name for t in carving.tools] == ["compute_join_empty_str_with_selected"]
    assert "selected = [c for c in s if c not in bad]" in carving.oracle_source  # one operator: plan code
    assert _run(carving, {"s": "abcab", "bad": "b"})[0] == "aca"


def test_a_comprehensions_iterable_is_computed_by_a_tool_first() -> None:
    source = "def solve(text: str) -> list[int]:\n    return [len(w) * 2 for w in text.split(' ') if w]\n"
    carving = _carve(source, ["text"])
    assert [t.name for t in carving.tools] == ["compute_split_text_with_space", "compute_len_of_w_times_2"]
    answer, calls = _run(carving, {"text": "ab  cde"})
    assert answer == [4, 6]
    assert calls[:2] == ["observe", "compute_split_text_with_space"]


def test_nothing_to_carve_gives_one_getter_per_input() -> None:
    carving = _carve("def solve(a: int, b: int) -> int:\n    return a\n", ["a", "b"])
    assert carving.granularity == "getters"
    assert [t.name for t in carving.tools] == ["get_a", "get_b"]
    assert all(t.kind == "getter" and t.params[0].source == "hidden" for t in carving.tools)
    assert _run(carving, {"a": 4, "b": 5})[0] == 4


def test_getters_read_short_sequences_item_by_item_and_long_ones_whole() -> None:
    source = "def solve(s: str, xs: list[int]) -> int:\n    return s.count('a') if xs else 0\n"
    carving = _carve(source, ["s", "xs"])
    assert carving.granularity == "getters"
    names = [t.name for t in carving.tools]
    assert names == ["get_s", "get_s_length", "get_s_char", "get_xs", "get_xs_length", "get_xs_item"]
    answer, calls = _run(carving, {"s": "abc", "xs": list(range(40))})
    assert answer == 1
    assert calls.count("get_s_char") == 3
    assert calls.count("get_xs") == 1


def test_coarse_granularity_makes_whole_loops_single_tools() -> None:
    source = """
def solve(n: int) -> int:
    primes = []
    for i in range(2, n):
        if all(i % p for p in primes):
            primes.append(i)
    return len(primes) * 2
"""
    carving = _carve(source, ["n"], granularity="coarse")
    assert carving.granularity == "coarse"
    loop = next(t for t in carving.tools if t.name.startswith("run_loop_over_i"))
    assert sorted((p.name, p.source) for p in loop.params) == [("n", "hidden"), ("primes", "agent")]
    answer, calls = _run(carving, {"n": 200})
    assert answer == 92
    assert len(calls) < 6


def test_helpers_granularity_carves_no_segments() -> None:
    source = "def double(x):\n    return 2 * x\n\n\ndef solve(xs):\n    return [double(x) + 1 for x in xs if x > 0]\n"
    carving = _carve(source, ["xs"], granularity="helpers")
    assert carving.granularity == "helpers"
    assert [t.name for t in carving.tools] == ["double"]
    assert _run(carving, {"xs": [1, -1, 2]})[0] == [3, 5]


def test_tool_names_avoid_generic_tools_and_each_other() -> None:
    source = "def submit(x):\n    return x + 1\n\n\ndef solve(xs):\n    return [submit(x) for x in xs]\n"
    carving = _carve(source, ["xs"])
    names = [t.name for t in carving.tools]
    assert "submit" not in names
    assert len(names) == len(set(names))
    assert _run(carving, {"xs": [1, 2]})[0] == [2, 3]


def test_a_solution_using_the_name_tools_still_gets_a_working_oracle() -> None:
    source = (
        "def solve(xs):\n    tools = []\n    for x in xs:\n        tools.append(x * 2)\n    return tools\n"
    )
    carving = _carve(source, ["xs"])
    assert "def oracle(_cg_tools)" in carving.oracle_source
    assert _run(carving, {"xs": [1, 2]})[0] == [2, 4]


def test_a_recursive_entry_binds_no_parameter_to_the_hidden_input() -> None:
    source = "def solve(n):\n    if n < 2 or n % 5 == 0:\n        return n\n    return solve(n - 1) + solve(n - 2)\n"
    carving = _carve(source, ["n"])
    assert carving.granularity == "fine"
    assert all(p.source == "agent" for t in carving.tools for p in t.params)
    assert _run(carving, {"n": 7})[0] == 13


def test_carving_is_deterministic() -> None:
    first = _carve(LONGEST, ["s"])
    second = _carve(LONGEST, ["s"])
    assert first == second


def test_class_problems_and_mismatched_inputs_are_rejected_with_reasons() -> None:
    assert isinstance(
        carve_function_problem(_problem("class A:\n    pass\n", None), entry_params=[]), CarveRejected
    )
    out = carve_function_problem(_problem(LONGEST), entry_params=["text"])
    assert isinstance(out, CarveRejected)
    assert "text" in out.detail


def test_tool_specs_expose_only_agent_params() -> None:
    carving = _carve(LONGEST, ["s"])
    for tool, spec in zip(carving.tools, carving.tool_specs(), strict=True):
        props = spec.input_schema["properties"]
        assert isinstance(props, dict)
        assert list(props) == [p.name for p in tool.agent_params()]
        assert spec.function == tool.function


# --------------------------------------------------------------------------- property test

_OPS = st.sampled_from(["+", "-", "*", "%", "//"])
_CMP = st.sampled_from(["<", ">", "==", "!=", ">="])


@st.composite
def _programs(draw: st.DrawFn) -> str:
    """Small solutions mixing helpers, closures, loops, early exits, mutation and comprehensions."""
    op1, op2 = draw(_OPS), draw(_OPS)
    cmp = draw(_CMP)
    init = draw(st.integers(-3, 3))
    exit_kind = draw(st.sampled_from(["", "break", "return", "continue"]))
    use_helper, use_closure, use_while, use_dict = (draw(st.booleans()) for _ in range(4))
    tail = draw(
        st.sampled_from(
            [
                "acc + len(other)",
                "sum([y * 2 for y in other if y > 0]) - acc",
                "max(acc, k)",
                "len(set(other))",
            ]
        )
    )
    safe1 = f"(acc {op1} x) % 97" if op1 not in ("%", "//") else f"acc {op1} (abs(x) + 1)"
    safe2 = f"x {op2} k" if op2 not in ("%", "//") else f"x {op2} (abs(k) + 1)"
    test = "keep(x, k)" if use_helper else f"x {cmp} k"
    lines = ["from typing import List", "", ""]
    if use_helper:
        lines += [
            "def keep(a: int, b: int) -> bool:",
            '    """Keep a when it compares well to b."""',
            f"    return a {cmp} b",
            "",
            "",
        ]
    lines += [
        "def solve(xs: List[int], k: int) -> int:",
        f"    acc = {init}",
        "    other = []",
        "    seen = {}",
    ]
    if use_closure:
        lines += ["", "    def shift(v):", "        return v + k", ""]
        safe2 = f"shift({safe2})"
    if use_while:
        lines += ["    i = 0", "    while i < len(xs):", "        x = xs[i]", "        i += 1"]
    else:
        lines += ["    for x in xs:"]
    lines += [
        f"        if {test}:",
        f"            acc = {safe1}",
        "        else:",
        f"            other.append({safe2})",
    ]
    if use_dict:
        lines += ["        seen[x] = seen.get(x, 0) + 1"]
    if exit_kind == "return":
        lines += ["        if acc > 50:", "            return acc"]
    elif exit_kind:
        lines += ["        if acc > 50:", f"            {exit_kind}"]
    lines += [f"    return {tail} + len(seen)", ""]
    return "\n".join(lines)


def _defined(facts: SolutionFacts) -> dict[str, list[str]]:
    return {
        s.name.value: [p.name.value for p in s.params.params]
        for s in facts.module.body
        if isinstance(s, cst.FunctionDef)
    }


@settings(max_examples=30, deadline=None)
@given(_programs(), st.lists(st.integers(-20, 20), max_size=8), st.integers(-5, 5))
def test_generated_modules_compile_reanalyse_to_the_same_specs_and_reproduce(
    source: str, xs: list[int], k: int
) -> None:
    carving = _carve(source, ["xs", "k"])
    compile(carving.tools_source, "tools.py", "exec")
    compile(carving.oracle_source, "oracle.py", "exec")
    tools_facts = analyse_solution(carving.tools_source, "solve")
    assert isinstance(tools_facts, SolutionFacts)
    defined = _defined(tools_facts)
    for tool in carving.tools:
        assert defined[tool.function] == [p.name for p in tool.params]
    assert _carve(source, ["xs", "k"]) == carving
    inputs = {"xs": xs, "k": k}
    answer, _ = _run(carving, inputs)
    assert values_equal(answer, _reference(source, "solve", inputs))
