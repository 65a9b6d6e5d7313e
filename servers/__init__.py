"""The MCP layer: a gym manifest -> an MCP server, catalog mode, rollouts, the trainer env, the CLI.

Imports are lazy (PEP 562 ``__getattr__``): ``codegym-mcp --help`` and a stdio server's
start-up must not pay for modules they do not use (``import mcp`` alone takes ~0.7 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._catalog_server import HttpGyms, catalog_task_url, running_http_server
    from ._env import CodeGymEnv, EnvError, Observation, ToolCall, ToolInfo
    from ._rollout import RolloutSummary, run_rollouts
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
    "UsageError": ".cli",
    "main": ".cli",
}

__all__ = [
    "EPISODE_META_KEY",
    "CodeGymEnv",
    "EnvError",
    "GymServer",
    "HttpGyms",
    "Observation",
    "RolloutSummary",
    "ServeOptions",
    "ToolCall",
    "ToolInfo",
    "UsageError",
    "catalog_task_url",
    "json_safe_schema",
    "main",
    "run_rollouts",
    "running_http_server",
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
