"""The oracle of a batched gym (``batch_size`` K > 1): one episode replays K instances' traces.

For case i it sends instance i's ``oracle_trace`` with ``case=i`` added to every call but the
final submit (``task`` takes no case), then one submit with the K recorded answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import JsonValue

from ...runtime import BATCH_ID_SEPARATOR, CASE_ARG, Gym, canonical_json, episode_instances
from ...schemas import Instance, TraceCall
from ._env import Observation, ToolCall
from ._policy_types import EpisodeContext, PolicyError

__all__ = ["BatchOracleAgent"]


@dataclass
class BatchOracleAgent:
    """Replays a batched episode: for case i, instance i's ``oracle_trace`` with ``case=i`` added to
    every call but its final submit; then one submit with the K answers."""

    gym: Gym
    plan: list[TraceCall]
    position: int = 0
    divergences: int = 0

    @classmethod
    def for_episode(cls, gym: Gym, ctx: EpisodeContext) -> BatchOracleAgent:
        """The agent of the episode named by ``ctx`` (its joined instance ids, else its index).

        Raises:
            PolicyError: the episode's instances are not in the gym.
        """
        cases = _batch_cases(gym, ctx)
        submits = {t.name for t in gym.manifest.tools if t.kind == "submit"}
        unbatched = {t.name for t in gym.manifest.tools if t.kind == "task"}
        plan: list[TraceCall] = []
        answers: list[JsonValue] = []
        for case, inst in enumerate(cases):
            for step in inst.oracle_trace:
                if step.tool in submits:
                    answers.append(step.arguments.get("answer"))
                    continue
                arguments = (
                    dict(step.arguments) if step.tool in unbatched else {**step.arguments, CASE_ARG: case}
                )
                plan.append(step.model_copy(update={"arguments": arguments}))
        plan.append(TraceCall(tool="submit", arguments={"answer": answers}, result={"reward": 1}))
        return cls(gym=gym, plan=plan)

    async def act(self, obs: Observation) -> ToolCall | None:
        """The plan's next call (None once it is played)."""
        if self.position > 0:
            last = self.plan[self.position - 1]
            if (
                obs.structured is not None
                and not obs.is_error
                and canonical_json(obs.structured) != canonical_json(last.result)
            ):
                self.divergences += 1
        if self.position >= len(self.plan):
            return None
        step = self.plan[self.position]
        self.position += 1
        return ToolCall(step.tool, dict(step.arguments), call_id=f"oracle_{self.position - 1}")


def _batch_cases(gym: Gym, ctx: EpisodeContext) -> list[Instance]:
    by_id = {inst.instance_id: inst for inst in gym.instances}
    if ctx.instance_id:
        ids = ctx.instance_id.split(BATCH_ID_SEPARATOR)
        if all(i in by_id for i in ids) and len(ids) == gym.manifest.batch_size:
            return [by_id[i] for i in ids]
    if ctx.instance_index is not None:
        try:
            return episode_instances(gym, ctx.instance_index)
        except IndexError:
            pass
    raise PolicyError(
        f"oracle: episode {ctx.instance_id or ctx.instance_index} of {gym.task_id} is not a batch of its "
        f"instances; is the catalog the server's?"
    )
