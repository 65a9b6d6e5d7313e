"""Tool-use statistics of a set of episodes: do the agents use the problem tools, or skip them?

A *problem tool* is one carved from the problem (kinds helper, segment, method, getter); the
generic ones (observe, read_*, submit, task, reset) do not count. Only scored episodes count
(reward 0 or 1): an episode lost to infrastructure says nothing about the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ...runtime import Gym
from ...schemas import EpisodeRecord, ToolUseStats

__all__ = [
    "GENERIC_KINDS",
    "EpisodeToolUse",
    "ProblemTools",
    "aggregate_tool_use",
    "episode_tool_use",
    "format_tool_use",
    "problem_tools_of",
    "tool_use_stats",
]

GENERIC_KINDS = frozenset({"observe", "read", "submit", "task"})
_GENERIC_NAMES = frozenset({"observe", "submit", "task", "reset"})

ProblemTools = Callable[[str, str], bool]
"""``(task_id, tool name) -> whether it is a problem tool``."""


def problem_tools_of(gyms: Mapping[str, Gym | None]) -> ProblemTools:
    """The classifier for these gyms (by their manifests' tool kinds); a tool of an unknown gym is
    judged by its name (observe, read_*, submit, task and reset are generic)."""
    kinds: dict[str, dict[str, str]] = {
        task_id: {t.name: t.kind for t in gym.manifest.tools}
        for task_id, gym in gyms.items()
        if gym is not None
    }

    def is_problem_tool(task_id: str, name: str) -> bool:
        known = kinds.get(task_id)
        if known is not None and name in known:
            return known[name] not in GENERIC_KINDS
        return name not in _GENERIC_NAMES and not name.startswith("read_")

    return is_problem_tool


@dataclass(frozen=True, slots=True)
class EpisodeToolUse:
    """One scored episode's tool use, as the calibration journal keeps it."""

    reward: int
    calls: int
    problem_calls: int
    errors: int


def episode_tool_use(record: EpisodeRecord, is_problem_tool: ProblemTools) -> EpisodeToolUse | None:
    """The episode's counts, or None when it was not scored (reward null)."""
    if record.reward is None:
        return None
    return EpisodeToolUse(
        reward=record.reward,
        calls=len(record.steps),
        problem_calls=sum(1 for s in record.steps if is_problem_tool(record.task_id, s.tool)),
        errors=sum(1 for s in record.steps if s.error is not None),
    )


def tool_use_stats(records: Iterable[EpisodeRecord], is_problem_tool: ProblemTools) -> ToolUseStats:
    """Aggregate the scored episodes among ``records``."""
    counts = (episode_tool_use(r, is_problem_tool) for r in records)
    return aggregate_tool_use([c for c in counts if c is not None])


def aggregate_tool_use(episodes: Sequence[EpisodeToolUse]) -> ToolUseStats:
    """The statistics of these scored episodes."""
    n = len(episodes)
    used = sum(1 for e in episodes if e.problem_calls > 0)
    problem_calls = sum(e.problem_calls for e in episodes)
    solved = sum(1 for e in episodes if e.reward == 1)
    solved_bare = sum(1 for e in episodes if e.reward == 1 and e.problem_calls == 0)
    calls = sum(e.calls for e in episodes)
    errors = sum(e.errors for e in episodes)
    return ToolUseStats(
        episodes=n,
        used_problem_tools=used,
        used_problem_tools_share=used / n if n else 0.0,
        problem_tool_calls=problem_calls,
        mean_problem_tool_calls=problem_calls / n if n else 0.0,
        solved=solved,
        solved_without_tools=solved_bare,
        solved_without_tools_share=solved_bare / solved if solved else 0.0,
        tool_calls=calls,
        tool_errors=errors,
        tool_error_rate=errors / calls if calls else 0.0,
    )


def format_tool_use(stats: ToolUseStats, indent: str = "  ") -> list[str]:
    """Summary lines (the skip-the-tools signal among them)."""
    return [
        f"{indent}used problem tools {stats.used_problem_tools_share:6.1%}  "
        f"({stats.used_problem_tools}/{stats.episodes} scored episodes; "
        f"{stats.mean_problem_tool_calls:.2f} problem-tool calls per episode)",
        f"{indent}solved w/o tools {stats.solved_without_tools_share:6.1%}  "
        f"({stats.solved_without_tools}/{stats.solved} solved episodes called no problem tool)",
    ]
