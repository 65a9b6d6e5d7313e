"""Shared pieces of the trainer-adapter tests: a catalog server process, policies driven step by step, leak checks."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from pydantic import JsonValue

from codegym_mcp.runtime import Catalog, Gym
from codegym_mcp.servers import Observation, ToolCall, ToolInfo
from codegym_mcp.servers.rollout._policies import Agent, EpisodeContext, Policy
from codegym_mcp.servers.trainers.local import catalog_server_process

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"


@contextmanager
def catalog_server(catalog: Path = FIXTURE, *, timeout: float = 120.0) -> Iterator[str]:
    """``codegym-mcp serve --all`` on ``catalog`` as a child process; yields its base URL, stops it after."""
    with catalog_server_process(catalog, startup_timeout=timeout) as url:
        yield url


def health(base_url: str) -> dict[str, JsonValue]:
    """The catalog server's ``GET /health``."""
    with urllib.request.urlopen(f"{base_url}/health", timeout=10) as response:
        value = json.loads(response.read())
    assert isinstance(value, dict)
    return value


def sync_threads() -> list[str]:
    """Names of the adapters' background-loop threads still alive."""
    return [t.name for t in threading.enumerate() if "codegym-sync-env" in t.name]


def fixture_episodes(catalog: Path = FIXTURE) -> list[tuple[Gym, int]]:
    """Every (gym, instance index) of a catalog."""
    loaded = Catalog(catalog)
    return [
        (gym, k) for gym in (loaded.load(t) for t in loaded.task_ids()) for k in range(len(gym.instances))
    ]


@dataclass
class SyncAgent:
    """A policy's async agent driven from synchronous code (one short event loop per decision)."""

    agent: Agent

    @classmethod
    def start(
        cls,
        policy: Policy,
        gym: Gym,
        *,
        text: str,
        tools: tuple[ToolInfo, ...],
        instance: int | None,
        seed: int = 0,
        step_budget: int | None = None,
    ) -> SyncAgent:
        ctx = EpisodeContext(
            task_id=gym.task_id,
            task_text=text,
            tools=tools,
            seed=seed,
            gym=gym,
            instance_index=instance,
            step_budget=step_budget,
        )
        return cls(policy.agent(ctx))

    def act(self, text: str, structured: JsonValue | None = None, is_error: bool = False) -> ToolCall | None:
        observation = Observation(text=text, structured=structured, is_error=is_error)
        return anyio.run(self.agent.act, observation)
