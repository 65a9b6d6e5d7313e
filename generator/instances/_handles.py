"""Node numbers: a tree or linked-list problem whose reference walks the nodes, as tool calls.

The adapter of ``_adapters`` rebuilds the nodes inside one entry point, so carving finds nothing
to offer but the read tools: the walk over the nodes happens out of sight. Here the reference is
rewritten to walk *node numbers* instead: a node is its 1-based position in the JSON list the
gym already holds as hidden input (LeetCode's level-order list for a tree, the values in order
for a linked list), and each node attribute the reference reads becomes a call of a generated
accessor (``val_of(root, node)``, ``left_of(root, node)``, ``root_of(root)``) that the carving
offers as a tool with the list bound to the hidden input. The rewritten entry point keeps the
adapter's name and signature, plus a trailing ``<param>_node`` parameter that the reference's own
recursive calls fill, so recursion stays in the plan. Read-only walks only: a reference that
assigns a node attribute or builds nodes is left to the adapter (the reason is returned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from ...schemas import Problem
from ._adapters import ADAPTER_PREFIX, node_shape

__all__ = ["handle_problem"]

_TREE_NODES = '''
def _codegym_nodes(values, node=None):
    """Node number (1-based position in the level-order list) -> its value and children's numbers."""
    nodes = {}
    if values and values[0] is not None:
        nodes[1] = {"VAL": values[0], "LEFT": None, "RIGHT": None}
    queue, i = [1] if nodes else [], 1
    while queue and i < len(values):
        parent = queue.pop(0)
        for side in ("LEFT", "RIGHT"):
            if i < len(values) and values[i] is not None:
                nodes[i + 1] = {"VAL": values[i], "LEFT": None, "RIGHT": None}
                nodes[parent][side] = i + 1
                queue.append(i + 1)
            i += 1
    return nodes if node is None else _codegym_node(nodes, node, len(values))
'''

_LIST_NODES = '''
def _codegym_nodes(values, node=None):
    """Node number (1-based position in the list of values) -> its value and the next node's number."""
    n = len(values or [])
    nodes = {k + 1: {"VAL": values[k], "NEXT": k + 2 if k + 1 < n else None} for k in range(n)}
    return nodes if node is None else _codegym_node(nodes, node, n)
