"""Split a returned call chain into one tool per step: ``len(set(s.lower()))`` -> three tools.

Only pure chains are split (no comprehension, lambda, short-circuit operator, conditional
expression, helper call or in-place mutation anywhere in the value), so the order and the
number of evaluations stay exactly the original's. Each step's value lands in a fresh plan
variable that the next step takes as a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import libcst as cst

from ._analysis import MUTATING_FUNCS, MUTATOR_METHODS, OPAQUE_CALLS, SolutionFacts, callee_name, walk
from ._carve_common import PendingTool
from ._carve_rules import single_operation
from ._describe import expr_name, temp_name
from ._describe_text import expr_description
from ._segments import SegmentContext

__all__ = ["Step", "decompose_iter", "decompose_value"]

_COMPS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_BARRIERS = (
    cst.Lambda,
    *_COMPS,
    cst.BooleanOperation,
    cst.IfExp,
    cst.NamedExpr,
    cst.Yield,
    cst.Await,
    cst.StarredElement,
    cst.StarredDictElement,
)


_INPUTS: ContextVar[frozenset[str]] = ContextVar("_INPUTS", default=frozenset())
"""The entry's parameters, while a value is decomposed (``len`` of one of them is no step)."""


_ENTRY: ContextVar[str] = ContextVar("_ENTRY", default="")

_FOLD: ContextVar[bool] = ContextVar("_FOLD", default=True)
"""Whether single-operator steps fold into the step that uses them (not at granularity ``split``)."""


@contextmanager
def _inputs(facts: SolutionFacts, fold: bool) -> Iterator[None]:
    token = _INPUTS.set(frozenset(p.name for p in facts.entry.params))
    entry = _ENTRY.set(facts.entry.name)
    folding = _FOLD.set(fold)
    try:
        yield
    finally:
        _FOLD.reset(folding)
        _ENTRY.reset(entry)
        _INPUTS.reset(token)


@dataclass
class Step:
    """One carved step: the tool, its parameters (plan names) and the plan variable it fills."""

    tool: PendingTool | None  # None: an expression the plan evaluates itself (``plan_value``)
    params: list[str]
    target: str | None  # None: the last step, the returned value
    plan_value: cst.BaseExpression | None = None
    rewrite: bool = False  # plan_value still needs the plan's expression pass (done in call order)


@dataclass
class _State:
    steps: list[Step] = field(default_factory=list)
    failed: str | None = None


_CONVERSIONS = frozenset({"list", "tuple", "dict", "int", "float", "str", "bool"})
"""Type conversions: part of the step that consumes (or makes) the value, never a step alone."""


def _is_point(node: cst.CSTNode) -> bool:
    """A step of its own: a call, or an operator or subscript over a call's value. A bare ``n + 1``,
    ``xs[0]`` or ``len(xs)`` of an input is not worth a tool: it stays inside the step that uses it, or in the plan."""
    if isinstance(node, cst.Call):
        name = callee_name(node)
        if name == _ENTRY.get():
            return False  # a call of the entry itself: a tool would answer for any input
        arg = node.args[0].value if len(node.args) == 1 else None
        if name == "len" and isinstance(arg, cst.Name) and arg.value in _INPUTS.get():
            return False  # the length of an input: observe shows it
        if name in _CONVERSIONS:
            return False  # ``list(xs)``, ``int(r)``: no work worth a tool of its own (its inner steps are)
        return name not in OPAQUE_CALLS and name not in MUTATOR_METHODS and name not in MUTATING_FUNCS
    if isinstance(node, (cst.BinaryOperation, cst.Subscript)):
        return any(isinstance(n, cst.Call) and _is_point(n) for n in walk(node))
    return False


def _own_step(node: cst.CSTNode) -> bool:
    """A point that stays a step of its own. A point inside another that is one single operator once
    its own steps are named (``bin(n)`` in ``bin(n)[2:]``, ``m + 1`` in ``[0] * (max(xs) + 1)``) is
    folded into the step that uses it: a tool of one operator is plan code, not a tool worth calling."""
    return _is_point(node) and not (_FOLD.get() and single_operation(_steps_named(node)))


