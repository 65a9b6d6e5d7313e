"""Leak checks over text an agent reads (a task statement, a tool description), issue 11.4/11.5.

- :func:`statement_leaks`: an instance's input shown together with its expected answer, in any
  formatting: compact or spaced JSON/Python lists, tuples, sets, dicts, single- or double-quoted
  strings, numbers, ``True``/``true``. A leak is every input value of one instance followed, within
  :data:`GAP` characters of the last of them, by its answer (``f([1,2,3]) == 6``,
  ``Input: nums = [1, 2, 3]  Output: 6``), the whole within :data:`SPAN` characters.
- :func:`solution_lines_in`: code lines of the reference solution (docstrings and comments left
  out; at least :data:`MIN_LINE` non-blank characters) that appear in the text, compared with
  runs of whitespace collapsed.

The statements helper's ``generator/_leaks.py`` offers ``statement_leaks(text, instances) ->
list[str]`` (one message per leak) and ``solution_lines_in(text, solution) -> list[str]`` (the
lines found) with these same signatures and meanings; ``_audit_honesty`` is the only caller, so
switching it to that module is one import line.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Sequence
from typing import Any

from ..schemas import Instance, canonical_json, decode

__all__ = [
    "GAP",
    "MIN_LINE",
    "SPAN",
    "code_lines",
    "leaked_instances",
    "renderings",
    "solution_lines_in",
    "statement_leaks",
]

GAP = 80
SPAN = 300
MIN_LINE = 12


def _py(value: Any, quote: str) -> str:
    """A Python-literal rendering with the given string quote and ``, `` separators."""
    if isinstance(value, str):
        return quote + value.replace(quote, "\\" + quote) + quote
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(_py(v, quote) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v, quote) for v in value) + "]"
    if isinstance(value, set | frozenset):
        items = sorted(_py(v, quote) for v in value)
        return "{" + ", ".join(items) + "}" if items else "set()"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k, quote)}: {_py(v, quote)}" for k, v in value.items()) + "}"
    return repr(value)


def _json_forms(value: Any) -> set[str]:
    try:
        plain = json.loads(
            json.dumps(value, default=lambda o: sorted(o) if isinstance(o, set | frozenset) else list(o))
        )
    except (TypeError, ValueError):
        return set()
    return {json.dumps(plain), json.dumps(plain, separators=(",", ":"))}


def renderings(value: Any) -> set[str]:
    """The ways a (decoded) value may be written in text: JSON and Python forms, spaced and compact."""
    forms = _json_forms(value)
    shapes = [value, tuple(value), list(value)] if isinstance(value, list | tuple) else [value]
    for shape in shapes:  # a list may be written as a tuple and the other way round
        for quote in ("'", '"'):
            text = _py(shape, quote)
            forms |= {text, re.sub(r"(?<=[,:])\s+", "", text)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    return {f for f in forms if f}


def _occurrences(text: str, forms: set[str]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for form in forms:
        if re.fullmatch(r"[\w.+-]+", form):  # a number, a bool, a bare word: whole tokens only
            sign = "" if form.startswith("-") else "-"  # 2.2 is not in -2.2
            pattern = rf"(?<![\w.{sign}])" + re.escape(form) + r"(?![\w]|\.\d)"
        elif form[0] in "'\"":  # a quoted string, not a piece of a longer quote run ('\"\"' in '\"\"\"')
            pattern = r"(?<![\w'\"])" + re.escape(form) + r"(?![\w'\"])"
        else:
            pattern = re.escape(form)
        found.update((m.start(), m.end()) for m in re.finditer(pattern, text))
    return found


def _leaks(text: str, instance: Instance) -> bool:
    fields = [_occurrences(text, renderings(decode(v))) for v in instance.input.values()]
    if not fields or any(not f for f in fields):
        return False
    for a_start, _ in sorted(_occurrences(text, renderings(decode(instance.expected)))):
        used: set[tuple[int, int]] = set()
        for occurrences in fields:  # each input value at its own place before the answer
            before = [
                se for se in occurrences if se[1] <= a_start and se[0] >= a_start - SPAN and se not in used
            ]
            if not before:
                break
            used.add(max(before, key=lambda se: se[1]))
        else:
            if a_start - max(e for _, e in used) <= GAP:
                return True
    return False


def leaked_instances(text: str, instances: Sequence[Instance]) -> list[Instance]:
    """The instances whose input and answer the text shows together (see the module docstring)."""
    return [inst for inst in instances if _leaks(text, inst)]


def statement_leaks(text: str, instances: Sequence[Instance]) -> list[str]:
    """One message per instance whose input and answer the text shows together (empty: no leak).

    Same signature and meaning as the statements helper's ``generator/_leaks.statement_leaks``.
    """
    return [
        f"shows instance {inst.instance_id}'s input {canonical_json(inst.input)[:80]} "
        f"with its answer {canonical_json(inst.expected)[:40]}"
        for inst in leaked_instances(text, instances)
    ]


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _without_comments(source: str) -> str:
    out = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    comments = {(t.start[0], t.start[1]) for t in tokens if t.type == tokenize.COMMENT}
    for n, line in enumerate(source.splitlines(), 1):
        cut = min((c for (row, c) in comments if row == n), default=len(line))
        out.append(line[:cut])
    return "\n".join(out)


def code_lines(solution: str) -> list[str]:
    """The solution's code lines, whitespace collapsed, docstrings and comments left out."""
    try:
        skip = _docstring_lines(ast.parse(solution))
    except SyntaxError:
        skip = set()
    lines = []
    for n, line in enumerate(_without_comments(solution).splitlines(), 1):
        norm = " ".join(line.split())
        if n not in skip and len(norm.replace(" ", "")) >= MIN_LINE:
            lines.append(norm)
    return lines


def solution_lines_in(text: str, solution: str) -> list[str]:
    """The reference solution's code lines that appear in the text (see the module docstring)."""
    flat = " ".join(text.split())
    return [line for line in dict.fromkeys(code_lines(solution)) if line in flat]
