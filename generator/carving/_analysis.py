"""Read-only analysis of a reference solution with libcst: typed facts, no transformation.

:func:`analyse_solution` parses the source once, resolves libcst's ScopeProvider and
ExpressionContextProvider, and gathers what carving needs: the entry point and its parameters,
the top-level and nested helper functions, which names are local to the entry point, which of
them may be mutated in place or hold values that cannot cross a JSON boundary, and the
candidate segments (loop bodies, conditions, comprehensions). The :class:`NameIndex` answers
name questions about any subtree of the entry point (reads, writes, in-place mutations).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.metadata import (
    Assignment,
    ExpressionContext,
    ExpressionContextProvider,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from ._names import MUTATING_FUNCS, MUTATOR_METHODS, OPAQUE_CALLS, callee_name, mutation_roots, walk

__all__ = [
    "MUTATING_FUNCS",
    "MUTATOR_METHODS",
    "OPAQUE_CALLS",
    "FunctionFacts",
    "NameIndex",
    "ParamFact",
    "SegmentCandidate",
    "SolutionFacts",
    "analyse_solution",
    "callee_name",
    "mutation_roots",
    "walk",
]


@dataclass(frozen=True)
class ParamFact:
    name: str
    annotation: cst.BaseExpression | None
    default: cst.BaseExpression | None


@dataclass(frozen=True)
class FunctionFacts:
    """A function definition of the solution (the entry point, a top-level or a nested helper)."""

    name: str
    node: cst.FunctionDef
    params: list[ParamFact]
    simple_params: bool  # no *args, **kwargs, keyword-only or positional-only markers
    returns: cst.BaseExpression | None
    doc: str | None
    is_generator: bool
    decorators: list[str]
    mutated_params: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SegmentCandidate:
    """Where a segment could be carved: kind, first line, and the code (for reports and tests)."""

    kind: Literal["loop_body", "condition", "comprehension"]
    line: int
    code: str


@dataclass
class SolutionFacts:
    """Everything carving reads about one solution."""

    module: cst.Module
    entry: FunctionFacts
    helpers: dict[str, FunctionFacts]  # top-level functions other than the entry
    nested: dict[str, FunctionFacts]  # functions defined in the entry's own scope
    module_names: frozenset[str]  # every name bound at module level
    class_names: frozenset[str]
    all_names: frozenset[str]  # every identifier in the source (to keep new names clear of them)
    index: NameIndex
    local_imports: list[cst.SimpleStatementLine]  # import statements inside the entry's body
    has_global: bool
    candidates: list[SegmentCandidate] = field(default_factory=list)


def _docline(fn: cst.FunctionDef) -> str | None:
    doc = fn.get_docstring()
    if not doc:
        return None
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return None


def function_facts(fn: cst.FunctionDef, mutating: dict[str, frozenset[int]]) -> FunctionFacts:
    """Facts about one function definition (names only, no scope resolution)."""
    ps = fn.params
    simple = not (
        isinstance(ps.star_arg, (cst.Param, cst.ParamStar))
        or ps.star_kwarg
        or ps.kwonly_params
        or ps.posonly_params
    )
    params = [
        ParamFact(p.name.value, p.annotation.annotation if p.annotation else None, p.default)
        for p in [*ps.posonly_params, *ps.params]
    ]
    names = {p.name for p in params}
    mutated: set[str] = set()
    for root in mutation_roots(fn.body, mutating):
        if root.value in names:
            mutated.add(root.value)
    is_gen = any(isinstance(n, (cst.Yield, cst.Await)) for n in _walk_same_function(fn.body))
    decorators = []
    for d in fn.decorators:
        dec = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
        decorators.append(dec.attr.value if isinstance(dec, cst.Attribute) else getattr(dec, "value", "?"))
    return FunctionFacts(
        name=fn.name.value,
        node=fn,
        params=params,
        simple_params=simple,
        returns=fn.returns.annotation if fn.returns else None,
        doc=_docline(fn),
        is_generator=is_gen,
        decorators=decorators,
        mutated_params=frozenset(mutated),
    )


def _walk_same_function(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Like :func:`walk` but does not enter nested function, class or lambda bodies."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        yield cur
        if cur is not node and isinstance(cur, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(reversed(cur.children))


class NameIndex:
    """Resolves names of the entry point's subtrees through libcst's scope metadata."""

    def __init__(
        self,
        *,
        entry_scope: Scope,
        scopes: dict[int, Scope | None],
        contexts: dict[int, ExpressionContext | None],
        referents: dict[int, list[Assignment]],
        mutating: dict[str, frozenset[int]],
    ) -> None:
        self.entry_scope = entry_scope
        self._scopes = scopes
        self._contexts = contexts
        self._referents = referents
        self.mutating = mutating
        self.local_names = frozenset(a.name for a in entry_scope.assignments)
        self._local_stores = {
            id(a.node)
            for a in entry_scope.assignments
            if isinstance(a, Assignment) and isinstance(a.node, cst.Name)
        }

    def is_local_load(self, name: cst.Name) -> bool:
        """The Name node reads a variable of the entry point's scope."""
        return any(a.scope is self.entry_scope for a in self._referents.get(id(name), []))

    def reads(self, node: cst.CSTNode) -> list[str]:
        """Entry-local names read in the subtree (AugAssign targets count as reads), in order."""
        out: list[str] = []
        for n in walk(node):
            if isinstance(n, cst.Name) and self.is_local_load(n):
                out.append(n.value)
            elif (
                isinstance(n, cst.AugAssign)
                and isinstance(n.target, cst.Name)
                and n.target.value in self.local_names
                and id(n.target) in self._local_stores
            ):
                out.append(n.target.value)
        return out

    def read_nodes(self, node: cst.CSTNode) -> list[cst.Name]:
        return [n for n in walk(node) if isinstance(n, cst.Name) and self.is_local_load(n)]

    def writes(self, node: cst.CSTNode) -> set[str]:
        """Entry-local names (re)bound in the subtree, nested definitions included."""
        out: set[str] = set()
        for n in walk(node):
            if isinstance(n, cst.Name) and id(n) in self._local_stores:
                out.add(n.value)
            elif (
                isinstance(n, (cst.FunctionDef, cst.ClassDef))
                and n is not node
                and self._scopes.get(id(n)) is self.entry_scope
            ):
                out.add(n.name.value)
        return out

    def deletes(self, node: cst.CSTNode) -> set[str]:
        return {
            n.value
            for n in walk(node)
            if isinstance(n, cst.Name) and self._contexts.get(id(n)) == ExpressionContext.DEL
        }

    def mutated(self, node: cst.CSTNode) -> list[str]:
        """Entry-local names whose value may be changed in place in the subtree (first-seen order)."""
        out: list[str] = []
        for r in mutation_roots(node, self.mutating):
            if self.is_local_load(r) and r.value not in out:
                out.append(r.value)
        return out

    def free_names(self, expr: cst.CSTNode) -> list[str]:
        """Names read in ``expr`` that are bound outside it in a function or comprehension scope."""
        inside = {id(n) for n in walk(expr)}
        out: list[str] = []
        for n in walk(expr):
            if not isinstance(n, cst.Name):
                continue
            refs = self._referents.get(id(n), [])
            outer = any(a.scope is self.entry_scope or _is_comp_scope(a.scope) for a in refs)
            if outer and not any(id(a.node) in inside for a in refs) and n.value not in out:
                out.append(n.value)
        return out


