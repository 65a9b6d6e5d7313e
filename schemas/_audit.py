"""CATALOG/audit.json: what ``codegym-mcp audit`` measured of a catalog's training value.

Every figure is defined in docs/audit.md (and the audit module's docstring, in the generator).
Shares are fractions in [0, 1] (None when there is nothing to divide by).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "AuditReport",
    "BlindGuess",
    "DuplicateGym",
    "HonestyCheck",
    "HonestyFinding",
    "InstanceMeasures",
    "OracleStepMeasures",
    "ToolMeasures",
    "ToolRef",
]

HonestyCheck = Literal[
    "misdescribed_name",
    "misdescribed_description",
    "truncation_mark",
    "numeric_suffix",
    "statement_code_framing",
    "statement_empty",
    "statement_dangling_header",
    "instance_leak",
    "solution_line",
]
"""The honesty checks of issue 11.5, one name each (a finding says which one failed)."""


class HonestyFinding(BaseModel):
    """One failed honesty check: which gym, which tool (None: the task statement), the offending text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check: HonestyCheck
    task_id: str
    tool: str | None = None
    text: str = Field(description="The offending text (cut to 200 characters)")
    message: str


class ToolRef(BaseModel):
    """A tool of a gym, with why it was listed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    tool: str
    detail: str = ""


class DuplicateGym(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    duplicates: str = Field(description="The task id (first in sorted order) it duplicates")


class InstanceMeasures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instances: int
    small: int = Field(description="Input <= 150 characters of JSON, no list or string longer than 30")
    revealed: int = Field(description="One call with no agent arguments reveals every input value in full")
    revealed_small: int = Field(description="Revealed and small: one revealing call plus a submit solve it")
    revealed_share: float | None
    revealed_small_share: float | None
    small_share: float | None


class OracleStepMeasures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    episodes: int
    median: float | None
    mean: float | None
    in_paper_window_share: float | None = Field(description="Share of episodes with 10 <= steps <= 256")
    gyms_with_4_distinct_tools_share: float | None = Field(
        description="Share of gyms whose oracle uses >= 4 distinct tools (observe and submit count)"
    )
    distinct_tools_used_median: float | None


class ToolMeasures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    problem_tools: int = Field(
        description="Tools with a function in tools.py (helper, segment, method, getter)"
    )
    single_operator: int = Field(
        description=(
            "Problem tools of exactly one operation on scalars or one item (`n <= 1`, `i + 1`, `lst[0]`): "
            "no loop and no whole-collection call (the carver's rule, generator/carving/_operations.py)"
        )
    )
    single_operator_share: float | None
    one_operation: int = Field(
        default=0,
        description=(
            "Problem tools of exactly one operation and no loop, whole-collection calls such as `sum(xs)` "
            "included (single_operator plus the one-call reductions)"
        ),
    )
    zero_operator: int = Field(description="Problem tools whose body holds no operation (returns an input)")
    collection_level: int
    stateful: int
    gyms_with_collection_or_stateful_share: float | None
    problem_tools_per_gym_median: float | None
    duplicate_bodies: list[ToolRef] = Field(default_factory=list)
    numeric_suffix_names: list[ToolRef] = Field(default_factory=list)
    one_call_answer: list[ToolRef] = Field(default_factory=list)


class BlindGuess(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    episodes: int
    best_constant: JsonValue = Field(description="The constant answer right on the most episodes")
    best_constant_share: float | None
    constant_shares: dict[str, float] = Field(description="Each constant tried (as JSON) -> share right")
    memorised_share: float | None = Field(
        description="Each gym's most common expected answer, submitted blind"
    )
    per_gym_constant_share: float | None = Field(
        description="Each gym's best constant of the list (a guesser that knows the answer type)"
    )


class AuditReport(BaseModel):
    """audit.json: the measures of one catalog (written beside report.json)."""

    model_config = ConfigDict(extra="forbid")

    catalog: str
    gyms: int
    unreadable_gyms: list[str] = Field(
        default_factory=list, description="Gym folders that could not be read, why"
    )
    problems_read: int | None = Field(
        default=None, description="Distinct problems: report.json's problems_read less its dedup rejections"
    )
    kept_share: float | None = Field(default=None, description="Gyms / problems read (report.json)")
    observation: dict[str, int] = Field(description="Observation policy -> gyms")
    batch_sizes: dict[str, int] = Field(description="batch_size -> gyms")
    instances: InstanceMeasures
    oracle_steps: OracleStepMeasures
    tools: ToolMeasures
    blind_guess: BlindGuess
    duplicate_gyms: list[DuplicateGym] = Field(default_factory=list)
    gyms_without_problem_json: int = Field(
        default=0, description="Gyms whose problem.json is missing (no duplicate or solution-line check)"
    )
    honesty: dict[str, int] = Field(description="Honesty check -> findings")
    misdescribing_tools_share: float | None = Field(
        description="Share of problem tools with a misdescribed name/description or a truncation mark"
    )
    findings: list[HonestyFinding] = Field(default_factory=list)
