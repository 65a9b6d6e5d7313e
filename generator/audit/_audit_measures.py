"""Per-gym measures of the audit (definitions in ``_audit``'s module docstring), from files only."""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import JsonValue

from ...runtime import CoercionError, canonical_json, decode, to_plain, values_equal
from ...runtime import tool_rules as rules
from ...schemas import Instance, ToolRef, ToolSpec
from ..verification._one_call import one_call_answers_detailed
from ._audit_code import normalised_body, returned_params
from ._audit_gym import GymFiles

__all__ = [
    "CONSTANT_GUESSES",
    "MAX_SMALL_CHARS",
    "MAX_SMALL_ITEMS",
    "blind_rights",
    "duplicate_bodies",
    "episode_steps",
    "episodes",
    "is_revealed",
    "is_small",
    "one_call_answer_tools",
    "problem_key",
]

MAX_SMALL_CHARS = 150
MAX_SMALL_ITEMS = 30
CONSTANT_GUESSES: tuple[Any, ...] = (False, True, 0, 1, -1, [], "", None)
SELECTOR = "case"
"""The batch selector argument: it picks a case, it is not an agent argument for these measures."""


def is_small(instance: Instance) -> bool:
    """At most 150 characters of JSON input, and no list or string in it longer than 30."""
    if len(canonical_json(instance.input)) > MAX_SMALL_CHARS:
        return False
    stack: list[Any] = [instance.input]
    while stack:
        value = stack.pop()
        if isinstance(value, str | list) and len(value) > MAX_SMALL_ITEMS:
            return False
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return True


def episodes(instances: Sequence[Instance], batch_size: int) -> list[list[Instance]]:
    """Episode g plays instances [g*K .. g*K+K-1]; a last incomplete group is not an episode."""
    k = max(1, batch_size)
    return [list(instances[g : g + k]) for g in range(0, len(instances) - k + 1, k)]


def episode_steps(group: Sequence[Instance]) -> int:
    """Oracle steps of one episode: the sum of its cases' traces minus the K-1 extra submits."""
    return sum(i.oracle_steps for i in group) - (len(group) - 1)


def _zero_argument(tool: ToolSpec) -> bool:
    props = tool.input_schema.get("properties")
    return tool.kind not in ("submit", "task") and (not isinstance(props, dict) or set(props) <= {SELECTOR})


def _plain(wire: Any) -> Any:
    return json.loads(json.dumps(to_plain(decode(wire))))


def _holds(result: Any, target: Any) -> bool:
    if result == target:
        return True
    if isinstance(result, dict):
        return any(_holds(v, target) for v in result.values())
    if isinstance(result, list):
        return any(_holds(v, target) for v in result)
    return False


def _reveals(result: Any, instance: Instance, tool: ToolSpec) -> bool:
    hidden = {p.hidden_key or p.name for p in tool.params if p.source == "hidden"}
    for key, wire in instance.input.items():
        value = _plain(wire)
        if isinstance(result, dict) and result.get(key) == value:
            continue
        if isinstance(value, list | dict | str) and len(value) > 1 and _holds(result, value):
            continue
        if hidden == {key} and result == {"result": value}:
            continue
        return False
    return True


def _statically_reveals(gym: GymFiles, tool: ToolSpec, instance: Instance) -> bool:
    if tool.kind == "observe":
        if gym.manifest.observation == "full":
            return True
        return all(
            not isinstance(decode(v), str | list | tuple | set | frozenset | dict)
            for v in instance.input.values()
        )
    func = gym.functions.get(tool.function or "")
    if func is None:
        return False
    whole = returned_params(func)
    keys = {p.hidden_key or p.name for p in tool.params if p.source == "hidden" and p.name in whole}
    return set(instance.input) <= keys


def is_revealed(gym: GymFiles, instance: Instance) -> bool:
    """Whether one call with no agent argument shows every input value of the instance in full.

    A call the oracle made on the instance is judged by its recorded result; a zero-argument tool
    the oracle did not call, by the observation policy (observe) or by its body (a getter that
    returns its hidden parameters unchanged).
    """
    traced: dict[str, JsonValue] = {}
    for call in instance.oracle_trace:
        traced.setdefault(call.tool, call.result)
    for tool in gym.manifest.tools:
        if not _zero_argument(tool):
            continue
        if tool.name in traced:
            if _reveals(traced[tool.name], instance, tool):
                return True
        elif _statically_reveals(gym, tool, instance):
            return True
    return False


def _case_schema(gym: GymFiles) -> dict[str, Any]:
    schema: dict[str, Any] = dict(gym.manifest.output_schema)
    k = gym.manifest.batch_size
    items = schema.get("items")
    if k > 1 and schema.get("type") == "array" and schema.get("minItems") == k and isinstance(items, dict):
        return dict(items)  # a batch gym whose schema is the list of K answers
    return schema


def _right(guess: Any, expected: Any, schema: dict[str, Any]) -> bool:
    """Whether submitting ``guess`` scores, by the runtime's rules (runtime/jail/tool_rules.py)."""
    try:
        answer = rules.coerce_answer(guess, schema)
    except CoercionError:
        return False
    return rules.score(answer, decode(expected)) == 1


def blind_rights(gym: GymFiles) -> tuple[list[int], int, int]:
    """Per constant of :data:`CONSTANT_GUESSES`, the episodes it answers right; then those the gym's
    most common expected answer answers right ("memorised"); then the number of episodes.

    A batch episode is right only if every one of its K answers is (the guess repeated K times).
    """
    schema = _case_schema(gym)
    groups = episodes(gym.instances, gym.manifest.batch_size)
    rights = [sum(all(_right(c, i.expected, schema) for i in g) for g in groups) for c in CONSTANT_GUESSES]
    common = Counter(canonical_json(i.expected) for i in gym.instances).most_common(1)
    memorised = 0
    if common:
        guess = decode(json.loads(common[0][0]))
        memorised = sum(all(values_equal(guess, decode(i.expected)) for i in g) for g in groups)
    return rights, memorised, len(groups)


def duplicate_bodies(gym: GymFiles) -> list[ToolRef]:
    """Problem tools whose body (parameters renamed to positions) repeats an earlier tool's."""
    seen: dict[str, str] = {}
    out = []
    for tool, func in gym.problem_tools():
        body = normalised_body(func)
        if body in seen:
            out.append(ToolRef(task_id=gym.task_id, tool=tool.name, detail=f"same body as {seen[body]}"))
        else:
            seen[body] = tool.name
    return out


def one_call_answer_tools(gym: GymFiles) -> list[ToolRef]:
    """Problem tools that, called on the whole hidden input, return the expected answer.

    The generator's definition (``_one_call``): called that way on at least half of the gym's
    instances, and every such call's result equals the instance's expected answer.
    """
    return [
        ToolRef(
            task_id=gym.task_id,
            tool=hit.tool,
            detail=f"returns the answer on all {hit.calls} calls on the whole input ({hit.instances} instances)",
        )
        for hit in one_call_answers_detailed([t for t, _ in gym.problem_tools()], gym.instances)
    ]


def _normalised(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return " ".join(source.split())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            first = body[0].value
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and len(body) > 1:
                del body[0]
    return ast.unparse(tree)


def problem_key(gym: GymFiles) -> str | None:
    """The normalised reference solution + tests (comments, formatting and docstrings dropped)."""
    if gym.problem is None:
        return None
    return _normalised(gym.problem.solution) + "\n#--tests--\n" + _normalised(gym.problem.tests)
