"""Names of carved tools (and the English reading of expressions), derived from the tool's own code (read with ``ast``).

A name never drops an operator, constant or clause of the code it names: it is either a full
compact reading of the expression (``check_idx_is_even_and_x_is_odd``) or, when that reading is
too long for a tool name, an abstract name that claims no operator at all
(``check_all_conditions_on_a_b_c``); the description then reads the whole code in words. Nothing
here cuts text: no "..." and no "and what follows".

Parsing is not running: the code read here is the solution's or a generated tool's source, and
``ast.parse`` only builds its tree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

__all__ = [
    "MAX_NAME",
    "constant_words",
    "expr_name",
    "name_words",
    "read_expr",
    "statement_name",
    "temp_name",
]

MAX_NAME = 64
"""Longest tool name the full reading may give; longer readings get an abstract name."""

_BIN_WORDS: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("plus", "plus"),
    ast.Sub: ("minus", "minus"),
    ast.Mult: ("times", "times"),
    ast.Div: ("divided by", "div"),
    ast.FloorDiv: ("floor-divided by", "floordiv"),
    ast.Mod: ("modulo", "mod"),
    ast.Pow: ("to the power", "pow"),
    ast.LShift: ("shifted left by", "lshift"),
    ast.RShift: ("shifted right by", "rshift"),
    ast.BitAnd: ("bitwise-and", "bitand"),
    ast.BitOr: ("bitwise-or", "bitor"),
    ast.BitXor: ("bitwise-xor", "xor"),
    ast.MatMult: ("matrix-times", "matmul"),
}
_CMP_WORDS: dict[type[ast.cmpop], tuple[str, str]] = {
    ast.Lt: ("is less than", "lt"),
    ast.LtE: ("is at most", "le"),
    ast.Gt: ("is greater than", "gt"),
    ast.GtE: ("is at least", "ge"),
    ast.Eq: ("equals", "eq"),
    ast.NotEq: ("differs from", "ne"),
    ast.In: ("is in", "in"),
    ast.NotIn: ("is not in", "not_in"),
    ast.Is: ("is", "is"),
    ast.IsNot: ("is not", "is_not"),
}
_BIN_NOUNS: dict[type[ast.operator], str] = {
    ast.Add: "combined",  # numbers or strings or lists: not "sum"
    ast.Sub: "difference",
    ast.Mult: "product",
    ast.Div: "quotient",
    ast.FloorDiv: "floor_quotient",
    ast.Mod: "remainder",
    ast.Pow: "power",
}
_CALL_ROLES = {
    "len": "length",
    "sum": "total",
    "sorted": "sorted_items",
    "set": "unique_items",
    "list": "items",
    "tuple": "items",
    "str": "text",
    "int": "number",
    "float": "number",
    "abs": "magnitude",
    "max": "largest",
    "min": "smallest",
    "split": "parts",
    "join": "joined",
    "lower": "lowered",
    "upper": "uppered",
    "strip": "stripped",
    "reversed": "reversed_items",
    "ord": "code",
    "chr": "char",
    "bin": "binary",
    "round": "rounded",
    "count": "count",
    "index": "position",
    "find": "position",
    "replace": "replaced",
}


def _parse(code: str) -> ast.expr | None:
    try:
        return ast.parse(code.strip(), mode="eval").body
    except SyntaxError:
        return None


def _group(node: ast.expr, text: str) -> str:
    return f"({text})" if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp)) else text


def read_expr(node: ast.expr) -> str:
    """A literal English reading of an expression; every name and constant of it appears."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.BinOp):
        word = _BIN_WORDS.get(type(node.op), ("?", "?"))[0]
        return f"{_group(node.left, read_expr(node.left))} {word} {_group(node.right, read_expr(node.right))}"
    if isinstance(node, ast.UnaryOp):
        inner = _group(node.operand, read_expr(node.operand))
        if isinstance(node.op, ast.Not):
            return f"not {inner}"
        if isinstance(node.op, ast.USub):
            return f"minus {inner}"
        if isinstance(node.op, ast.Invert):
            return f"bitwise-not {inner}"
        return inner
    if isinstance(node, ast.BoolOp):
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return joiner.join(_group(v, read_expr(v)) for v in node.values)
    if isinstance(node, ast.Compare):
        parts = [_group(node.left, read_expr(node.left))]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += [_CMP_WORDS.get(type(op), ("?", "?"))[0], _group(right, read_expr(right))]
        return " ".join(parts)
    if isinstance(node, ast.Subscript):
        return _read_subscript(node)
    if isinstance(node, ast.Call):
        return _read_call(node)
    if isinstance(node, ast.Attribute):
        return f"{node.attr} of {read_expr(node.value)}"
    if isinstance(node, ast.IfExp):
        return f"{read_expr(node.body)} if {read_expr(node.test)}, else {read_expr(node.orelse)}"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        kind = {ast.ListComp: "list", ast.SetComp: "set", ast.GeneratorExp: "sequence"}[type(node)]
        return f"the {kind} of {read_expr(node.elt)} {_read_generators(node.generators)}"
    if isinstance(node, ast.DictComp):
        return f"the dict mapping {read_expr(node.key)} to {read_expr(node.value)} {_read_generators(node.generators)}"
    return f"`{ast.unparse(node)}`"


