"""Values of the per-problem pipeline: its settings and its result, ``Generated | Rejected``.

Both are plain frozen dataclasses of pydantic models and strings, so they pickle: the pipeline
runs in a local process pool here and can run as Ray tasks later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from ..schemas import GymManifest, GymSummary, Instance, ObservationPolicy, Problem, Rejection

__all__ = [
    "DEFAULT_AUGMENT",
    "DEFAULT_MAX_INSTANCES",
    "GenerateSettings",
    "Generated",
    "GymFiles",
    "Rejected",
]

DEFAULT_AUGMENT = 36
"""Derived candidates per problem: six per rung of the size ladder (8 to 256 elements)."""
DEFAULT_MAX_INSTANCES = 32
"""Instances kept per gym (four batches of 8 for bool-answer gyms)."""


@dataclass(frozen=True, kw_only=True)
class GenerateSettings:
    """What shapes a gym (part of determinism) and how hard to try.

    The defaults make gyms worth training on (the paper's horizon); :meth:`unfiltered` gives the
    earlier behaviour (tests only, no filter, no cap), which the CLI reaches with
    ``--augment 0 --no-filters``.

    Attributes:
        seed: seeds augmentation (and is written in every manifest).
        augment: new instances to derive per problem along the size ladder (0 = off).
        min_steps / max_steps: keep instances whose oracle makes that many tool calls (None = off).
        min_tools: keep instances (and gyms) whose oracle uses at least that many distinct tools.
        cap_degenerate: keep at most about 10% (and at most 2) degenerate instances per gym.
        call_timeout: wall-clock seconds of one oracle replay or one recording call.
        max_instances: instances kept per gym: test instances beyond it are not verified, and of
            the verified ones that pass the filters, a spread over oracle steps is kept.
        llm_model: the model that proposed decompositions (None: the deterministic path only).
        max_oracle_steps: a carving whose oracle makes more tool calls on an instance is not kept
            (the next, coarser carving is tried).
        observe: the observation policy of every gym: "partial" (observe shows scalars and
            lengths, collections are read through bounded ``read_<p>`` windows) or "full".
        batch: instances per episode (``batch_size``); None = auto, chosen per gym so the best
            constant answer is right on at most 5% of episodes (see _batching.py).
    """

    seed: int = 0
    augment: int = DEFAULT_AUGMENT
    min_steps: int | None = 10
    max_steps: int | None = 256
    min_tools: int | None = 4
    cap_degenerate: bool = True
    call_timeout: float = 10.0
    max_instances: int = DEFAULT_MAX_INSTANCES
    max_oracle_steps: int = 1000
    llm_model: str | None = None
    observe: ObservationPolicy = "partial"
    batch: int | None = None

    @classmethod
    def unfiltered(cls, **changes: Any) -> GenerateSettings:
        """The earlier defaults: tests only, no filter, no degenerate cap, up to 64 instances."""
        base: dict[str, Any] = {
            "augment": 0,
            "min_steps": None,
            "max_steps": None,
            "min_tools": None,
            "cap_degenerate": False,
            "max_instances": 64,
        }
        return cls(**(base | changes))

    def as_report(self) -> dict[str, JsonValue]:
        """The settings that shape the catalog's contents (kept in report.json; resume compares)."""
        return {
            "seed": self.seed,
            "augment": self.augment,
            "min_steps": self.min_steps,
            "max_steps": self.max_steps,
            "min_tools": self.min_tools,
            "cap_degenerate": self.cap_degenerate,
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
