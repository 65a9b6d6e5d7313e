"""Checks on the text an agent reads: leaked instances, solution lines, code framing, dangling headers.

Every check is a pure function of the text (a task statement, a tool description) and returns
one message per finding (empty list: clean), so ``codegym-mcp check``/``audit`` and the
generator share them:

- :func:`statement_leaks` - an instance's input shown together with its answer, in any
  formatting (``[1,2,3]``, ``[1, 2, 3]``, ``(1, 2)``, quoted strings with either quote,
  ``True``/``true``, numbers as whole tokens), found by two rules (a leak by either counts):
  every value within a few lines (:func:`leak_spans`), or every input value followed within
  :data:`GAP` characters by the answer, the whole within :data:`SPAN` characters;
- :func:`solution_lines_in` - lines of the reference solution's code in the text;

This is the one leak detector: the statement composer (``_task_text``) and ``check``/``audit``
(``_audit_honesty``) both call it.
- :func:`code_framing_in` - coding-task framing ("write a function", ``def``, ``>>>``, fences);
- :func:`dangling_headers_in` - a header ("Example:") with nothing under it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ...runtime import canonical_json, decode, to_plain
from ._text_checks import MIN_LINE, code_framing_in, dangling_headers_in, solution_lines_in

__all__ = [
    "GAP",
    "MIN_LINE",
    "SPAN",
    "HasInputAndAnswer",
    "code_framing_in",
    "dangling_headers_in",
    "leak_spans",
    "leaking_lines",
    "renderings",
    "solution_lines_in",
    "statement_leaks",
]


class HasInputAndAnswer(Protocol):
    """An instance or candidate: the hidden input (wire values by parameter) and its answer (wire)."""

    @property
    def input(self) -> Mapping[str, Any]: ...

    @property
    def expected(self) -> Any: ...


# --------------------------------------------------------------------------- value renderings

_EXAMPLE_HINT = re.compile(
    r"=>|==>|→|➞|>>>|\binputs?\b|\boutputs?\b|\bexamples?\b|e\.g\.|\bfor\s+instance\b|\bresult\s+is\b|"
    r"\banswer\s+is\b|\breturns\s+(?:[-\d\[(\"'{]|true\b|false\b|none\b|null\b)|\bshould\s+(?:be|return)\b|"
    r"\bgives\b|(?<![.\w])[a-z_]\w*\([^()]*\)\s*(?:==|=|->|is\b)",
    re.IGNORECASE,
)
"""Words and marks of an example ("Input:", "f(3) == 9", "returns 4", "=>"). Code operators alone
(``n == 1`` in a tool description) are not: a number beside one is no example."""


@dataclass(frozen=True)
class _Forms:
    """How one value may be written: ``strong`` forms are specific enough alone (a non-empty list,
    a quoted string); ``weak`` forms (numbers, flags, short words) count only beside an example hint."""

    strong: tuple[str, ...]
    weak: tuple[re.Pattern[str], ...]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("'", '"')


def _token(form: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.\-])" + re.escape(form) + r"(?![\w]|\.\d)")


def _forms(value: Any) -> _Forms:
    plain = to_plain(value)
    if isinstance(value, bool):
        return _Forms((), (_token(str(value)), _token(json.dumps(value))))
    if value is None:
        return _Forms((), (_token("None"), _token("null")))
    if isinstance(value, int):
        return _Forms((), (_token(str(value)),))
    if isinstance(value, float):
        if not math.isfinite(value):
            return _Forms((), (_token(repr(value)),))
        numbers = {repr(value), f"{value:g}"}
        if value.is_integer():
            numbers.add(str(int(value)))
        return _Forms((), tuple(_token(t) for t in sorted(numbers)))
    if isinstance(value, str):
        quoted = _squash(json.dumps(value, ensure_ascii=False))
        weak = (_token(value),) if len(value.strip()) >= 3 and value.strip() == value else ()
        if len(value) >= 3:
            return _Forms((quoted,), weak)
        exact = re.compile(
            r"(?<![\"'§])(" + re.escape(quoted) + "|" + re.escape(quoted.replace('"', "'")) + r")(?![\"'§])"
        )
        return _Forms((), (exact, *weak))
    texts: set[str] = set()
    for form in (repr(value), json.dumps(plain, ensure_ascii=False)):
        squashed = _squash(form)
        texts.add(squashed)
        if squashed[:1] in "[(" and squashed[-1:] in "])":
            inner = squashed[1:-1].rstrip(",")
            texts.update({f"[{inner}]", f"({inner})"})
    if not plain:  # [], {}, (): too common to count alone
        return _Forms((), tuple(re.compile(re.escape(t)) for t in sorted(texts)))
    return _Forms(tuple(sorted(texts)), ())


_QUOTED = re.compile(r'"[^"\n]*"|\'[^\'\n]*\'')


@dataclass(frozen=True)
class _Match:
    strong: bool
    count: int


def _strong_count(form: str, squashed: str) -> int:
    if form.startswith('"'):
        return squashed.count(form)  # a quoted string delimits itself
    return len(re.findall(r"(?<![\w\])\"])" + re.escape(form), squashed))  # not arr[1]


def _find(forms: _Forms, window: str, squashed: str) -> _Match | None:
    strong = max((_strong_count(f, squashed) for f in forms.strong), default=0)
    if strong:
        return _Match(strong=True, count=strong)
    # a word inside a longer quoted string is not the value (its exact quoted form is strong)
    unquoted = _QUOTED.sub(lambda m: m.group(0) if len(m.group(0)) <= 2 else "§", window)
    weak = max((len(p.findall(unquoted)) for p in forms.weak), default=0)
    return _Match(strong=False, count=weak) if weak else None


def _example_values(inst: HasInputAndAnswer) -> list[Any]:
    values = [decode(v) for v in inst.input.values()]
    values.append(decode(inst.expected))
    return values


def _windows(lines: list[str], size: int, *, gap: int) -> Iterable[tuple[int, int]]:
    """Runs of up to ``size`` non-blank lines, with at most ``gap`` - 1 blank lines between two."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for n, start in enumerate(filled):
        end = start
        for nxt in filled[n + 1 : n + size]:
            if nxt - end > gap:
                break
            end = nxt
        yield start, end


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    label: str
    forms: list[_Forms]


