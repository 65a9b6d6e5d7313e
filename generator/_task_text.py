"""The task statement an agent reads: the problem's goal, never the hidden input's values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..schemas import ToolSpec, describe_schema

__all__ = ["strip_examples", "task_statement"]

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


def _tool_lines(tools: Iterable[ToolSpec]) -> list[str]:
    lines = []
    for tool in tools:
        if tool.function is None:
            continue
        lines.append(f"- {tool.name}: {tool.description}")
    return lines


def task_statement(
    *,
    question: str,
    entry_point: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    tools: list[ToolSpec],
) -> str:
    """The question (examples stripped) plus how the episode works: observe, tools, submit."""
    props = input_schema.get("properties")
    params = ", ".join(f"`{k}`" for k in props) if isinstance(props, dict) and props else "the input"
    observe = next((t.name for t in tools if t.kind == "observe"), "observe")
    submit = next((t.name for t in tools if t.kind == "submit"), "submit")
    helpers = _tool_lines(tools)
    parts = [
        strip_examples(question),
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
            f"When you know the answer, call `{submit}` with `answer` = the value `{entry_point}` would return "
            f"for the hidden input (type: {describe_schema(output_schema)}). "
            "Submitting ends the episode: reward 1 if the answer is correct, else 0.",
        ]
    )
    return "\n".join(parts).strip() + "\n"
