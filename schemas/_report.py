"""CATALOG/report.json: what a generate run read, kept, rejected and measured."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ._problem import LoadIssue

__all__ = ["GenerationReport", "GymSummary", "LlmUsage", "Rejection", "Stage"]

Stage = Literal["load", "dedup", "instances", "analyse", "decompose", "render", "verify", "filter", "infra"]


class Rejection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    problem_id: str
    stage: Stage
    reason: str
    detail: str | None = None
    duplicate_of: str | None = Field(
        default=None,
        description="Stage dedup: the task id of the problem with the same solution and tests (its gym)",
    )


class GymSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    problem_id: str
    n_tools: int
    n_problem_tools: int = Field(description="Tools beyond the generic ones (observe, submit, task)")
    n_instances: int
    instances_dropped: dict[str, int] = Field(default_factory=dict, description="reason -> count")
    oracle_steps_min: int
    oracle_steps_max: int
    oracle_steps_mean: float
    oracle_steps: list[int] = Field(
        default_factory=list, description="Oracle tool calls per instance, in instances.jsonl order"
    )
    llm: bool = False
    llm_fallback_reason: str | None = None
    batch_size: int = Field(default=1, ge=1, description="Instances (cases) per episode, as in the manifest")
    answer_mode_share: float | None = Field(
        default=None, description="Share of instances whose expected answer is the gym's most common one"
    )
    episode_mode_share: float | None = Field(
        default=None,
        description=(
            "Share of episodes whose list of expected answers is the gym's most common list: what "
            "memorising the most common answer pays per episode"
        ),
    )
    statement_notes: list[str] = Field(
        default_factory=list,
        description="How the task statement was made, when worth saying: a derived goal, no worked example...",
    )


class LlmUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0


class GenerationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    problems_read: int
    load_issues: list[LoadIssue] = Field(default_factory=list)
    gyms_verified: int
    gyms: list[GymSummary] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)
    llm_usage: LlmUsage | None = None
    seconds: float = Field(ge=0, description="Wall time of the run (not part of determinism)")