def _steps_named(node: cst.CSTNode) -> cst.BaseExpression:
    """``node`` with each step of its own inside it replaced by a name (what the step's tool computes)."""

    class _Named(cst.CSTTransformer):
        def on_visit(self, n: cst.CSTNode) -> bool:
            return n is node or not (isinstance(n, cst.BaseExpression) and _own_step(n))

        def on_leave(  # type: ignore[override]
            self, original_node: cst.CSTNode, updated_node: cst.CSTNode
        ) -> cst.CSTNode:
            if (
                original_node is not node
                and isinstance(original_node, cst.BaseExpression)
                and _own_step(original_node)
            ):
                return cst.Name("step")
            return updated_node

    named = node.visit(_Named())
    assert isinstance(named, cst.BaseExpression)
    return named


def decompose_value(
    facts: SolutionFacts,
    ctx: SegmentContext,
    value: cst.BaseExpression,
    *,
    bound: frozenset[str],
    unique: Callable[[str], str],
    is_tool_call: Callable[[cst.CSTNode], bool],
    fold: bool = True,
) -> list[Step] | None:
    """The steps of ``value`` (at least two), or None when it is not a pure chain worth splitting.

    A comprehension passed as an argument stays in the plan (the plan's expression pass rewrites it, so its
    element and filter become tools); its list then feeds the step that consumes it. ``fold``: a
    single-operator step folds into the step that uses it (:func:`_own_step`).
    """
    with _inputs(facts, fold):
        return _decompose_value(facts, ctx, value, bound=bound, unique=unique, is_tool_call=is_tool_call)


def _decompose_value(
    facts: SolutionFacts,
    ctx: SegmentContext,
    value: cst.BaseExpression,
    *,
    bound: frozenset[str],
    unique: Callable[[str], str],
    is_tool_call: Callable[[cst.CSTNode], bool],
) -> list[Step] | None:
    """:func:`decompose_value`'s body, run with the solution's inputs in scope."""
    comps = _hoistable_comps(value)
    if any(isinstance(n, _BARRIERS) for n in _walk_outside(value, comps)) or is_tool_call(value):
        return None
    points = sum(1 for n in _walk_outside(value, comps) if _own_step(n))
    if ctx.index.mutated(value) or points + len(comps) < 2 or not points:
        return None
    state = _State()
    replaced = _split(facts, ctx, value, bound, unique, state, root=True, comps=comps)
    if state.failed or replaced is None or len(state.steps) < 2:
        return None
    if not _own_step(value):  # the root stays in the plan, e.g. ``set(a) == set(b)``, ``n - total``
        state.steps.append(Step(None, [], None, replaced))
    return state.steps


def decompose_iter(
    facts: SolutionFacts,
    ctx: SegmentContext,
    value: cst.BaseExpression,
    *,
    bound: frozenset[str],
    unique: Callable[[str], str],
    is_tool_call: Callable[[cst.CSTNode], bool],
    fold: bool = True,
) -> tuple[list[Step], cst.BaseExpression] | None:
    """Steps computing a loop's iterable (``range(len(s.split()))`` -> ``parts = tools.compute_split_s()``)."""
    with _inputs(facts, fold):
        return _decompose_iter(facts, ctx, value, bound=bound, unique=unique, is_tool_call=is_tool_call)


def _decompose_iter(
    facts: SolutionFacts,
    ctx: SegmentContext,
    value: cst.BaseExpression,
    *,
    bound: frozenset[str],
    unique: Callable[[str], str],
    is_tool_call: Callable[[cst.CSTNode], bool],
) -> tuple[list[Step], cst.BaseExpression] | None:
    if any(isinstance(n, _BARRIERS) for n in walk(value)) or is_tool_call(value) or ctx.index.mutated(value):
        return None
    if not any(_is_point(n) for n in walk(value)):
        return None
    state = _State()
    new = _split(facts, ctx, value, bound, unique, state, root=not _is_point(value), comps=[])
    if state.failed or new is None or not state.steps:
        return None
    return state.steps, new


