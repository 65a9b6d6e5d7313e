"""Statement segments and helper calls as tools of the plan rewrite.

Functions over the :class:`~._carve_plan.PlanRewriter` (they register tools through it): a run
of statements or a loop body becomes a segment tool (or a stateful step whose loop-carried
values live in the episode state); a call of a solution helper becomes a call of its tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import libcst as cst

from ._analysis import walk
from ._carve_common import PendingTool
from ._carve_rules import read_code, segment_name
from ._carve_state import stateful_step
from ._describe import statement_name
from ._describe_text import function_description, segment_description
from ._segments import segment_interface

if TYPE_CHECKING:
    from ._carve_plan import PlanRewriter

__all__ = ["helper_call", "statement_segment"]


def statement_segment(
    plan: PlanRewriter,
    body: Sequence[cst.BaseStatement],
    bound: frozenset[str],
    in_loop: bool,
    loop: cst.For | cst.While | None,
    *,
    whole: cst.For | cst.While | None = None,
    inits: dict[str, cst.BaseExpression] | None = None,
) -> cst.SimpleStatementLine | None:
    """A run of statements or a loop body as a segment tool: the assignment of its call (None: not carvable)."""
    own = frozenset(plan.facts.index.writes(whole.target)) if isinstance(whole, cst.For) else frozenset()
    iface = segment_interface(plan.ctx, body, bound=bound, in_loop=in_loop, own=own)
    if isinstance(iface, str):
        return None
    rets = iface.returns
    reading = None if loop or whole else statement_name("".join(plan._code(s) for s in body))
    name = plan.unique(reading or segment_name(plan._code, rets, loop, whole))
    ret_value: cst.BaseExpression = (
        cst.Name(rets[0]) if len(rets) == 1 else cst.Tuple([cst.Element(cst.Name(r)) for r in rets])
    )
    kept = _kept_state(plan, rets, inits)
    if kept is not None:  # the loop's values live in the episode state, not in the arguments
        return _stateful_segment(plan, name, body, iface.params, rets, kept, loop)
    fn = plan._segment_fn(name, iface.params, [*body, cst.SimpleStatementLine([cst.Return(value=ret_value)])])
    if whole is not None:
        head = "run the whole loop"
    elif isinstance(loop, cst.For):
        head = f"one step of the loop over {read_code(plan._code(loop.iter))} with {plan._code(loop.target)}"
    elif isinstance(loop, cst.While):
        head = f"one step of the loop while {read_code(plan._code(loop.test))}"
    else:
        head = f"update {', '.join(rets)}"
    items = plan.facts.index.writes(loop.target) if isinstance(loop, cst.For) else set()
    desc = segment_description(cst.Module(body=[fn]).code, iface.params, rets, head, items=sorted(items))
    tool = PendingTool(name, "segment", desc, name, iface.params, rets, node=fn)
    call = plan.call_tool(tool, plan.name_args(iface.params))
    target: cst.BaseAssignTargetExpression = (
        cst.Name(rets[0])
        if len(rets) == 1
        else cst.Tuple([cst.Element(cst.Name(r)) for r in rets], lpar=[], rpar=[])
    )
    return cst.SimpleStatementLine([cst.Assign(targets=[cst.AssignTarget(target)], value=call)])


def _kept_state(
    plan: PlanRewriter, rets: list[str], inits: dict[str, cst.BaseExpression] | None
) -> dict[str, cst.BaseExpression] | None:
    """The loop-carried values a stateful step keeps, when each starts from a literal just before a
    loop that runs once per episode (not in another loop, not in a recursive entry)."""
    if (
        not inits
        or not rets
        or any(r not in inits for r in rets)
        or plan.facts.entry.name
        in {n.value for n in walk(plan.facts.entry.node.body) if isinstance(n, cst.Name)}
    ):
        return None
    return {r: inits[r] for r in rets}


def _stateful_segment(
    plan: PlanRewriter,
    name: str,
    body: Sequence[cst.BaseStatement],
    params: list[str],
    rets: list[str],
    kept: dict[str, cst.BaseExpression],
    loop: cst.For | cst.While | None,
) -> cst.SimpleStatementLine:
    tool, args = stateful_step(plan, name, body, params, rets, kept, loop)
    call = plan.call_tool(tool, args)
    target: cst.BaseAssignTargetExpression = (
        cst.Name(rets[0])
        if len(rets) == 1
        else cst.Tuple([cst.Element(cst.Name(r)) for r in rets], lpar=[], rpar=[])
    )
    return cst.SimpleStatementLine([cst.Assign(targets=[cst.AssignTarget(target)], value=call)])


def helper_call(plan: PlanRewriter, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
    """A call of a solution helper as a call of its tool (``updated`` as is when it cannot be one)."""
    assert isinstance(original.func, cst.Name)
    target = plan._tool_for(original.func)
    if target is None or any(a.star for a in original.args):
        return updated
    if isinstance(target, PendingTool):
        facts = target.helper
        assert facts is not None
        tool = target
    else:
        facts = target
        tool = plan._helpers.get(facts.name) or PendingTool(
            plan.claim(facts.name),
            "helper",
            facts.doc
            or function_description(
                cst.Module(body=[facts.node]).code, facts.name, [p.name for p in facts.params]
            ),
            facts.name,
            [p.name for p in facts.params],
            helper=facts,
        )
    plan._helpers[facts.name] = tool
    names = [p.name for p in facts.params]
    given: dict[str, tuple[cst.BaseExpression, str | None]] = {}
    for k, (orig, new) in enumerate(zip(original.args, updated.args, strict=True)):
        pname = orig.keyword.value if orig.keyword is not None else (names[k] if k < len(names) else None)
        if pname is None or pname not in names:
            return updated
        if isinstance(orig.value, cst.Name) and orig.value.value in plan.ctx.opaque:
            return updated
        entry = (
            orig.value.value
            if isinstance(orig.value, cst.Name) and plan.facts.index.is_local_load(orig.value)
            else None
        )
        given[pname] = (new.value, entry)
    args: list[tuple[str, cst.BaseExpression, str | None]] = [(v, cst.Name(v), v) for v in tool.free]
    for p in facts.params:
        if p.name in given:
            args.append((p.name, *given[p.name]))
        elif p.default is not None:
            args.append((p.name, p.default, None))
        else:
            return updated
    call = plan.call_tool(tool, args)
    if tool.write_back is not None:  # the tool changed closure values: copy them back in place
        back = [cst.Arg(cst.Name(v)) for v in tool.changed]
        return cst.Call(
            cst.Name(tool.write_back), [cst.Arg(call), *back], lpar=updated.lpar, rpar=updated.rpar
        )
    return call.with_changes(lpar=updated.lpar, rpar=updated.rpar)
