"""Nested functions of the entry point as tools (closure variables as leading parameters)."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from ._analysis import FunctionFacts, SolutionFacts, walk
from ._carve_common import Namer, PendingTool
from ._carve_inline import calls_any
from ._describe_text import function_description
from ._segments import SegmentContext

__all__ = ["basic_ok", "nested_helper_tools", "returning", "write_back_source"]


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
    write_back: str | None = None
    for name in sorted(facts.nested):
        f = facts.nested[name]
        if not basic_ok(f) or (calls_any(f.node.body, helpers) and calls_any(f.node.body, [name])):
            continue  # a recursion over helper tools stays plan code that calls the tools
        free: list[str] = []
        for r in index.reads(f.node.body):
            if r != name and r not in ctx.available and r not in free:
                free.append(r)
        changed: list[str] = []
        if name in hoisted:
            fname, node = name, f.node
        else:
            changed = [v for v in free if v in set(index.mutated(f.node.body))]
            if (
                f.decorators
                or any(r in ctx.opaque for r in free)
                or (changed and calls_any(f.node.body, [name]))
            ):
                continue
            made = _closure(f, free, changed, facts, namer)
            if made is None:
                continue  # refers to itself other than by calling itself
            fname, node = made
            if changed:
                write_back = write_back or namer.unique("write_back")
        assert isinstance(node, cst.FunctionDef)
        desc = f.doc or function_description(cst.Module(body=[f.node]).code, name, [p.name for p in f.params])
        if changed:
            desc += f"\nIt changes {', '.join(changed)}: the reply is [its result, {', '.join(changed)} after the change]."
        out[name] = PendingTool(
            namer.claim(name),
            "helper",
            desc,
            fname,
            [*free, *(p.name for p in f.params)],
            node=node,
            helper=f,
            free=free,
            changed=changed,
            write_back=write_back if changed else None,
        )
    return out


def _closure(
    f: FunctionFacts, free: list[str], changed: list[str], facts: SolutionFacts, namer: Namer
) -> tuple[str, cst.FunctionDef] | None:
    """The tool function of closure ``f``: its closure variables ``free`` as leading parameters,
    the ``changed`` ones returned after its result; None when it refers to itself other than by
    calling itself."""
    name = f.name
    own = [n for n in walk(f.node.body) if isinstance(n, cst.Name) and n.value == name]
    calls = [n.func for n in walk(f.node.body) if isinstance(n, cst.Call) and isinstance(n.func, cst.Name)]
    if len(own) != sum(1 for c in calls if c.value == name):
        return None
    fname = name if name not in facts.module_names else namer.unique(f"{name}_tool")
    params = f.node.params.with_changes(
        params=[cst.Param(cst.Name(v)) for v in free] + list(f.node.params.params)
    )
    fbody = f.node.body.visit(_Recursion(name, fname, free))
    if changed:  # the closure's values it changes come back after its result
        fbody = returning(cst.ensure_type(fbody, cst.IndentedBlock), changed)
    return fname, f.node.with_changes(name=cst.Name(fname), params=params, body=fbody, leading_lines=[])


class _Recursion(cst.CSTTransformer):
    """Recursive calls of a hoisted closure pass its closure variables along."""

    def __init__(self, name: str, fname: str, free: list[str]) -> None:
        super().__init__()
        self.name, self.fname, self.free = name, fname, free

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if isinstance(updated_node.func, cst.Name) and updated_node.func.value == self.name:
            extra = [cst.Arg(cst.Name(v)) for v in self.free]  # the leading parameters
            return updated_node.with_changes(func=cst.Name(self.fname), args=[*extra, *updated_node.args])
        return updated_node


def returning(body: cst.IndentedBlock, changed: list[str]) -> cst.IndentedBlock:
    """``body`` returning ``(result, *changed)`` at each of its returns and at its end."""
    new = body.visit(_Returns(changed))
    assert isinstance(new, cst.IndentedBlock)
    last = new.body[-1] if new.body else None
    if isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return):
        return new  # it never runs off its end
    end = cst.parse_statement(f"return (None, {', '.join(changed)})\n")
    return new.with_changes(body=[*new.body, end])


class _Returns(cst.CSTTransformer):
    def __init__(self, changed: list[str]) -> None:
        super().__init__()
        self.changed = changed

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        value = updated_node.value or cst.Name("None")
        items = [cst.Element(value), *(cst.Element(cst.Name(v)) for v in self.changed)]
        return updated_node.with_changes(
            value=cst.Tuple(items), whitespace_after_return=cst.SimpleWhitespace(" ")
        )


def write_back_source(name: str) -> str:
    """The oracle's ``name(reply, *targets)``: copy a tool's changed values back into the plan's
    own objects (in place, as the reference changed them), then give the tool's result."""
    return (
        f"def {name}(reply, *targets):\n"
        "    for target, value in zip(targets, reply[1:]):\n"
        "        if isinstance(target, (dict, set)):\n"
        "            target.clear()\n"
        "            target.update(value)\n"
        "        else:\n"
        "            target[:] = value\n"
        "    return reply[0]\n"
    )
