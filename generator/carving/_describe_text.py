"""Descriptions of carved tools in words, and a check that a name or description is faithful to the code.

A description reads the whole code of the tool (every name, operator and constant of it) in
English, with Args and Returns; nothing is cut. See :mod:`._describe` for the names.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from ._describe import _BIN_WORDS, _CMP_WORDS, _group, _parse, read_expr

__all__ = [
    "expr_description",
    "faithfulness_problems",
    "function_description",
    "read_statements",
    "segment_description",
    "truncation_marks",
]


def _args_block(params: Sequence[str], what: str) -> str:
    if not params:
        return ""
    lines = "\n".join(f"    {p}: {what}" for p in params)
    return f"\n\nArgs:\n{lines}"


def expr_description(code: str, params: Sequence[str], *, check: bool) -> str:
    """What an expression tool computes, in words, with Args and Returns."""
    node = _parse(code)
    reading = read_expr(node) if node is not None else f"`{' '.join(code.split())}`"
    if check or isinstance(node, ast.Compare | ast.BoolOp):
        head = f"Check whether {reading}."
        returns = "True when it holds, else False."
    else:
        head = f"Compute {reading}."
        returns = "the computed value."
    role = "a value the expression reads."
    return f"{head}{_args_block(params, role)}\n\nReturns:\n    {returns}"


def _read_target(node: ast.expr) -> str:
    return ast.unparse(node)


def read_statements(body: Sequence[ast.stmt], depth: int = 0) -> list[str]:
    """One English clause per statement, nested blocks inline (returns are left to the caller)."""
    out: list[str] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            targets = " and ".join(_read_target(t) for t in stmt.targets)
            out.append(f"set {targets} to {read_expr(stmt.value)}")
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            out.append(f"set {_read_target(stmt.target)} to {read_expr(stmt.value)}")
        elif isinstance(stmt, ast.AugAssign):
            target, value = _read_target(stmt.target), _group(stmt.value, read_expr(stmt.value))
            if isinstance(stmt.op, ast.Add):
                out.append(f"add {value} to {target}")
            elif isinstance(stmt.op, ast.Sub):
                out.append(f"subtract {value} from {target}")
            elif isinstance(stmt.op, ast.Mult):
                out.append(f"multiply {target} by {value}")
            else:
                word = _BIN_WORDS.get(type(stmt.op), ("combined with", ""))[0]
                out.append(f"set {target} to {target} {word} {value}")
        elif isinstance(stmt, ast.Expr):
            out.append(_read_effect(stmt.value))
        elif isinstance(stmt, ast.If):
            # "if x is None, ..." not "if x is None:": a condition read aloud must not be the code line
            text = f"if {read_expr(stmt.test)}, " + "; ".join(read_statements(stmt.body, depth + 1))
            if stmt.orelse:
                text += "; otherwise, " + "; ".join(read_statements(stmt.orelse, depth + 1))
            out.append(f"({text})" if depth else text)
        elif isinstance(stmt, ast.For):
            text = f"for each {_read_target(stmt.target)} in {read_expr(stmt.iter)}: " + "; ".join(
                read_statements(stmt.body, depth + 1)
            )
            out.append(f"({text})" if depth else text)
        elif isinstance(stmt, ast.While):
            text = f"as long as {read_expr(stmt.test)}, repeat: " + "; ".join(
                read_statements(stmt.body, depth + 1)
            )
            out.append(f"({text})" if depth else text)
        elif isinstance(stmt, ast.Return):
            # "the result is x", not the solution's own line "return x"
            out.append(f"the result is {read_expr(stmt.value) if stmt.value is not None else 'None'}")
        elif isinstance(stmt, ast.Break):
            out.append("stop the loop")
        elif isinstance(stmt, ast.Continue):
            out.append("go on with the next item")
        elif isinstance(stmt, ast.Pass):
            out.append("do nothing")
        else:
            out.append(f"run `{ast.unparse(stmt).splitlines()[0]}`")
    return out


def _read_effect(value: ast.expr) -> str:
    """A call made for its effect: ``xs.append(v)`` -> ``append v to xs``."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and not value.keywords:
        obj = read_expr(value.func.value)
        args = [read_expr(a) for a in value.args]
        method = value.func.attr
        if method in ("append", "add") and len(args) == 1:
            return f"{method} {args[0]} to {obj}"
        if method == "extend" and len(args) == 1:
            return f"extend {obj} with {args[0]}"
        return f"call {method} on {obj}" + (f" with {', '.join(args)}" if args else "")
    return f"evaluate {read_expr(value)}"


def segment_description(
    code: str, params: Sequence[str], returns: Sequence[str], head: str, *, items: Sequence[str] = ()
) -> str:
    """A statement tool (loop body, run, whole loop): ``head`` then every statement in words.

    ``items``: the loop's own variables (described as the current item); a parameter that is also
    returned is described as its value before the step.
    """
    try:
        fn = ast.parse(code).body[0]
    except (SyntaxError, IndexError):
        fn = None
    body = fn.body[:-1] if isinstance(fn, ast.FunctionDef) else []
    steps = "; then ".join(read_statements(body))
    text = f"{head}: {steps}." if steps else f"{head}."
    text = text[0].upper() + text[1:]
    rets = ", ".join(returns)
    what = "the new value of" if len(returns) == 1 else "the new values of"
    lines = "\n".join(
        f"    {p}: "
        + (
            "the loop's current item."
            if p in items
            else "its value before this step."
            if p in returns
            else "a value the step reads."
        )
        for p in params
    )
    args = f"\n\nArgs:\n{lines}" if params else ""
    return f"{text}{args}\n\nReturns:\n    {what} {rets}."


