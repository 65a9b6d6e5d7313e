"""Tools that give the whole answer in one call: found in the oracle's traces.

The one definition, used by the generator (such a carving is not offered: the ladder goes on to
the next rung and says why) and by ``codegym-mcp audit`` (its ``one-call-answer tools`` figure).

A problem tool (one with a function in tools.py, not stateful) "answers in one call" when:

- the oracle calls it on the WHOLE input: every parameter of the hidden input is either bound to
  the tool by the runtime (``source="hidden"``) or passed as an agent argument equal to that
  input value (what ``observe`` and the read tools show); a batch gym's ``case`` selector does
  not count;
- it is called that way on at least half of the gym's instances (an argument that equals an
  input value by coincidence, on a few instances, does not list it);
- and every such call returns the instance's expected answer (``{"result": v}`` unwrapped,
  compared as the runtime scores).

A recursive function exposed as a tool, a segment that is the whole entry body, or a tool the
oracle feeds the observed input and whose result it submits as is, are found this way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...runtime import decode, to_plain, values_equal
from ...schemas import Instance, ToolSpec

__all__ = ["OneCallAnswer", "one_call_answers", "one_call_answers_detailed"]

SELECTOR = "case"
"""The batch selector argument: it picks a case, it is not an agent argument."""


@dataclass(frozen=True, slots=True)
class OneCallAnswer:
    """A tool that answers in one call: its name, its calls on the whole input, the instances."""

    tool: str
    calls: int
    instances: int


def _plain(wire: Any) -> Any:
    return json.loads(json.dumps(to_plain(decode(wire))))


def _whole_input(tool: ToolSpec, arguments: dict[str, Any], values: dict[str, Any]) -> bool:
    """All the tool's inputs are hidden-bound, or its agent arguments cover the whole input."""
    covered = {p.hidden_key or p.name for p in tool.params if p.source == "hidden"}
    for name, arg in arguments.items():
        if name == SELECTOR:
            continue
        match = [k for k, v in values.items() if v == arg]
        if not match:
            return False
        covered.update(match)
    return covered >= set(values) and any(p.source != "state" for p in tool.params)


def _unwrapped(result: Any) -> Any:
    return result["result"] if isinstance(result, dict) and set(result) == {"result"} else result


def one_call_answers_detailed(
    tools: Sequence[ToolSpec], instances: Sequence[Instance]
) -> list[OneCallAnswer]:
    """The problem tools of ``tools`` that answer in one call on ``instances``, in tool order."""
    specs = {t.name: t for t in tools if t.function is not None and not t.stateful}
    hits: dict[str, list[bool]] = {}
    seen_on: dict[str, set[int]] = {}
    for n, inst in enumerate(instances):
        values = {k: _plain(v) for k, v in inst.input.items()}
        expected = _plain(inst.expected)
        for call in inst.oracle_trace:
            tool = specs.get(call.tool)
            if tool is None or not _whole_input(tool, call.arguments, values):
                continue
            right = values_equal(json.loads(json.dumps(_unwrapped(call.result))), expected)
            hits.setdefault(tool.name, []).append(right)
            seen_on.setdefault(tool.name, set()).add(n)
    return [
        OneCallAnswer(tool=name, calls=len(hits[name]), instances=len(seen_on[name]))
        for name in specs
        if name in hits and all(hits[name]) and 2 * len(seen_on[name]) >= len(instances)
    ]


def one_call_answers(tools: Sequence[ToolSpec], instances: Sequence[Instance]) -> list[str]:
    """Names of the problem tools that answer in one call on the whole input (sorted)."""
    return sorted(a.tool for a in one_call_answers_detailed(tools, instances))
