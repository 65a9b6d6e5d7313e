"""Plan steps before a statement: a loop's iterable, a returned or assigned call chain, a comprehension's source.

Functions over the :class:`~._carve_plan.PlanRewriter` (they register tools through it).
"""

from __future__ import annotations

import ast
import textwrap
from typing import TYPE_CHECKING

import libcst as cst

from ._analysis import walk
from ._carve_rules import plain_if
from ._decompose import Step, decompose_iter, decompose_value
from ._operations import operation_count

if TYPE_CHECKING:
    from ._carve_plan import PlanRewriter

__all__ = ["decomposable", "decomposed_iter", "decomposed_return", "fused_if"]

_COMPS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def decomposed_iter(
    plan: PlanRewriter, loop: cst.For, bound: frozenset[str]
) -> tuple[list[cst.BaseStatement], cst.BaseExpression | None]:
    """``for i in range(len(s))`` -> ``len_s = tools.compute_len_s()`` before the loop."""
    if not plan.segments:
        return [], None
    found = decompose_iter(
        plan.facts,
        plan.ctx,
        loop.iter,
        bound=bound,
        unique=plan.unique,
        is_tool_call=plan.calls_tool,
        fold=not plan.split,
    )
    if found is None:
        return [], None
    steps, new_iter = found
    pre: list[cst.BaseStatement] = []
    for step in steps:
        assert step.tool is not None and step.target is not None
        call = plan.call_tool(step.tool, plan.name_args(step.params))
        pre.append(
            cst.SimpleStatementLine(
                [cst.Assign(targets=[cst.AssignTarget(cst.Name(step.target))], value=call)],
                leading_lines=loop.leading_lines if not pre else [],
            )
        )
    return pre, new_iter


def decomposed_return(
    plan: PlanRewriter, stmt: cst.BaseStatement, bound: frozenset[str]
) -> list[cst.BaseStatement] | None:
    """``return f(g(x))`` -> ``g_x = tools.compute_g_x(..)``; ``return tools.compute_f(..)``."""
    value = _single_value(stmt) if plan.segments else None
    if value is None:
        return None
    assert isinstance(stmt, cst.SimpleStatementLine)
    ret = stmt.body[0]
    before = dict(plan.tools)
    steps = decompose_value(
        plan.facts,
        plan.ctx,
        value,
        bound=bound,
        unique=plan.unique,
        is_tool_call=plan.calls_tool,
        fold=not plan.split,
    )
    if steps is None:
        plan.tools = before  # comprehension parts registered on the way are dropped again
        steps = _comprehension_source(plan, value, bound)
        if steps is None:
            return None
    out: list[cst.BaseStatement] = []
    for k, step in enumerate(steps):
        call: cst.BaseExpression
        if step.tool is None:
            assert step.plan_value is not None
            call = plan.expressions(step.plan_value, bound) if step.rewrite else step.plan_value
        else:
            call = plan.call_tool(step.tool, plan.name_args(step.params))
        if step.target is None:
            new_ret = ret.with_changes(value=call)
            if isinstance(new_ret, cst.Return):
                new_ret = new_ret.with_changes(whitespace_after_return=cst.SimpleWhitespace(" "))
            out.append(stmt.with_changes(body=[new_ret], leading_lines=stmt.leading_lines if k == 0 else []))
        else:
            line = cst.SimpleStatementLine(
                [cst.Assign(targets=[cst.AssignTarget(cst.Name(step.target))], value=call)],
                leading_lines=stmt.leading_lines if k == 0 else [],
            )
            out.append(line)
    return out


def fused_if(
    plan: PlanRewriter, stmt: cst.BaseStatement, bound: frozenset[str], in_loop: bool
) -> list[cst.BaseStatement] | None:
    """``if b == "<": depth += 1`` / ``else: depth -= 1`` in a loop -> ``depth = tools.update_depth(..)``.

    An ``if`` of a loop body whose branches only assign is one tool, its condition fused with the
    update it guards, when together they do more than one operation; otherwise (or when it cannot
    be a segment) its condition is a check tool and its branches stay plan code.
    """
    if not (in_loop and plan.segments and not (plan.coarse or plan.split) and plain_if(stmt)):
        return None
    if plan.calls_tool(stmt):
        return None
    try:
        tree = ast.parse(textwrap.dedent(plan._code(stmt)))
    except SyntaxError:
        return None
    if operation_count(ast.walk(tree)) < 2:
        return None
    made = plan._statement_segment([stmt], bound, in_loop, None)
    return [made] if made is not None else None


def _comprehension_source(
    plan: PlanRewriter, value: cst.BaseExpression, bound: frozenset[str]
) -> list[Step] | None:
    """``[f(x) for x in s.split()]``: the iterable's steps first, then the comprehension (parts as tools)."""
    if plan.coarse or not isinstance(value, (cst.ListComp, cst.SetComp, cst.DictComp)):
        return None
    found = decompose_iter(
        plan.facts,
        plan.ctx,
        value.for_in.iter,
        bound=bound,
        unique=plan.unique,
        is_tool_call=plan.calls_tool,
        fold=not plan.split,
    )
    if found is None:
        return None
    steps, new_iter = found
    comp = value.with_changes(for_in=value.for_in.with_changes(iter=new_iter))
    return [*steps, Step(None, [], None, comp, rewrite=True)]


def decomposable(plan: PlanRewriter, stmt: cst.BaseStatement, bound: frozenset[str]) -> bool:
    """A lone assignment whose value is a call chain or feeds a comprehension to a call."""
    value = _single_value(stmt) if plan.segments and not plan.coarse else None
    if value is None or not isinstance(stmt, cst.SimpleStatementLine):
        return False
    if isinstance(value, (cst.ListComp, cst.SetComp)):  # per-element tools beat one for the whole list
        parts = [value.elt, *(i.test for f in _comp_fors(value.for_in) for i in f.ifs)]
        return any(plan.expr_params(e, bound) is not None for e in parts)
    if (
        not any(isinstance(n, _COMPS) for n in walk(value))
        and sum(1 for n in walk(value) if isinstance(n, (cst.Call, cst.BinaryOperation, cst.Subscript))) < 2
    ):
        return False
    before = dict(plan.tools)
    probe = decompose_value(
        plan.facts,
        plan.ctx,
        value,
        bound=bound,
        unique=lambda b: b,
        is_tool_call=plan.calls_tool,
        fold=not plan.split,
    )
    plan.tools = before
    return probe is not None


def _comp_fors(first: cst.CompFor) -> list[cst.CompFor]:
    out = [first]
    while out[-1].inner_for_in is not None:
        inner = out[-1].inner_for_in
        assert inner is not None
        out.append(inner)
    return out


def _single_value(stmt: cst.BaseStatement) -> cst.BaseExpression | None:
    """The value of ``return v`` or ``name = v`` alone on its line."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    small = stmt.body[0]
    if isinstance(small, cst.Return):
        return small.value
    if (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
    ):
        return small.value
    return None
