"""The MCP layer: a gym manifest -> an MCP server, catalog mode, rollouts, the trainer env, the CLI.

Imports are lazy (PEP 562 ``__getattr__``): ``codegym-mcp --help`` and a stdio server's
start-up must not pay for modules they do not use (``import mcp`` alone takes ~0.7 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._catalog_server import HttpGyms, catalog_task_url, running_http_server
    from ._connectors import (
        catalog_inprocess,
        catalog_subprocess,
        http_connector,
        shared_http_client,
        stdio_connector,
    )
    from ._env import (
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
    from ._policies import (
        Agent,
        EpisodeContext,
        OpenAIPolicy,
        OraclePolicy,
        Policy,
        PolicyError,
        RandomPolicy,
    )
    from ._rollout import EpisodeSpec, RolloutSummary, plan_episodes, play_episode, run_episode, run_rollouts
    from ._server import EPISODE_META_KEY, GymServer, ServeOptions, json_safe_schema
    from .cli import UsageError, main

_WHERE: dict[str, str] = {
    "EPISODE_META_KEY": "._server",
    "GymServer": "._server",
    "ServeOptions": "._server",
    "json_safe_schema": "._server",
    "HttpGyms": "._catalog_server",
    "catalog_task_url": "._catalog_server",
    "running_http_server": "._catalog_server",
    "CodeGymEnv": "._env",
    "EnvError": "._env",
    "Observation": "._env",
    "ToolCall": "._env",
    "ToolInfo": "._env",
    "RolloutSummary": "._rollout",
    "run_rollouts": "._rollout",
    "ChatMessage": "._env",
    "EnvClosed": "._env",
    "EpisodeOver": "._env",
    "ResetInfo": "._env",
    "ServerFailure": "._env",
    "StepInfo": "._env",
    "Agent": "._policies",
    "EpisodeContext": "._policies",
    "OpenAIPolicy": "._policies",
    "OraclePolicy": "._policies",
    "Policy": "._policies",
    "PolicyError": "._policies",
    "RandomPolicy": "._policies",
    "EpisodeSpec": "._rollout",
    "plan_episodes": "._rollout",
    "run_episode": "._rollout",
    "play_episode": "._rollout",
    "catalog_inprocess": "._connectors",
    "catalog_subprocess": "._connectors",
    "http_connector": "._connectors",
    "shared_http_client": "._connectors",
    "stdio_connector": "._connectors",
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
    "run_episode",
    "run_rollouts",
    "running_http_server",
    "shared_http_client",
    "stdio_connector",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