def _hoistable_comps(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Comprehensions that are arguments of a call inside ``value`` (not nested in another one)."""
    out: list[cst.BaseExpression] = []
    stack: list[cst.CSTNode] = [value]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Call) and _is_point(cur):
            for arg in cur.args:
                if isinstance(arg.value, _COMPS) and arg.keyword is None and not arg.star:
                    if isinstance(arg.value, cst.GeneratorExp) and len(cur.args) != 1:
                        continue
                    out.append(arg.value)
        if isinstance(cur, (*_COMPS, cst.Lambda)):
            continue
        stack.extend(cur.children)
    return out


def _walk_outside(node: cst.CSTNode, skip: list[cst.BaseExpression]) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        if any(cur is s for s in skip):
            continue
        out.append(cur)
        stack.extend(cur.children)
    return out


def _split(
    facts: SolutionFacts,
    ctx: SegmentContext,
    node: cst.BaseExpression,
    bound: frozenset[str],
    unique: Callable[[str], str],
    state: _State,
    *,
    root: bool = False,
    comps: list[cst.BaseExpression],
) -> cst.BaseExpression | None:
    """Replace carved sub-steps of ``node`` by plan variables; returns the rewritten node."""
    temps: list[str] = []

    def _sub() -> _Substeps:
        return _Substeps(facts, ctx, node, bound, unique, state, comps, temps)

    if not (_own_step(node) if root else _is_point(node)):
        if not root:
            return node
        kept = node.visit(_sub())  # the root stays in the plan (``range(..)``); its sub-steps do not
        assert isinstance(kept, cst.BaseExpression)
        return None if state.failed else kept
    rewritten = node.visit(_sub())
    assert isinstance(rewritten, cst.BaseExpression)
    if state.failed:
        return None
    params: list[str] = []
    children = _point_children(node)
    for n in _walk_outside(node, comps):
        if (
            isinstance(n, cst.Name)
            and ctx.index.is_local_load(n)
            and n.value not in params
            and not any(_contains(c, n) for c in children)
        ):
            params.append(n.value)
    if any(p in ctx.opaque or p not in bound for p in params if p not in ctx.available):
        state.failed = "reads a name that is unbound or cannot cross JSON"
        return None
    params = [p for p in params if p not in ctx.available] + temps
    short = facts.module.code_for_node(rewritten)
    name = unique(expr_name(short, "compute", params))
    fn = cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in params]),
        body=cst.IndentedBlock(
            body=[cst.SimpleStatementLine([cst.Return(value=rewritten.with_changes(lpar=[], rpar=[]))])]
        ),
    )
    tool = PendingTool(name, "segment", expr_description(short, params, check=False), name, params, node=fn)
    target = None if root else unique(temp_name(short))
    state.steps.append(Step(tool, params, target))
    return cst.Name(target) if target else rewritten


class _Substeps(cst.CSTTransformer):
    """Replaces the comprehensions and carved sub-steps inside ``node`` by plan variables (``temps``)."""

    def __init__(
        self,
        facts: SolutionFacts,
        ctx: SegmentContext,
        node: cst.BaseExpression,
        bound: frozenset[str],
        unique: Callable[[str], str],
        state: _State,
        comps: list[cst.BaseExpression],
        temps: list[str],
    ) -> None:
        super().__init__()
        self.depth = 0
        self.facts, self.ctx, self.node, self.bound = facts, ctx, node, bound
        self.unique, self.state, self.comps, self.temps = unique, state, comps, temps

    def on_visit(self, n: cst.CSTNode) -> bool:
        if n is self.node:
            return True
        # comprehensions and sub-steps are handled in on_leave
        return not (any(n is c for c in self.comps) or (isinstance(n, cst.BaseExpression) and _own_step(n)))

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode:
        if any(original_node is c for c in self.comps):
            assert isinstance(original_node, cst.BaseExpression)
            comp: cst.BaseExpression = original_node
            if isinstance(comp, cst.GeneratorExp):  # its list crosses JSON; a generator would not
                comp = cst.ListComp(elt=comp.elt, for_in=comp.for_in)
            temp = self.unique(temp_name(self.facts.module.code_for_node(comp)))
            # the plan's expression pass (its element and filter -> tools) runs in call order
            self.state.steps.append(Step(None, [], temp, comp.with_changes(lpar=[], rpar=[]), rewrite=True))
            self.temps.append(temp)
            return cst.Name(temp)
        if (
            original_node is not self.node
            and isinstance(original_node, cst.BaseExpression)
            and _own_step(original_node)
        ):
            inner = _split(
                self.facts, self.ctx, original_node, self.bound, self.unique, self.state, comps=self.comps
            )
            if inner is None or not isinstance(inner, cst.Name):
                self.state.failed = self.state.failed or "a step could not be carved"
                return updated_node
            self.temps.append(inner.value)
            return inner.with_changes(lpar=original_node.lpar, rpar=original_node.rpar)
        return updated_node


def _point_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The outermost carved sub-steps strictly inside ``node``."""
    out: list[cst.CSTNode] = []
    stack = list(node.children)
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.BaseExpression) and _own_step(cur):
            out.append(cur)
            continue
        stack.extend(cur.children)
    return out


def _contains(tree: cst.CSTNode, target: cst.CSTNode) -> bool:
    return any(n is target for n in walk(tree))
