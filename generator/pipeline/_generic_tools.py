"""The generic tools every gym has: observe, the read tools (partial observation), submit, task.

With the default step budget; the names no carved tool may take.
"""

from __future__ import annotations

from typing import Any

from ...runtime import (
    ITEMS_CAP,
    TEXT_CAP,
    collection_params,
    observe_output_schema,
    read_input_schema,
    read_output_schema,
    read_tool_name,
)
from ...schemas import ObservationPolicy, ParamSpec, ToolSpec

__all__ = ["GENERIC_TOOL_NAMES", "generic_tools", "step_budget_for"]

GENERIC_TOOL_NAMES = frozenset({"observe", "submit", "task", "reset"})


def step_budget_for(max_steps: int) -> int:
    """The default step limit of an episode: twice the longest oracle run, plus 4."""
    return 2 * max_steps + 4


def generic_tools(
    input_schema: dict[str, Any], output_schema: dict[str, Any], *, observation: ObservationPolicy = "full"
) -> list[ToolSpec]:
    """observe, the read tools (``partial`` only: one per collection parameter), submit and task,
    in that order, with the result shapes the server returns."""
    empty: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    kinds = collection_params(input_schema) if observation == "partial" else {}
    observe = ToolSpec(
        name="observe",
        kind="observe",
        description=(
            "Show the hidden input: the value of every parameter of the problem."
            if not kinds
            else "Show the hidden input's shape: the value of every scalar parameter and the length of "
            f"every collection ({', '.join(f'`{p}`' for p in kinds)}); read a collection's contents "
            "with its read tool."
        ),
        input_schema=empty,
        output_schema=observe_output_schema(input_schema, observation),
    )
    props = input_schema.get("properties") or {}
    reads = [_read_tool(p, kind, props.get(p) or {}) for p, kind in kinds.items()]
    submit = ToolSpec(
        name="submit",
        kind="submit",
        description="Submit the final answer; ends the episode with reward 1 if it is correct, else 0.",
        input_schema={
            "type": "object",
            "properties": {"answer": output_schema},
            "required": ["answer"],
            "additionalProperties": False,
        },
        output_schema={
            "type": "object",
            "properties": {"reward": {"type": "integer", "enum": [0, 1]}},
            "required": ["reward"],
        },
    )
    task = ToolSpec(
        name="task",
        kind="task",
        description="Show the task statement again.",
        input_schema=empty,
        output_schema={"type": "object", "properties": {"task": {"type": "string"}}, "required": ["task"]},
    )
    return [observe, *reads, submit, task]


def _read_tool(param: str, kind: str, schema: dict[str, Any]) -> ToolSpec:
    cap = ITEMS_CAP if kind != "text" else TEXT_CAP
    what = {
        "text": f"Return `count` characters (1 to {cap}) of the hidden string `{param}` from position `start` "
        '(0-based) as {"text": ...}',
        "dict": f"Return `count` entries (1 to {cap}) of the hidden dict `{param}` from position `start` "
        '(0-based, insertion order) as {"items": [[key, value], ...]}',
        "set": f"Return `count` items (1 to {cap}) of the hidden set `{param}` from position `start` "
        '(0-based, in sorted order) as {"items": [...]}',
    }.get(
        kind,
        f"Return `count` items (1 to {cap}) of the hidden {kind} `{param}` from position `start` (0-based) "
        'as {"items": [...]}',
    )
    return ToolSpec(
        name=read_tool_name(param),
        kind="read",
        description=f"{what}; a window past the end is cut short. observe gives its length.",
        params=[
            ParamSpec(name=param, source="hidden", hidden_key=param, type_schema=schema),
            ParamSpec(name="start", source="agent", type_schema={"type": "integer", "minimum": 0}),
            ParamSpec(
                name="count", source="agent", type_schema={"type": "integer", "minimum": 1, "maximum": cap}
            ),
        ],
        input_schema=read_input_schema(kind),
        output_schema=read_output_schema(kind, schema),
    )
