"""Batched episodes: one episode asks about K hidden inputs ("cases") at once (``batch_size`` K > 1).

Why: when a constant answer is right on a share p of a gym's instances, a blind guess scores p
per episode; asking for K answers at once, all of which must be right, brings that to about
p**K. Episode ``g`` of a gym plays the instances ``[g*K .. g*K+K-1]`` in instances.jsonl order,
so a gym has ``n_instances // K`` distinct episodes.

Rules (what the runtime accepts and what the server publishes, from one place here):

- every tool except ``submit`` and ``task`` takes a required agent argument ``case``
  (an integer 0..K-1) choosing which case's hidden input the call sees; stateful tools keep one
  state per case;
- ``submit(answer)`` takes a list of exactly K answers, the i-th for case i, each coerced and
  scored by the rules of a single answer (runtime/jail/tool_rules.py: ``coerce_answer``, ``score``);
  the reward is 1 only if every one is right; once routed, a call follows those rules too;
- the episode's ``instance`` is its index g, its ``instance_id`` the K instance ids joined with
  ``+``, its ``expected`` the list of the K expected answers.

The manifest keeps each tool's per-case schemas (verification and ``check`` replay them
unchanged); :func:`published_tools` adds ``case`` (and the list answer) when a gym is served.

Exceptions::

    ValueError
     +-- BrokenBatch     a gym's batch size does not fit its instances (no episode can be played)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from ..schemas import Instance, ToolSpec
from ._catalog import Gym
from .jail import tool_rules as rules
from .jail.values import CoercionError, coerce, decode, describe_schema

__all__ = [
    "BATCH_ID_SEPARATOR",
    "CASE_ARG",
    "Batch",
    "BrokenBatch",
    "episode_count",
    "episode_expected",
    "episode_instance_id",
    "episode_instances",
    "published_tools",
]

CASE_ARG = "case"
"""The agent argument that picks a case in a batched episode."""

BATCH_ID_SEPARATOR = "+"
"""Joins the K instance ids of a batched episode into its ``instance_id``."""

_UNBATCHED_KINDS = frozenset({"submit", "task"})


class BrokenBatch(ValueError):
    """The gym's ``batch_size`` is larger than its instances allow: it has no episode to play."""


def episode_count(gym: Gym) -> int:
    """How many distinct episodes the gym has: its instances, or ``n_instances // K`` batches.

    Raises:
        BrokenBatch: the gym holds fewer instances than one batch needs.
    """
    k = gym.manifest.batch_size
    count = len(gym.instances) // k
    if count < 1:
        raise BrokenBatch(
            f"gym {gym.task_id} plays {k} instances per episode but holds only {len(gym.instances)}: "
            "regenerate it with a smaller --batch (or --batch auto)"
        )
    return count


def episode_instances(gym: Gym, index: int) -> list[Instance]:
    """The instances episode ``index`` plays: one, or the K of its batch.

    Raises:
        IndexError: ``index`` is not an episode of the gym.
    """
    count = episode_count(gym)
    if not 0 <= index < count:
        raise IndexError(f"episode {index} does not exist: this gym has episodes 0..{count - 1}")
    k = gym.manifest.batch_size
    return list(gym.instances[index * k : index * k + k])


def episode_instance_id(instances: Sequence[Instance]) -> str:
    """The ``instance_id`` of an episode playing ``instances`` (joined with ``+`` for a batch)."""
    return BATCH_ID_SEPARATOR.join(i.instance_id for i in instances)


def episode_expected(instances: Sequence[Instance]) -> JsonValue:
    """What an episode playing ``instances`` expects: one answer, or the list of K answers."""
    if len(instances) == 1:
        return instances[0].expected
    return [i.expected for i in instances]


def _case_schema(k: int) -> dict[str, JsonValue]:
    return {
        "type": "integer",
        "minimum": 0,
        "maximum": k - 1,
        "description": f"Which of the {k} hidden inputs of this episode the call works on (0..{k - 1})",
    }


