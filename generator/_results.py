"""Values of the per-problem pipeline: its settings and its result, ``Generated | Rejected``.

Both are plain frozen dataclasses of pydantic models and strings, so they pickle: the pipeline
runs in a local process pool here and can run as Ray tasks later.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from ..schemas import GymManifest, GymSummary, Instance, ObservationPolicy, Problem, Rejection

__all__ = ["GenerateSettings", "Generated", "GymFiles", "Rejected"]


@dataclass(frozen=True, kw_only=True)
class GenerateSettings:
    """What shapes a gym (part of determinism) and how hard to try.

    Attributes:
        seed: seeds augmentation (and is written in every manifest).
        augment: new instances to derive per problem by type-driven mutation (0 = off).
        min_steps / max_steps: keep instances whose oracle makes that many tool calls (None = off).
        min_tools: keep instances (and gyms) whose oracle uses at least that many distinct tools.
        call_timeout: wall-clock seconds of one oracle replay or one recording call.
        max_instances: cap on verified instances per gym (test ones first, then augmented).
        llm_model: the model that proposed decompositions (None: the deterministic path only).
        max_oracle_steps: a carving whose oracle makes more tool calls on an instance is not kept
            (the next, coarser carving is tried).
        observe: the observation policy of every gym: "partial" (observe shows scalars and
            lengths, collections are read through bounded ``read_<p>`` windows) or "full".
        batch: instances per episode (``batch_size``); None = auto, chosen per gym so the best
            constant answer is right on at most 5% of episodes (see _batching.py).
    """

    seed: int = 0
    augment: int = 0
    min_steps: int | None = None
    max_steps: int | None = None
    min_tools: int | None = None
    call_timeout: float = 10.0
    max_instances: int = 64
    max_oracle_steps: int = 1000
    llm_model: str | None = None
    observe: ObservationPolicy = "partial"
    batch: int | None = None

    def as_report(self) -> dict[str, JsonValue]:
        """The settings that shape the catalog's contents (kept in report.json; resume compares)."""
        return {
            "seed": self.seed,
            "augment": self.augment,
            "min_steps": self.min_steps,
            "max_steps": self.max_steps,
            "min_tools": self.min_tools,
            "max_instances": self.max_instances,
            "max_oracle_steps": self.max_oracle_steps,
            "llm_model": self.llm_model,
            "observe": self.observe,
            "batch": "auto" if self.batch is None else self.batch,
        }


@dataclass(frozen=True, kw_only=True)
class GymFiles:
    """Everything written to ``CATALOG/<task_id>/``."""

    manifest: GymManifest
    tools_source: str
    oracle_source: str
    instances: list[Instance]
    problem: Problem
    llm_reply: str | None = None


@dataclass(frozen=True, kw_only=True)
class Generated:
    """A verified gym and its line in the report."""

    files: GymFiles
    summary: GymSummary

    @property
    def task_id(self) -> str:
        return self.summary.task_id


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """A problem that did not become a gym, with the stage and reason (a report line)."""

    rejection: Rejection

    @property
    def task_id(self) -> str:
        return self.rejection.task_id
