"""Rollouts at scale: N episodes with concurrency K through real MCP servers, as EpisodeRecords.

Each episode opens its own MCP session (a fresh :class:`CodeGymEnv` from a *connector*),
lets the policy's agent act until the episode ends, and hands the client-side
:class:`~codegym_mcp.schemas.EpisodeRecord` to a sink as soon as it ends (the CLI writes
JSON lines and flushes, so nothing is lost if the run is killed). Episodes are planned
round-robin over the tasks, then over each task's instances, so a run is reproducible.

A failure of the server or of the policy ends only that episode, recorded as
``infra_error`` with no reward: it is never counted as a reward of 0 against the agent.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from pydantic import BaseModel, ConfigDict, Field

from ...runtime import Catalog, Gym, episode_expected, episode_instance_id, episode_instances
from ...schemas import EpisodeRecord, Instance, ToolUseStats
from ._env import CodeGymEnv, EnvError, ServerFailure
from ._env_types import transport_failure
from ._policies import EpisodeContext, Policy, PolicyError
from ._tool_use import ProblemTools, format_tool_use, problem_tools_of, tool_use_stats

__all__ = [
    "Connector",
    "EpisodeSpec",
    "RolloutSummary",
    "close_env",
    "plan_episodes",
    "play_episode",
    "play_in_new_session",
    "run_rollouts",
    "summarize",
]

_STEP_SLACK = 4
"""Extra steps a client allows past the server's budget before it gives up on its own."""


@dataclass(frozen=True, slots=True)
class EpisodeSpec:
    """One planned episode: which gym, which instance (0-based line of instances.jsonl; in a gym
    with batch_size K, the 0-based episode, a batch of K lines), which seed.

    Episodes of one ``group`` (same gym and instance, e.g. a GRPO group) are played one after
    the other in a single MCP session.
    """

    index: int
    task_id: str
    instance: int
    seed: int
    group: int = -1


Connector = Callable[[EpisodeSpec], Awaitable[CodeGymEnv]]
"""Opens an MCP session whose first episode is on ``spec.instance`` of ``spec.task_id``."""


