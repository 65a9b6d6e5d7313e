"""The manifest and the report summary of a gym, from what the pipeline built."""

from __future__ import annotations

import hashlib
from typing import Any

from ...schemas import GymManifest, GymSummary, Instance, OracleSummary, Problem, ToolSpec
from .._results import GenerateSettings
from ..carving._carving_types import Carving
from ..instances._batching import BatchPlan
from ._generic_tools import step_budget_for

__all__ = ["gym_manifest", "gym_summary"]


def gym_manifest(
    problem: Problem,
    settings: GenerateSettings,
    carving: Carving,
    tools: list[ToolSpec],
    instances: list[Instance],
    schemas: tuple[dict[str, Any], dict[str, Any]],
    batch_size: int,
) -> GymManifest:
    """The gym's manifest with an empty task statement (composed after, from the manifest)."""
    steps = [i.oracle_steps for i in instances]
    entry = problem.entry_point or carving.entry_point.removeprefix("codegym_")  # adapter -> its reference
    return GymManifest(
        task_id=problem.task_id,
        problem_id=problem.problem_id,
        source=problem.source,
        task="",
        entry_point=entry,
        input_schema=schemas[0],
        output_schema=schemas[1],
        tools=tools,
        tools_sha256=hashlib.sha256(carving.tools_source.encode("utf-8")).hexdigest(),
        n_instances=len(instances),
        oracle=OracleSummary(
            steps_min=min(steps), steps_max=max(steps), steps_mean=round(sum(steps) / len(steps), 3)
        ),
        step_budget=batch_size * step_budget_for(max(steps)),  # a budget per case, for K cases
        seed=settings.seed,
        observation=settings.observe,
        batch_size=batch_size,
    )


def gym_summary(
    problem: Problem,
    manifest: GymManifest,
    instances: list[Instance],
    dropped: dict[str, int],
    batches: BatchPlan,
    notes: list[str],
) -> GymSummary:
    """What the generate report says of the gym."""
    return GymSummary(
        task_id=problem.task_id,
        problem_id=problem.problem_id,
        n_tools=len(manifest.tools),
        n_problem_tools=sum(t.function is not None for t in manifest.tools),
        n_instances=len(instances),
        instances_dropped=dict(sorted(dropped.items())),
        oracle_steps_min=manifest.oracle.steps_min,
        oracle_steps_max=manifest.oracle.steps_max,
        oracle_steps_mean=manifest.oracle.steps_mean,
        oracle_steps=[i.oracle_steps for i in instances],
        batch_size=batches.size,
        answer_mode_share=batches.answer_share,
        episode_mode_share=batches.episode_share,
        statement_notes=notes,
    )
