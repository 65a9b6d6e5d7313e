"""The paper's quality filters per instance and per gym, the degenerate cap, and the final pick.

- ``min_steps`` / ``max_steps``: the oracle's tool calls on the instance (observe and submit
  count) must lie in the range (the paper's 10 and 256, the defaults);
- ``min_tools``: the oracle must use at least that many distinct tools on the instance, and on
  the gym as a whole (the paper's 4, the default; observe and submit count, as its Observe and
  Done did, and so do the ``read_<p>`` tools of partial observation);
- ``cap_degenerate``: degenerate instances (:func:`is_degenerate`: an empty or one-item
  collection or string, or every parameter 0/1/empty) are at most :func:`degenerate_allowance`
  of the kept ones (about 10%, at most 2);
- ``max_instances``: of the instances left, a spread over oracle steps is kept (evenly spaced
  when sorted by steps), in their original order.

``fit_episodes`` then keeps a batched gym's episodes within ``max_steps`` too: with K cases per
episode, the filters run again without the cases longer than ``max_steps / K`` calls, as long as
the gym keeps two episodes and the K it had (else the gym is left as it was).

Instances that fail are dropped and counted by reason; a gym left with no instance, or whose
oracle uses too few distinct tools overall, is rejected at stage ``filter``. One exception: when
every instance is short of ``min_steps`` but passes the other filters, the gym is kept if batching
K of them per episode (``Kept.min_batch``, at most ``MAX_AUTO_BATCH`` and with at least two
episodes) makes every episode reach ``min_steps``: the minimum is the episode's, as the paper's
window is its episodes'. Deterministic: every
choice is a function of the instances and their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from ...runtime import UnsupportedValue, decode
from ...schemas import Instance
from .._results import GenerateSettings
from ._batching import MAX_AUTO_BATCH, batch_size_for, case_steps_cap

__all__ = [
    "Kept",
    "apply_filters",
    "batch_to_reach",
    "degenerate_allowance",
    "fit_episodes",
    "is_degenerate",
    "spread",
]

MAX_DEGENERATE = 2
"""A gym keeps at most this many degenerate instances (and about 10% of its instances)."""

_TRIVIAL_SCALARS = (0, 1, None)


def _trivial(value: Any) -> bool:
    """0, 1, False/True, None, or an empty / one-item collection or string."""
    if isinstance(value, (str, list, tuple, set, frozenset, dict)):
        return len(value) <= 1
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return value in _TRIVIAL_SCALARS
    return False


def is_degenerate(wire_input: dict[str, JsonValue]) -> bool:
    """Whether a hidden input (wire form, by parameter) is degenerate.

    Degenerate: some collection or string parameter is empty or holds a single item, or every
    parameter is trivial (0, 1, a bool, None, empty). The one definition the generator uses.
    """
    try:
        values = [decode(v) for v in wire_input.values()]
    except (UnsupportedValue, ValueError, TypeError):
        return False
    if not values:
        return True
    sized = [v for v in values if isinstance(v, (str, list, tuple, set, frozenset, dict))]
    if any(len(v) <= 1 for v in sized):
        return True
    return all(_trivial(v) for v in values)


def degenerate_allowance(n_kept: int) -> int:
    """How many degenerate instances a gym of ``n_kept`` instances may hold: 10%, 1 to 2."""
    return max(1, min(MAX_DEGENERATE, n_kept // 10))


def spread(instances: list[Instance], n: int) -> list[Instance]:
    """``n`` of ``instances`` evenly spaced over their oracle steps, in their original order."""
    if len(instances) <= n:
        return list(instances)
    if n <= 0:
        return []
    ranked = sorted(range(len(instances)), key=lambda i: (instances[i].oracle_steps, i))
    if n == 1:
        picks = {ranked[len(ranked) // 2]}
    else:
        picks = {ranked[round(k * (len(ranked) - 1) / (n - 1))] for k in range(n)}
    return [inst for i, inst in enumerate(instances) if i in picks]


@dataclass(frozen=True, kw_only=True)
class Kept:
    """The instances that pass, what was dropped (reason -> count), and a gym-level rejection."""

    instances: list[Instance]
    dropped: dict[str, int] = field(default_factory=dict)
    rejection: str | None = None
    min_batch: int = 1
    """Episodes must hold at least this many instances to reach ``min_steps`` (see below)."""


def _why(instance: Instance, settings: GenerateSettings, *, short_ok: bool = False) -> str | None:
    steps = instance.oracle_steps
    if settings.min_steps is not None and steps < settings.min_steps and not short_ok:
        return f"filter: oracle steps < {settings.min_steps}"
    if settings.max_steps is not None and steps > settings.max_steps:
        return f"filter: oracle steps > {settings.max_steps}"
    if settings.min_tools is not None and len({c.tool for c in instance.oracle_trace}) < settings.min_tools:
        return f"filter: distinct tools < {settings.min_tools}"
    return None


def _count(dropped: dict[str, int], key: str, n: int) -> None:
    if n > 0:
        dropped[key] = dropped.get(key, 0) + n


def _pick(passing: list[Instance], settings: GenerateSettings, dropped: dict[str, int]) -> list[Instance]:
    """The degenerate cap, then a spread of at most ``max_instances``."""
    if not settings.cap_degenerate:
        kept = spread(passing, settings.max_instances)
        _count(dropped, "over --max-instances", len(passing) - len(kept))
        return kept
    flags = [is_degenerate(i.input) for i in passing]
    plain = [i for i, d in zip(passing, flags, strict=True) if not d]
    degenerate = [i for i, d in zip(passing, flags, strict=True) if d]
    if not plain:  # nothing else passed: keep what there is rather than lose the gym
        allowed = degenerate_allowance(len(degenerate))
        _count(dropped, "filter: degenerate input over the cap", len(degenerate) - allowed)
        return degenerate[:allowed]
    chosen = spread(plain, settings.max_instances)
    allowed = min(degenerate_allowance(len(chosen)), len(degenerate))
    if len(chosen) + allowed > settings.max_instances:
        chosen = spread(plain, max(1, settings.max_instances - allowed))
    _count(dropped, "over --max-instances", len(plain) - len(chosen))
    _count(dropped, "filter: degenerate input over the cap", len(degenerate) - allowed)
    keep = {id(i) for i in chosen} | {id(i) for i in degenerate[:allowed]}
    return [i for i in passing if id(i) in keep]


def apply_filters(instances: list[Instance], settings: GenerateSettings) -> Kept:
    """Keep the instances that pass every active filter, cap degenerate ones, pick a spread.

    Rejects the gym (``Kept.rejection``) if no instance, or too few distinct tools, remain.
    """
    passing: list[Instance] = []
    dropped: dict[str, int] = {}
    for inst in instances:
        why = _why(inst, settings)
        if why is None:
            passing.append(inst)
        else:
            dropped[why] = dropped.get(why, 0) + 1
    min_batch = 1
    if not passing:
        short = [i for i in instances if _why(i, settings, short_ok=True) is None]
        min_batch = batch_to_reach(settings.min_steps, [i.oracle_steps for i in short])
        if not short or min_batch > MAX_AUTO_BATCH or len(short) < 2 * min_batch:
            reasons = ", ".join(f"{k} ({v})" for k, v in sorted(dropped.items()))
            return Kept(instances=[], dropped=dropped, rejection=f"no instance passes the filters: {reasons}")
        # every instance is short, but K of them per episode make every episode long enough
        dropped.pop(f"filter: oracle steps < {settings.min_steps}", None)
        passing = short
    kept = _pick(passing, settings, dropped)
    if settings.min_tools is not None:
        used = {c.tool for inst in kept for c in inst.oracle_trace}
        if len(used) < settings.min_tools:
            return Kept(
                instances=[],
                dropped=dropped,
                rejection=f"the oracle uses {len(used)} distinct tools, fewer than --min-tools {settings.min_tools}",
            )
    return Kept(instances=kept, dropped=dropped, min_batch=min_batch)


def batch_to_reach(min_steps: int | None, steps: list[int]) -> int:
    """The fewest instances per episode with which every episode makes at least ``min_steps`` calls.

    A batched episode of K instances makes the sum of their oracle calls minus the K-1 submits it
    saves; with every instance at least ``min(steps)`` calls, K*(s-1)+1 >= min_steps suffices.
    Returns 1 when no minimum is set, and a number above any batch size when ``steps`` is empty or
    its shortest instance makes one call.
    """
    if min_steps is None or not steps:
        return 1 if min_steps is None else MAX_AUTO_BATCH + 1
    shortest = min(steps)
    if shortest >= min_steps:
        return 1
    if shortest <= 1:
        return MAX_AUTO_BATCH + 1
    return -(-(min_steps - 1) // (shortest - 1))


FIT_REASON = "filter: case steps over --max-steps / batch size"


def fit_episodes(instances: list[Instance], kept: Kept, settings: GenerateSettings) -> Kept:
    """Filter ``instances`` again without the cases that would make a batched episode exceed
    ``max_steps`` calls, when that keeps the gym's batch size.

    ``kept`` is ``apply_filters(instances, settings)``. With the batch size K it gets
    (``batch_size_for``), a case may make at most ``case_steps_cap(max_steps, K)`` calls so that
    every episode of K cases stays within ``max_steps``. The filters (and the spread of at most
    ``max_instances``) run again on the cases under that cap; their outcome replaces ``kept``
    when it keeps the same K, the same minimum batch and at least two episodes, else ``kept``
    stands (its long episodes are what the audit's 10-256 share counts).
    """
    if settings.max_steps is None or not kept.instances:
        return kept
    k = batch_size_for(kept.instances, batch=settings.batch, min_size=kept.min_batch)
    cap = case_steps_cap(settings.max_steps, k)
    if k <= 1 or all(i.oracle_steps <= cap for i in kept.instances):
        return kept
    fitted = [i for i in instances if i.oracle_steps <= cap]
    again = apply_filters(fitted, settings)
    if (
        again.rejection is not None
        or len(again.instances) < 2 * k
        or again.min_batch != kept.min_batch
        or batch_size_for(again.instances, batch=settings.batch, min_size=again.min_batch) != k
    ):
        return kept
    dropped = dict(again.dropped)
    _count(dropped, FIT_REASON, len(instances) - len(fitted))
    return Kept(instances=again.instances, dropped=dropped, min_batch=again.min_batch)
