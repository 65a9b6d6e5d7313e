"""One definition of a single operator, shared by the carver (what is worth a tool) and the audit
(the single-operator share); an ``if`` that only updates values in a loop is one fused tool."""

from __future__ import annotations

import ast

import libcst as cst
import pytest

from codegym_mcp.generator.audit._audit_code import single_operator as audit_single
from codegym_mcp.generator.carving._carve_rules import single_operation

from .test_carve import _run
from .test_tool_names import _carve, _function_code

CASES = [
    ("n <= 1", True),
    ("i + 1", True),
    ("lst[0]", True),
    ("min(a, b)", True),
    ("-1", False),  # a constant: no operation
    ("n", False),
    ("sum(xs)", False),  # one operation over a whole collection: worth a tool
    ("sorted(xs)", False),
    ("''.join(parts)", False),
    ("s.split()", False),
    ("max(xs)", False),
    ("i % 2 == 0", False),  # two operations
]


@pytest.mark.parametrize(("code", "single"), CASES)
def test_the_audit_counts_as_single_operator_exactly_what_the_carver_leaves_to_the_plan(
    code: str, single: bool
) -> None:
    func = ast.parse(f"def f(n, i, lst, a, b, xs, parts, s):\n    return {code}\n").body[0]
    assert isinstance(func, ast.FunctionDef)
    assert audit_single(func) is single
    carver_leaves_it = single_operation(cst.parse_expression(code))
    assert carver_leaves_it is (single or code in ("-1", "n"))


BRACKETS = """def solve(brackets: str) -> bool:
    depth = 0
    for b in brackets:
        if b == "<":
            depth += 1
        else:
            depth -= 1
        if depth < 0:
            return False
    return depth == 0
"""


def test_an_if_that_only_updates_a_value_in_a_loop_is_one_tool_with_its_condition() -> None:
    carving = _carve(BRACKETS, ["brackets"])
    assert [t.name for t in carving.tools] == ["update_depth"]
    code = _function_code(carving, "update_depth")
    assert 'if b == "<":' in code and "depth += 1" in code and "depth -= 1" in code
    assert "if depth < 0:" in carving.oracle_source  # single operators stay plan code
    assert _run(carving, {"brackets": "<<><>>"}) == (True, ["observe", *["update_depth"] * 6])
    assert _run(carving, {"brackets": "><"}) == (False, ["observe", "update_depth"])


def test_an_if_of_one_operation_in_a_loop_is_not_fused_into_a_tool_of_its_own() -> None:
    source = "def solve(xs):\n    m = 0\n    for x in xs:\n        if x > m:\n            m = x\n        if m > 9:\n            return m\n    return m\n"
    carving = _carve(source, ["xs"])
    assert all("if x > m" not in _function_code(carving, t.function) for t in carving.tools)


def test_the_split_rung_keeps_each_step_of_a_chain_a_tool_of_its_own() -> None:
    source = "def solve(decimal):\n    return 'db' + bin(decimal)[2:] + 'db'\n"
    fine = _carve(source, ["decimal"])
    split = _carve(source, ["decimal"], "split")
    assert len(fine.tools) == 2  # bin(..)[2:] is one step, 'db' + .. + 'db' the other
    assert len(split.tools) > len(fine.tools)  # the finer rung, tried when fine misses the filters
    assert _run(split, {"decimal": 5})[0] == _run(fine, {"decimal": 5})[0] == "db101db"