def plan_episodes(
    gyms: Sequence[tuple[str, int]], *, episodes: int, seed: int = 0, group_size: int = 1
) -> list[EpisodeSpec]:
    """Round-robin over the tasks, then over each task's instances: ``[(task_id, n_instances), ...]``.

    With ``group_size`` G > 1, each (task, instance) gets G consecutive episodes (seeds differ),
    played in one MCP session: what GRPO-style trainers sample per prompt.

    Raises:
        ValueError: no task given, episodes < 1 or group_size < 1.
    """
    if not gyms:
        raise ValueError("no gym to run: the catalog (or --tasks) selects none")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    specs = []
    for i in range(episodes):
        group = i // group_size
        task_id, n_instances = gyms[group % len(gyms)]
        instance = (group // len(gyms)) % max(1, n_instances)
        specs.append(EpisodeSpec(index=i, task_id=task_id, instance=instance, seed=seed + i, group=group))
    return specs


async def play_in_new_session(
    spec: EpisodeSpec, *, connect: Connector, policy: Policy, gym: Gym | None = None
) -> EpisodeRecord:
    """Open an MCP session, play one episode in it (:func:`play_episode`), close it; return the record.

    A server or policy failure gives an ``infra_error`` record (no reward); other errors (bugs)
    propagate.
    """
    started = time.time()
    try:
        env = await connect(spec)
    except EnvError as exc:
        return _failed(spec, gym, started, f"connect: {exc}")
    try:
        return await play_episode(env, spec, policy=policy, gym=gym, fresh=True)
    finally:
        # No shield here: the session's task groups were opened outside any scope of ours.
        await close_env(env)


async def close_env(env: CodeGymEnv) -> None:
    """Close the session; a connection lost meanwhile (e.g. a pooled keep-alive connection the
    server had just closed) is ignored: the episode's record is already made, and the server ends
    a session whose client is gone on its own. Any other error (a bug) propagates."""
    try:
        await env.close()
    except Exception as exc:
        if transport_failure(exc) is None:
            raise


async def play_episode(
    env: CodeGymEnv, spec: EpisodeSpec, *, policy: Policy, gym: Gym | None = None, fresh: bool
) -> EpisodeRecord:
    """Play one episode in an open session and return its record (``infra_error`` if the server or policy failed).

    ``fresh``: the session was opened on ``spec.instance`` and nothing was played yet; otherwise
    the server's reset starts the episode on ``spec.instance``.
    ``gym``: the harness's copy of the gym, for the record's expected answers; the policy never
    sees it (it gets an :class:`EpisodeContext`, what an agent gets).
    """
    started = time.time()
    cases = _cases(gym, spec)
    expected = episode_expected(cases) if cases else None
    instance_id = episode_instance_id(cases) if cases else None
    reset = False
    try:
        obs, info = await (env.reset() if fresh else env.reset(options={"instance": spec.instance}))
        reset = True
        budget = info["step_budget"] or (gym.manifest.step_budget if gym is not None else None)
        ctx = EpisodeContext(
            task_id=spec.task_id,
            task_text=obs.text,
            tools=env.agent_tools,
            seed=spec.seed,
            instance_id=info["instance_id"] or instance_id,
            instance_index=spec.instance,
            step_budget=budget,
        )
        agent = policy.agent(ctx)
        hard_cap = (budget or 64) + _STEP_SLACK
        for _ in range(hard_cap):
            action = await agent.act(obs)
            if action is None:
                env.end_episode("step_budget", detail=f"policy {policy.name} stopped without submitting")
                break
            obs, _reward, terminated, truncated, _info = await env.step(action)
            if terminated or truncated:
                break
        else:
            env.end_episode("step_budget", detail=f"client cap of {hard_cap} steps reached")
        record = env.episode_record(expected=expected)
    except (ServerFailure, PolicyError) as exc:
        if not reset:  # the session's previous episode (if any) must not be recorded again
            return _failed(spec, gym, started, f"reset: {exc}")
        env.end_episode("infra_error", detail=str(exc))
        record = env.episode_record(expected=expected)
    updates: dict[str, str] = {}
    if not record.instance_id and instance_id is not None:
        updates["instance_id"] = instance_id
    if not record.task_id:
        updates["task_id"] = spec.task_id
    return record.model_copy(update=updates) if updates else record


def _cases(gym: Gym | None, spec: EpisodeSpec) -> list[Instance]:
    """The instances the episode plays: one, or the K of a batched gym's episode."""
    if gym is None:
        return []
    try:
        return episode_instances(gym, spec.instance)
    except (IndexError, ValueError):
        return []


def _failed(spec: EpisodeSpec, gym: Gym | None, started: float, detail: str) -> EpisodeRecord:
    cases = _cases(gym, spec)
    return EpisodeRecord(
        episode_id=f"failed-{spec.index}",
        task_id=spec.task_id,
        instance_id=episode_instance_id(cases),
        started_at=started,
        ended_at=time.time(),
        steps=[],
        expected=episode_expected(cases) if cases else None,
        reward=None,
        end_reason="infra_error",
        detail=detail,
    )


class RolloutSummary(BaseModel):
    """What a rollout run measured."""

    model_config = ConfigDict(extra="forbid")

    policy: str
    episodes: int
    successes: int
    success_rate: float = Field(description="successes / episodes (infra errors count as not successful)")
    infra_errors: int
    mean_steps: float
    tool_calls: int
    tool_errors: int
    tool_error_rate: float
    wall_seconds: float
    episodes_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    concurrency: int
    failed_tasks: list[str] = Field(default_factory=list, description="Tasks with an episode not scored 1")
    tool_use: ToolUseStats | None = Field(default=None, description="Problem-tool use of the scored episodes")

    def format(self) -> str:
        """A few human lines."""
        lines = [
            f"policy {self.policy}: {self.episodes} episodes, concurrency {self.concurrency}, "
            f"{self.wall_seconds:.1f}s",
            f"  success rate    {self.success_rate:6.1%}  ({self.successes}/{self.episodes}"
            + (f", {self.infra_errors} infrastructure errors" if self.infra_errors else "")
            + ")",
            f"  mean steps      {self.mean_steps:6.2f}",
            f"  tool-error rate {self.tool_error_rate:6.1%}  ({self.tool_errors}/{self.tool_calls} calls)",
            f"  episodes/s      {self.episodes_per_second:6.2f}",
            f"  tool latency    p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms",
        ]
        if self.tool_use is not None:
            lines += format_tool_use(self.tool_use)
        if self.failed_tasks:
            shown = ", ".join(self.failed_tasks[:10]) + (" ..." if len(self.failed_tasks) > 10 else "")
            lines.append(f"  not solved on   {len(self.failed_tasks)} task(s): {shown}")
        return "\n".join(lines)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def _batches(specs: Sequence[EpisodeSpec]) -> list[list[tuple[int, EpisodeSpec]]]:
    """Consecutive specs of one group (same gym) form a batch played in one session."""
    batches: list[list[tuple[int, EpisodeSpec]]] = []
    for position, spec in enumerate(specs):
        last = batches[-1][-1][1] if batches else None
        if last is not None and spec.group >= 0 and spec.group == last.group and spec.task_id == last.task_id:
            batches[-1].append((position, spec))
        else:
            batches.append([(position, spec)])
    return batches


def summarize(
    records: Sequence[EpisodeRecord],
    *,
    policy: str,
    wall_seconds: float,
    concurrency: int,
    problem_tools: ProblemTools | None = None,
) -> RolloutSummary:
    """Aggregate records into the run's summary; ``problem_tools`` tells the problem tools apart
    (default: by name, see :func:`problem_tools_of`)."""
    steps = [s for r in records for s in r.steps]
    latencies = [s.latency_ms for s in steps]
    successes = sum(1 for r in records if r.reward == 1)
    n = len(records)
    return RolloutSummary(
        policy=policy,
        episodes=n,
        successes=successes,
        success_rate=successes / n if n else 0.0,
        infra_errors=sum(1 for r in records if r.end_reason == "infra_error"),
        mean_steps=statistics.fmean([len(r.steps) for r in records]) if records else 0.0,
        tool_calls=len(steps),
        tool_errors=sum(1 for s in steps if s.error is not None),
        tool_error_rate=(sum(1 for s in steps if s.error is not None) / len(steps)) if steps else 0.0,
        wall_seconds=wall_seconds,
        episodes_per_second=n / wall_seconds if wall_seconds > 0 else 0.0,
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
        concurrency=concurrency,
        failed_tasks=sorted({r.task_id for r in records if r.reward != 1}),
        tool_use=tool_use_stats(records, problem_tools or problem_tools_of({})),
    )


async def run_rollouts(
    specs: Sequence[EpisodeSpec],
    *,
    connect: Connector,
    policy: Policy,
    catalog: Catalog | None = None,
    concurrency: int = 8,
    sink: Callable[[EpisodeRecord], None] | None = None,
) -> tuple[list[EpisodeRecord], RolloutSummary]:
    """Run every planned episode, at most ``concurrency`` at a time; records come back in plan order.

    Each episode gets its own MCP session, except the episodes of one group (see
    :func:`plan_episodes`), which share one. ``sink`` sees each record as its episode ends.
    Every planned episode gets one record: a failure of the server, the policy or the session
    itself (even one that ends its task without an error) is an ``infra_error`` record, no reward.

    Raises:
        ValueError: concurrency < 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    results: list[EpisodeRecord | None] = [None] * len(specs)
    gyms: dict[str, Gym | None] = {}
    if catalog is not None:
        for spec in specs:
            if spec.task_id not in gyms:
                gyms[spec.task_id] = catalog.load(spec.task_id)
    queue = iter(_batches(specs))

    def emit(position: int, record: EpisodeRecord) -> None:
        results[position] = record
        if sink is not None:
            sink(record)

    async def play_batch(batch: list[tuple[int, EpisodeSpec]]) -> None:
        env: CodeGymEnv | None = None
        try:
            for position, spec in batch:
                gym = gyms.get(spec.task_id)
                fresh = env is None
                if env is None:
                    try:
                        env = await connect(spec)
                    except EnvError as exc:
                        emit(position, _failed(spec, gym, time.time(), f"connect: {exc}"))
                        continue
                record = await play_episode(env, spec, policy=policy, gym=gym, fresh=fresh)
                emit(position, record)
                if record.end_reason == "infra_error":
                    # A session that failed is not trusted with the rest of its group.
                    await close_env(env)
                    env = None
        finally:
            if env is not None:
                await close_env(env)

    async def worker() -> None:
        # K workers pull batches (an episode, or a group sharing a session) from one plan.
        for batch in queue:
            # Each batch in a task of its own: a cancellation leaking out of a broken MCP session
            # (its task group lives in the session's exit stack) ends that task only, silently,
            # instead of this worker and every batch it would still play. What it left without a
            # record is recorded here as an infrastructure failure.
            async with anyio.create_task_group() as tg:
                tg.start_soon(play_batch, batch)
            for position, spec in batch:
                if results[position] is None:
                    detail = "the MCP session ended without a record (a cancellation leaked out of it)"
                    emit(position, _failed(spec, gyms.get(spec.task_id), time.time(), detail))

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(specs))):
            tg.start_soon(worker)
    wall = time.perf_counter() - started
    records = [r for r in results if r is not None]
    summary = summarize(
        records,
        policy=policy.name,
        wall_seconds=wall,
        concurrency=concurrency,
        problem_tools=problem_tools_of(gyms),
    )
    return records, summary
