"""The recording harness's book of instances and its value encoding, INSIDE the sandbox worker.

Standard library only and Python 3.11 compatible (the in-jail package); ``recorders`` and
``record`` import it.

- :class:`Book` holds the recorded instances, deduplicated, and counts every drop by reason.
- :func:`encode_value` / :func:`encode_shaped` turn a python value into wire form, or say why
  it has none (a tree / linked list of the solution's own node class becomes a JSON list).
- :func:`signature_of`, :func:`bind_call`, :func:`params_of` read the target's signature.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import values as _cv

__all__ = ["Book", "bind_call", "encode_shaped", "encode_value", "params_of", "signature_of"]


class Book:
    """The instances recorded so far, deduplicated, with drop reasons counted."""

    def __init__(self, limits: dict[str, Any]) -> None:
        self.max_instances = int(limits.get("max_instances", 200))
        self.max_value_chars = int(limits.get("max_value_chars", 20000))
        self.max_total_chars = int(limits.get("max_total_chars", 2000000))
        self.items: list[dict[str, Any]] = []
        self.keys: dict[str, int] = {}
        self.conflicts: set[str] = set()
        self.dropped: dict[str, int] = {}
        self.total = 0
        self.chars = 0

    def drop(self, reason: str, count: int = 1) -> None:
        """Count ``count`` calls dropped for ``reason``."""
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def add(self, wire_input: dict[str, Any], expected: Any, in_place: str | None = None) -> None:
        """Keep one instance, or count why not: a repeat, a conflict, a size limit or the cap."""
        key = _cv.canonical_json(wire_input)
        out = _cv.canonical_json(expected)
        if key in self.keys:
            first = self.items[self.keys[key]]
            if _cv.canonical_json(first["expected"]) == out:
                self.drop("duplicate input")
            else:
                self.conflicts.add(key)
                self.drop("same input gave different outputs (non-deterministic)")
            return
        if len(key) > self.max_value_chars or len(out) > self.max_value_chars:
            self.drop(f"value larger than {self.max_value_chars} characters")
            return
        if len(self.items) >= self.max_instances:
            self.drop(f"over the cap of {self.max_instances} instances")
            return
        if self.chars + len(key) + len(out) > self.max_total_chars:
            self.drop(f"over the output budget of {self.max_total_chars} characters")
            return
        self.chars += len(key) + len(out)
        self.keys[key] = len(self.items)
        self.items.append({"input": wire_input, "expected": expected, "in_place": in_place})

    def finish(self) -> list[dict[str, Any]]:
        """The instances kept, without every input that was seen with two different outputs."""
        if not self.conflicts:
            return self.items
        kept = [it for it in self.items if _cv.canonical_json(it["input"]) not in self.conflicts]
        self.drop("same input gave different outputs (non-deterministic)", len(self.items) - len(kept))
        return kept


def _small_enough(value: Any, limit: int) -> bool:
    """A cheap upper bound on the encoded size, to skip encoding huge test inputs."""
    stack = [value]
    budget = limit
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > 100000:
            return False
        if isinstance(item, str):
            budget -= len(item) + 2
        elif isinstance(item, dict):
            budget -= 2 * len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            budget -= len(item) + 2
            stack.extend(item)
        else:
            budget -= 2
        if budget < 0:
            return False
    return True


def encode_value(value: Any, limit: int, what: str) -> tuple[bool, Any]:
    """(True, wire) or (False, reason)."""
    if not _small_enough(value, limit):
        return False, f"{what} larger than {limit} characters"
    try:
        return True, _cv.encode(value)
    except _cv.UnsupportedValue as exc:
        return False, f"{what} holds a {exc.type_name} (no JSON form)"
    except RecursionError:
        return False, f"{what} is nested too deeply (or cyclic)"


# Node classes with a JSON stand-in: a binary tree as LeetCode's level-order list (None for
# gaps), a singly linked list as the list of its values. Only pure node classes qualify: every
# node of the solution's class with exactly a value attribute and the link attributes.
_VALUE_ATTRS = ("val", "value", "data", "key")
_TREE_LINKS = (("left", "right"), ("left_child", "right_child"))
_LIST_LINKS = ("next", "next_node")


def _shape_of(obj: Any) -> dict[str, str] | None:
    """The node shape of a solution-defined object (tree or linked list), or None."""
    cls = type(obj)
    if cls.__module__ != "solution":
        return None
    try:
        keys = set(vars(obj))
    except TypeError:
        return None
    for val in _VALUE_ATTRS:
        if val not in keys:
            continue
        for left, right in _TREE_LINKS:
            if keys == {val, left, right}:
                return {"kind": "tree", "cls": cls.__name__, "val": val, "left": left, "right": right}
        for nxt in _LIST_LINKS:
            if keys == {val, nxt}:
                return {"kind": "list", "cls": cls.__name__, "val": val, "next": nxt}
    return None


def _flatten(obj: Any, shape: dict[str, str]) -> list[Any]:
    """A tree as its level-order list, a linked list as its values; ValueError for cycles/mixed nodes."""
    links = (shape["left"], shape["right"]) if shape["kind"] == "tree" else (shape["next"],)
    keys = {shape["val"], *links}
    seen: set[int] = set()
    out: list[Any] = []
    queue = [obj]
    while queue:
        node = queue.pop(0)
        if node is None:
            if shape["kind"] == "tree":
                out.append(None)
            continue
        if type(node).__name__ != shape["cls"] or set(vars(node)) != keys:
            raise ValueError(f"a {shape['cls']} structure mixed with other objects")
        if id(node) in seen:
            raise ValueError(f"a cyclic or shared {shape['cls']} structure")
        seen.add(id(node))
        out.append(getattr(node, shape["val"]))
        queue.extend(getattr(node, link) for link in links)
    while out and out[-1] is None:
        out.pop()
    return out


def encode_shaped(value: Any, limit: int, what: str) -> tuple[bool, Any, dict[str, str] | None]:
    """Like :func:`encode_value`, but a tree / linked list of the solution's node class becomes a list."""
    ok, wire = encode_value(value, limit, what)
    if ok:
        return True, wire, None
    shape = _shape_of(value)
    if shape is None:
        return False, wire, None
    try:
        flat = _flatten(value, shape)
    except ValueError as exc:
        return False, f"{what} holds {exc}", None
    ok, wire = encode_value(flat, limit, what)
    return ok, wire, shape if ok else None


def bind_call(
    sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any] | str:
    """The call's arguments by parameter name (defaults applied), or why they cannot be bound."""
    if sig is None:
        return "the target's signature cannot be read"
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"a call does not match the signature ({exc})"
    bound.apply_defaults()
    return dict(bound.arguments)


def signature_of(fn: Any) -> inspect.Signature | None:
    """``inspect.signature(fn)``, or None for a callable whose signature cannot be read."""
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def params_of(sig: inspect.Signature | None, skip_first: bool = False) -> list[dict[str, Any]]:
    """The parameters as the reply reports them: name, kind name, whether it has a default."""
    if sig is None:
        return []
    params = list(sig.parameters.values())
    if skip_first and params:
        params = params[1:]
    return [
        {"name": p.name, "kind": p.kind.name, "has_default": p.default is not inspect.Parameter.empty}
        for p in params
    ]
