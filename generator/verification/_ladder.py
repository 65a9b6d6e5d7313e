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
    rungs = [list(group) for _, group in groupby(candidates, key=_rung)]
    if len(rungs) > 1 and _rung(rungs[0][0]) == 0:  # tests (and unsized candidates) go with rung 1
        rungs = [rungs[0] + rungs[1], *rungs[2:]]
    instances: list[Instance] = []
    dropped: dict[str, int] = {}
    gap: tuple[int, int] | None = None  # (the last rung that fit, the first that did not)
    last_fit = 0
    untried = 0
    steps_before = 0

    def run(group: list[Candidate], first: bool) -> Verification | VerifyFailed:
        calls = settings.max_oracle_steps if first else min(settings.max_oracle_steps, top + 1)
        return verify_gym(
            worker=worker,
            tools_source=tools_source,
            oracle_source=oracle_source,
            tools=tools,
            candidates=group,
            input_schema=input_schema,
            output_schema=output_schema,
            timeout=settings.call_timeout,
            max_calls=calls,
            **verify_options,
        )

    for i, rung in enumerate(rungs):
        size = _rung(rung[-1])
        out = run(rung, i == 0)
        if isinstance(out, VerifyFailed):
            if i == 0:
                return out
            _add(dropped, f"augment: no input of {size} elements replays", len(rung))
            gap, untried = (last_fit, size), sum(len(r) for r in rungs[i + 1 :])
            break
        tools = out.tools
        instances.extend(out.instances)
        for reason, count in out.dropped.items():
            _add(dropped, reason, count)
        sized = [inst for inst in out.instances if inst.origin == "augmented"] or out.instances
        if any(inst.oracle_steps <= top for inst in sized):
            last_fit = size
        longest = max((inst.oracle_steps for inst in sized), default=0)
        above = sum(len(r) for r in rungs[i + 1 :])
        if i + 1 < len(rungs) and not any(inst.oracle_steps <= top // 2 for inst in sized):
            gap, untried = (size, _rung(rungs[i + 1][0])), above
            break
        if i > 0 and longest <= steps_before and longest < (settings.min_steps or 0):
            # steps do not grow with size (the work is inside the tools) and stay under the
            # window: the rungs above would only be filtered out, after the longest replays
            _add(dropped, FLAT, above)
            break
        if any("sandbox stopped" in reason for reason in out.dropped):
            _add(dropped, SLOW, above)  # replays reach the sandbox's limits: bigger ones would too
            break
        steps_before = max(steps_before, longest)
    _add(dropped, UNTRIED, untried)
    if refill is not None and gap is not None and untried > 0:
        more = _fill(refill, gap, min(untried, settings.augment // 2), candidates, run, dropped)
        if more is not None:
            tools = more.tools
            instances.extend(more.instances)
    return Verification(tools=tools, instances=instances, dropped=dropped)


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