def function_description(fn_code: str, name: str, params: Sequence[str]) -> str:
    """A helper without a docstring: what its body does, statement by statement, in words."""
    try:
        fn = ast.parse(fn_code).body[0]
    except (SyntaxError, IndexError):
        fn = None
    if not isinstance(fn, ast.FunctionDef):
        return f"Compute {name}({', '.join(params)}).{_args_block(params, 'an argument.')}"
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    steps = "; then ".join(read_statements(body))
    own = f"{name}({', '.join(params)})"
    returns = "the value it returns."
    last = body[-1] if body else None
    if isinstance(last, ast.Return) and last.value is not None and len(body) == 1:
        returns = f"{read_expr(last.value)}."
    return f"Compute {own}: {steps}.{_args_block(params, 'an argument.')}\n\nReturns:\n    {returns}"


_MARKS = re.compile(r"(?<!\w)\.\.\.|\.\.\.(?!\w)|…|and what follows", re.IGNORECASE)


def truncation_marks(text: str) -> list[str]:
    """Truncation marks in a name or description ("...", "…", "and what follows").

    Three dots between two word characters (``arr[left...right]``, ``1...n``) write a range, not a
    cut: a text cut short ends in the dots or leaves a space after them.
    """
    return _MARKS.findall(text)


_NAME_OPS = {
    "lt": {"lt"},
    "le": {"le"},
    "gt": {"gt"},
    "ge": {"ge"},
    "eq": {"eq"},
    "ne": {"ne"},
    "mod": {"mod"},
    "plus": {"plus"},
    "minus": {"minus"},
    "times": {"times"},
    "div": {"div"},
    "floordiv": {"floordiv"},
    "pow": {"pow"},
    "and": {"and"},
    "or": {"or"},
    "in": {"in"},
    "not_in": {"not_in"},
}
_EVEN_ODD = {"even", "odd", "divisible"}


def _body_ops(fn: ast.FunctionDef) -> set[str]:
    ops: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.BoolOp):
            ops.add("and" if isinstance(node.op, ast.And) else "or")
        elif isinstance(node, ast.Compare):
            ops |= {_CMP_WORDS[type(o)][1] for o in node.ops if type(o) in _CMP_WORDS}
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_WORDS:
            ops.add(_BIN_WORDS[type(node.op)][1])
    return ops


def _without_state(fn: ast.FunctionDef, state: str) -> ast.FunctionDef:
    """A stateful step without its state plumbing (reading and storing the kept values)."""
    body = fn.body[2:]  # ``state = state if ..``, ``own = state.get(name, {})``
    reads = 0
    while reads < len(body) and isinstance(body[reads], ast.Assign):
        value = body[reads].value  # type: ignore[attr-defined]
        if not (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get"
        ):
            break
        reads += 1
    body = body[reads:]
    last = body[-1] if body else None
    if isinstance(last, ast.Return) and isinstance(last.value, ast.List) and len(last.value.elts) == 2:
        body = [*body[:-1], ast.Return(value=last.value.elts[1])]
    args = [a for a in fn.args.args if a.arg != state]
    return ast.FunctionDef(
        name=fn.name,
        args=ast.arguments(posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=body or [ast.Pass()],
        decorator_list=[],
        type_params=[],
    )


def faithfulness_problems(
    name: str, description: str, fn_code: str, *, state: str | None = None
) -> list[str]:
    """What a generated tool's name or description says that its code does not, or leaves out.

    - no truncation marks in either;
    - a name that reads operators (``lt``, ``mod``, ``and``...) reads every operator of the body and
      none that is not there (``even``/``odd``/``divisible`` stand for ``% .. ==``/``!=``);
    - the description mentions every parameter, name, attribute and constant the body uses
      (a stateful step's ``state`` plumbing aside).
    """
    problems = [f"truncation mark {m!r}" for m in truncation_marks(name) + truncation_marks(description)]
    try:
        fn = ast.parse(fn_code).body[0]
    except (SyntaxError, IndexError):
        return [*problems, "the code does not parse"]
    if not isinstance(fn, ast.FunctionDef):
        return [*problems, "not a function"]
    if state is not None:
        fn = _without_state(fn, state)
    words = set(name.split("_"))
    if "_not_in_" in f"_{name}_":
        words = (words - {"in"}) | {"not_in"} if f"_{name}_".count("_in_") == 1 else words | {"not_in"}
    named = {w for w in words if w in _NAME_OPS}
    if words & _EVEN_ODD:
        named |= {"mod", "eq", "ne"} & _body_ops(fn)
    body = _body_ops(fn) - {"is", "is_not"}  # no name word for identity tests
    statement_name = re.match(r"(update|loop_step|run_loop|set|add|subtract|multiply|append)_", name)
    if named and not statement_name:
        problems += [f"name {name!r} leaves out operator {op!r}" for op in sorted(body - named)]
        problems += [f"name {name!r} reads operator {op!r} the code lacks" for op in sorted(named - body)]
    mentioned = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", description))
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id not in mentioned:
            problems.append(f"description leaves out {node.id!r}")
        elif isinstance(node, ast.Attribute) and node.attr not in mentioned:
            problems.append(f"description leaves out .{node.attr}")
        elif isinstance(node, ast.Constant) and repr(node.value) not in description:
            problems.append(f"description leaves out the constant {node.value!r}")
    for arg in fn.args.args:
        if arg.arg not in mentioned:
            problems.append(f"description leaves out the parameter {arg.arg!r}")
    return problems