def published_tools(tools: Sequence[ToolSpec], k: int) -> list[ToolSpec]:
    """The tools as an agent of a K-case episode calls them (unchanged when ``k`` is 1).

    Every tool but submit and task gets the required ``case`` argument; submit's ``answer``
    becomes a list of exactly K answers.
    """
    if k <= 1:
        return list(tools)
    return [t.model_copy(update={"input_schema": _batched_input(t, k)}) for t in tools]


def _batched_input(tool: ToolSpec, k: int) -> dict[str, JsonValue]:
    schema = dict(tool.input_schema)
    props = schema.get("properties")
    props = dict(props) if isinstance(props, dict) else {}
    required = schema.get("required")
    names = [str(r) for r in required] if isinstance(required, list) else []
    if tool.kind == "task":
        return schema
    if tool.kind == "submit":
        props["answer"] = {
            "type": "array",
            "items": props.get("answer", {}),
            "minItems": k,
            "maxItems": k,
            "description": f"The {k} answers, the i-th for case i",
        }
    else:
        props[CASE_ARG] = _case_schema(k)
        if CASE_ARG not in names:
            names.append(CASE_ARG)
    schema["properties"] = dict(props)
    schema["required"] = list(names)
    return schema


@dataclass
class Batch:
    """The K cases of one batched episode and the state of each case's stateful tools."""

    cases: list[Instance]
    states: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.states:
            self.states = [None] * len(self.cases)

    @property
    def size(self) -> int:
        """K, the number of cases."""
        return len(self.cases)

    @property
    def instance_id(self) -> str:
        """The K instance ids joined with ``+``."""
        return episode_instance_id(self.cases)

    @property
    def expected(self) -> JsonValue:
        """The list of the K expected answers (wire form)."""
        return [c.expected for c in self.cases]

    def route(
        self, tool: ToolSpec, arguments: Mapping[str, JsonValue]
    ) -> tuple[int, dict[str, JsonValue]] | str:
        """The case a call works on and its other arguments, or the error to show the agent."""
        rest = {k: v for k, v in arguments.items() if k != CASE_ARG}
        if CASE_ARG not in arguments:
            return (
                f"missing argument {CASE_ARG}: {tool.name} needs the case it works on, "
                f"an integer 0..{self.size - 1} (this episode asks about {self.size} hidden inputs)"
            )
        raw = arguments[CASE_ARG]
        if isinstance(raw, bool) or not isinstance(raw, int):
            try:
                raw = coerce(raw, {"type": "integer"}, path=CASE_ARG)
            except CoercionError as exc:
                return f"invalid argument {exc}: give an integer 0..{self.size - 1}"
        case = int(raw)
        if not 0 <= case < self.size:
            return (
                f"invalid argument {CASE_ARG}: {case} is not a case of this episode; "
                f"the valid cases are 0..{self.size - 1}"
            )
        return case, rest

    def score(self, arguments: Mapping[str, JsonValue], output_schema: dict[str, Any]) -> int | str:
        """The reward of submitting ``arguments["answer"]`` (1 only if all K answers are right),
        or the error to show the agent (the submission is then not scored)."""
        expected = (
            f"a list of {self.size} answers, the i-th for case i, each {describe_schema(output_schema)}"
        )
        try:
            rules.check_arguments("submit", arguments, ["answer"])
        except rules.ArgumentError as exc:
            return str(exc)
        if "answer" not in arguments:
            return f"missing argument answer: expected {expected}"
        answer = arguments["answer"]
        if not isinstance(answer, list) or len(answer) != self.size:
            got = f"a list of {len(answer)}" if isinstance(answer, list) else type(answer).__name__
            return f"invalid argument answer: expected {expected}; got {got}"
        values = []
        for i, item in enumerate(answer):
            try:
                values.append(rules.coerce_answer(item, output_schema, path=f"answer[{i}]"))
            except CoercionError as exc:
                return f"invalid argument {exc}"
        right = [rules.score(v, decode(c.expected)) for v, c in zip(values, self.cases, strict=True)]
        return int(all(right))
