"""The policy contract: what a policy may know of an episode, the Agent and Policy protocols, errors.

Exceptions::

    RuntimeError
     +-- PolicyError           the policy cannot act (not the gym's fault: no score)
          +-- PolicyUnavailable  an optional dependency is missing (names the install command)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ._env import Observation, ToolCall, ToolInfo

__all__ = ["Agent", "EpisodeContext", "Policy", "PolicyError", "PolicyName", "PolicyUnavailable"]

PolicyName = Literal["oracle", "random", "openai"]


class PolicyError(RuntimeError):
    """The policy could not choose an action (an LLM endpoint failed, no plan for the instance)."""


class PolicyUnavailable(PolicyError):
    """An optional dependency of the policy is not installed."""


@dataclass(frozen=True, slots=True)
class EpisodeContext:
    """What a policy may know about the episode it plays: what an agent gets over MCP.

    The statement, the tools and the episode's bookkeeping the server publishes (instance id,
    step budget); never the gym's files (its answers). The oracle policy, which replays
    recorded answers, is handed the catalog explicitly (``OraclePolicy(catalog)``).
    """

    task_id: str
    task_text: str
    tools: tuple[ToolInfo, ...] = field(repr=False)
    seed: int = 0
    instance_id: str | None = None
    instance_index: int | None = None
    step_budget: int | None = None


class Agent(Protocol):
    async def act(self, obs: Observation) -> ToolCall | None:
        """The next tool call, given the last observation (the task text first); None = stop."""
        ...


class Policy(Protocol):
    @property
    def name(self) -> str:
        """Shown in summaries and records."""
        ...

    def agent(self, ctx: EpisodeContext) -> Agent:
        """A fresh agent for one episode."""
        ...