def _is_comp_scope(scope: Scope) -> bool:
    return type(scope).__name__ == "ComprehensionScope"


def _mutating_helpers(fns: list[cst.FunctionDef]) -> dict[str, frozenset[int]]:
    """Which positional parameters each function may mutate, to a fixpoint over calls between them."""
    result: dict[str, frozenset[int]] = {}
    for _ in range(len(fns) + 1):
        changed = False
        for fn in fns:
            facts = function_facts(fn, result)
            idx = frozenset(i for i, p in enumerate(facts.params) if p.name in facts.mutated_params)
            if idx and result.get(fn.name.value) != idx:
                result[fn.name.value] = idx
                changed = True
        if not changed:
            break
    return result


def analyse_solution(source: str, entry_point: str) -> SolutionFacts | str:
    """Parse ``source`` and gather the facts about ``entry_point``; a string says why not."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return f"the solution does not parse: {exc.message} (line {exc.raw_line})"
    entry_node = next(
        (s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == entry_point), None
    )
    if entry_node is None:
        return f"no top-level function named {entry_point!r} in the solution"
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    scope_map = wrapper.resolve(ScopeProvider)
    ctx_map = wrapper.resolve(ExpressionContextProvider)
    entry_scope = scope_map.get(entry_node.body.body[0]) if entry_node.body.body else None
    if entry_scope is None:
        return f"{entry_point!r} has an empty body"
    referents: dict[int, list[Assignment]] = {}
    for scope in {s for s in scope_map.values() if s is not None}:
        for access in scope.accesses:
            refs = [r for r in access.referents if isinstance(r, Assignment)]
            referents[id(access.node)] = refs
    top_fns = [s for s in module.body if isinstance(s, cst.FunctionDef)]
    nested_nodes = [
        n for n in walk(entry_node.body) if isinstance(n, cst.FunctionDef) and scope_map.get(n) is entry_scope
    ]
    mutating = _mutating_helpers(top_fns)
    nested_mut = _mutating_helpers(nested_nodes)
    index = NameIndex(
        entry_scope=entry_scope,
        scopes={id(k): v for k, v in scope_map.items()},
        contexts={id(k): v for k, v in ctx_map.items()},
        referents=referents,
        mutating={**nested_mut, **mutating},
    )
    module_names: set[str] = set()
    global_scope = scope_map.get(entry_node)
    if global_scope is not None:
        module_names = {a.name for a in global_scope.assignments}
    local_imports = [
        s
        for s in entry_node.body.body
        if isinstance(s, cst.SimpleStatementLine)
        and all(isinstance(x, (cst.Import, cst.ImportFrom)) for x in s.body)
    ]
    facts = SolutionFacts(
        module=module,
        entry=function_facts(entry_node, index.mutating),
        helpers={f.name.value: function_facts(f, mutating) for f in top_fns if f.name.value != entry_point},
        nested={f.name.value: function_facts(f, index.mutating) for f in nested_nodes},
        module_names=frozenset(module_names),
        class_names=frozenset(s.name.value for s in module.body if isinstance(s, cst.ClassDef)),
        all_names=frozenset(n.value for n in walk(module) if isinstance(n, cst.Name)),
        index=index,
        local_imports=local_imports,
        has_global=any(isinstance(n, (cst.Global, cst.Nonlocal)) for n in walk(entry_node)),
    )
    gatherer = _CandidateGatherer(module, entry_node)
    wrapper.visit(gatherer)
    facts.candidates = gatherer.found
    return facts


class _CandidateGatherer(cst.CSTVisitor):
    """Read-only visitor: the loop bodies, conditions and comprehensions of one function body."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module, entry: cst.FunctionDef) -> None:
        super().__init__()
        self.module = module
        self.entry = entry
        self.found: list[SegmentCandidate] = []
        self.inside = False

    def _add(
        self, kind: Literal["loop_body", "condition", "comprehension"], node: cst.CSTNode, part: cst.CSTNode
    ) -> None:
        if not self.inside:
            return
        line = self.get_metadata(PositionProvider, node).start.line
        self.found.append(SegmentCandidate(kind, line, self.module.code_for_node(part).strip()))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node is self.entry:
            self.inside = True
        return node is self.entry  # only the entry's own body, not other or nested functions

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if original_node is self.entry:
            self.inside = False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_For(self, node: cst.For) -> None:
        self._add("loop_body", node, node.body)

    def visit_While(self, node: cst.While) -> None:
        self._add("loop_body", node, node.body)

    def visit_If(self, node: cst.If) -> None:
        self._add("condition", node, node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._add("condition", node, node.test)

    def _comp(self, node: cst.BaseExpression) -> None:
        self._add("comprehension", node, node)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comp(node)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._comp(node)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._comp(node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._comp(node)