'''

_NODE = """
class _CodegymNode:
    \"\"\"One numbered node: its value and its links' numbers, under the node class's names.\"\"\"

    def __init__(self, fields):
        self.__dict__.update(fields)


def _codegym_node(nodes, node, size):
    if node not in nodes:
        raise ValueError(
            f"node {node!r} is not a node: nodes are numbered by their position in the list, 1 to {size}, "
            "and a missing child is null; pass the number of an existing node"
        )
    return _CodegymNode(nodes[node])
"""


def handle_problem(
    problem: Problem,
    target: str,
    params: Sequence[tuple[str, str]],
    shapes: Mapping[str, Mapping[str, str]],
    *,
    in_place: str | None = None,
) -> Problem | str:
    """The problem with an entry point ``codegym_<target>`` that walks node numbers, or why not.

    ``params`` are the target's (name, inspect kind) in order and ``shapes`` the node shapes the
    recording harness reported (as for :func:`adapt_problem`). Only one node parameter, no node
    result and no in-place answer are supported.
    """
    nodes = [p for p, _ in params if p in shapes]
    if in_place is not None or "return" in shapes or len(nodes) != 1:
        return "node numbers need exactly one node argument and an answer that is not a node"
    if any(kind not in ("POSITIONAL_OR_KEYWORD", "POSITIONAL_ONLY") for _, kind in params):
        return f"{target} takes keyword-only or variadic parameters"
    try:
        module = cst.parse_module(problem.solution)
    except cst.ParserSyntaxError as exc:
        return f"the solution does not parse: {exc.message}"
    classes = {s.name.value for s in module.body if isinstance(s, cst.ClassDef)}
    shape = node_shape(shapes[nodes[0]], classes)
    if isinstance(shape, str):
        return shape
    fn = next((s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == target), None)
    if fn is None:
        return f"no top-level function {target!r}"
    names = {n.value for n in _names(module)}
    attrs = (shape.val, *shape.links)
    accessors = {a: f"{a}_of" for a in attrs}
    first = "root_of" if shape.kind == "tree" else "head_of"
    taken = {*accessors.values(), first, "_codegym_nodes", "_codegym_node", "_CodegymNode"} & names
    node, handle = nodes[0], f"{nodes[0]}_node"
    if taken or handle in names:
        return f"the solution already uses the names {sorted(taken | ({handle} & names))}"
    why = _read_only(fn, set(attrs), shape.cls)
    if why:
        return why
    entry = ADAPTER_PREFIX + target
    rewrite = _Rewrite(node, handle, accessors, target, entry, [p for p, _ in params])
    body = fn.body.visit(rewrite)
    assert isinstance(body, cst.IndentedBlock)
    return problem.model_copy(
        update={
            "solution": problem.solution.rstrip()
            + "\n\n\n# ---- codegym: the nodes as numbers, read through tools (generated) ----\n"
            + _decoder(shape.kind, shape.val, shape.links)
            + _NODE
            + _accessors(shape.kind, node, accessors, shape.val, first)
            + _entry(fn, body, entry, node, handle, first),
            "entry_point": entry,
        }
    )


def _names(module: cst.Module) -> list[cst.Name]:
    found: list[cst.Name] = []

    class _All(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.append(node)

    module.visit(_All())
    return found


def _read_only(fn: cst.FunctionDef, attrs: set[str], cls: str) -> str | None:
    """Why the reference cannot walk node numbers (it changes or builds nodes), else None."""
    why: list[str] = []

    class _Check(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._target(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._target(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            self._target(node.target)

        def _target(self, target: cst.BaseExpression) -> None:
            for n in _walk(target):
                if isinstance(n, cst.Attribute) and n.attr.value in attrs:
                    why.append(f"{fn.name.value} assigns node attribute {n.attr.value!r}")

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value == cls:
                why.append(f"{fn.name.value} builds {cls} nodes")

    fn.body.visit(_Check())
    return why[0] if why else None


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = [node]
    for child in node.children:
        out.extend(_walk(child))
    return out


class _Rewrite(cst.CSTTransformer):
    """The node parameter becomes its number, node attributes accessor calls, recursion the entry."""

    def __init__(
        self, node: str, handle: str, accessors: dict[str, str], target: str, entry: str, params: list[str]
    ) -> None:
        super().__init__()
        self.node, self.handle, self.accessors = node, handle, accessors
        self.target, self.entry, self.params = target, entry, params

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        return (
            updated_node.with_changes(value=self.handle) if updated_node.value == self.node else updated_node
        )

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(keyword=original_node.keyword)  # a keyword is not a read

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        updated_node = updated_node.with_changes(attr=original_node.attr)  # ``x.root`` is no variable
        name = self.accessors.get(updated_node.attr.value)
        if name is None:
            return updated_node
        return cst.Call(
            func=cst.Name(name), args=[cst.Arg(cst.Name(self.node)), cst.Arg(updated_node.value)]
        ).with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not (isinstance(updated_node.func, cst.Name) and updated_node.func.value == self.target):
            return updated_node
        args: list[cst.Arg] = []
        number: cst.BaseExpression | None = None
        for i, arg in enumerate(updated_node.args):
            name = arg.keyword.value if arg.keyword else (self.params[i] if i < len(self.params) else None)
            if arg.star or name is None:
                return updated_node  # left as written: verification decides
            if name == self.node:
                number = arg.value
                arg = arg.with_changes(value=cst.Name(self.node))
            args.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        if number is None:
            return updated_node
        eq = cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        )
        args.append(cst.Arg(number, keyword=cst.Name(self.handle), equal=eq))
        return updated_node.with_changes(func=cst.Name(self.entry), args=args)


def _decoder(kind: str, val: str, links: tuple[str, ...]) -> str:
    """``_codegym_nodes`` with the node class's own attribute names as keys."""
    if kind == "tree":
        left, right = links
        return (
            _TREE_NODES.replace('"VAL"', repr(val))
            .replace('"LEFT"', repr(left))
            .replace('"RIGHT"', repr(right))
        )
    return _LIST_NODES.replace('"VAL"', repr(val)).replace('"NEXT"', repr(links[0]))


def _accessors(kind: str, node: str, accessors: dict[str, str], val: str, first: str) -> str:
    what = "binary tree" if kind == "tree" else "linked list"
    where = "level-order list (null for a missing child)" if kind == "tree" else "list of values"
    numbered = f"a node is numbered by its position in the {where}, from 1"
    out = [
        f"\n\ndef {first}({node}):\n"
        f'    """The number of the first node of the {what} `{node}` (1), or None when it is empty."""\n'
        f"    return 1 if _codegym_nodes({node}) else None\n"
    ]
    for attr, name in accessors.items():
        if attr == val:
            doc = f"The `{attr}` value of node `node` of the {what} `{node}`; {numbered}."
        else:
            doc = (
                f"The number of the `{attr}` node of node `node` of the {what} `{node}`, or None; {numbered}."
            )
        out.append(
            f'\n\ndef {name}({node}, node):\n    """{doc}"""\n    return _codegym_nodes({node}, node).{attr}\n'
        )
    return "".join(out)


def _entry(
    fn: cst.FunctionDef, body: cst.IndentedBlock, entry: str, node: str, handle: str, first: str
) -> str:
    stmts = list(body.body)
    doc = stmts[:1] if fn.get_docstring() is not None else []
    start = cst.parse_statement(f"if {handle} == 0:\n    {handle} = {first}({node})\n")
    params = [p.with_changes(annotation=None) if p.name.value == node else p for p in fn.params.params]
    zero = cst.Param(
        cst.Name(handle),
        default=cst.Integer("0"),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    new = fn.with_changes(
        name=cst.Name(entry),
        params=fn.params.with_changes(params=[*params, zero]),
        body=body.with_changes(body=[*doc, start, *stmts[len(doc) :]]),
        leading_lines=[],
        decorators=[],
        returns=fn.returns,
    )
    return "\n\n" + cst.Module(body=[new]).code
