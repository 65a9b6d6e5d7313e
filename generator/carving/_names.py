"""Name-level facts that need no scope resolution: in-place mutation, callees, non-JSON values."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

__all__ = ["MUTATING_FUNCS", "MUTATOR_METHODS", "OPAQUE_CALLS", "callee_name", "mutation_roots", "walk"]

MUTATOR_METHODS = frozenset(
    [
        "append",
        "extend",
        "insert",
        "pop",
        "popleft",
        "appendleft",
        "extendleft",
        "remove",
        "clear",
        "add",
        "discard",
        "update",
        "sort",
        "reverse",
        "setdefault",
        "popitem",
        "rotate",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "move_to_end",
        "__setitem__",
        "__delitem__",
    ]
)
MUTATING_FUNCS = frozenset(
    [
        "heappush",
        "heappop",
        "heapify",
        "heappushpop",
        "heapreplace",
        "shuffle",
        "insort",
        "insort_left",
        "insort_right",
    ]
)
OPAQUE_CALLS = frozenset(
    [
        "defaultdict",
        "Counter",
        "deque",
        "OrderedDict",
        "ChainMap",
        "iter",
        "zip",
        "map",
        "filter",
        "enumerate",
        "reversed",
        "range",
        "open",
        "compile",
        "object",
        "groupby",
        "permutations",
        "combinations",
        "combinations_with_replacement",
        "product",
        "count",
        "cycle",
        "chain",
        "accumulate",
        "islice",
        "starmap",
        "tee",
        "zip_longest",
        "partial",
        "lru_cache",
        "cache",
        "Decimal",
        "Fraction",
        "SortedList",
        "SortedDict",
        "SortedSet",
        "items",
        "keys",
        "values",
        "finditer",
        "generator",
        "type",
        "super",
        "property",
        "staticmethod",
        "classmethod",
    ]
)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node of the subtree, parents first (a read-only traversal)."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(reversed(cur.children))


def callee_name(call: cst.Call) -> str | None:
    """``f`` for ``f(..)`` and ``m.f(..)``; None for other callees."""
    if isinstance(call.func, cst.Name):
        return call.func.value
    if isinstance(call.func, cst.Attribute):
        return call.func.attr.value
    return None


def _root(expr: cst.BaseExpression) -> cst.Name | None:
    while isinstance(expr, (cst.Subscript, cst.Attribute)):
        expr = expr.value
    return expr if isinstance(expr, cst.Name) else None


def mutation_roots(node: cst.CSTNode, mutating_helpers: dict[str, frozenset[int]]) -> list[cst.Name]:
    """Name nodes whose value may be mutated in place somewhere in the subtree.

    Method mutators (``x.append``), item/attribute stores (``x[i] = ..``, ``del x[i]``),
    ``heapq``/``random.shuffle``/``bisect.insort`` on their first argument, and helpers known
    to mutate an argument (``mutating_helpers``: name -> positional indices).
    """
    roots: list[cst.Name | None] = []
    for n in walk(node):
        if isinstance(n, cst.Call):
            name = callee_name(n)
            if isinstance(n.func, cst.Attribute) and name in MUTATOR_METHODS:
                roots.append(_root(n.func.value))
            if name in MUTATING_FUNCS and n.args:
                roots.append(_root(n.args[0].value))
            if isinstance(n.func, cst.Name) and name in mutating_helpers:
                for i, arg in enumerate(n.args):
                    if i in mutating_helpers[name] or arg.keyword is not None:
                        roots.append(_root(arg.value))
        targets: list[cst.BaseExpression] = []
        if isinstance(n, cst.Assign):
            targets = [t.target for t in n.targets]
        elif isinstance(n, (cst.AugAssign, cst.AnnAssign, cst.Del, cst.For)):
            targets = [n.target]
        for target in targets:
            for t in walk(target):
                if isinstance(t, (cst.Subscript, cst.Attribute)):
                    roots.append(_root(t.value))
    return [r for r in roots if r is not None]
