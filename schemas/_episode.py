"""One episode as a trajectory line (EpisodeRecord), written by serve --record and rollout."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["EndReason", "EpisodeRecord", "StepRecord"]

EndReason = Literal[
    "submitted", "step_budget", "infra_error", "disconnected", "reset", "shutdown", "idle_timeout"
]


class StepRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    tool: str
    arguments: dict[str, JsonValue]
    result: JsonValue | None = None
    error: str | None = Field(default=None, description="Tool error shown to the agent (isError)")
    latency_ms: float = Field(ge=0)


class EpisodeRecord(BaseModel):
    """One episode: task, instance, every call, the submission, the reward and why it ended.

    ``reward`` is None when the episode did not end by a score (infra_error, disconnected, reset,
    shutdown, idle_timeout):
    a crashed sandbox is never a reward of 0.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    episode_id: str
    task_id: str
    instance_id: str
    started_at: float = Field(description="Unix time")
    ended_at: float
    steps: list[StepRecord]
    submission: JsonValue | None = None
    expected: JsonValue | None = None
    reward: int | None
    end_reason: EndReason
    detail: str | None = None