def _read_generators(gens: Sequence[ast.comprehension]) -> str:
    parts = []
    for g in gens:
        text = f"for each {ast.unparse(g.target)} in {read_expr(g.iter)}"
        for cond in g.ifs:
            text += f" where {read_expr(cond)}"
        parts.append(text)
    return ", ".join(parts)


def _read_subscript(node: ast.Subscript) -> str:
    value = _group(node.value, read_expr(node.value))
    sl = node.slice
    if isinstance(sl, ast.Slice):
        if sl.lower is None and sl.upper is None and sl.step is not None:
            step = sl.step
            if (
                isinstance(step, ast.UnaryOp)
                and isinstance(step.op, ast.USub)
                and isinstance(step.operand, ast.Constant)
                and step.operand.value == 1
            ):
                return f"{value} reversed (step -1)"
            return f"every item of {value} with step {read_expr(sl.step)}"
        lower = f"from index {read_expr(sl.lower)}" if sl.lower is not None else "from the start"
        upper = f"up to index {read_expr(sl.upper)} (excluded)" if sl.upper is not None else "to the end"
        stride = f" with step {read_expr(sl.step)}" if sl.step is not None else ""
        return f"the slice of {value} {lower} {upper}{stride}"
    return f"item {read_expr(sl)} of {value}"


def _read_call(node: ast.Call) -> str:
    args = [read_expr(a) for a in node.args] + [
        f"{k.arg}={read_expr(k.value)}" if k.arg else f"**{read_expr(k.value)}" for k in node.keywords
    ]
    listed = ", ".join(args)
    if isinstance(node.func, ast.Name):
        return f"{node.func.id}({listed})"
    if isinstance(node.func, ast.Attribute):
        obj = _group(node.func.value, read_expr(node.func.value))
        if node.func.attr == "join" and len(args) == 1:
            return f"the items of {args[0]} joined with {obj} (join)"
        return f"{node.func.attr}({listed}) applied to {obj}"
    return f"`{ast.unparse(node)}`"


# ---------------------------------------------------------------------------------------- names


_CHAR_WORDS = {
    "": "empty_str",
    " ": "space",
    ",": "comma",
    ".": "dot",
    "\n": "newline",
    "-": "dash",
    "_": "underscore",
    "(": "open_paren",
    ")": "close_paren",
    "[": "open_bracket",
    "]": "close_bracket",
    "#": "hash_sign",
    "<": "left_angle",
    ">": "right_angle",
    "{": "open_brace",
    "}": "close_brace",
    "/": "slash",
    ":": "colon",
    ";": "semicolon",
    "!": "exclamation_mark",
    "?": "question_mark",
    "'": "quote",
    '"': "double_quote",
}


def constant_words(value: object) -> list[str]:
    """How a name spells a constant: ``1.0`` -> ``1_point_0``, ``""`` -> ``empty_str``, ``"<"`` ->
    ``left_angle``, a short word -> ``b_str`` (the ``str`` marks a string, not the builtin)."""
    return _const_words(value)


