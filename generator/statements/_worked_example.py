"""One worked example for a task statement: an input that is NOT one of the gym's instances,
with the answer the reference gives on it (computed in the sandbox, like augmented instances).

Inputs tried, in order: the question's own examples (calls of the entry point on literal
arguments, e.g. a docstring's ``>>> f([1, 2], 3)``) that are not instances; then small
mutations of the recorded inputs (the augmenter's, with a random source of its own). The first
few candidates run through the reference in one sandbox request; those it accepts are offered,
smallest first, and the statement shows the first that does not leak (see ``_task_text``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from ...runtime import UnsupportedValue, canonical_json, decode, encode
from ...schemas import Problem
from .._results import GenerateSettings
from ..instances._augment import mutate_inputs, rng_for
from ..instances._instances import ComputeError, RecordingFailed, compute_outputs
from ..verification._stages import Recorded
from ..verification._verify import SyncWorker
from ._goal_text import closing_paren

__all__ = ["WorkedExample", "worked_examples"]

_MAX_TRIES = 16
_MAX_CHARS = 240


@dataclass(frozen=True, kw_only=True)
class WorkedExample:
    """An input (wire values by parameter) that no instance has, and the reference's answer (wire)."""

    input: dict[str, JsonValue]
    expected: JsonValue
    origin: str
    """"question": one of the question's own examples; "derived": a mutation of a recorded input."""


