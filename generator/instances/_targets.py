"""What a problem's tests drive: the entry point, or the class (or function) they use.

Read statically with ``ast`` (nothing runs on the host). For problems whose dataset names no
entry point (KodCode's class-based rows), :func:`resolve_target` picks the function or class
of the solution the tests use; :func:`recording_tests` removes the tests' own copies of the
reference's definitions, so that the tests call the reference.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from ...schemas import Problem

__all__ = ["Target", "TargetKind", "recording_tests", "resolve_target"]

TargetKind = Literal["function", "class"]


@dataclass(frozen=True)
class Target:
    """What the tests drive: a function (entry point) or a class (design problem)."""

    kind: TargetKind
    name: str


_CLASS_MENTION = re.compile(r"\bclass\s+`?(\w+)`?|`(\w+)`\s+class\b")


def resolve_target(problem: Problem) -> Target | str:
    """What the tests drive, or the reason no target can be found (a rejection reason).

    With an entry point: that function (or class, if the solution defines a class of that
    name). Without one: the function of the solution the tests use most, else its class the
    question calls a class, else the class the tests use most (the last defined on a tie: node
    helper classes come first).
    """
    try:
        solution = ast.parse(problem.solution)
    except SyntaxError as exc:
        return f"the solution is not valid Python: {exc.msg} (line {exc.lineno})"
    classes = [n.name for n in solution.body if isinstance(n, ast.ClassDef)]
    functions = [n.name for n in solution.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    try:
        tests = ast.parse(recording_tests(problem)[0])
    except SyntaxError as exc:
        return f"the tests are not valid Python: {exc.msg} (line {exc.lineno})"
    shadowed = {
        n.name for n in tests.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    if problem.entry_point is not None:
        if problem.test_style == "pytest" and problem.entry_point in shadowed:
            return (
                f"the tests define their own {problem.entry_point!r}, so they never call the reference: "
                "remove that definition from the tests"
            )
        if problem.entry_point in classes:
            return Target("class", problem.entry_point)
        return Target("function", problem.entry_point)
    refs: dict[str, int] = {}
    for node in ast.walk(tests):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            refs[node.id] = refs.get(node.id, 0) + 1
    used_classes = [c for c in classes if refs.get(c) and c not in shadowed]
    used_functions = [f for f in functions if refs.get(f) and f not in shadowed]
    if used_functions:
        return Target("function", max(used_functions, key=lambda f: (refs[f], -functions.index(f))))
    if used_classes:
        mentioned = {a or b for a, b in _CLASS_MENTION.findall(problem.question)}
        return Target("class", max(used_classes, key=lambda c: (c in mentioned, refs[c], classes.index(c))))
    defined = ", ".join(classes + functions) or "nothing"
    return (
        f"the tests call nothing the solution defines (it defines {defined}); "
        "give the row an entry point the tests call"
    )


def recording_tests(problem: Problem) -> tuple[str, list[str]]:
    """The tests as the harness runs them, and the names of the definitions removed from them.

    Some KodCode test files paste the reference's own functions or classes above the tests
    (``def quick_sort_in_place(arr): ...`` after ``from solution import *``), so the tests
    would call their copy and never the reference. A top-level ``def``/``class`` of the tests
    whose name the solution also defines at top level is removed (pytest style only).
    """
    if problem.test_style != "pytest":
        return problem.tests, []
    try:
        solution = ast.parse(problem.solution)
        tests = ast.parse(problem.tests)
    except SyntaxError:
        return problem.tests, []
    defined = {
        n.name for n in solution.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    lines = problem.tests.splitlines(keepends=True)
    removed: list[str] = []
    for node in reversed(tests.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in defined:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            lines[start:end] = []
            removed.append(node.name)
    return "".join(lines), sorted(removed)
