"""What a session's steps return and publish, and how its episodes pick instances.

The value types of :mod:`._session`: a step's two outcomes (:class:`ToolOk`, :class:`ToolFailed`),
the bookkeeping published with every result (:class:`EpisodeStatus`), the instance order of a
session's episodes (:class:`InstancePicker`) and the seam that runs tool code (:class:`ToolRunner`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import JsonValue

from ..schemas import EndReason

__all__ = [
    "EPISODE_META_KEY",
    "BadReset",
    "EpisodeStatus",
    "InstancePicker",
    "StepOutcome",
    "ToolFailed",
    "ToolOk",
    "ToolRunner",
]


class ToolRunner(Protocol):
    """Runs one function of a tools module in the sandbox (``WorkerPool`` is one)."""

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        """``function(*args)`` from module ``source``; args and result in wire form.

        Raises:
            CallFailed: the code raised.
            SandboxError: the sandbox stopped or lost the worker.
        """
        ...


class BadReset(ValueError):
    """A reset asked for an instance index outside the gym."""


@dataclass(frozen=True, slots=True)
class ToolOk:
    """A tool's structured result; ``notice`` is extra text (e.g. the budget just ran out)."""

    structured: dict[str, JsonValue]
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class ToolFailed:
    """A tool error shown to the agent; ``infra`` marks a sandbox failure, not the agent's."""

    message: str
    infra: bool = False


StepOutcome = ToolOk | ToolFailed

EPISODE_META_KEY = "codegym/episode"
"""Key of the episode bookkeeping (EpisodeStatus) in a tool result's ``_meta``: the server
writes it, the env and rollouts read it."""


@dataclass(frozen=True, slots=True)
class EpisodeStatus:
    """Bookkeeping published with every result (``_meta["codegym/episode"]``)."""

    task_id: str
    episode_id: str
    instance: int
    instance_id: str
    step: int
    step_budget: int
    done: bool
    end_reason: EndReason | None
    reward: int | None
    infra: bool

    def as_meta(self) -> dict[str, JsonValue]:
        """The status as the JSON object published under ``_meta``."""
        return {
            "task_id": self.task_id,
            "episode_id": self.episode_id,
            "instance": self.instance,
            "instance_id": self.instance_id,
            "step": self.step,
            "step_budget": self.step_budget,
            "done": self.done,
            "end_reason": self.end_reason,
            "reward": self.reward,
            "infra": self.infra,
        }


class InstancePicker:
    """Which instance each new episode of a session gets.

    ``start=K`` walks K, K+1, ... (wrapping); ``seed=S`` draws from ``random.Random(S)``;
    neither starts at 0.

    Raises:
        ValueError: ``n`` is below 1.
        BadReset: ``start`` is not an instance index.
    """

    def __init__(self, n: int, *, start: int | None = None, seed: int | None = None) -> None:
        if n < 1:
            raise ValueError(f"a gym needs at least one instance, got n={n}")
        if start is not None and not 0 <= start < n:
            raise BadReset(f"instance {start} does not exist: this gym has instances 0..{n - 1}")
        self.n = n
        self._next = start or 0
        self._rng = random.Random(seed) if seed is not None and start is None else None

    def next(self) -> int:
        """The instance of the next episode."""
        if self._rng is not None:
            return self._rng.randrange(self.n)
        index = self._next
        self._next = (index + 1) % self.n
        return index

    def for_seed(self, seed: int) -> int:
        """The instance a reset with ``seed`` plays (the same seed, the same instance)."""
        return random.Random(seed).randrange(self.n)
