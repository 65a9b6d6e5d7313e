"""JSON stand-ins for node arguments: a problem whose entry point takes trees or linked lists.

The recording harness turns a binary tree of the solution's node class into LeetCode's
level-order list (``[3, 1, 4, None, 2]``) and a singly linked list into the list of its values,
and reports the *shape* of each such parameter (and of the output). :func:`adapt_problem` then
appends an adapter entry point to the solution, ``codegym_<entry>(...)``, that takes those
lists, rebuilds the nodes, calls the reference and flattens a node result the same way. The
adapted problem goes through carving and verification like any function problem, so the gym's
hidden input and answer are plain JSON.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ...schemas import Problem

__all__ = ["ADAPTER_PREFIX", "adapt_problem", "describe_shape", "node_shape"]

ADAPTER_PREFIX = "codegym_"
_VALUE_ATTRS = frozenset({"val", "value", "data", "key"})
_LINK_ATTRS = frozenset({"left", "right", "left_child", "right_child", "next", "next_node"})


@dataclass(frozen=True)
class _Shape:
    kind: str
    cls: str
    val: str
    links: tuple[str, ...]


def node_shape(raw: Mapping[str, str], classes: set[str]) -> _Shape | str:
    """The node layout the harness reported, checked against the solution's classes, or why not."""
    kind = raw.get("kind")
    cls = raw.get("cls", "")
    val = raw.get("val", "")
    links = (raw.get("left", ""), raw.get("right", "")) if kind == "tree" else (raw.get("next", ""),)
    if kind not in ("tree", "list"):
        return f"unknown node shape {kind!r}"
    if not cls.isidentifier() or cls not in classes:
        return f"node class {cls!r} is not a class defined at the top level of the solution"
    if val not in _VALUE_ATTRS or not all(link in _LINK_ATTRS for link in links):
        return f"node attributes {val!r}, {links!r} are not a known tree/list layout"
    return _Shape(kind=kind, cls=cls, val=val, links=links)


def describe_shape(raw: Mapping[str, str]) -> str:
    """How the agent sees such a value: ``a binary tree (TreeNode) as a level-order list...``."""
    if raw.get("kind") == "tree":
        return f"a binary tree ({raw.get('cls')}) as its level-order list of values, null for a missing child"
    return f"a linked list ({raw.get('cls')}) as the list of its values"


def _builder(name: str, shape: _Shape) -> str:
    """Source of a nested function ``name(values)`` that rebuilds the nodes (LeetCode's layout)."""
    cls, val = shape.cls, shape.val
    if shape.kind == "list":
        (nxt,) = shape.links
        return (
            f"    def {name}(values):\n"
            "        head = None\n"
            "        for v in reversed(values or []):\n"
            f"            node = {cls}.__new__({cls})\n"
            f"            node.{val} = v\n"
            f"            node.{nxt} = head\n"
            "            head = node\n"
            "        return head\n\n"
        )
    left, right = shape.links
    return (
        f"    def {name}(values):\n"
        "        if not values or values[0] is None:\n"
        "            return None\n\n"
        "        def make(v):\n"
        f"            node = {cls}.__new__({cls})\n"
        f"            node.{val} = v\n"
        f"            node.{left} = None\n"
        f"            node.{right} = None\n"
        "            return node\n\n"
        "        root = make(values[0])\n"
        "        queue = [root]\n"
        "        i = 1\n"
        "        while queue and i < len(values):\n"
        "            node = queue.pop(0)\n"
        "            if values[i] is not None:\n"
        f"                node.{left} = make(values[i])\n"
        f"                queue.append(node.{left})\n"
        "            i += 1\n"
        "            if i < len(values) and values[i] is not None:\n"
        f"                node.{right} = make(values[i])\n"
        f"                queue.append(node.{right})\n"
        "            i += 1\n"
        "        return root\n\n"
    )


def _flattener(shape: _Shape) -> str:
    links = ", ".join(f"node.{link}" for link in shape.links)
    keep_none = "                out.append(None)\n" if shape.kind == "tree" else ""
    return (
        "    def flatten(root):\n"
        "        if root is None:\n"
        "            return None\n"
        "        out = []\n"
        "        queue = [root]\n"
        "        while queue:\n"
        "            node = queue.pop(0)\n"
        "            if node is None:\n"
        f"{keep_none}"
        "                continue\n"
        f"            out.append(node.{shape.val})\n"
        f"            queue.extend([{links}])\n"
        "        while out and out[-1] is None:\n"
        "            out.pop()\n"
        "        return out\n\n"
    )


def adapt_problem(
    problem: Problem,
    target: str,
    params: Sequence[tuple[str, str]],
    shapes: Mapping[str, Mapping[str, str]],
    *,
    in_place: str | None = None,
) -> Problem | str:
    """The problem with an adapter entry point taking JSON lists for the node parameters.

    ``params`` are (name, inspect kind name) of the target, in order; ``shapes`` maps a
    parameter name (or ``"return"``) to the node shape the harness reported. With
    ``in_place`` (a function that returns None and changes that argument), the adapter returns
    the argument after the call, so downstream the answer is an ordinary return value.
    Returns the reason instead when no adapter can be written (``*args``, unknown node layout).
    """
    try:
        tree = ast.parse(problem.solution)
    except SyntaxError as exc:
        return f"the solution is not valid Python: {exc.msg}"
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    parsed: dict[str, _Shape] = {}
    for key, raw in shapes.items():
        shape = node_shape(raw, classes)
        if isinstance(shape, str):
            return shape
        parsed[key] = shape
    if any(kind in ("VAR_POSITIONAL", "VAR_KEYWORD") for _, kind in params):
        return f"{target} takes *args/**kwargs: no adapter for its node arguments"
    name = ADAPTER_PREFIX + target
    names = [p for p, _ in params]
    if in_place is not None and in_place not in names:
        return f"in-place argument {in_place!r} is not a parameter of {target}"
    described = [f"{p} is {describe_shape(shapes[p])}" for p in names if p in parsed]
    if in_place is not None:
        described.append(f"returns {in_place} after {target} changed it in place")
    elif "return" in parsed:
        described.append(f"the result is {describe_shape(shapes['return'])}")
    lines = [
        "\n\n# ---- codegym: JSON stand-ins for node arguments and in-place answers (generated) ----\n",
        f"def {name}({', '.join(names)}):\n",
        f'    """{target} with JSON values: {"; ".join(described)}."""\n',
    ]
    lines += [_builder(f"build_{p}", parsed[p]) for p in names if p in parsed]
    out_shape = parsed.get(in_place) if in_place is not None else parsed.get("return")
    if out_shape is not None:
        lines.append(_flattener(out_shape))
    lines += [f"    {p} = build_{p}({p})\n" for p in names if p in parsed]
    call = f"{target}({', '.join((f'{p}=' if kind == 'KEYWORD_ONLY' else '') + p for p, kind in params)})"
    if in_place is not None:
        lines.append(f"    {call}\n")
        call = in_place
    lines.append(f"    return {'flatten(' + call + ')' if out_shape is not None else call}\n")
    solution = problem.solution.rstrip() + "\n" + "".join(lines)
    return problem.model_copy(update={"solution": solution, "entry_point": name})
