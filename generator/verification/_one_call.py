"""Tools that give the whole answer in one call on the hidden input: found in the oracle's traces.

A problem tool "answers in one call" when, on EVERY verified instance, the oracle calls it with
nothing but the hidden input (parameters bound to the hidden input, agent arguments that are each
a value of the hidden input) and it returns the instance's expected output. Every instance, not
some: the trace shows only the calls the oracle makes, so a tool called only on the inputs where
its value happens to be the answer (``x or y`` after ``x`` was false) proves nothing.

A recursive function exposed as a tool, or a segment that is the whole entry body, is found this
way. Such a carving is not offered: the ladder goes on to the next rung and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...runtime import decode, to_plain, values_equal
from ...schemas import Instance, ToolSpec

__all__ = ["one_call_answers"]


def _plain(wire: Any) -> Any:
    return to_plain(decode(wire))


def one_call_answers(tools: Sequence[ToolSpec], instances: Sequence[Instance]) -> list[str]:
    """Names of the problem tools that, called once on the hidden input, return the expected output."""
    problem = {t.name for t in tools if t.function is not None and not t.result_fields}
    hits: dict[str, int] = dict.fromkeys(problem, 0)
    for inst in instances:
        inputs = [_plain(v) for v in inst.input.values()]
        expected = _plain(inst.expected)
        hit: set[str] = set()
        miss: set[str] = set()
        for call in inst.oracle_trace:
            if call.tool not in problem or not isinstance(call.result, dict) or "result" not in call.result:
                continue
            if not all(any(values_equal(a, v) for v in inputs) for a in call.arguments.values()):
                continue
            (hit if values_equal(call.result["result"], expected) else miss).add(call.tool)
        for name in hit - miss:
            hits[name] += 1
    return sorted(n for n in problem if instances and hits[n] == len(instances))
