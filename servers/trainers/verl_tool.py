"""verl's native tool for codegym gyms: each tool a gym lists becomes one ``CodeGymTool``.

verl (0.9) makes one tool object per name from its ``tools_config_file`` (write it with
:func:`~codegym_mcp.servers.trainers.recipes.verl_tool_config`) and runs ``create``, ``execute``
and ``release`` on that object for every single call the model makes (``ToolAgentLoop._call_tool``).
A codegym episode spans the whole trajectory, so it is not tied to create/release: the tools of
one process share a table of episodes keyed by the trajectory (``agent_data.request_id``).

- The first call of a trajectory opens its MCP session at the catalog server for the task and
  instance its dataset row names (``extra_info.tools_kwargs[<tool>].create_kwargs``:
  ``task_id`` and ``instance`` or ``seed``; :func:`~codegym_mcp.servers.trainers.recipes.verl_row`
  writes them); every call is one step of that episode.
- The call that ends the episode (``submit``, or the step budget) closes the session; its tool
  reward is the episode's reward (verl keeps it in ``tool_rewards``), and
  ``agent_data.extra_fields["codegym"]`` records ``{"episode_id", "reward", "end_reason", "infra"}``
  (plain values: verl ships extra fields to its reward workers). An infrastructure failure sets
  ``infra`` and ``reward`` None: drop such trajectories, do not score them 0.
- After that, the trajectory's calls answer that the episode is over: a trajectory plays one
  episode, it cannot start another.
- A trajectory that stops without ending its episode (out of turns) is closed by a later
  ``create`` once it has been idle ``idle_seconds`` (config, default 900), and on the server's
  side by ``serve --idle-timeout``. :func:`close_all` closes every open one (end of training).

verl is not a dependency: it brings torch and a GPU stack. The class follows verl's ``BaseTool``
contract without subclassing it (verl's registry only instantiates ``class_name`` with ``config``
and ``tool_schema``); inside verl it answers with verl's own ``ToolResponse``.
"""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..rollout._env import EnvClosed, EpisodeOver, ServerFailure, ToolCall
from ._bridge import AsyncSession

__all__ = ["EXTRA_FIELD", "CodeGymTool", "close_all", "open_trajectories"]

EXTRA_FIELD = "codegym"
"""The key of ``agent_data.extra_fields`` where a trajectory's episode outcome is recorded."""


@dataclass
class _Trajectory:
    session: AsyncSession
    fields: dict[str, Any]
    """The trajectory's ``agent_data.extra_fields``: where its episode's outcome goes."""
    last_used: float
    episode_id: str | None = None


_trajectories: dict[str, _Trajectory] = {}
_locks: dict[str, asyncio.Lock] = {}  # one call of a trajectory at a time (verl runs a turn's calls at once)


def open_trajectories() -> int:
    """How many trajectories of this process have an episode open."""
    return len(_trajectories)


async def close_all() -> None:
    """Close the episode of every open trajectory (unscored: ``end_reason`` "closed")."""
    for key in list(_trajectories):
        await _end(key, "closed")


async def _end(
    key: str, end_reason: str | None = None, reward: float | None = None, infra: bool = False
) -> None:
    """Close ``key``'s episode and record its outcome in the trajectory's extra fields."""
    _locks.pop(key, None)
    trajectory = _trajectories.pop(key, None)
    if trajectory is not None:
        trajectory.fields[EXTRA_FIELD] = {
            "episode_id": trajectory.episode_id,
            "reward": reward,
            "end_reason": end_reason,
            "infra": infra,
        }
        await trajectory.session.aclose()


async def _sweep(idle_seconds: float) -> None:
    cutoff = time.monotonic() - idle_seconds
    for key, trajectory in list(_trajectories.items()):
        lock = _locks.get(key)
        if trajectory.last_used <= cutoff and not (lock is not None and lock.locked()):
            await _end(key, "idle")


def _tool_response(text: str) -> Any:
    """verl's ``ToolResponse`` for ``text``.

    Raises:
        ImportError: verl is not installed (the class runs inside verl's rollout workers).
    """
    try:
        schemas = importlib.import_module("verl.tools.schemas")
    except ImportError as exc:
        raise ImportError("CodeGymTool is verl's tool and runs inside verl: pip install verl") from exc
    return schemas.ToolResponse(text=text)


