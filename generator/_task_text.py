"""The task statement an agent reads: the problem's goal, never the hidden input's values."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any

from ..schemas import ToolSpec, describe_schema

__all__ = ["batch_paragraph", "redact_values", "strip_examples", "task_statement"]

_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)")
_EXAMPLE_HEAD = re.compile(r"^\s*(for\s+)?examples?\b.*:?\s*$", re.IGNORECASE)


def strip_examples(question: str) -> str:
    """Drop doctest examples (``>>>`` lines and the output lines after them) from a question.

    Instance values may coincide with a docstring's examples; the agent must observe them.
    """
    out: list[str] = []
    in_example = False
    for line in question.splitlines():
        if _PROMPT.match(line):
            in_example = True
            continue
        if in_example:
            if line.strip() and not line.strip().startswith(('"""', "'''")):
                continue  # the expected output of the example
            in_example = False
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_EXAMPLE_HINT = re.compile(
    r"=>|==|->|>>>|\breturns?\b|\bshould\b|\bexamples?\b|\binput\b|\boutput\b|e\.g\.|\bgives?\b|"
    r"\bresults?\b|\bexplanation\b|\bbecomes?\b|\b\w+\s*=\s*[\[(\"'{]",
    re.IGNORECASE,
)


def _renderings(value: Any, out: set[str]) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return  # numbers and flags are everywhere in prose: not specific enough to redact
    forms = [repr(value)]
    with contextlib.suppress(TypeError, ValueError):
        forms.append(json.dumps(value))
    if isinstance(value, str) and len(value.strip()) >= 4:
        forms.append(value)
    if isinstance(value, (list, tuple)):
        forms.append(", ".join(repr(v) for v in value))
    out.update(f for f in forms if len(f) >= 4)


def redact_values(question: str, values: Iterable[Any], *, entry_point: str) -> str:
    """Drop the example lines of ``question`` that show one of ``values`` (hidden inputs, answers).

    A line goes when it contains a rendering of a value (``repr``/JSON of a list, a string of 4+
    characters) and reads like an example (``=>``, ``==``, "returns", "Input:", a call of the entry
    point...); the example's following lines (its output) go with it, up to a blank line.
    """
    forms: set[str] = set()
    for value in values:
        _renderings(value, forms)
    if not forms:
        return question
    out: list[str] = []
    in_example = False
    for line in question.splitlines():
        if not line.strip():
            in_example = False
            out.append(line)
            continue
        example_like = bool(_EXAMPLE_HINT.search(line)) or f"{entry_point}(" in line
        if example_like and any(f in line for f in forms):
            in_example = True
            continue
        if in_example and example_like:
            continue
        in_example = False
        out.append(line)
    return "\n".join(out)


def _tool_lines(tools: Iterable[ToolSpec]) -> list[str]:
    lines = []
    for tool in tools:
        if tool.function is None:
            continue
        lines.append(f"- {tool.name}: {tool.description}")
    return lines


def _answer(entry_point: str, design: bool) -> str:
    if design:
        return (
            f"the list of what each operation of the hidden sequence returns on a `{entry_point}` object, "
            "in order (null for the constructor)"
        )
    return f"the value `{entry_point}` would return for the hidden input"


def task_statement(
    *,
    question: str,
    entry_point: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    tools: list[ToolSpec],
    hidden_values: Iterable[Any] = (),
    design: bool = False,
    batch_size: int = 1,
) -> str:
    """The question (examples stripped) plus how the episode works: observe, tools, submit.

    ``hidden_values`` (the instances' inputs and expected outputs, python values) are kept out
    of the text: example lines that show one are dropped (:func:`redact_values`). ``design``: a
    class problem whose hidden input is a sequence of operations (LeetCode's design format).
    ``batch_size`` K > 1: the episode asks about K hidden inputs at once (:func:`batch_paragraph`).
    """
    props = input_schema.get("properties")
    params = ", ".join(f"`{k}`" for k in props) if isinstance(props, dict) and props else "the input"
    observe = next((t.name for t in tools if t.kind == "observe"), "observe")
    submit = next((t.name for t in tools if t.kind == "submit"), "submit")
    helpers = _tool_lines(tools)
    parts = [
        redact_values(strip_examples(question), hidden_values, entry_point=entry_point),
        "",
        "How this task works: you are solving this for one hidden input. "
        f"Its values ({params}) are not in this text: call `{observe}` to see them. "
        + (
            "The problem tools below reveal parts of the input or compute steps of a solution "
            "(you pass them values you have worked out)."
            if helpers
            else "Work out the answer from what you observe."
        ),
    ]
    if helpers:
        parts.extend(["", "Problem tools:", *helpers])
    parts.extend(
        [
            "",
            f"When you know the answer, call `{submit}` with `answer` = {_answer(entry_point, design)} "
            f"(type: {describe_schema(output_schema)}). "
            "Submitting ends the episode: reward 1 if the answer is correct, else 0.",
        ]
    )
    if batch_size > 1:
        parts.extend(["", batch_paragraph(batch_size)])
    return "\n".join(parts).strip() + "\n"


# --------------------------------------------------------------------------- batched episodes


def batch_paragraph(k: int) -> str:
    """How a batched episode works (``batch_size`` K > 1): K hidden inputs, a ``case`` argument,
    one submit of K answers scored all-or-nothing. Said last, it overrides "one hidden input".

    Raises:
        ValueError: ``k`` is below 2 (an unbatched episode needs no such paragraph).
    """
    if k < 2:
        raise ValueError(f"a batched episode has at least 2 cases, got batch size {k}")
    return (
        f"This episode is a batch of {k} cases: {k} different hidden inputs of the same problem, "
        f"numbered 0 to {k - 1}. Every tool except `submit` and `task` takes an extra argument `case` "
        f"(0..{k - 1}) saying which hidden input the call works on; tools that remember state keep "
        f"a separate state for each case. Submit once, with `answer` = a list of {k} answers, the "
        f"i-th for case i. The reward is 1 only if all {k} answers are correct, else 0."
    )
