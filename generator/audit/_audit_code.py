"""Facts about one tool's function in tools.py, read with ``ast`` (never run on the host).

- :func:`operation_count`, :func:`has_loop`, :func:`is_collection_level`, :func:`single_operator`:
  the rules of ``generator/carving/_operations.py`` (the one definition the carver uses too) over
  the body, docstring dropped.
- :func:`normalised_body`: the body with the function's name, docstring and parameter names
  replaced by positions, so two tools computing the same thing compare equal.
- :func:`vocabulary`: the identifiers, operator words and constants a body holds (what a name or
  description may mention).
- :func:`returned_params`: the parameters a body returns unchanged (``return nums``, ``return
  list(nums)``), for the revealing-call measure of zero-argument getters.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..carving import _operations as operations

__all__ = [
    "OP_WORDS",
    "Vocabulary",
    "functions_of",
    "has_loop",
    "is_collection_level",
    "normalised_body",
    "operation_count",
    "returned_params",
    "single_operator",
    "vocabulary",
]

OP_WORDS: dict[type[ast.AST], tuple[str, ...]] = {
    ast.Lt: ("lt", "less"),
    ast.LtE: ("le",),
    ast.Gt: ("gt", "greater"),
    ast.GtE: ("ge",),
    ast.Eq: ("eq", "equal", "equals"),
    ast.NotEq: ("ne",),
    ast.Mod: ("mod", "modulo", "remainder"),
    ast.Add: ("plus", "add"),
    ast.Sub: ("minus", "subtract"),
    ast.USub: ("minus", "negate", "negative"),
    ast.Mult: ("times", "multiply"),
    ast.Div: ("div", "divide"),
    ast.FloorDiv: ("div", "divide", "floordiv"),
    ast.Pow: ("pow", "power"),
    ast.And: ("and",),
    ast.Or: ("or",),
    ast.Not: ("not",),
    ast.In: ("in",),
    ast.NotIn: ("not", "in"),
    ast.BitXor: ("xor",),
}
"""Operator -> the words that name it in a slug name (the carver's words first)."""

SLUG_OP_WORDS = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "mod", "plus", "minus", "times", "div", "pow"})
"""The words the carver's ``slug`` writes for operators: a name holding one claims that operator."""


def functions_of(source: str) -> dict[str, ast.FunctionDef]:
    """The top-level functions of a module's source, by name.

    Raises:
        SyntaxError: the source does not parse.
    """
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


def _body(func: ast.FunctionDef) -> list[ast.stmt]:
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body


def _walk(func: ast.FunctionDef) -> list[ast.AST]:
    return [node for stmt in _body(func) for node in ast.walk(stmt)]


def operation_count(func: ast.FunctionDef) -> int:
    """How many operations the body computes (``carving._operations.operation_count``)."""
    return operations.operation_count(_walk(func))


def has_loop(func: ast.FunctionDef) -> bool:
    """Whether the body holds a loop or a comprehension."""
    return operations.has_loop(_walk(func))


def is_collection_level(func: ast.FunctionDef) -> bool:
    """Whether the body works over a whole collection (``carving._operations.is_collection_level``)."""
    return operations.is_collection_level(_walk(func))


def single_operator(func: ast.FunctionDef) -> bool:
    """Whether the body is one operation that is not over a whole collection (the carver's rule too)."""
    return operations.single_operator(_walk(func))


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id=self.names.get(node.id, node.id), ctx=node.ctx), node)


def normalised_body(func: ast.FunctionDef) -> str:
    """The body as text with parameters renamed to their positions (``p0``, ``p1``...)."""
    a = func.args
    params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    renamer = _Renamer({name: f"p{i}" for i, name in enumerate(params)} | {func.name: "_self"})
    module = ast.Module(
        body=[renamer.visit(ast.parse(ast.unparse(s)).body[0]) for s in _body(func)], type_ignores=[]
    )
    return ast.unparse(module)


@dataclass
class Vocabulary:
    """What a body holds: names (variables, params, attributes, called names), operator words, constants."""

    names: set[str] = field(default_factory=set)
    op_words: set[str] = field(default_factory=set)
    constants: set[str] = field(default_factory=set)


def _constant_forms(value: object) -> set[str]:
    if isinstance(value, bool) or value is None:
        return {str(value).lower(), str(value)}
    if isinstance(value, int | float):
        forms = {repr(value), str(abs(value))}
        if isinstance(value, float) and value.is_integer():
            forms.add(str(int(value)))
        return forms
    if isinstance(value, str):
        return {value}
    return set()


def vocabulary(func: ast.FunctionDef) -> Vocabulary:
    """The identifiers, operator words and constants of the body (and its name and params)."""
    vocab = Vocabulary()
    a = func.args
    vocab.names.update(p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs))
    vocab.names.add(func.name)
    for node in _walk(func):
        if isinstance(node, ast.Name):
            vocab.names.add(node.id)
        elif isinstance(node, ast.Attribute):
            vocab.names.add(node.attr)
        elif isinstance(node, ast.arg):
            vocab.names.add(node.arg)
        elif isinstance(node, ast.Constant):
            vocab.constants |= _constant_forms(node.value)
        elif (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
        ):
            vocab.constants |= {f"-{c}" for c in _constant_forms(node.operand.value)}
        op: list[ast.AST] = []
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.BoolOp | ast.AugAssign):
            op = [node.op]
        elif isinstance(node, ast.Compare):
            op = list(node.ops)
        for o in op:
            vocab.op_words.update(OP_WORDS.get(type(o), ()))
    return vocab


def returned_params(func: ast.FunctionDef) -> set[str]:
    """Parameters the body returns whole: ``return p``, ``return list(p)``, ``return p[:]``, tuples of them."""
    a = func.args
    params = {p.arg for p in (*a.posonlyargs, *a.args)}
    body = _body(func)
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return set()
    value = body[0].value
    parts = value.elts if isinstance(value, ast.Tuple | ast.List) else [value]
    out: set[str] = set()
    for part in parts:
        if (
            isinstance(part, ast.Call)
            and operations.call_name(part) in ("list", "tuple", "str", "dict")
            and len(part.args) == 1
        ):
            part = part.args[0]
        if isinstance(part, ast.Subscript) and isinstance(part.slice, ast.Slice):
            s = part.slice
            if s.lower is None and s.upper is None and s.step is None:
                part = part.value
        if isinstance(part, ast.Name) and part.id in params:
            out.add(part.id)
    return out
