"""An in-place reference as the entry point itself: its body, then ``return <argument>``.

The adapter of ``_adapters`` answers for a function that changes an argument (``sort(arr)``
returning None) by calling it and returning the argument: the work then sits in a helper the
adapter calls, out of the carving's reach when that helper changes its argument. Here the entry
point ``codegym_<target>`` is the reference's own body, each bare ``return`` of it turned into
``return <argument>`` and the same at its end, so the carving sees the loops and the nested
functions of the reference. Node arguments are left to the adapter.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from ...schemas import Problem
from ._adapters import ADAPTER_PREFIX

__all__ = ["inplace_problem"]


def inplace_problem(
    problem: Problem, target: str, params: Sequence[tuple[str, str]], in_place: str
) -> Problem | str:
    """The problem with entry ``codegym_<target>``: ``target``'s body returning ``in_place``, or why not."""
    if in_place not in [p for p, _ in params]:
        return f"{in_place!r} is not a parameter of {target}"
    try:
        module = cst.parse_module(problem.solution)
    except cst.ParserSyntaxError as exc:
        return f"the solution does not parse: {exc.message}"
    fn = next((s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == target), None)
    if fn is None or not isinstance(fn.body, cst.IndentedBlock):
        return f"no top-level function {target!r} with a block body"
    if any(isinstance(n, (cst.Yield, cst.Global, cst.Nonlocal)) for n in _own(fn.body)):
        return f"{target} yields or declares global/nonlocal names"
    body = fn.body.visit(_Returns(in_place))
    assert isinstance(body, cst.IndentedBlock)
    end = cst.parse_statement(f"return {in_place}\n")
    entry = ADAPTER_PREFIX + target
    new = fn.with_changes(
        name=cst.Name(entry),
        body=body.with_changes(body=[*body.body, end]),
        returns=None,
        decorators=[],
        leading_lines=[],
    )
    code = cst.Module(body=[new]).code
    solution = (
        problem.solution.rstrip()
        + f"\n\n\n# ---- codegym: {target} answering with {in_place} after its changes (generated) ----\n"
        + code
    )
    return problem.model_copy(update={"solution": solution, "entry_point": entry})


def _own(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes of ``node`` outside nested functions, classes and lambdas."""
    out: list[cst.CSTNode] = []
    for child in node.children:
        if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        out.append(child)
        out.extend(_own(child))
    return out


class _Returns(cst.CSTTransformer):
    """``return`` (of the function itself, not of a nested one) -> ``return <argument>``."""

    def __init__(self, in_place: str) -> None:
        super().__init__()
        self.in_place = in_place

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        if updated_node.value is None or (
            isinstance(updated_node.value, cst.Name) and updated_node.value.value == "None"
        ):
            return updated_node.with_changes(
                value=cst.Name(self.in_place), whitespace_after_return=cst.SimpleWhitespace(" ")
            )
        return updated_node
