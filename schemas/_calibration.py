"""CATALOG/calibration.json: each episode's pass rate for one model (``codegym-mcp calibrate``).

An entry's ``instance`` is the episode index a session URL's ``?instance=K`` names: the 0-based
line of instances.jsonl, or in a batched gym (``batch_size`` K > 1) the 0-based batch of K lines,
whose ``instance_id`` is the K ids joined with ``+``. ``gym_sha256`` names the gym's files as
measured: a gym changed since then is measured again, and a filter treats its entries as missing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CALIBRATION_FILE", "Calibration", "InstanceCalibration", "ToolUseStats"]

CALIBRATION_FILE = "calibration.json"


class ToolUseStats(BaseModel):
    """Whether a policy used the problem tools (not observe, read_*, submit, task, reset)."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(
        ge=0, description="Episodes counted (scored ones: infrastructure failures excluded)"
    )
    used_problem_tools: int = Field(ge=0, description="Episodes with at least one problem-tool call")
    used_problem_tools_share: float = Field(ge=0, le=1)
    problem_tool_calls: int = Field(ge=0)
    mean_problem_tool_calls: float = Field(ge=0, description="Problem-tool calls per episode")
    solved: int = Field(ge=0)
    solved_without_tools: int = Field(ge=0, description="Solved episodes that called no problem tool")
    solved_without_tools_share: float = Field(
        ge=0, le=1, description="solved_without_tools / solved: the skip-the-tools signal"
    )
    tool_calls: int = Field(ge=0, description="Every tool call, generic ones included")
    tool_errors: int = Field(ge=0)
    tool_error_rate: float = Field(ge=0, le=1)


class InstanceCalibration(BaseModel):
    """One episode of one gym: how often the model solved it."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    instance: int = Field(ge=0, description="Episode index (?instance=K): a line, or a batch of lines")
    instance_id: str
    gym_sha256: str = Field(description="sha256 of the gym's files when measured")
    passes: int = Field(ge=0, description="Scored samples with reward 1")
    samples: int = Field(ge=0, description="Scored samples (infrastructure failures are not counted)")
    pass_rate: float | None = Field(description="passes / samples; null when no sample could be scored")
    infra_errors: int = Field(default=0, ge=0, description="Samples lost to infrastructure, not counted")


class Calibration(BaseModel):
    """A catalog's pass rates for one model and sampling setting."""

    model_config = ConfigDict(extra="forbid")

    format: int = 1
    model: str
    base_url: str | None = Field(description="The OpenAI-compatible endpoint; null for OpenAI's own")
    samples: int = Field(ge=1, description="Samples asked per instance")
    temperature: float
    max_turns: int = Field(ge=1, description="Model calls allowed per episode")
    created: str = Field(description="When this file was written (ISO 8601, UTC)")
    instances: list[InstanceCalibration]
    histogram: dict[str, int] = Field(
        default_factory=dict, description="Pass rate (as written, e.g. '0.25') -> instances with it"
    )
    tool_use: ToolUseStats | None = None
    infra_errors: int = Field(default=0, ge=0, description="Episodes lost to infrastructure (not counted)")
