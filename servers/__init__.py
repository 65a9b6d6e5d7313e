"""The MCP layer: a gym manifest -> an MCP server, catalog mode, rollouts, the trainer env, the CLI.

Imports are lazy (PEP 562 ``__getattr__``): ``codegym-mcp --help`` and a stdio server's
start-up must not pay for modules they do not use (``import mcp`` alone takes ~0.7 s).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cli._main import UsageError, main
    from .mcp._catalog_server import HttpGyms, catalog_task_url, running_http_server
    from .mcp._server import EPISODE_META_KEY, GymServer, ServeOptions, json_safe_schema
    from .rollout._connectors import (
        catalog_inprocess,
        catalog_subprocess,
        http_connector,
        shared_http_client,
        stdio_connector,
    )
    from .rollout._env import (
        ChatMessage,
        CodeGymEnv,
        EnvClosed,
        EnvError,
        EpisodeOver,
        Observation,
        ResetInfo,
        ServerFailure,
        StepInfo,
        ToolCall,
        ToolInfo,
    )
    from .rollout._policies import (
        Agent,
        EpisodeContext,
        OpenAIPolicy,
        OraclePolicy,
        Policy,
        PolicyError,
        RandomPolicy,
    )
    from .rollout._rollout import (
        EpisodeSpec,
        RolloutSummary,
        plan_episodes,
        play_episode,
        play_in_new_session,
        run_rollouts,
    )

_WHERE: dict[str, str] = {
    "EPISODE_META_KEY": ".mcp._server",
    "GymServer": ".mcp._server",
    "ServeOptions": ".mcp._server",
    "json_safe_schema": ".mcp._server",
    "HttpGyms": ".mcp._catalog_server",
    "catalog_task_url": ".mcp._catalog_server",
    "running_http_server": ".mcp._catalog_server",
    "CodeGymEnv": ".rollout._env",
    "EnvError": ".rollout._env",
    "Observation": ".rollout._env",
    "ToolCall": ".rollout._env",
    "ToolInfo": ".rollout._env",
    "RolloutSummary": ".rollout._rollout",
    "run_rollouts": ".rollout._rollout",
    "ChatMessage": ".rollout._env",
    "EnvClosed": ".rollout._env",
    "EpisodeOver": ".rollout._env",
    "ResetInfo": ".rollout._env",
    "ServerFailure": ".rollout._env",
    "StepInfo": ".rollout._env",
    "Agent": ".rollout._policies",
    "EpisodeContext": ".rollout._policies",
    "OpenAIPolicy": ".rollout._policies",
    "OraclePolicy": ".rollout._policies",
    "Policy": ".rollout._policies",
    "PolicyError": ".rollout._policies",
    "RandomPolicy": ".rollout._policies",
    "EpisodeSpec": ".rollout._rollout",
    "plan_episodes": ".rollout._rollout",
    "play_in_new_session": ".rollout._rollout",
    "play_episode": ".rollout._rollout",
    "catalog_inprocess": ".rollout._connectors",
    "catalog_subprocess": ".rollout._connectors",
    "http_connector": ".rollout._connectors",
    "shared_http_client": ".rollout._connectors",
    "stdio_connector": ".rollout._connectors",
    "UsageError": ".cli",
    "main": ".cli",
}

__all__ = [
    "EPISODE_META_KEY",
    "Agent",
    "ChatMessage",
    "CodeGymEnv",
    "EnvClosed",
    "EnvError",
    "EpisodeContext",
    "EpisodeOver",
    "EpisodeSpec",
    "GymServer",
    "HttpGyms",
    "Observation",
    "OpenAIPolicy",
    "OraclePolicy",
    "Policy",
    "PolicyError",
    "RandomPolicy",
    "ResetInfo",
    "RolloutSummary",
    "ServeOptions",
    "ServerFailure",
    "StepInfo",
    "ToolCall",
    "ToolInfo",
    "UsageError",
    "catalog_inprocess",
    "catalog_subprocess",
    "catalog_task_url",
    "http_connector",
    "json_safe_schema",
    "main",
    "plan_episodes",
    "play_episode",
    "play_in_new_session",
    "run_rollouts",
    "running_http_server",
    "shared_http_client",
    "stdio_connector",
]


_DEPRECATED: dict[str, str] = {"run_episode": "play_in_new_session"}
"""Old names kept for a while (not in ``__all__``): each warns and gives the new one."""


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        new = _DEPRECATED[name]
        warnings.warn(
            f"codegym_mcp.servers.{name} is deprecated: use {new} (same arguments)",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__(new)
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