class CodeGymTool:
    """One tool of a gym for verl's ``ToolAgentLoop`` (verl's ``BaseTool`` contract).

    Args:
        config: the tool's ``config`` from the tools config file: ``catalog_url`` (required), and
            optionally ``tool`` (the gym's name of the tool when verl's differs, see
            ``verl_catalog_config``), ``idle_seconds`` (default 900) and ``read_timeout``
            (default 120).
        tool_schema: verl's ``OpenAIFunctionToolSchema`` of the tool.

    Raises:
        ValueError: no ``catalog_url`` in ``config``, or no ``tool_schema``.
    """

    def __init__(self, config: dict[str, Any], tool_schema: Any) -> None:
        url = config.get("catalog_url")
        if not isinstance(url, str) or not url:
            raise ValueError(
                f"CodeGymTool needs config.catalog_url (got {url!r}): write the config with "
                "verl_tool_config(tools, catalog_url=URL)"
            )
        if tool_schema is None:
            raise ValueError(
                "CodeGymTool needs the tool's tool_schema in the config file (verl_tool_config writes it)"
            )
        self.config = dict(config)
        self.tool_schema = tool_schema
        self.name: str = tool_schema.function.name
        self._gym_tool = str(config.get("tool") or self.name)  # the gym's own name of the tool
        self._catalog_url = url
        self._idle_seconds = float(config.get("idle_seconds", 900))
        self._read_timeout = float(config.get("read_timeout", 120))
        self._created: dict[str, dict[str, Any]] = {}
        self._rewards: dict[str, float] = {}

    def get_openai_tool_schema(self) -> Any:
        return self.tool_schema

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        """Note the call's ``create_kwargs`` (its trajectory's task) under a new instance id."""
        await _sweep(self._idle_seconds)
        key = instance_id or uuid.uuid4().hex
        self._created[key] = dict(kwargs.get("create_kwargs") or {})
        return key, _tool_response("")

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        """One step of the trajectory's episode: (the result as text, the step's reward, metrics).

        Raises:
            ValueError: no ``agent_data`` (verl's loop passes it), or no ``task_id`` in the row's
                create_kwargs.
        """
        agent_data = kwargs.get("agent_data")
        key = getattr(agent_data, "request_id", None)
        if agent_data is None or not key:
            raise ValueError("CodeGymTool.execute needs verl's agent_data (its request_id keys the episode)")
        try:
            async with _locks.setdefault(key, asyncio.Lock()):
                return await self._execute(key, agent_data.extra_fields, instance_id, parameters)
        finally:
            if key not in _trajectories:
                _locks.pop(key, None)

    async def _execute(
        self, key: str, fields: dict[str, Any], instance_id: str, parameters: dict[str, Any]
    ) -> tuple[Any, float, dict[str, Any]]:
        if EXTRA_FIELD in fields:  # one episode per trajectory: no second start
            return _tool_response("the episode is over: no more tool calls count"), 0.0, {"over": True}
        try:
            trajectory = _trajectories.get(key) or await self._start(
                key, fields, self._created.get(instance_id, {})
            )
            trajectory.last_used = time.monotonic()
            obs, reward, terminated, truncated, info = await trajectory.session.step(
                ToolCall(self._gym_tool, dict(parameters))
            )
        except (ServerFailure, EpisodeOver, EnvClosed) as exc:
            fields[EXTRA_FIELD] = {"episode_id": None, "reward": None, "end_reason": None, "infra": True}
            await _end(key, infra=True)
            return (
                _tool_response(f"infrastructure failure, the episode is not scored: {exc}"),
                0.0,
                {"infra": True},
            )
        if terminated or truncated or info["infra"]:
            scored = None if info["infra"] else reward
            await _end(key, info["end_reason"], scored, info["infra"])
        self._rewards[instance_id] = reward
        return _tool_response(obs.text), reward, {"step": info["step"], "infra": info["infra"]}

    async def _start(self, key: str, fields: dict[str, Any], spec: dict[str, Any]) -> _Trajectory:
        task_id = spec.get("task_id")
        if not isinstance(task_id, str):
            raise ValueError(
                f"the row names no task: extra_info.tools_kwargs[{self.name!r}].create_kwargs needs "
                f"task_id (got {spec!r}); verl_row() writes it"
            )
        session = AsyncSession(self._catalog_url, task_id, read_timeout=self._read_timeout)
        try:
            _, info = await session.reset(seed=spec.get("seed"), instance=spec.get("instance"))
        except BaseException:
            await session.aclose()
            raise
        trajectory = _trajectories[key] = _Trajectory(session, fields, time.monotonic(), info["episode_id"])
        return trajectory

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """The reward of the last step this instance id ran (1 for the submit of a solved episode)."""
        return self._rewards.get(instance_id, 0.0)

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Forget the call's instance id (its trajectory's episode stays open for the next call)."""
        self._created.pop(instance_id, None)
        self._rewards.pop(instance_id, None)
