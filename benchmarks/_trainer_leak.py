"""The leak check of ``benchmarks.trainers``: many short episodes per adapter, then what is left.

Per adapter: N short episodes (reset, one read, a random answer), ``per_env`` per new env; then
the catalog server's live sessions (``GET /health``), the adapter sessions still open in this
process, and the open fds, threads, RSS and child processes (sandbox workers) of this process and
of the servers it started, after a warm-up (start) and after the N (end).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from benchmarks._trainer_paths import health
from codegym_mcp.runtime import Gym
from codegym_mcp.servers.trainers._bridge import open_sessions

OPENENV = b"codegym_mcp.servers.trainers.openenv_env"
"""The OpenEnv server's module, on its command line (with ``--catalog``: direct, ``--catalog-url``: relay)."""
Episodes = Callable[[str, Gym, int, int], None]
"""(catalog server URL, gym, first seed, count): play ``count`` short episodes."""


def _status(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _children(pid: int | str) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text(encoding="utf-8").split()]
        except (
            FileNotFoundError
        ):  # the thread ended since the listing (OpenEnv's executor threads come and go)
            continue
    return kids


def child(*marks: bytes) -> int | None:
    """This process's child whose command line holds every one of ``marks``."""
    for kid in _children("self"):
        cmdline = Path(f"/proc/{kid}/cmdline").read_bytes().split(b"\0")
        if all(m in cmdline for m in marks):
            return kid
    return None


def _process(pid: int | str | None) -> dict[str, int] | None:
    if pid is None:
        return None
    return {
        "fds": sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        "threads": _status(pid, "Threads"),
        "rss_kb": _status(pid, "VmRSS"),
        "children": len(_children(pid)),
    }


def _snapshot() -> dict[str, dict[str, int] | None]:
    """fds, threads, RSS and child processes of this process (the client) and of its servers (None: not started)."""
    return {
        "client": _process("self"),
        "catalog_server": _process(child(b"codegym_mcp.servers", b"--all")),
        "openenv_server": _process(child(OPENENV, b"--catalog")),
        "openenv_relay_server": _process(child(OPENENV, b"--catalog-url")),
    }


def _submit_name(gym: Gym) -> str:
    return next(t.name for t in gym.manifest.tools if t.kind == "submit")


def leak_gymnasium(url: str, gym: Gym, first: int, count: int) -> None:
    """``count`` episodes (seeds ``first``, ...) in one new env, closed after."""
    import gymnasium

    import codegym_mcp.servers.trainers.gymnasium_env  # noqa: F401

    env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=gym.task_id)
    try:
        for seed in range(first, first + count):
            env.reset(seed=seed)
            env.step({"name": "task", "arguments": {}})
            env.step({"name": _submit_name(gym), "arguments": {"answer": None}})
    finally:
        env.close()


def leak_skyrl(url: str, gym: Gym, first: int, count: int) -> None:
    """``count`` episodes, each in a new env (SkyRL makes one env per trajectory)."""
    import skyrl_gym

    import codegym_mcp.servers.trainers.skyrl_env  # noqa: F401

    calls = [{"name": "task", "arguments": {}}, {"name": _submit_name(gym), "arguments": {"answer": None}}]
    for seed in range(first, first + count):
        env = skyrl_gym.make(
            "codegym", env_config={"catalog_url": url}, extras={"task_id": gym.task_id, "seed": seed}
        )
        try:
            env.init([])
            env.step("".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls))
        finally:
            env.close()


def openenv_leak(openenv_url: str) -> Episodes:
    """``count`` episodes over one OpenEnv client (one environment of the OpenEnv server)."""
    from codegym_mcp.servers.trainers.openenv_env import CallToolAction, CodeGymOpenEnvClient

    def episodes(_: str, gym: Gym, first: int, count: int) -> None:
        async def run() -> None:
            async with CodeGymOpenEnvClient(base_url=openenv_url) as client:
                for seed in range(first, first + count):
                    await client.reset(task_id=gym.task_id, seed=seed)
                    await client.step(CallToolAction(tool_name="task", arguments={}))
                    await client.step(CallToolAction(tool_name=_submit_name(gym), arguments={"answer": None}))

        anyio.run(run)

    return episodes


def leak_check(
    url: str,
    gym: Gym,
    play: Episodes,
    episodes: int,
    *,
    per_env: int,
    seconds: float,
    warmup: int = 50,
    openenv_url: str | None = None,
) -> dict[str, Any]:
    """``warmup`` + ``episodes`` short episodes, ``per_env`` per new env, stopping early after
    ``seconds``; what is left at the start and at the end (and every 100 episodes, printed).
    ``openenv_url``: the OpenEnv server played through, whose own sessions and tasks are read too."""

    def openenv_status() -> dict[str, Any] | None:
        if openenv_url is None:
            return None
        from codegym_mcp.servers.trainers.openenv_env import STATUS_PATH

        return health(openenv_url, STATUS_PATH)

    play(url, gym, 0, warmup)
    openenv_start = openenv_status()
    start = _snapshot()
    started = time.perf_counter()
    played = 0
    while played < episodes and time.perf_counter() - started < seconds:
        count = min(per_env, episodes - played)
        play(url, gym, warmup + played, count)
        played += count
        if played % 100 < count:
            print(f"  [leak] {played} {time.perf_counter() - started:.0f}s {_snapshot()}", flush=True)
    wall = time.perf_counter() - started
    time.sleep(1.0)
    status = health(url)
    return {
        "episodes": played,
        "episodes_asked": episodes,
        "episodes_per_env": per_env,
        "seconds": round(wall, 1),
        "server_sessions_after": None if status is None else status.get("sessions"),
        "open_adapter_sessions_after": open_sessions(),
        "openenv_server_status": {
            "start": openenv_start,
            "end": openenv_status(),
        },
        "start": start,
        "end": _snapshot(),
    }
