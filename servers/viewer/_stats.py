"""The figures behind the charts: yield by stage and reason, histograms, per-policy rates.

Pure functions of what ``_data`` and ``_records`` read, shared by the served pages and report.html,
so both show the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...schemas import GenerationReport
from ._data import CatalogData
from ._records import RecordSummary

__all__ = [
    "PASS_RATE_EDGES",
    "STEP_EDGES",
    "PolicyStats",
    "histogram",
    "oracle_steps",
    "pass_rate_histogram",
    "policy_stats",
    "rejection_reasons",
    "tools_per_gym",
    "yield_by_stage",
]

STEP_EDGES = (0, 10, 20, 40, 64, 128, 256, 512)
"""Oracle steps per instance: bins [0,10) [10,20) ... [256,512) and 512+ (10-256 is the paper's window)."""
PASS_RATE_EDGES = tuple(i / 10 for i in range(11))


def histogram(
    values: Iterable[float], edges: Sequence[float], *, last_closed: bool = False
) -> list[tuple[str, int]]:
    """Counts per bin ``[edges[i], edges[i+1])`` and one open bin ``edges[-1]+``.

    With ``last_closed`` the last edge closes the last bin instead (``[0.9, 1.0]``, for shares).
    """
    counts = [0] * (len(edges) - 1 if last_closed else len(edges))
    for value in values:
        for i in range(len(counts)):
            high = edges[i + 1] if i + 1 < len(edges) else None
            if value >= edges[i] and (high is None or value < high or (last_closed and i == len(counts) - 1)):
                counts[i] += 1
                break
    labels = []
    for i in range(len(counts)):
        if i + 1 < len(edges):
            labels.append(
                _edge(edges[i]) + "–" + _edge(edges[i + 1])
                if last_closed
                else f"{_edge(edges[i])}–{_edge(edges[i + 1] - 1)}"
            )
        else:
            labels.append(f"{_edge(edges[i])}+")
    return list(zip(labels, counts, strict=True))


def _edge(value: float) -> str:
    return f"{value:g}"


def yield_by_stage(report: GenerationReport) -> list[tuple[str, float]]:
    """Problems read, rejections per stage (data path order), load issues, gyms verified."""
    stages: Counter[str] = Counter(r.stage for r in report.rejections)
    order = ("load", "dedup", "instances", "analyse", "decompose", "render", "verify", "filter", "infra")
    items: list[tuple[str, float]] = [("problems read", report.problems_read)]
    if report.load_issues:
        items.append(("unreadable rows", len(report.load_issues)))
    items += [(f"rejected at {stage}", stages[stage]) for stage in order if stages[stage]]
    items.append(("gyms verified", report.gyms_verified))
    return items


def rejection_reasons(report: GenerationReport, *, top: int = 12) -> list[tuple[str, float]]:
    """The most frequent rejection reasons, as ``stage: reason`` (the reason's first clause)."""
    reasons = Counter(f"{r.stage}: {r.reason.split(':')[0].split(';')[0].strip()}" for r in report.rejections)
    return [(reason, float(n)) for reason, n in reasons.most_common(top)]


def oracle_steps(data: CatalogData) -> list[int]:
    """Oracle tool calls per instance: report.json's per-instance lists of the catalog's gyms."""
    if data.report is None:
        return []
    present = {row.task_id for row in data.rows}
    return [s for g in data.report.gyms if g.task_id in present or not present for s in g.oracle_steps]


def tools_per_gym(data: CatalogData) -> list[tuple[str, float]]:
    """How many gyms have N tools (generic ones included), for every N seen."""
    counts = Counter(row.tools for row in data.rows)
    return [(str(n), float(counts[n])) for n in sorted(counts)]


def pass_rate_histogram(data: CatalogData) -> list[tuple[str, int]]:
    """Calibrated instances per pass-rate bin of width 0.1 (``[0.9, 1.0]`` closed)."""
    if data.calibration is None:
        return []
    return histogram(data.calibration.rates.values(), PASS_RATE_EDGES, last_closed=True)


@dataclass(frozen=True)
class PolicyStats:
    """What the records of one policy show (success as rollout counts it: solved / episodes)."""

    policy: str
    episodes: int
    solved: int
    unscored: int
    steps: int
    tool_errors: int
    tool_use: int
    problem_calls: int

    @property
    def success_rate(self) -> float | None:
        """Solved / episodes (an unscored episode counts as not solved, as in rollout's summary)."""
        return self.solved / self.episodes if self.episodes else None

    @property
    def tool_use_rate(self) -> float | None:
        """Share of episodes that called at least one problem tool (not observe/read/submit/task)."""
        return self.tool_use / self.episodes if self.episodes else None

    @property
    def mean_steps(self) -> float | None:
        """Tool calls per episode, submit included."""
        return self.steps / self.episodes if self.episodes else None

    @property
    def tool_error_rate(self) -> float | None:
        """Tool errors / tool calls."""
        return self.tool_errors / self.steps if self.steps else None


def policy_stats(labelled: Iterable[tuple[str, Sequence[RecordSummary]]]) -> list[PolicyStats]:
    """One PolicyStats per label (records of files with the same label are pooled), in first-seen order."""
    pooled: dict[str, list[RecordSummary]] = {}
    for label, records in labelled:
        pooled.setdefault(label, []).extend(records)
    return [
        PolicyStats(
            policy=label,
            episodes=len(records),
            solved=sum(r.reward == 1 for r in records),
            unscored=sum(r.reward is None for r in records),
            steps=sum(r.steps for r in records),
            tool_errors=sum(r.errors for r in records),
            tool_use=sum(r.problem_calls > 0 for r in records),
            problem_calls=sum(r.problem_calls for r in records),
        )
        for label, records in pooled.items()
    ]
