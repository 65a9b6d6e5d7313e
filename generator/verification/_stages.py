"""The pipeline's calls into the other stages (recording, carving, augmentation), as values.

Each function adapts one stage's result to the pipeline's: ``Recorded``/``Carving``/candidates,
or a :class:`Rejected` naming the stage and the reason. A bug in a stage meets one problem only:
it becomes that problem's rejection (``internal error: ...`` with the traceback as detail).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from ...runtime import UnsupportedValue, decode, encode, infer_schema
from ...schemas import ObservationPolicy, Problem, Rejection, Stage
from .._results import GenerateSettings, Rejected
from ..carving._carving_types import CarveRejected, Carving, Granularity
from ..instances._augment import Mutant, mutate_inputs, rng_for
from ..instances._instances import (
    ComputeError,
    RecordedInstances,
    RecordingFailed,
    compute_outputs,
    record_instances,
)
from ._verify import Candidate, SyncWorker, instance_id_for

__all__ = [
    "FINER",
    "GRANULARITIES",
    "Recorded",
    "SizedCandidate",
    "augment_candidates",
    "carve",
    "derive_candidates",
    "record",
]

GRANULARITIES: tuple[Granularity, ...] = ("fine", "coarse", "helpers", "getters")
"""Carving ladder: the finest tools first (fine: loop bodies, conditions...; coarse: whole loops;
helpers: helper functions only); getters (one per input field) always verify."""
FINER: tuple[Granularity, ...] = ("split", "inline")
"""Tried, in this order, when the "fine" gym falls short of the filters or answers in one call."""


@dataclass(frozen=True, kw_only=True)
class SizedCandidate(Candidate):
    """A derived candidate and its rung on the size ladder (0: no rung, e.g. design problems)."""

    size: int = 0


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """The recorded instances of one problem, as the pipeline uses them."""

    params: list[str]
    candidates: list[Candidate]
    dropped: dict[str, int]
    in_place: str | None
    raw: RecordedInstances

    @property
    def is_class(self) -> bool:
        return self.raw.target.kind == "class"


def _reject(problem: Problem, stage: Stage, reason: str, detail: str | None = None) -> Rejected:
    return Rejected(
        rejection=Rejection(
            task_id=problem.task_id, problem_id=problem.problem_id, stage=stage, reason=reason, detail=detail
        )
    )


def _internal(problem: Problem, stage: Stage, exc: Exception) -> Rejected:
    detail = "".join(traceback.format_exception(exc))[-4000:]
    return _reject(problem, stage, f"internal error: {type(exc).__name__}: {exc}", detail)


def record(problem: Problem, worker: SyncWorker, settings: GenerateSettings) -> Recorded | Rejected:
    """Record the instances of ``problem`` from its tests, in the sandbox."""
    try:
        out = record_instances(problem, worker, seed=settings.seed, timeout=settings.call_timeout)
    except Exception as exc:  # a bug in recording must cost one problem, not the run
        return _internal(problem, "instances", exc)
    if isinstance(out, RecordingFailed):
        return _reject(problem, "infra" if out.infra else "instances", out.reason, out.detail)
    if out.mixed_in_place:
        return _reject(
            problem, "instances", "some calls return a value and others change an argument in place"
        )
    seen: set[str] = set()
    candidates = []
    for call in out.calls:
        iid = instance_id_for(call.input)
        if iid not in seen:
            seen.add(iid)
            candidates.append(Candidate(input=call.input, expected=call.expected))
    return Recorded(
        params=[p.name for p in out.params],
        candidates=candidates,
        dropped=dict(out.dropped),
        in_place=out.in_place,
        raw=out,
    )


def inferred_input_schema(recorded: Recorded) -> dict[str, Any]:
    """The hidden input's object type schema, inferred from the recorded values only."""
    props: dict[str, Any] = {}
    names = recorded.params or sorted({k for c in recorded.candidates for k in c.input})
    if recorded.is_class:
        names = ["operations", "arguments"]
    for name in names:
        values = [decode(c.input[name]) for c in recorded.candidates if name in c.input]
        props[name] = infer_schema(values)
    required = [n for n in names if all(n in c.input for c in recorded.candidates)]
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def carve(
    problem: Problem,
    recorded: Recorded,
    granularity: Granularity,
    input_schema: dict[str, Any],
    observation: ObservationPolicy = "full",
) -> Carving | Rejected:
    """Carve tools + oracle out of the reference at ``granularity`` (libcst, on the host); the
    oracle learns the hidden input as ``observation`` allows (partial: through the read tools)."""
    try:
        if recorded.is_class:
            from ..carving._classes import carve_class_problem

            out: Carving | CarveRejected = carve_class_problem(
                problem,
                recorded.raw,
                input_schema=input_schema,
                granularity=granularity,
                observation=observation,
            )
        else:
            from ..carving._carve import carve_function_problem

            if problem.entry_point is None:  # the dataset named none; the tests drive this function
                problem = problem.model_copy(update={"entry_point": recorded.raw.target.name})
            out = carve_function_problem(
                problem,
                entry_params=recorded.params,
                input_schema=input_schema,
                granularity=granularity,
                observation=observation,
            )
    except Exception as exc:  # a bug in carving must cost one problem, not the run
        return _internal(problem, "analyse", exc)
    if isinstance(out, CarveRejected):
        return _reject(problem, "analyse", out.reason, out.detail or None)
    return out


