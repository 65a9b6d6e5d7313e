"""Shared pieces of the trainer-adapter tests: a catalog server process, policies driven step by step, leak checks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
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
def catalog_server(
    catalog: Path = FIXTURE, *, timeout: float = 120.0, extra_args: Sequence[str] = ()
) -> Iterator[str]:
    """``codegym-mcp serve --all`` on ``catalog`` as a child process; yields its base URL, stops it after."""
    with catalog_server_process(catalog, startup_timeout=timeout, extra_args=extra_args) as url:
        yield url


def health(base_url: str) -> dict[str, JsonValue] | None:
    """The catalog server's ``GET /health`` (None from a server without the endpoint)."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=10) as response:
            value = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            return None
        raise
    assert isinstance(value, dict)
    return value


def connections_to(base_url: str) -> int:
    """TCP connections this process holds open to the server at ``base_url`` (Linux /proc).

    An MCP session left open keeps its HTTP client, hence a keep-alive connection: after every env
    is closed there must be none.
    """
    port = int(base_url.rsplit(":", 1)[1].split("/")[0])
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in ours:
                count += 1
    return count


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
            instance_index=instance,
            step_budget=step_budget,
        )
        return cls(policy.agent(ctx))

    def act(self, text: str, structured: JsonValue | None = None, is_error: bool = False) -> ToolCall | None:
        observation = Observation(text=text, structured=structured, is_error=is_error)
        return anyio.run(self.agent.act, observation)