def _label(inst: HasInputAndAnswer) -> str:
    return (
        f"input {canonical_json(dict(inst.input))[:80]} with its answer {canonical_json(inst.expected)[:40]}"
    )


def _spans(text: str, instances: Iterable[HasInputAndAnswer]) -> list[_Span]:
    lines = text.splitlines()
    spans: list[_Span] = []
    for inst in instances:
        values = _example_values(inst)
        forms = [_forms(v) for v in values]
        # an answer equal to an input (or two equal inputs) must show as often as it is repeated
        keys = [json.dumps(to_plain(v), sort_keys=True, ensure_ascii=False) for v in values]
        need = {k: keys.count(k) for k in keys}
        label = _label(inst)
        all_weak = all(_is_weak(v) for v in values)
        for size, gap in ((2, 1), (3, 2)):
            for start, end in _windows(lines, size, gap=gap):
                window = "\n".join(lines[start : end + 1])
                squashed = _squash(window)
                found = [_find(f, window, squashed) for f in forms]
                if any(m is None or m.count < need[k] for m, k in zip(found, keys, strict=True)):
                    continue
                strong = any(m is not None and m.strong for m in found)
                if (size == 3 and not strong) or not (strong or _EXAMPLE_HINT.search(window)):
                    continue
                if all_weak and not all(_example_input_in(window, v) for v in values[:-1]):
                    continue  # "numbered 0 to 2" in prose beside the word "inputs" is no example
                spans.append(_Span(start, end, label, forms))
        ordered = _ordered_leak(text, inst)
        if ordered is not None:
            first, last = (text.count("\n", 0, i) for i in ordered)
            spans.append(_Span(first, last, label, forms))
    return spans


# --------------------------------------------------------------------------- ordered rule

