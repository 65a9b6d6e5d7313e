"""Nested functions of the entry point as tools (closure variables as leading parameters)."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from ._analysis import FunctionFacts, SolutionFacts, walk
from ._carve_common import Namer, PendingTool
from ._carve_inline import calls_any
from ._describe_text import function_description
from ._segments import SegmentContext

__all__ = ["basic_ok", "nested_helper_tools"]


def basic_ok(f: FunctionFacts) -> bool:
    """Plain parameters, no generator, no changed parameter, no global/nonlocal."""
    if not f.simple_params or f.is_generator or f.mutated_params:
        return False
    return not any(isinstance(n, (cst.Global, cst.Nonlocal)) for n in walk(f.node.body))


def nested_helper_tools(
    facts: SolutionFacts,
    ctx: SegmentContext,
    hoisted: set[str],
    namer: Namer,
    helper_tools: Mapping[str, FunctionFacts],
) -> dict[str, PendingTool]:
    """The nested functions of the entry point offered as tools, their closure variables as
    leading parameters. A recursive function that calls a helper tool stays plan code (the plan
    then calls the helper tools), not one tool doing the whole recursion."""
    index = facts.index
    out: dict[str, PendingTool] = {}
    helpers = frozenset(helper_tools)
    for name in sorted(facts.nested):
        f = facts.nested[name]
        if not basic_ok(f) or (calls_any(f.node.body, helpers) and calls_any(f.node.body, [name])):
            continue  # a recursion over helper tools stays plan code that calls the tools
        free: list[str] = []
        for r in index.reads(f.node.body):
            if r != name and r not in ctx.available and r not in free:
                free.append(r)
        if name in hoisted:
            fname, node = name, f.node
        else:
            if (
                f.decorators
                or any(r in ctx.opaque for r in free)
                or set(free) & set(index.mutated(f.node.body))
            ):
                continue
            own = [n for n in walk(f.node.body) if isinstance(n, cst.Name) and n.value == name]
            calls = [
                n.func for n in walk(f.node.body) if isinstance(n, cst.Call) and isinstance(n.func, cst.Name)
            ]
            if len(own) != sum(1 for c in calls if c.value == name):
                continue  # refers to itself other than by calling itself
            fname = name if name not in facts.module_names else namer.unique(f"{name}_tool")
            params = f.node.params.with_changes(
                params=[cst.Param(cst.Name(v)) for v in free] + list(f.node.params.params)
            )
            fbody = f.node.body.visit(_Recursion(name, fname, free))
            node = f.node.with_changes(name=cst.Name(fname), params=params, body=fbody, leading_lines=[])
        assert isinstance(node, cst.FunctionDef)
        desc = f.doc or function_description(cst.Module(body=[f.node]).code, name, [p.name for p in f.params])
        out[name] = PendingTool(
            namer.claim(name),
            "helper",
            desc,
            fname,
            [*free, *(p.name for p in f.params)],
            node=node,
            helper=f,
            free=free,
        )
    return out


class _Recursion(cst.CSTTransformer):
    """Recursive calls of a hoisted closure pass its closure variables along."""

    def __init__(self, name: str, fname: str, free: list[str]) -> None:
        super().__init__()
        self.name, self.fname, self.free = name, fname, free

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if isinstance(updated_node.func, cst.Name) and updated_node.func.value == self.name:
            extra = [cst.Arg(cst.Name(v), keyword=cst.Name(v), equal=_EQ) for v in self.free]
            return updated_node.with_changes(func=cst.Name(self.fname), args=[*updated_node.args, *extra])
        return updated_node


_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