def _const_words(value: object) -> list[str]:
    if isinstance(value, bool) or value is None:
        return [str(value).lower()]
    if isinstance(value, int):
        return ["neg", str(-value)] if value < 0 else [str(value)]
    if isinstance(value, float):
        return [str(value).replace(".", "_point_").replace("-", "minus_")]
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,11}", value):
            return [value.lower(), "str"] if value.lower() != value or len(value) == 1 else [value]
        return [_CHAR_WORDS.get(value, "str")]
    return ["value"]


def _mod_pattern(node: ast.Compare) -> list[str] | None:
    """``e % 2 == 0`` -> ``e_is_even``; ``e % 2 == 1`` / ``!= 0`` -> ``e_is_odd``; ``e % k == 0`` -> divisible."""
    if len(node.ops) != 1 or not isinstance(node.left, ast.BinOp) or not isinstance(node.left.op, ast.Mod):
        return None
    k, right, op = node.left.right, node.comparators[0], node.ops[0]
    if not (isinstance(k, ast.Constant) and isinstance(right, ast.Constant) and isinstance(k.value, int)):
        return None
    base = name_words(node.left.left)
    if k.value == 2 and (
        (isinstance(op, ast.Eq) and right.value == 0) or (isinstance(op, ast.NotEq) and right.value == 1)
    ):
        return [*base, "is", "even"]
    if k.value == 2 and (
        (isinstance(op, ast.Eq) and right.value == 1) or (isinstance(op, ast.NotEq) and right.value == 0)
    ):
        return [*base, "is", "odd"]
    if right.value == 0 and isinstance(op, ast.Eq):
        return [*base, "divisible", "by", str(k.value)]
    if right.value == 0 and isinstance(op, ast.NotEq):
        return [*base, "not", "divisible", "by", str(k.value)]
    return None


