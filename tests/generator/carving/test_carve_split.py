"""Carving for yield: rebound helper parameters, key functions per element, the "split" rung."""

from __future__ import annotations

import ast

from codegym_mcp.generator.carving._carve import carve_function_problem
from codegym_mcp.generator.carving._carving_types import Carving, Granularity
from codegym_mcp.generator.carving._describe import read_expr

from .test_carve import _problem, _reference, _run

DIGITS = """
def solve(arr):
    def digits_sum(n):
        neg = 1
        if n < 0:
            n, neg = -1 * n, -1
        n = [int(i) for i in str(n)]
        n[0] = n[0] * neg
        return sum(n)
    return len([x for x in [digits_sum(i) for i in arr] if x > 0])
"""

BY_KEY = """
def solve(nums):
    def digits_sum(n):
        return sum(int(c) for c in str(abs(n)))
    return sorted(nums, key=digits_sum)
"""

BY_LAMBDA = """
def solve(words):
    return sorted(words, key=lambda w: (-len(set(w)), w))[0]
"""

LOOP = """
def solve(x: int, base: int) -> str:
    ret = ""
    while x > 0:
        ret = str(x % base) + ret
        x //= base
    return ret
"""

PICK = """
def solve(a, b):
    ta, tb = a, b
    if isinstance(ta, str): ta = ta.replace(',', '.')
    if isinstance(tb, str): tb = tb.replace(',', '.')
    if float(ta) == float(tb): return None
    return a if float(ta) > float(tb) else b
"""


def _carve(solution: str, params: list[str], granularity: Granularity = "fine") -> Carving:
    out = carve_function_problem(_problem(solution), entry_params=params, granularity=granularity)
    assert isinstance(out, Carving), out
    return out


def test_a_helper_that_rebinds_its_parameter_to_a_new_list_before_mutating_it_is_a_tool() -> None:
    carving = _carve(DIGITS, ["arr"])
    assert [t.name for t in carving.tools][:1] == ["digits_sum"] and carving.granularity == "fine"
    inputs = {"arr": [-12, 11, -1, 30]}
    answer, calls = _run(carving, inputs)
    assert answer == _reference(DIGITS, "solve", inputs)
    assert calls.count("digits_sum") == 4


def test_a_helper_passed_as_a_sort_key_is_called_as_a_tool_once_per_element() -> None:
    carving = _carve(BY_KEY, ["nums"])
    assert [t.name for t in carving.tools] == ["digits_sum"]
    inputs = {"nums": [31, -4, 12, 9, 100]}
    answer, calls = _run(carving, inputs)
    assert answer == _reference(BY_KEY, "solve", inputs)
    assert calls == ["observe", *["digits_sum"] * 5]


def test_a_sort_key_lambda_worth_a_tool_becomes_a_per_element_tool_and_the_ordering_stays_plan_code() -> None:
    carving = _carve(BY_LAMBDA, ["words"])
    (tool,) = carving.tools
    assert [p.name for p in tool.params] == ["w"] and all(p.source == "agent" for p in tool.params)
    inputs = {"words": ["name", "enam", "game", "aaaa"]}
    answer, calls = _run(carving, inputs)
    assert answer == _reference(BY_LAMBDA, "solve", inputs) == "enam"
    assert calls == ["observe", *[tool.name] * 4]


def test_the_split_rung_makes_each_statement_of_a_loop_body_a_tool_of_its_own() -> None:
    fine, split = _carve(LOOP, ["x", "base"]), _carve(LOOP, ["x", "base"], "split")
    assert len(fine.tools) == 1  # one step tool for the whole body
    assert len(split.tools) == 2 and split.granularity == "split"
    for inputs in ({"x": 255, "base": 2}, {"x": 1000, "base": 7}):
        answer, calls = _run(split, inputs)
        assert answer == _reference(LOOP, "solve", inputs)
        assert {t.name for t in split.tools} <= set(calls)


def test_the_split_rung_keeps_only_the_test_of_a_returned_conditional_as_a_tool() -> None:
    fine, split = _carve(PICK, ["a", "b"]), _carve(PICK, ["a", "b"], "split")
    # fine: the whole conditional is one tool, whose result is the answer
    assert any(t.name.startswith("compute_a_if_") for t in fine.tools)
    assert all(t.name.startswith("check_") for t in split.tools)
    for inputs in ({"a": "5,1", "b": "6"}, {"a": 3, "b": 2.5}, {"a": "1", "b": 1}):
        answer, _ = _run(split, inputs)
        assert answer == _reference(PICK, "solve", inputs)


def test_a_container_built_from_a_comprehension_is_read_without_naming_a_call_the_body_lacks() -> None:
    # the honesty check reads ``name(...)`` in a description as code: ``dict(the list of ..)`` named a list
    text = read_expr(ast.parse("dict([(i, 0) for i in lst])", mode="eval").body)
    assert text == "a dict made of `(i, 0)` for each i in lst"
