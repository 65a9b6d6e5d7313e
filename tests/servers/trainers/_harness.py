"""Shared pieces of the trainer-adapter tests: a catalog server process, policies driven step by step, leak checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
from codegym_mcp.servers._policies import Agent, EpisodeContext, Policy

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"
_URL = re.compile(r"https?://[\w.\-\[\]:]+:\d+")


@contextmanager
def catalog_server(catalog: Path = FIXTURE, *, timeout: float = 60.0) -> Iterator[str]:
    """``codegym-mcp serve --all`` on ``catalog`` as a child process; yields its base URL, stops it after."""
    command = [sys.executable, "-m", "codegym_mcp.servers", "serve", "--all", "--catalog", str(catalog)]
    command += ["--transport", "http", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8")
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            match = _URL.search(line)
            if match:
                url = match.group(0)
                break
        watchdog.cancel()
        assert url is not None, f"the catalog server printed no URL (exit code {proc.poll()})"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
        yield url
    finally:
        watchdog.cancel()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


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
    return [(gym, k) for gym in (loaded.load(t) for t in loaded.task_ids()) for k in range(len(gym.instances))]


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