def name_words(node: ast.expr) -> list[str]:
    """A compact reading for names: every operator, name and constant kept (``a[i] < a[i - 1]`` ->
    ``a at i lt a at i minus 1``)."""
    if isinstance(node, ast.Name):
        return [node.id.strip("_").lower() or "value"]
    if isinstance(node, ast.Constant):
        return _const_words(node.value)
    if isinstance(node, ast.BinOp):
        return [
            *name_words(node.left),
            _BIN_WORDS.get(type(node.op), ("?", "op"))[1],
            *name_words(node.right),
        ]
    if isinstance(node, ast.UnaryOp):
        word = {ast.Not: ["not"], ast.USub: ["neg"], ast.Invert: ["bitnot"]}.get(type(node.op), [])
        return [*word, *name_words(node.operand)]
    if isinstance(node, ast.BoolOp):
        joiner = "and" if isinstance(node.op, ast.And) else "or"
        out: list[str] = []
        for k, v in enumerate(node.values):
            out += ([joiner] if k else []) + name_words(v)
        return out
    if isinstance(node, ast.Compare):
        special = _mod_pattern(node)
        if special is not None:
            return special
        words = name_words(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            words += [_CMP_WORDS.get(type(op), ("?", "op"))[1], *name_words(right)]
        return words
    if isinstance(node, ast.Subscript):
        sl = node.slice
        if isinstance(sl, ast.Slice):
            words = [*name_words(node.value), "slice"]
            for label, part in (("from", sl.lower), ("to", sl.upper), ("step", sl.step)):
                if part is not None:
                    words += [label, *name_words(part)]
            return words
        return [*name_words(node.value), "at", *name_words(sl)]
    if isinstance(node, ast.Call):
        args: list[str] = []
        for a in node.args:
            args += name_words(a)
        for kw in node.keywords:
            args += [kw.arg or "kwargs", *name_words(kw.value)]
        if isinstance(node.func, ast.Name):
            return [node.func.id.lower(), *(["of", *args] if args else [])]
        if isinstance(node.func, ast.Attribute):
            return [node.func.attr.lower(), *name_words(node.func.value), *(["with", *args] if args else [])]
        return ["call"]
    if isinstance(node, ast.Attribute):
        return [node.attr.lower(), "of", *name_words(node.value)]
    if isinstance(node, ast.IfExp):
        return [*name_words(node.body), "if", *name_words(node.test), "else", *name_words(node.orelse)]
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        return [w for e in node.elts for w in name_words(e)]  # no "and": that word means the operator
    return ["expression"]


def _join(words: Sequence[str]) -> str:
    text = re.sub(r"[^0-9a-z_]+", "_", "_".join(words).lower())
    return re.sub(r"_+", "_", text).strip("_")


def _abstract(node: ast.expr, prefix: str, params: Sequence[str]) -> str:
    on = "_on_" + _join(params) if params else ""
    if prefix == "check":
        if isinstance(node, ast.BoolOp):
            kind = "all_conditions" if isinstance(node.op, ast.And) else "any_condition"
        elif isinstance(node, ast.Compare):
            kind = "comparison"
        else:
            kind = "condition"
        name = f"check_{kind}{on}"
        return name if len(name) <= MAX_NAME else f"check_{kind}"
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        func = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        kind = f"{func.lower()}_result"
    elif isinstance(node, ast.BinOp):
        kind = _BIN_NOUNS.get(type(node.op), "value")
    elif isinstance(node, ast.IfExp):
        kind = "choice"
    elif isinstance(node, ast.Subscript):
        kind = ("slice_of_" if isinstance(node.slice, ast.Slice) else "item_of_") + _join(
            name_words(node.value)
        )
    else:
        kind = "value"
    name = f"compute_{kind}{'_from_' + _join(params) if params else ''}"
    return name if len(name) <= MAX_NAME else f"compute_{kind}"


def expr_name(code: str, prefix: str, params: Sequence[str]) -> str:
    """The tool name of an expression tool: the full compact reading, else an abstract name."""
    node = _parse(code)
    if node is None:
        return f"{prefix}_value"
    if prefix == "compute" and isinstance(node, ast.Compare | ast.BoolOp):
        prefix = "check"
    full = f"{prefix}_{_join(name_words(node))}"
    return full if len(full) <= MAX_NAME else _abstract(node, prefix, params)


def statement_name(code: str) -> str | None:
    """A name for a run of simple statements that reads each one (``add_1_to_depth_then_append_c_to_path``),
    or None when a statement has no short reading or the name would be too long."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return None
    parts: list[list[str]] = []
    for stmt in body:
        words = _statement_words(stmt)
        if words is None:
            return None
        parts.append(words)
    if not parts:
        return None
    name = _join([w for k, p in enumerate(parts) for w in ([*(["then"] if k else []), *p])])
    return name if len(name) <= MAX_NAME else None


def _statement_words(stmt: ast.stmt) -> list[str] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return ["set", stmt.targets[0].id, "to", *name_words(stmt.value)]
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        target, value = stmt.target.id, name_words(stmt.value)
        if isinstance(stmt.op, ast.Add):
            return ["add", *value, "to", target]
        if isinstance(stmt.op, ast.Sub):
            return ["subtract", *value, "from", target]
        if isinstance(stmt.op, ast.Mult):
            return ["multiply", target, "by", *value]
        return ["set", target, _BIN_WORDS.get(type(stmt.op), ("", "op"))[1], *value]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if isinstance(call.func, ast.Attribute) and not call.keywords:
            obj = name_words(call.func.value)
            args = [w for a in call.args for w in name_words(a)]
            if call.func.attr in ("append", "add") and len(call.args) == 1:
                return [call.func.attr, *args, "to", *obj]
            return [call.func.attr, *obj, *(["with", *args] if args else [])]
    return None


def temp_name(code: str) -> str:
    """A role name for a plan variable holding the value of ``code`` (``len(xs)`` -> ``length``)."""
    node = _parse(code)
    if isinstance(node, ast.Call):
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        return _CALL_ROLES.get(func, f"{func.lower()}_result" if func else "value")
    if isinstance(node, ast.BinOp):
        return _BIN_NOUNS.get(type(node.op), "value")
    if isinstance(node, ast.Subscript):
        return "part" if isinstance(node.slice, ast.Slice) else "item"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        return "selected" if any(g.ifs for g in node.generators) else "mapped"
    if isinstance(node, ast.DictComp):
        return "mapping"
    return "value"
