"""SkyRL-gym: a ``BaseTextEnv`` over one gym of a catalog server, registered as ``codegym``.

Importing this module registers the id in skyrl_gym's registry::

    import skyrl_gym
    import codegym_mcp.servers.trainers.skyrl_env  # registers "codegym"

    env = skyrl_gym.make("codegym", env_config={"catalog_url": "http://127.0.0.1:8000"},
                         extras={"task_id": "HumanEval_0", "seed": 3})
    prompt, info = env.init([])          # [] -> system (tools, call format) + user (task)
    out = env.step('<tool_call>{"name": "observe", "arguments": {}}</tool_call>')
    env.close()

The model's text is parsed for ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks
(the Hermes / Qwen format of :mod:`.text_tools`); each call is one step of the env API, in order,
until the episode ends. Observations come back as one user message of ``<tool_response>`` blocks,
SkyRL's convention. ``reward`` is 1.0 on the turn whose submit scores; ``done`` once the episode
ends (submit, the server's step budget, or ``max_turns`` turns if given). An infrastructure failure ends the episode
with ``metadata["infra_error"] = True`` and ``metadata["reward"] = None``: drop it, it is not a 0.

``extras`` (the dataset row's, as SkyRL passes them) or ``env_config`` give ``catalog_url``,
``task_id`` and optionally ``seed`` (same seed, same instance), ``instance`` and ``max_turns``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rollout._env import ServerFailure, StepInfo
from ._bridge import BlockingCallInLoop, SyncSession, missing_extra
from .text_tools import parse_tool_calls, tool_response, tools_system_prompt

try:
    import skyrl_gym
    from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput, ConversationType
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("skyrl-gym", "skyrl") from exc

__all__ = ["ENV_ID", "BlockingCallInLoop", "CodeGymTextEnv"]

ENV_ID = "codegym"
_TURN_SLACK = 4
_UNKNOWN_BUDGET_TURNS = 100_000


def _setting(name: str, extras: Mapping[str, Any], config: Mapping[str, Any] | Any) -> Any:
    if name in extras:
        return extras[name]
    getter = getattr(config, "get", None)
    return getter(name) if callable(getter) else None


def _opt_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"codegym: {name} must be an int, got {value!r}")
    return value


class CodeGymTextEnv(BaseTextEnv):  # type: ignore[misc]
    """One episode of a codegym gym as a SkyRL text env (text in, tool calls parsed from text).

    Args:
        env_config: SkyRL's env config (a dict or an OmegaConf ``DictConfig``); ``catalog_url``.
        extras: the dataset row's extras: ``task_id``, optional ``seed``, ``instance``,
            ``max_turns`` (may also give ``catalog_url``).

    Raises:
        ValueError: ``catalog_url`` or ``task_id`` is missing.
        ServerFailure: the catalog server cannot be reached or has no such gym.
        BlockingCallInLoop: made from inside a running event loop (use the async env API).
    """

    def __init__(self, env_config: Any = None, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        extras = dict(extras or {})
        config = env_config if env_config is not None else {}
        url, task_id = _setting("catalog_url", extras, config), _setting("task_id", extras, config)
        if not url or not task_id:
            raise ValueError(
                "codegym: give catalog_url (env_config or extras) and task_id (extras), e.g. "
                "skyrl_gym.make('codegym', env_config={'catalog_url': 'http://127.0.0.1:8000'}, "
                "extras={'task_id': 'HumanEval_0'})"
            )
        self.seed = _opt_int("seed", _setting("seed", extras, config))
        self.instance = _opt_int("instance", _setting("instance", extras, config))
        turns = _opt_int("max_turns", _setting("max_turns", extras, config))
        self._session = SyncSession(str(url), str(task_id))
        self.tools = self._session.tools
        # Until the server says its step budget (after the first step), the server's budget is the cap.
        self.max_turns = turns or _UNKNOWN_BUDGET_TURNS
        self._explicit_turns = turns is not None
        self.done = False
        self.infra_error = False
        self.reward = 0.0

    def init(self, prompt: ConversationType) -> tuple[ConversationType, dict[str, Any]]:
        """Start the episode; return the prompt (the env's own when ``prompt`` is empty) and its info.

        Raises:
            ServerFailure: the server could not start the episode.
        """
        obs, info = self._session.reset(seed=self.seed, instance=self.instance)
        if not self._explicit_turns and info["step_budget"]:
            self.max_turns = info["step_budget"] + _TURN_SLACK
        messages: ConversationType = list(prompt) or [
            {"role": "system", "content": tools_system_prompt(self.tools)},
            {"role": "user", "content": obs.text},
        ]
        return messages, {**info, "tools": [t.to_openai() for t in self.tools]}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Run the tool calls written in ``action``; return their results as one user message.

        Raises:
            EpisodeOver: the episode already ended.
        """
        self.turns += 1
        parsed = parse_tool_calls(action)
        responses = [tool_response(f"error: {e}") for e in parsed.errors]
        infos: list[StepInfo] = []
        reward = 0.0
        try:
            for call in parsed.calls:
                obs, reward, terminated, truncated, info = self._session.step(call)
                infos.append(info)
                responses.append(tool_response(obs.text))
                if not self._explicit_turns and info["step_budget"]:
                    self.max_turns = info["step_budget"] + _TURN_SLACK
                if terminated or truncated:
                    self.done = True
                    break
        except ServerFailure as exc:
            self.done, self.infra_error = True, True
            responses.append(tool_response(f"error: the environment failed: {exc}"))
        if not parsed.calls and not parsed.errors:
            responses.append(
                tool_response(
                    'error: no tool call found; write <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>'
                )
            )
        if self.turns >= self.max_turns:
            self.done = True
        self.reward = reward
        metadata: dict[str, Any] = {
            "steps": infos,
            "infra_error": self.infra_error,
            "reward": None if self.infra_error else reward,
            "end_reason": infos[-1]["end_reason"] if infos else None,
        }
        observations = [] if self.done else [{"role": "user", "content": "\n".join(responses)}]
        return BaseTextEnvStepOutput(
            observations=observations, reward=reward, done=self.done, metadata=metadata
        )

    def close(self) -> None:
        """Close the MCP session (idempotent)."""
        self._session.close()

    def get_metrics(self) -> dict[str, Any]:
        """The episode's reward, turns and whether infrastructure failed (SkyRL aggregates these)."""
        return {"reward": self.reward, "turns": self.turns, "infra_error": float(self.infra_error)}


def _register() -> None:
    if ENV_ID not in skyrl_gym.registry:
        skyrl_gym.register(id=ENV_ID, entry_point=f"{__name__}:CodeGymTextEnv")


_register()
