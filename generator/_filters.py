"""The paper's quality filters, per instance and per gym (all off by default).

- ``min_steps`` / ``max_steps``: the oracle's tool calls on the instance (observe and submit
  count) must lie in the range (the paper used 10 and 256);
- ``min_tools``: the oracle must use at least that many distinct tools on the instance, and on
  the gym as a whole (the paper used 4; observe and submit count, as its Observe and Done did).

Instances that fail are dropped and counted by reason; a gym left with no instance, or whose
oracle uses too few distinct tools overall, is rejected at stage ``filter``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schemas import Instance
from ._results import GenerateSettings

__all__ = ["Kept", "apply_filters"]


@dataclass(frozen=True, kw_only=True)
class Kept:
    """The instances that pass, what was dropped (reason -> count), and a gym-level rejection."""

    instances: list[Instance]
    dropped: dict[str, int] = field(default_factory=dict)
    rejection: str | None = None


def _why(instance: Instance, settings: GenerateSettings) -> str | None:
    steps = instance.oracle_steps
    if settings.min_steps is not None and steps < settings.min_steps:
        return f"filter: oracle steps < {settings.min_steps}"
    if settings.max_steps is not None and steps > settings.max_steps:
        return f"filter: oracle steps > {settings.max_steps}"
    if settings.min_tools is not None and len({c.tool for c in instance.oracle_trace}) < settings.min_tools:
        return f"filter: distinct tools < {settings.min_tools}"
    return None


def apply_filters(instances: list[Instance], settings: GenerateSettings) -> Kept:
    """Keep the instances that pass every active filter; reject the gym if none (or too few tools) remain."""
    kept: list[Instance] = []
    dropped: dict[str, int] = {}
    for inst in instances:
        why = _why(inst, settings)
        if why is None:
            kept.append(inst)
        else:
            dropped[why] = dropped.get(why, 0) + 1
    if not kept:
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(dropped.items()))
        return Kept(instances=[], dropped=dropped, rejection=f"no instance passes the filters: {reasons}")
    if settings.min_tools is not None:
        used = {c.tool for inst in kept for c in inst.oracle_trace}
        if len(used) < settings.min_tools:
            return Kept(
                instances=[],
                dropped=dropped,
                rejection=f"the oracle uses {len(used)} distinct tools, fewer than --min-tools {settings.min_tools}",
            )
    return Kept(instances=kept, dropped=dropped)
