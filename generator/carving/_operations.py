"""What one operation is, and when a piece of code works over a whole collection: the one definition.

The carver asks it whether code is worth a tool (:func:`single_operator` code stays plan code
unless nothing else is worth one); the audit asks it for the single-operator share of a catalog.
Both read code with ``ast`` (the carver renders its libcst nodes to text first).

- :func:`operation_count`: binary, unary and boolean operations, each comparison operator, each
  subscript, each call and each augmented assignment; def/return/assignment scaffolding,
  constants such as ``-1`` and docstrings are free.
- :func:`is_collection_level`: loops or comprehends over something other than ``range(k)`` of a
  plain number, has a while loop, or calls a whole-collection function (:data:`COLLECTION_CALLS`;
  ``min(a, b)`` of two scalars is not one).
- :func:`single_operator`: exactly one operation, no loop, and not work over a whole collection.
  ``n <= 1``, ``i + 1``, ``lst[0]``, ``min(a, b)`` are single operators; ``sum(xs)``,
  ``sorted(xs)``, ``"".join(parts)`` are not: over a collection of hundreds of items they are the
  reusable operations over whole collections an agent cannot do in its head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = [
    "COLLECTION_CALLS",
    "call_name",
    "has_loop",
    "is_collection_level",
    "operation_count",
    "single_operator",
]

COLLECTION_CALLS = frozenset(
    {
        "sum", "sorted", "min", "max", "len", "any", "all", "set", "frozenset", "Counter", "list",
        "tuple", "dict", "reversed", "enumerate", "zip", "map", "filter", "join", "count", "index",
        "sort", "most_common", "heapify", "nlargest", "nsmallest", "bisect_left", "bisect_right",
        "accumulate", "reduce", "defaultdict", "deque", "split",
    }
)  # fmt: skip
"""Calls that work on a whole collection (a min/max of two scalars is not one: see above)."""

_LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def call_name(node: ast.Call) -> str | None:
    """The called name: ``f`` of ``f(x)`` and of ``obj.f(x)``."""
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _constant(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
    )


def operation_count(nodes: Iterable[ast.AST]) -> int:
    """How many operations ``nodes`` (every node of the code, e.g. from ``ast.walk``) compute."""
    count = 0
    for node in nodes:
        if _constant(node):
            continue
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp | ast.Subscript | ast.Call | ast.AugAssign):
            count += 1
        elif isinstance(node, ast.Compare):
            count += len(node.ops)
    return count


def has_loop(nodes: Iterable[ast.AST]) -> bool:
    """Whether the code holds a loop or a comprehension."""
    return any(isinstance(node, _LOOPS) for node in nodes)


def _over_plain_range(iterable: ast.expr) -> bool:
    """``range(k)`` whose arguments take no whole-collection call (``range(len(x))`` is over x)."""
    if not (isinstance(iterable, ast.Call) and call_name(iterable) == "range"):
        return False
    return not any(
        isinstance(n, ast.Call) and call_name(n) in COLLECTION_CALLS
        for a in iterable.args
        for n in ast.walk(a)
    )


def is_collection_level(nodes: Iterable[ast.AST]) -> bool:
    """Whether the code works over a whole collection (see the module docstring)."""
    for node in nodes:
        if isinstance(node, ast.For | ast.AsyncFor) and not _over_plain_range(node.iter):
            return True
        if isinstance(node, _COMPREHENSIONS) and not all(_over_plain_range(g.iter) for g in node.generators):
            return True
        if isinstance(node, ast.While):
            return True
        if isinstance(node, ast.Call):
            name = call_name(node)
            if name in ("min", "max") and len(node.args) > 1:
                continue  # min(a, b) of scalars
            if name in COLLECTION_CALLS:
                return True
    return False


def single_operator(nodes: Iterable[ast.AST]) -> bool:
    """Exactly one operation, no loop, not over a whole collection (see the module docstring)."""
    found = list(nodes)
    return operation_count(found) == 1 and not has_loop(found) and not is_collection_level(found)
