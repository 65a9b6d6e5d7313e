"""Checks on the text an agent reads besides leaked instances: solution lines, code framing, dangling headers.

Pure functions of the text, one message per finding (empty list: clean); :mod:`._leaks` exports
them beside the instance-leak checks, so ``check``/``audit`` and the generator share one set.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

__all__ = ["MIN_LINE", "code_framing_in", "dangling_headers_in", "solution_lines_in"]


# --------------------------------------------------------------------------- solution lines

_CODE_CHARS = re.compile(r"[=()\[\]:+\-*/%<>{}.]")
MIN_LINE = 12
"""Non-blank characters a code line needs to count wherever it occurs in a text."""


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Lines of string statements: docstrings, also one placed after ``import math``."""
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
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    comments = {(t.start[0], t.start[1]) for t in tokens if t.type == tokenize.COMMENT}
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        cut = min((c for (row, c) in comments if row == n), default=len(line))
        out.append(line[:cut])
    return "\n".join(out)


def _code_lines(solution: str) -> list[str]:
    """The solution's code lines (no docstrings, comments or blank lines), whitespace collapsed."""
    try:
        skip = _docstring_lines(ast.parse(solution))
    except SyntaxError:
        skip = set()
    out = []
    for n, raw in enumerate(_without_comments(solution).splitlines(), start=1):
        key = " ".join(raw.split())
        if n not in skip and key:
            out.append(key)
    return out


def solution_lines_in(text: str, solution: str) -> list[str]:
    """The lines of the reference ``solution``'s code that appear in ``text`` (empty: none).

    Code lines exclude docstrings (they are the problem's own words) and comments; text and
    lines are compared with runs of whitespace collapsed and backticks ignored. A line of
    :data:`MIN_LINE`+ non-blank characters counts wherever it occurs in the text (``return
    max_depth`` inside a sentence); a shorter one of 8+ characters with an operator or bracket
    (not an import) when a whole line of the text equals it (``else:``-like lines would match prose).
    """
    text_lines = {" ".join(t.replace("`", "").split()) for t in text.splitlines()}
    flat = " ".join(text.replace("`", "").split())
    found = []
    for key in dict.fromkeys(_code_lines(solution)):
        size = len(key.replace(" ", ""))
        whole = size >= 8 and _CODE_CHARS.search(key) and not key.startswith(("import ", "from ", "@"))
        if (size >= MIN_LINE and key in flat) or (whole and key in text_lines):
            found.append(key)
    return found


# --------------------------------------------------------------------------- framing and headers

_FRAMING = [
    (re.compile(r"^\s*(async\s+)?def\s+\w+\s*\(|^\s*class\s+\w+\s*[(:]", re.M), "a def/class line"),
    (re.compile(r"^\s*(>>>|\.\.\.\s)", re.M), "a doctest line"),
    (re.compile(r"```"), "a code fence"),
    (re.compile(r"\bdef\s+\w+\s*\("), "a function signature"),
    (re.compile(r"\bfunction\s+signature\b", re.I), "a function signature"),
    (
        re.compile(
            r"\b(write|implement|create|complete|define|design|code|develop|build)\s+"
            r"(a|an|the|this|your|two|these)?\s*(\w+\s+){0,2}(function|method|program|class|script|code)s?\b",
            re.I,
        ),
        "a coding instruction",
    ),
    (re.compile(r"\byour\s+(code|solution|function|implementation)\b", re.I), "a coding instruction"),
]


def code_framing_in(text: str) -> list[str]:
    """Coding-task framing in ``text``: ``def``/``class`` lines, doctest prompts, code fences,
    function signatures, instructions like "write a function". One message per finding."""
    out = []
    for pattern, what in _FRAMING:
        for m in pattern.finditer(text):
            line = text[text.rfind("\n", 0, m.start()) + 1 : text.find("\n", m.end()) % (len(text) + 1)]
            out.append(f"{what}: {line.strip()[:120]!r}")
    return out


_HEADER = re.compile(
    r"^\s*(#{1,6}\s+.+|\*\*[^*]+\*\*\s*:?|[A-Z][\w /()-]{0,40}:|(for\s+)?examples?\s*\d*\s*:?)\s*$", re.I
)


def dangling_headers_in(text: str) -> list[str]:
    """Headers ("Example:", "**Output**:", "## Notes") followed by nothing or by another header
    of the same or a higher level. One message per dangling header."""
    lines = [line for line in text.splitlines() if line.strip()]
    out = []
    for n, line in enumerate(lines):
        if not _HEADER.match(line):
            continue
        rest = lines[n + 1 :]
        if not rest or (_HEADER.match(rest[0]) and _level(rest[0]) <= _level(line)):
            out.append(f"a header with nothing under it: {line.strip()!r}")
    return out


def _level(line: str) -> int:
    stripped = line.strip()
    if stripped.startswith("#"):
        return len(stripped) - len(stripped.lstrip("#"))
    return 7
