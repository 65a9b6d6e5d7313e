"""Free variables and live-out values of candidate segments of the entry point.

A *statement segment* (a loop body, a run of simple statements) becomes a function whose
parameters are the entry-local names it reads before assigning them (plus the ones it may
leave unassigned but must return), and whose results are the names it assigns or mutates in
place that are read anywhere else in the entry point (or inside the segment itself when it
runs in a loop: loop-carried values). An *expression segment* (a condition, a comprehension
part) takes its free names and returns its value.

Everything here is conservative: whatever cannot be proven safe is refused with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from ._analysis import (
    MUTATING_FUNCS,
    MUTATOR_METHODS,
    OPAQUE_CALLS,
    NameIndex,
    SolutionFacts,
    callee_name,
    walk,
)

__all__ = [
    "SegmentContext",
    "SegmentInterface",
    "definitely_assigned",
    "expression_interface",
    "opaque_names",
    "segment_interface",
    "statement_escapes",
    "suite_statements",
]

_FORBIDDEN = (
    cst.Return,
    cst.Yield,
    cst.Await,
    cst.Global,
    cst.Nonlocal,
    cst.Try,
    cst.TryStar,
    cst.FunctionDef,
    cst.ClassDef,
    cst.NamedExpr,
    cst.Import,
    cst.ImportFrom,
    cst.Del,
    cst.Raise,
    cst.Match,
)


@dataclass(frozen=True)
class SegmentInterface:
    """Parameters (in order of first use) and returned names of one segment."""

    params: list[str]
    returns: list[str]


@dataclass(frozen=True)
class SegmentContext:
    """What the segment checks need to know about the whole entry point."""

    index: NameIndex
    all_reads: list[cst.Name]  # every entry-local Name load in the entry point
    available: frozenset[str]  # names the tools module defines (hoisted helpers, imports)
    opaque: frozenset[str]  # names whose values cannot cross JSON
    alias_prone: frozenset[str]  # names that may share their value with another name


def suite_statements(suite: cst.BaseSuite) -> list[cst.BaseStatement]:
    """The statements of a block; a one-line suite (``for x in y: a += x``) as one line."""
    if isinstance(suite, cst.IndentedBlock):
        return list(suite.body)
    assert isinstance(suite, cst.SimpleStatementSuite)
    return [cst.SimpleStatementLine(body=suite.body)]


def statement_escapes(stmts: Sequence[cst.CSTNode]) -> str | None:
    """Why the statements cannot run as a function of their own (None when they can)."""
    for stmt in stmts:
        reason = _escape(stmt, loop_depth=0)
        if reason:
            return reason
    return None


def _escape(node: cst.CSTNode, *, loop_depth: int) -> str | None:
    if isinstance(node, _FORBIDDEN):
        return f"contains {type(node).__name__}"
    if isinstance(node, cst.Lambda):
        return None
    if isinstance(node, (cst.Break, cst.Continue)) and loop_depth == 0:
        return f"{type(node).__name__.lower()} leaves the segment"
    if isinstance(node, (cst.For, cst.While)):
        for child in node.children:
            inner = loop_depth + 1 if child is node.body else loop_depth
            reason = _escape(child, loop_depth=inner)
            if reason:
                return reason
        return None
    for child in node.children:
        reason = _escape(child, loop_depth=loop_depth)
        if reason:
            return reason
    return None


def _small_writes(index: NameIndex, stmt: cst.BaseSmallStatement) -> set[str]:
    if isinstance(stmt, cst.Assign):
        return set().union(*(index.writes(t.target) for t in stmt.targets))
    if isinstance(stmt, cst.AugAssign):
        return index.writes(stmt.target)
    if isinstance(stmt, cst.AnnAssign) and stmt.value is not None:
        return index.writes(stmt.target)
    return set()


def definitely_assigned(index: NameIndex, stmts: Sequence[cst.BaseStatement]) -> set[str]:
    """Entry-local names bound on every path through the statements (``del`` is refused upstream)."""
    out: set[str] = set()
    for stmt in stmts:
        out |= _stmt_defs(index, stmt)
    return out


def _stmt_defs(index: NameIndex, stmt: cst.BaseStatement) -> set[str]:
    if isinstance(stmt, cst.SimpleStatementLine):
        return set().union(*(_small_writes(index, s) for s in stmt.body))
    if isinstance(stmt, cst.If):
        body = definitely_assigned(index, suite_statements(stmt.body))
        if stmt.orelse is None:
            return set()
        other = (
            _stmt_defs(index, stmt.orelse)
            if isinstance(stmt.orelse, cst.If)
            else definitely_assigned(index, suite_statements(stmt.orelse.body))
        )
        return body & other
    if isinstance(stmt, cst.With):
        names = set().union(*(index.writes(i.asname) for i in stmt.items if i.asname))
        return names | definitely_assigned(index, suite_statements(stmt.body))
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return {stmt.name.value}
    return set()


def _uses(index: NameIndex, stmts: Sequence[cst.BaseStatement], defined: set[str], out: list[str]) -> None:
    """Append to ``out`` the names read before the statements surely assign them."""
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                _add(out, index.reads(small), defined)
                defined |= _small_writes(index, small)
        elif isinstance(stmt, cst.For):
            _add(out, index.reads(stmt.iter), defined)
            _uses(index, suite_statements(stmt.body), defined | index.writes(stmt.target), out)
            if stmt.orelse:
                _uses(index, suite_statements(stmt.orelse.body), set(defined), out)
        elif isinstance(stmt, cst.While):
            _add(out, index.reads(stmt.test), defined)
            _uses(index, suite_statements(stmt.body), set(defined), out)
            if stmt.orelse:
                _uses(index, suite_statements(stmt.orelse.body), set(defined), out)
        elif isinstance(stmt, cst.If):
            _add(out, index.reads(stmt.test), defined)
            _uses(index, suite_statements(stmt.body), set(defined), out)
            if isinstance(stmt.orelse, cst.If):
                _uses(index, [stmt.orelse], set(defined), out)
            elif stmt.orelse is not None:
                _uses(index, suite_statements(stmt.orelse.body), set(defined), out)
            defined |= _stmt_defs(index, stmt)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                _add(out, index.reads(item.item), defined)
            _uses(index, suite_statements(stmt.body), defined | _stmt_defs(index, stmt), out)
            defined |= _stmt_defs(index, stmt)
        else:
            _add(out, index.reads(stmt), defined)


def _add(out: list[str], names: list[str], defined: set[str]) -> None:
    for name in names:
        if name not in defined and name not in out:
            out.append(name)


def segment_interface(
    ctx: SegmentContext,
    stmts: Sequence[cst.BaseStatement],
    *,
    bound: frozenset[str],
    in_loop: bool,
    own: frozenset[str] = frozenset(),
) -> SegmentInterface | str:
    """Parameters and results of a statement segment, or why it cannot be carved.

    ``own``: names the segment binds afresh each time it runs (a whole loop's target): returned
    only when read outside the segment.
    """
    reason = statement_escapes(stmts)
    if reason:
        return reason
    index = ctx.index
    inside = {id(n) for s in stmts for n in walk(s)}
    written: list[str] = []
    mutated: list[str] = []
    for s in stmts:
        for n in walk(s):
            if isinstance(n, cst.Name):
                for name in index.writes(n):
                    if name not in written:
                        written.append(name)
        for name in index.mutated(s):
            if name not in mutated:
                mutated.append(name)
    written += [m for m in mutated if m not in written]
    shared = [m for m in mutated if m in ctx.alias_prone]
    if shared:
        return f"mutates {shared} which may share its value with another name"
    read_outside = {n.value for n in ctx.all_reads if id(n) not in inside}
    read_inside: list[str] = []
    for s in stmts:
        _add(read_inside, index.reads(s), set())
    returns = [
        w
        for w in written
        if w not in ctx.available and (w in read_outside or (in_loop and w in read_inside and w not in own))
    ]
    if not returns:
        return "assigns nothing that is used afterwards"
    params: list[str] = []
    _uses(index, stmts, set(), params)
    defs = definitely_assigned(index, stmts)
    for r in returns:
        if r not in defs and r not in params:
            params.append(r)
    params = [p for p in params if p not in ctx.available]
    unbound = [p for p in params if p not in bound]
    if unbound:
        return f"reads {unbound} which may be unbound before it"
    bad = [n for n in (*params, *returns) if n in ctx.opaque]
    if bad:
        return f"passes {bad} whose values cannot cross JSON"
    return SegmentInterface(params=params, returns=returns)


def expression_interface(
    ctx: SegmentContext, expr: cst.BaseExpression, *, bound: frozenset[str]
) -> list[str] | str:
    """The parameters of a pure expression segment (its free names), or why it cannot be carved."""
    for n in walk(expr):
        if isinstance(n, (cst.NamedExpr, cst.Yield, cst.Await)):
            return f"contains {type(n).__name__}"
    if ctx.index.mutated(expr):
        return "mutates a value in place"
    for n in walk(expr):
        if isinstance(n, cst.Call) and (
            callee_name(n) in MUTATOR_METHODS or callee_name(n) in MUTATING_FUNCS
        ):
            return "calls a mutating method"
    params = [p for p in ctx.index.free_names(expr) if p not in ctx.available]
    locals_ = ctx.index.local_names
    unbound = [p for p in params if p in locals_ and p not in bound and not _comp_bound(ctx, expr, p)]
    if unbound:
        return f"reads {unbound} which may be unbound"
    bad = [p for p in params if p in ctx.opaque]
    if bad:
        return f"passes {bad} whose values cannot cross JSON"
    return params


def _comp_bound(ctx: SegmentContext, expr: cst.BaseExpression, name: str) -> bool:
    """The name is read in ``expr`` only as a comprehension variable (not the entry's local)."""
    return all(
        not ctx.index.is_local_load(n) for n in walk(expr) if isinstance(n, cst.Name) and n.value == name
    )


def opaque_names(facts: SolutionFacts) -> set[str]:
    """Entry-local names that may hold a value with no JSON form (iterators, Counters, objects...)."""
    index = facts.index
    opaque: set[str] = set(facts.nested)
    body = facts.entry.node.body
    for _ in range(3):
        for n in walk(body):
            value: cst.BaseExpression | None = None
            targets: list[cst.BaseExpression] = []
            if isinstance(n, cst.Assign):
                value, targets = n.value, [t.target for t in n.targets]
            elif isinstance(n, cst.AnnAssign) and n.value is not None:
                value, targets = n.value, [n.target]
            elif isinstance(n, cst.WithItem) and n.asname is not None:
                targets = [n.asname.name]
                opaque.update(index.writes(n.asname))
            if value is None or not _is_opaque_value(value, opaque, facts.class_names):
                continue
            for t in targets:
                opaque.update(index.writes(t))
    return opaque


def _is_opaque_value(value: cst.BaseExpression, opaque: set[str], classes: frozenset[str]) -> bool:
    if isinstance(value, (cst.Lambda, cst.GeneratorExp)):
        return True
    if isinstance(value, cst.Name):
        return value.value in opaque
    if isinstance(value, cst.Call):
        name = callee_name(value)
        return name in OPAQUE_CALLS or name in classes
    return False