def augment_candidates(
    problem: Problem,
    recorded: Recorded,
    input_schema: dict[str, Any],
    settings: GenerateSettings,
    worker: SyncWorker,
) -> tuple[list[Candidate], dict[str, int]]:
    """``settings.augment`` new candidates along the size ladder, outputs by the reference; what was lost.

    A derived input the reference raises or times out on (per-call limit) is dropped and counted.
    """
    rng = rng_for(settings.seed, problem.task_id)
    if recorded.is_class:
        from ..carving._classes import mutate_operations  # design problems: new operation sequences

        mutants = mutate_operations(recorded.raw, n=settings.augment, rng=rng)
    else:
        inputs = [{k: decode(v) for k, v in c.input.items()} for c in recorded.candidates]
        mutants = mutate_inputs(inputs, input_schema, n=settings.augment, rng=rng)
    return _computed(problem, recorded, mutants, settings, worker)


def derive_candidates(
    problem: Problem,
    recorded: Recorded,
    input_schema: dict[str, Any],
    settings: GenerateSettings,
    worker: SyncWorker,
    *,
    sizes: tuple[int, ...],
    n: int,
) -> tuple[list[Candidate], dict[str, int]]:
    """``n`` more candidates of the given sizes (round robin), outputs by the reference; what was lost.

    Its own random stream (seed, task id, sizes): deterministic, and independent of the first
    augmentation's. A derived input may repeat an earlier candidate (the caller drops those).
    """
    if recorded.is_class or n <= 0 or not sizes:
        return [], {}
    rng = rng_for(settings.seed, f"{problem.task_id}\0sizes {sizes}")
    inputs = [{k: decode(v) for k, v in c.input.items()} for c in recorded.candidates]
    mutants = mutate_inputs(inputs, input_schema, n=n, rng=rng, ladder=sizes)
    return _computed(problem, recorded, mutants, settings, worker)


def _computed(
    problem: Problem,
    recorded: Recorded,
    mutants: list[Mutant],
    settings: GenerateSettings,
    worker: SyncWorker,
) -> tuple[list[Candidate], dict[str, int]]:
    """The mutants with their expected outputs (the reference, in the sandbox), by size; what was lost."""
    lost: dict[str, int] = {}
    if not mutants:
        return [], lost
    try:
        wires = [{k: encode(v) for k, v in m.input.items()} for m in mutants]
    except UnsupportedValue:
        return [], {"augment: an input has no JSON form": len(mutants)}
    # rung by rung, smallest first: an output the harness cannot send back (an int of 5000
    # digits) or a sandbox limit costs only its rung and the rungs above it, which are not run
    # at all (exponential work, memory): bounded work, and less room for the time limits to make
    # a run differ from the next
    outputs: list[JsonValue | ComputeError] = [_NOT_RUN] * len(mutants)
    stopped = False
    for size in sorted({m.size for m in mutants}):
        index = [i for i, m in enumerate(mutants) if m.size == size]
        if stopped:
            continue
        got = _outputs(problem, recorded, [wires[i] for i in index], settings, worker)
        if isinstance(got, RecordingFailed):
            got = [ComputeError(f"{_BATCH_FAILED}{got.reason}")] * len(index)
        over = [v for v in got if isinstance(v, ComputeError) and _beyond_limits(v)]
        if over:
            # the whole rung goes: which of its inputs finish in time depends on the machine's
            # load, whether its slowest does not (exponential work is far over the limit)
            got = [over[0] if not isinstance(v, ComputeError) else v for v in got]
            stopped = True
        for i, value in zip(index, got, strict=True):
            outputs[i] = value
    out: list[SizedCandidate] = []
    for mutant, wire, expected in zip(mutants, wires, outputs, strict=True):
        if isinstance(expected, ComputeError):
            if expected is _NOT_RUN:
                key = "augment: not computed, a smaller size went over the limits"
            elif expected.reason.startswith(_BATCH_FAILED):
                key = "augment: " + expected.reason.removeprefix(_BATCH_FAILED)[:80]
            else:
                what = "timed out" if "time" in expected.reason.lower() else "raised"
                key = f"augment: the reference {what} on a derived input"
            lost[key] = lost.get(key, 0) + 1
            continue
        out.append(
            SizedCandidate(
                input=wire, expected=expected, origin="augmented", tier=mutant.tier, size=mutant.size
            )
        )
    out.sort(key=lambda c: c.size)  # stable: rung by rung, as verify_by_rungs climbs
    return list(out), lost


_BATCH_FAILED = "the rung's batch failed: "
_NOT_RUN = ComputeError("not run")


def _beyond_limits(error: ComputeError) -> bool:
    """A failure of size (time, memory, the whole batch), not the reference rejecting an input."""
    reason = error.reason.lower()
    return error.reason.startswith(_BATCH_FAILED) or "time" in reason or "memory" in reason


def _outputs(
    problem: Problem,
    recorded: Recorded,
    wires: list[dict[str, JsonValue]],
    settings: GenerateSettings,
    worker: SyncWorker,
) -> list[JsonValue | ComputeError] | RecordingFailed:
    return compute_outputs(
        problem,
        worker,
        wires,
        target=recorded.raw.target,
        in_place=recorded.in_place,
        seed=settings.seed,
        timeout=settings.call_timeout,
    )