def _calls_in(question: str, entry_point: str) -> Iterable[tuple[list[Any], dict[str, Any]]]:
    """Literal positional and keyword arguments of every call of ``entry_point`` in ``question``."""
    for m in re.finditer(r"(?<![\w.])" + re.escape(entry_point) + r"\s*\(", question):
        end = closing_paren(question, m.end() - 1, limit=2000)
        if end is None:
            continue
        try:
            call = ast.parse(question[m.start() : end + 1].replace("\n", " "), mode="eval").body
            if not isinstance(call, ast.Call):
                continue
            args = [ast.literal_eval(a) for a in call.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        yield args, kwargs


def _question_inputs(question: str, entry_point: str, params: Sequence[str]) -> list[dict[str, JsonValue]]:
    out = []
    for args, kwargs in _calls_in(question, entry_point):
        if len(args) > len(params) or set(kwargs) - set(params):
            continue
        values = dict(zip(params, args, strict=False)) | kwargs
        if set(values) != set(params):
            continue  # a default left out: the hidden input always names every parameter
        try:
            out.append({p: encode(values[p]) for p in params})
        except UnsupportedValue:
            continue
    return out


def _crossed(inputs: list[dict[str, JsonValue]], params: Sequence[str]) -> list[dict[str, JsonValue]]:
    """Parameters taken from different recorded inputs: they keep the formats the reference
    expects ("1/5"-like strings, pairs of lists) where a random mutation may not."""
    out: list[dict[str, JsonValue]] = []
    if len(params) > 1:
        for a in inputs[:6]:
            for b in inputs[:6]:
                if a is not b and all(p in a and p in b for p in params):
                    out.append({p: (a if n == 0 else b)[p] for n, p in enumerate(params)})
    return out


def _parts(inputs: list[dict[str, JsonValue]]) -> list[dict[str, JsonValue]]:
    """A recorded list or string parameter reversed, halved, spliced with another recorded one
    of the same length, or with each string item reversed."""
    out: list[dict[str, JsonValue]] = []
    for one in inputs[:6]:
        for p, value in one.items():
            if not isinstance(value, (list, str)) or len(value) < 2:
                continue
            half = len(value) // 2
            for other in inputs[:6]:
                mate = other.get(p)
                if other is not one and isinstance(mate, type(value)) and len(mate) == len(value):
                    out.append({**one, p: value[:half] + mate[half:]})  # type: ignore[operator]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out.append({**one, p: [str(v)[::-1] for v in value]})
            out.extend({**one, p: part} for part in (value[::-1], value[:half], value[half:]))
    return out


def _round_robin(*pools: list[dict[str, JsonValue]]) -> list[dict[str, JsonValue]]:
    out: list[dict[str, JsonValue]] = []
    for n in range(max((len(p) for p in pools), default=0)):
        out.extend(pool[n] for pool in pools if n < len(pool))
    return out


def worked_examples(
    problem: Problem,
    recorded: Recorded,
    *,
    known: Iterable[dict[str, JsonValue]],
    input_schema: dict[str, Any],
    settings: GenerateSettings,
    worker: SyncWorker,
) -> list[WorkedExample] | str:
    """Inputs that are not among ``known`` (every instance and candidate input), with the reference's
    answers, best first; or why there are none (a sentence for the summary).

    Raises:
        SandboxUnavailable: the sandbox cannot start (as every sandbox call of the pipeline).
    """
    seen = {canonical_json(k) for k in known}
    tried: list[tuple[dict[str, JsonValue], str]] = []

    def offer(wire: dict[str, JsonValue], origin: str) -> None:
        key = canonical_json(wire)
        if key not in seen and len(key) <= _MAX_CHARS:
            seen.add(key)
            tried.append((wire, origin))

    entry = problem.entry_point or recorded.raw.target.name
    if not recorded.is_class:
        for wire in _question_inputs(problem.question, entry, recorded.params):
            offer(wire, "question")
    derived = _derived_inputs(problem, recorded, input_schema, settings)
    recorded_inputs = [dict(c.input) for c in recorded.candidates]
    crossed = [] if recorded.is_class else _crossed(recorded_inputs, recorded.params)
    parts = [] if recorded.is_class else _parts(recorded_inputs)
    derived.sort(key=lambda w: len(canonical_json(w)))
    for wire in _round_robin(crossed, derived, parts):
        offer(wire, "derived")
    tried = tried[:_MAX_TRIES]
    if not tried:
        return "no input outside the instances could be made"
    outputs = compute_outputs(
        recorded.raw.adapted or problem,
        worker,
        [w for w, _ in tried],
        target=recorded.raw.target,
        in_place=recorded.in_place,
        seed=settings.seed,
        timeout=settings.call_timeout,
    )
    if isinstance(outputs, RecordingFailed):
        return f"the reference could not run on an example input: {outputs.reason[:120]}"
    examples = [
        WorkedExample(input=wire, expected=out, origin=origin)
        for (wire, origin), out in zip(tried, outputs, strict=True)
        if not isinstance(out, ComputeError) and len(canonical_json(out)) <= _MAX_CHARS
    ]
    examples.sort(key=_plainness)
    return examples or "the reference rejected every example input tried"


def _derived_inputs(
    problem: Problem, recorded: Recorded, input_schema: dict[str, Any], settings: GenerateSettings
) -> list[dict[str, JsonValue]]:
    """Mutations of the recorded inputs (operations of a class problem), as wire values."""
    rng = rng_for(settings.seed, f"{problem.task_id}\0worked-example")
    if recorded.is_class:
        from ..carving._classes import mutate_operations

        mutants = mutate_operations(recorded.raw, n=3 * _MAX_TRIES, rng=rng)
    else:
        inputs = [{k: decode(v) for k, v in c.input.items()} for c in recorded.candidates]
        mutants = mutate_inputs(inputs, input_schema, n=3 * _MAX_TRIES, rng=rng)
    derived: list[dict[str, JsonValue]] = []
    for mutant in mutants:
        try:
            derived.append({k: encode(v) for k, v in mutant.input.items()})
        except UnsupportedValue:
            continue
    return derived


def _trivial(wire: JsonValue) -> bool:
    """Empty, zero, a single item, or only nulls: an example that shows little."""
    if isinstance(wire, list):
        return len(wire) <= 1 or all(v is None for v in wire[1:])
    return not isinstance(wire, bool) and wire in ("", {}, None, 0)


def _plainness(example: WorkedExample) -> tuple[int, int, int]:
    """Sort key: examples without empty or zero values first (they show little), then the
    question's own examples, then smaller first."""
    trivial = sum(_trivial(v) for v in example.input.values()) + _trivial(example.expected)
    return (trivial, example.origin != "question", len(canonical_json(example.input)))
