"""Verification up the size ladder: sizes adapt to the gym so kept instances land in the window.

The candidates come grouped by rung (the tests and the unsized ones first, with the smallest
rung). Each group is verified in turn (:func:`~._verify.verify_gym`, which measures every
instance's oracle steps); the climb goes on while the last rung still verified an instance in
the lower half of the step window, since oracle steps grow with size and the rungs above would
only be filtered out at a high price (big inputs, long replays that may reach the sandbox's time
limit). It also stops when steps do not grow from one rung to the next while still under the
window (the work is inside the tools), and when a replay reaches the sandbox's limits. Where the climb stops, the candidates it did not spend are spent between the last rung
that fit and the first that did not (a *fill*: sizes at 1/4, 1/2, 3/4 of the gap), so the gym gets
instances near the top of the window instead of none. No assumption is made on how many calls
an element costs (partial observation adds reads): only measured steps decide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from ...schemas import Instance, ToolSpec
from .._results import GenerateSettings
from ._stages import SizedCandidate
from ._verify import Candidate, SyncWorker, Verification, VerifyFailed, instance_id_for, verify_gym

__all__ = ["Refill", "fill_sizes", "verify_by_rungs"]

Refill = Callable[[tuple[int, ...], int], tuple[list[Candidate], dict[str, int]]]
"""(sizes, n) -> n more candidates of those sizes with outputs by the reference, and what was lost."""

UNTRIED = "augment: rungs above the step window, not tried"
FLAT = "augment: steps do not grow with size, rungs above not tried"
SLOW = "augment: replays reach the sandbox's limits, rungs above not tried"


def _rung(candidate: Candidate) -> int:
    return candidate.size if isinstance(candidate, SizedCandidate) else 0


def fill_sizes(low: int, high: int) -> tuple[int, ...]:
    """Sizes at a quarter, half and three quarters between two rungs (distinct, above ``low``)."""
    sizes = sorted({low + (high - low) * k // 4 for k in (1, 2, 3)} - {low})
    return tuple(s for s in sizes if 0 < s < high)


def _add(counts: dict[str, int], key: str, n: int) -> None:
    if n > 0:
        counts[key] = counts.get(key, 0) + n


def verify_by_rungs(
    *,
    worker: SyncWorker,
    tools_source: str,
    oracle_source: str,
    tools: list[ToolSpec],
    candidates: list[Candidate],
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    settings: GenerateSettings,
    refill: Refill | None = None,
    **verify_options: Any,
) -> Verification | VerifyFailed:
    """Verify the first group (tests and the smallest rung), then climb the ladder while it pays.

    Derived instances stop at the window's top (``max_steps + 1`` calls; without a window,
    ``max_oracle_steps``). Untried candidates are counted in ``dropped``; with ``refill``, as
    many new ones (at most half of ``settings.augment``) are derived at the sizes where the climb
    stopped and verified too. A failure of the first group fails the gym as
    :func:`~._verify.verify_gym` says; a later rung that replays nothing ends the climb.
    ``verify_options`` go to every :func:`~._verify.verify_gym` call as they are (e.g. the
    observation policy).
    """
    top = settings.max_steps if settings.max_steps is not None else settings.max_oracle_steps
    rungs = _rungs(candidates)
    climb = _Climb()
    verifier = _Verifier(
        worker, tools_source, oracle_source, input_schema, output_schema, settings, verify_options
    )

    def run(group: list[Candidate], first: bool) -> Verification | VerifyFailed:
        return verifier(group, tools, max_calls=settings.max_oracle_steps if first else top + 1)

    for i, rung in enumerate(rungs):
        size = _rung(rung[-1])
        out = run(rung, i == 0)
        if isinstance(out, VerifyFailed):
            if i == 0:
                return out
            _add(climb.dropped, f"augment: no input of {size} elements replays", len(rung))
            climb.gap, climb.untried = (climb.last_fit, size), sum(len(r) for r in rungs[i + 1 :])
            break
        tools = out.tools
        if _after_rung(
            climb, out, size, rungs[i + 1 :], top=top, first=i == 0, min_steps=settings.min_steps or 0
        ):
            break
    instances, dropped, gap, untried = climb.instances, climb.dropped, climb.gap, climb.untried
    _add(dropped, UNTRIED, untried)
    if refill is not None and gap is not None and untried > 0:
        more = _fill(refill, gap, min(untried, settings.augment // 2), candidates, run, dropped)
        if more is not None:
            tools = more.tools
            instances.extend(more.instances)
    return Verification(tools=tools, instances=instances, dropped=dropped)


@dataclass(slots=True)
class _Climb:
    """Where the climb up the rungs stands."""

    instances: list[Instance] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    gap: tuple[int, int] | None = None  # (the last rung that fit, the first that did not)
    last_fit: int = 0
    untried: int = 0
    steps_before: int = 0


def _after_rung(
    climb: _Climb,
    out: Verification,
    size: int,
    above_rungs: list[list[Candidate]],
    *,
    top: int,
    first: bool,
    min_steps: int,
) -> bool:
    """Take a verified rung's instances; whether the climb ends here (the reason counted in ``dropped``)."""
    climb.instances.extend(out.instances)
    _merge(climb.dropped, out.dropped)
    sized = [inst for inst in out.instances if inst.origin == "augmented"] or out.instances
    if any(inst.oracle_steps <= top for inst in sized):
        climb.last_fit = size
    longest = max((inst.oracle_steps for inst in sized), default=0)
    above = sum(len(r) for r in above_rungs)
    if above_rungs and not any(inst.oracle_steps <= top // 2 for inst in sized):
        climb.gap, climb.untried = (size, _rung(above_rungs[0][0])), above
        return True
    if not first and longest <= climb.steps_before and longest < min_steps:
        # steps do not grow with size (the work is inside the tools) and stay under the
        # window: the rungs above would only be filtered out, after the longest replays
        _add(climb.dropped, FLAT, above)
        return True
    if any("sandbox stopped" in reason for reason in out.dropped):
        _add(climb.dropped, SLOW, above)  # replays reach the sandbox's limits: bigger ones would too
        return True
    climb.steps_before = max(climb.steps_before, longest)
    return False


def _rungs(candidates: list[Candidate]) -> list[list[Candidate]]:
    """The candidates grouped by rung; the tests (and unsized candidates) go with the first rung."""
    rungs = [list(group) for _, group in groupby(candidates, key=_rung)]
    if len(rungs) > 1 and _rung(rungs[0][0]) == 0:
        rungs = [rungs[0] + rungs[1], *rungs[2:]]
    return rungs


def _merge(dropped: dict[str, int], more: dict[str, int]) -> None:
    for reason, count in more.items():
        _add(dropped, reason, count)


@dataclass(frozen=True, slots=True)
class _Verifier:
    """One :func:`~._verify.verify_gym` call per group of candidates, with the gym's fixed arguments."""

    worker: SyncWorker
    tools_source: str
    oracle_source: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    settings: GenerateSettings
    options: dict[str, Any]

    def __call__(
        self, group: list[Candidate], tools: list[ToolSpec], *, max_calls: int
    ) -> Verification | VerifyFailed:
        return verify_gym(
            worker=self.worker,
            tools_source=self.tools_source,
            oracle_source=self.oracle_source,
            tools=tools,
            candidates=group,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            timeout=self.settings.call_timeout,
            max_calls=min(self.settings.max_oracle_steps, max_calls),
            **self.options,
        )


def _fill(
    refill: Refill,
    gap: tuple[int, int],
    n: int,
    known: list[Candidate],
    run: Callable[[list[Candidate], bool], Verification | VerifyFailed],
    dropped: dict[str, int],
) -> Verification | None:
    sizes = fill_sizes(*gap)
    if not sizes or n <= 0:
        return None
    derived, lost = refill(sizes, n)
    for reason, count in lost.items():
        _add(dropped, reason, count)
    seen = {instance_id_for(c.input) for c in known}
    fresh = [c for c in derived if instance_id_for(c.input) not in seen]
    _add(dropped, "augment: fill repeats a candidate", len(derived) - len(fresh))
    if not fresh:
        return None
    out = run(fresh, False)
    if isinstance(out, VerifyFailed):
        _add(dropped, f"augment: no input of {sizes[0]}-{sizes[-1]} elements replays", len(fresh))
        return None
    for reason, count in out.dropped.items():
        _add(dropped, reason, count)
    return out
