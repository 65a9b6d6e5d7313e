"""The plain ``gymnasium.Env`` contract over a catalog server: registered as ``codegym/CodeGym-v0``.

Importing this module registers the id::

    import gymnasium
    import codegym_mcp.servers.trainers.gymnasium_env  # registers codegym/CodeGym-v0

    env = gymnasium.make("codegym/CodeGym-v0", catalog_url="http://127.0.0.1:8000", task_id="HumanEval_0")
    obs, info = env.reset(seed=0)            # obs: the task text; info["tools"]: OpenAI function tools
    obs, reward, terminated, truncated, info = env.step({"name": "observe", "arguments": {}})
    env.close()

Actions are tool calls in the OpenAI shape ``{"name": tool, "arguments": {...}}`` (the action
space's ``sample()`` draws a valid random one); observations are the text an agent reads (the
task on reset, a tool's result after a step), with the structured result, ``is_error`` and the
env API's step info in ``info``. The env is synchronous: each call runs on one shared background
event loop (see :mod:`._bridge`), and calling it from inside a running event loop raises
:class:`BlockingCallInLoop` (use the async env API there). Each episode is its own MCP session,
closed by the next ``reset`` or by ``close()``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

from pydantic import JsonValue

from ..rollout._env import ToolCall, ToolInfo
from ..rollout._policies import random_value
from ._bridge import BlockingCallInLoop, SyncSession, missing_extra

try:
    import gymnasium
    from gymnasium import spaces
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("gymnasium", "gymnasium") from exc

__all__ = ["ENV_ID", "BlockingCallInLoop", "CodeGymGymnasiumEnv", "TextSpace", "ToolCallSpace"]

ENV_ID = "codegym/CodeGym-v0"


class TextSpace(spaces.Space[str]):
    """Any text (the observation: what the agent reads)."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a string."""
        return isinstance(x, str)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """The empty string (observations are not sampled)."""
        return ""

    @property
    def is_np_flattenable(self) -> bool:
        """Text is not flattened into an array."""
        return False


class ToolCallSpace(spaces.Space[dict[str, Any]]):
    """Tool calls in the OpenAI shape ``{"name": tool, "arguments": {...}}`` over the gym's tools.

    ``contains`` checks the shape and the tool name (the server checks the arguments: a bad one
    is an ``is_error`` observation costing a step); ``sample`` draws a random call valid against
    the tool's input schema.
    """

    def __init__(self, tools: Sequence[ToolInfo], seed: int | None = None) -> None:
        self.tools = tuple(tools)
        self._by_name = {t.name: t for t in self.tools}
        super().__init__(shape=None, dtype=None, seed=seed)

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is ``{"name": one of the tools, "arguments": a dict}``."""
        return (
            isinstance(x, Mapping)
            and set(x) <= {"name", "arguments"}
            and x.get("name") in self._by_name
            and isinstance(x.get("arguments", {}), Mapping)
        )

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        """A random tool and random arguments valid against its input schema."""
        rng = random.Random(int(self.np_random.integers(2**63)))
        tool = rng.choice(self.tools)
        arguments = random_value({**tool.input_schema, "type": "object"}, rng)
        return {"name": tool.name, "arguments": arguments if isinstance(arguments, dict) else {}}

    @property
    def is_np_flattenable(self) -> bool:
        """Tool calls are not flattened into an array."""
        return False


def _tool_call(action: Any) -> ToolCall:
    if not isinstance(action, Mapping) or not isinstance(action.get("name"), str):
        raise TypeError(
            f"an action is a tool call {{'name': tool, 'arguments': {{...}}}}, got {action!r:.200}"
        )
    arguments = action.get("arguments", {})
    if not isinstance(arguments, Mapping):
        raise TypeError(f"the action's arguments must be a dict, got {arguments!r:.200}")
    return ToolCall(action["name"], dict(arguments))


class CodeGymGymnasiumEnv(gymnasium.Env[str, dict[str, Any]]):
    """One gym of a catalog server as a ``gymnasium.Env`` (text observations, tool-call actions).

    Args:
        catalog_url: base URL of ``codegym-mcp serve --all --transport http``.
        task_id: the gym to play.
        instance: play this instance on every reset given neither a seed nor ``options``.
        read_timeout: seconds to wait for one answer of the server.
        render_mode: ``None`` or ``"ansi"`` (the episode as chat lines).

    ``reset(seed=S)`` plays the instance the server draws from S (the same seed, the same
    instance) and seeds later unseeded resets; ``options={"instance": K}`` picks one.

    Raises:
        ServerFailure: the catalog server cannot be reached or has no such gym.
        BlockingCallInLoop: made or used from inside a running event loop.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self,
        catalog_url: str,
        task_id: str,
        *,
        instance: int | None = None,
        read_timeout: float = 120.0,
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = render_mode
        self._session = SyncSession(catalog_url, task_id, instance=instance, read_timeout=read_timeout)
        self.tools = self._session.tools
        self.observation_space = TextSpace()
        self.action_space = ToolCallSpace(self.tools)

    @property
    def openai_tools(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function tools (for a chat template)."""
        return [t.to_openai() for t in self.tools]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode (a new MCP session); return the task text and the episode's info.

        Raises:
            ServerFailure: the server could not start the episode.
            TypeError: ``options["instance"]`` is not an int.
        """
        super().reset(seed=seed)
        instance = (options or {}).get("instance")
        if instance is not None and (isinstance(instance, bool) or not isinstance(instance, int)):
            raise TypeError(f"options['instance'] must be an int, got {instance!r}")
        obs, info = self._session.reset(seed=seed, instance=instance)
        return obs.text, {**info, "tools": self.openai_tools}

    def step(self, action: dict[str, Any]) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """Call one tool: ``{"name": tool, "arguments": {...}}``.

        Returns the result text, the reward (1.0 on the submit that scores), terminated (after
        submit), truncated (step budget spent) and info (the env API's step info plus
        ``structured`` and ``is_error``).

        Raises:
            TypeError: the action is not a tool call dict.
            EpisodeOver: the episode ended: call reset().
            ServerFailure: a protocol error or a broken connection (never scored).
        """
        obs, reward, terminated, truncated, info = self._session.step(_tool_call(action))
        extra: dict[str, JsonValue] = {"structured": obs.structured, "is_error": obs.is_error}
        return obs.text, reward, terminated, truncated, {**info, **extra}

    def render(self) -> str | None:
        """In ``ansi`` mode, the episode so far as ``role: content`` lines."""
        if self.render_mode != "ansi":
            return None
        lines = []
        for message in self._session.env.chat_messages():
            content = message.get("content") or message.get("tool_calls")
            lines.append(f"{message['role']}: {content}")
        return "\n".join(lines)

    def close(self) -> None:
        """Close the MCP session (idempotent)."""
        self._session.close()

    def episode_chat(self, *, style: str = "openai") -> list[dict[str, Any]]:
        """The current episode as chat messages (see ``CodeGymEnv.chat_messages``)."""
        return [dict(m) for m in self._session.env.chat_messages(style="hf" if style == "hf" else "openai")]


def _register() -> None:
    if ENV_ID not in gymnasium.envs.registry:
        gymnasium.register(
            id=ENV_ID, entry_point=f"{__name__}:CodeGymGymnasiumEnv", disable_env_checker=False
        )


_register()
