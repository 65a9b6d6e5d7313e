"""Small rules of the plan rewrite: what is worth a tool, what reads how, when two tools are one."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

import libcst as cst

from ._analysis import NameIndex, walk
from ._describe import MAX_NAME, name_words, read_expr
from ._operations import operation_count, single_operator

__all__ = [
    "body_key",
    "code_words",
    "is_run_stmt",
    "nontrivial",
    "plain_if",
    "read_code",
    "segment_name",
    "single_operation",
]

_COMPS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_ACCUMULATED_LITERALS = (cst.Integer, cst.Float, cst.SimpleString, cst.Imaginary)


def plain_if(stmt: cst.BaseStatement) -> bool:
    """An ``if`` whose branches hold only simple statements: fused with the condition it tests."""
    if not isinstance(stmt, cst.If):
        return False
    branches: list[cst.BaseSuite] = [stmt.body]
    orelse = stmt.orelse
    while orelse is not None:
        branches.append(orelse.body)
        orelse = orelse.orelse if isinstance(orelse, cst.If) else None
    return all(
        isinstance(b, cst.SimpleStatementSuite)
        or (isinstance(b, cst.IndentedBlock) and all(isinstance(s, cst.SimpleStatementLine) for s in b.body))
        for b in branches
    )


def read_code(code: str) -> str:
    try:
        return read_expr(ast.parse(code.strip(), mode="eval").body)
    except SyntaxError:
        return f"`{' '.join(code.split())}`"


def code_words(code: str) -> str:
    try:
        words = name_words(ast.parse(code.strip(), mode="eval").body)
    except SyntaxError:
        words = ["value"]
    return re.sub(r"_+", "_", re.sub(r"[^0-9a-z_]+", "_", "_".join(words).lower())).strip("_")


def single_operation(expr: cst.BaseExpression) -> bool:
    """No operation, or one single operator (``i + 1``, ``n <= 1``, ``lst[0]``): not worth a tool,
    unless nothing else is. The rule is ``_operations.single_operator``, the one the audit counts:
    one operation over a whole collection (``len(xs)``, ``sorted(xs)``, ``s.split()``) is worth one."""
    if any(isinstance(n, (*_COMPS, cst.Lambda)) for n in walk(expr)):
        return False
    try:
        tree = ast.parse(f"({cst.Module(body=[]).code_for_node(expr)})", mode="eval")
    except SyntaxError:
        return False
    nodes = list(ast.walk(tree))
    return operation_count(nodes) == 0 or single_operator(nodes)


def body_key(fn: cst.FunctionDef) -> str:
    """The function's body with its parameters renamed by position: equal keys, same tool."""
    names = {p.name.value: f"_p{k}" for k, p in enumerate(fn.params.params)}

    class _Rename(cst.CSTTransformer):
        def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
            return updated_node.with_changes(value=names.get(updated_node.value, updated_node.value))

    renamed = fn.body.visit(_Rename())
    assert isinstance(renamed, cst.IndentedBlock)
    code = "".join(cst.Module(body=[]).code_for_node(s) for s in renamed.body)
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return " ".join(code.split())


def segment_name(
    code: Callable[[cst.CSTNode], str],
    rets: list[str],
    loop: cst.For | cst.While | None,
    whole: cst.For | cst.While | None,
) -> str:
    """``run_loop_over_x``, ``loop_step_over_x``, ``update_total``: every returned name kept."""
    if isinstance(whole, cst.For):
        base = "run_loop_over_" + code_words(code(whole.target))
    elif isinstance(whole, cst.While):
        base = "run_loop_while_" + code_words(code(whole.test))
    elif len(rets) == 1:
        base = f"update_{rets[0]}"
    elif isinstance(loop, cst.For):
        base = "loop_step_over_" + code_words(code(loop.target))
    elif isinstance(loop, cst.While):
        base = "loop_step_while_" + code_words(code(loop.test))
    else:
        base = "update_" + "_and_".join(rets)
    if len(base) <= MAX_NAME:
        return base
    return (
        "run_whole_loop" if whole is not None else ("run_loop_step" if loop is not None else "update_values")
    )


_LITERALS = (cst.Integer, cst.Float, cst.SimpleString)


def _literal(value: cst.BaseExpression) -> bool:
    if isinstance(value, _LITERALS):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, cst.UnaryOperation) and isinstance(value.expression, (cst.Integer, cst.Float)):
        return True
    if isinstance(value, (cst.List, cst.Dict, cst.Set, cst.Tuple)):
        return (
            not value.elements
            if not isinstance(value, cst.Tuple)
            else all(isinstance(e, cst.Element) and _literal(e.value) for e in value.elements)
        )
    return False


def literal_starts(index: NameIndex, before: Sequence[cst.BaseStatement]) -> dict[str, cst.BaseExpression]:
    """Names a block sets to a literal (``total = 0``, ``best, seen = 0, []``) and leaves alone until
    its end: the start value of a loop that follows."""
    starts: dict[str, cst.BaseExpression] = {}
    for stmt in before:
        for name in index.writes(stmt) | set(index.mutated(stmt)):
            starts.pop(name, None)
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        small = stmt.body[0]
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            continue
        target, value = small.targets[0].target, small.value
        if isinstance(target, cst.Name) and _literal(value):
            starts[target.value] = value
        elif (
            isinstance(target, cst.Tuple)
            and isinstance(value, cst.Tuple)
            and len(target.elements) == len(value.elements)
        ):
            for t, v in zip(target.elements, value.elements, strict=True):
                if isinstance(t.value, cst.Name) and _literal(v.value):
                    starts[t.value.value] = v.value
    return starts


def nontrivial(node: cst.CSTNode) -> bool:
    """Whether a node does work worth a tool: a call that is not a copy, an operator, a subscript."""
    if isinstance(node, cst.SimpleStatementLine) and any(
        isinstance(s, cst.AugAssign) and not isinstance(s.value, _ACCUMULATED_LITERALS) for s in node.body
    ):
        return True  # an accumulation step such as ``total += x``
    return any(
        (isinstance(n, cst.Call) and not _copy_call(n))
        or isinstance(
            n,
            (
                cst.Subscript,
                cst.BinaryOperation,
                cst.Comparison,
                cst.BooleanOperation,
                cst.IfExp,
                *_COMPS,
            ),
        )
        for n in walk(node)
    )


def is_run_stmt(stmt: cst.BaseStatement) -> bool:
    """A simple statement that can join a run of statements carved as one tool (no docstring)."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        only = stmt.body[0]
        if isinstance(only, cst.Expr) and isinstance(only.value, (cst.SimpleString, cst.ConcatenatedString)):
            return False
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Expr)) for s in stmt.body
    )


_CONVERSIONS = frozenset({"list", "dict", "set", "tuple", "frozenset", "str", "int", "float", "bool"})


def _copy_call(call: cst.Call) -> bool:
    """``list(xs)``, ``int(s)``, ``set()``: a conversion or a copy, not work worth a tool."""
    return isinstance(call.func, cst.Name) and call.func.value in _CONVERSIONS