GAP = 80
"""Characters at most between the last input value and the answer (ordered rule)."""
SPAN = 300
"""Characters at most from an input value to the answer (ordered rule)."""


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
            rendered = _py(shape, quote)
            forms |= {rendered, re.sub(r"(?<=[,:])\s+", "", rendered)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    return {f for f in forms if f}


def _occurrences(text: str, forms: set[str]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for form in forms:
        if re.fullmatch(r"[\w.+-]+", form):  # a number, a bool, a bare word: whole tokens only
            sign = "" if form.startswith("-") else "-"  # 2.2 is not in -2.2
            pattern = rf"(?<![\w.{sign}])" + re.escape(form) + r"(?![\w]|\.\d)"
        elif form[0] in "'\"":  # a quoted string, not a piece of a longer quote run ('""' in '\"\"\"')
            pattern = r"(?<![\w'\"])" + re.escape(form) + r"(?![\w'\"])"
        else:
            pattern = re.escape(form)
        found.update((m.start(), m.end()) for m in re.finditer(pattern, text))
    return found


def _is_weak(value: Any) -> bool:
    """A number, flag, None, empty string or empty collection: written everywhere in prose, so it
    counts only where it reads as an example's value (see :func:`_as_example_input`)."""
    if isinstance(value, bool | int | float) or value is None:
        return True
    if isinstance(value, str | list | tuple | set | frozenset | dict):
        return len(value) == 0
    return False


_ASSIGNED = re.compile(r"(?<![\w.])[A-Za-z_]\w*`?\s*[=:]\s*$")
_IN_CALL = re.compile(r"(?<![\w.])[A-Za-z_]\w*\([^()]*$")
_INPUT_WORD = re.compile(
    r"(?:\binputs?\b|>>>)(?:[\s:=,()\[\]+.\d-]|\b[A-Za-z_]\w*\s*=|\btrue\b|\bfalse\b|\bnone\b|\bnull\b)*$",
    re.IGNORECASE,
)
_ANSWER_MARK = re.compile(r"==|->|=>|→|➞|\n")


def _as_example_input(text: str, start: int) -> bool:
    """Whether a value at ``start`` is written as an example's input: ``a = 0``, ```a` = 0``, ``a: 0``,
    an argument of a call ``f(0, 1)``, or right after "Input"/``>>>`` with only values, commas and
    ``name =`` between ("Input: 0, 1"; not "inputs of the same problem, numbered 0")."""
    before = text[text.rfind("\n", 0, start) + 1 : start]
    return bool(_ASSIGNED.search(before) or _IN_CALL.search(before) or _INPUT_WORD.search(before))


def _example_input_in(text: str, value: Any) -> bool:
    """Whether ``text`` writes ``value`` somewhere as an example's input (:func:`_as_example_input`)."""
    return any(_as_example_input(text, start) for start, _ in _occurrences(text, renderings(value)))


def _ordered_leak(text: str, inst: HasInputAndAnswer) -> tuple[int, int] | None:
    """``(start of the first input value, end of the answer)`` where every input value of ``inst``
    is followed, within :data:`GAP` characters of the last of them, by its answer, the whole within
    :data:`SPAN` characters; None if nowhere. When every value is weak (:func:`_is_weak`: ``{a: 0,
    b: 1} -> 0``) the inputs must read as an example's (:func:`_as_example_input`) and an answer
    mark (an example hint, ``==``, ``->``, a line break) must come between them and the answer:
    bare digits scattered in prose are no example."""
    inputs = [decode(v) for v in inst.input.values()]
    answer = decode(inst.expected)
    all_weak = all(_is_weak(v) for v in [*inputs, answer])
    fields = []
    for value in inputs:
        found = _occurrences(text, renderings(value))
        if all_weak:
            found = {se for se in found if _as_example_input(text, se[0])}
        if not found:
            return None
        fields.append(found)
    if not fields:
        return None
    for a_start, a_end in sorted(_occurrences(text, renderings(answer))):
        used: set[tuple[int, int]] = set()
        for occurrences in fields:  # each input value at its own place before the answer
            before = [
                se for se in occurrences if se[1] <= a_start and se[0] >= a_start - SPAN and se not in used
            ]
            if not before:
                break
            used.add(max(before, key=lambda se: se[1]))
        else:
            last = max(e for _, e in used)
            if a_start - last > GAP:
                continue
            first = min(s for s, _ in used)
            if all_weak:
                line_start = text.rfind("\n", 0, first) + 1
                if not (
                    _EXAMPLE_HINT.search(text[line_start:a_end]) or _ANSWER_MARK.search(text[last:a_start])
                ):
                    continue
            return first, a_end - 1
    return None


def leak_spans(text: str, instances: Iterable[HasInputAndAnswer]) -> list[tuple[int, int, str]]:
    """Line spans ``(first, last, instance_summary)`` of ``text`` that show an instance's input and answer.

    A span leaks when every input value and the answer appear in it (in any of their
    renderings; a value repeated in the instance, as many times) and either one of them is
    specific (a non-empty collection, a quoted string of 3+ characters) or the span reads like
    an example ("Input", "returns 3", ``f(...) ==``, ``=>``...). Specific values are looked for
    within 3 lines (one blank line may separate two); numbers and flags alone within 2 adjacent
    lines. A span also leaks (the ordered rule, any distance in lines) from the first input value
    to the answer when every input value comes, in order, within :data:`SPAN` characters before
    the answer and the last within :data:`GAP` of it (numbers and flags alone only when written
    as an example: ``a = 0``, ``f(0, 1)``, "Input: 0, 1", then ``== 0``/``-> 0``/"the answer is 0").
    """
    return sorted({(s.start, s.end, s.label) for s in _spans(text, instances)})


def leaking_lines(text: str, instances: Iterable[HasInputAndAnswer]) -> set[int]:
    """Indices of lines whose removal stops the leaks :func:`leak_spans` finds, one per span:
    the span's last line that shows one of the instance's values (usually the answer's line)."""
    lines = text.splitlines()
    out: set[int] = set()
    for span in _spans(text, instances):
        chosen = span.end
        for i in range(span.end, span.start - 1, -1):
            if any(_find(f, lines[i], _squash(lines[i])) for f in span.forms):
                chosen = i
                break
        out.add(chosen)
    return out


def statement_leaks(text: str, instances: Iterable[HasInputAndAnswer]) -> list[str]:
    """Messages for every place in ``text`` that shows one of ``instances``' input together with its answer.

    ``instances``: objects with ``input`` (parameter -> wire value) and ``expected`` (wire), such
    as :class:`~codegym_mcp.schemas.Instance` or the pipeline's candidates. Any formatting
    counts: ``[1,2,3]`` and ``[1, 2, 3]``, tuples or lists, either quote, ``True``/``true``,
    numbers as whole tokens (a number or flag only beside an example hint, see :func:`leak_spans`).
    Returns an empty list when nothing leaks.
    """
    lines = text.splitlines()
    out = []
    for start, end, label in leak_spans(text, instances):
        excerpt = " / ".join(line.strip() for line in lines[start : end + 1] if line.strip())[:160]
        out.append(f"lines {start + 1}-{end + 1} show an instance's {label}: {excerpt!r}")
    return out
