"""The paths ``benchmarks.trainers`` plays an episode through, and the servers they need.

Each player plays the oracle on the first instance of a gym and returns (reward, step times):
the env API (``CodeGymEnv`` over streamable HTTP to the catalog server), Gymnasium, SkyRL-gym,
OpenEnv (its client to a server in direct or relay mode) and the OpenEnv echo (OpenEnv's own
cost: its client and server over an environment that answers at once).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio

from codegym_mcp.runtime import Gym
from codegym_mcp.servers import CodeGymEnv, ToolCall, catalog_task_url
from codegym_mcp.servers.trainers.local import stop_process

REPO = Path(__file__).resolve().parent.parent
Player = Callable[[str, Gym], tuple[float, list[float]]]
"""(catalog server URL, gym) -> (reward, seconds of each step)."""


@contextmanager
def catalog_server(catalog: Path) -> Iterator[str]:
    from codegym_mcp.servers.trainers.local import catalog_server_process

    with catalog_server_process(catalog, startup_timeout=300.0) as url:
        yield url


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def child_server(args: Sequence[str], *, timeout: float = 600.0) -> Iterator[str]:
    """``python -m ARGS --port P`` as a child process; yields its URL once ``GET /health`` answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port)], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while health(url) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args)} did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


def oracle_plan(gym: Gym) -> list[ToolCall]:
    if gym.manifest.batch_size > 1:  # a batched gym's oracle: the batch agent's plan for episode 0
        from codegym_mcp.servers.rollout._batch_oracle import BatchOracleAgent
        from codegym_mcp.servers.rollout._policies import EpisodeContext

        agent = BatchOracleAgent.for_episode(gym, EpisodeContext(gym.task_id, "", (), instance_index=0))
        return [ToolCall(c.tool, dict(c.arguments)) for c in agent.plan]
    return [ToolCall(c.tool, dict(c.arguments)) for c in gym.instances[0].oracle_trace]


async def _oracle_episode(env: CodeGymEnv, gym: Gym) -> tuple[float, list[float]]:
    await env.reset()
    times, reward = [], 0.0
    for call in oracle_plan(gym):
        started = time.perf_counter()
        _, reward, terminated, truncated, _ = await env.step(call)
        times.append(time.perf_counter() - started)
        if terminated or truncated:
            break
    return reward, times


def play_env_api(url: str, gym: Gym) -> tuple[float, list[float]]:
    """The env API's own step: ``CodeGymEnv`` over streamable HTTP to the catalog server (the baseline)."""

    async def run() -> tuple[float, list[float]]:
        target = catalog_task_url(url, gym.task_id, instance=0)
        async with await CodeGymEnv.connect(target, task_id=gym.task_id) as env:
            return await _oracle_episode(env, gym)

    return anyio.run(run)


def play_env_api_memory(_: str, gym: Gym) -> tuple[float, list[float]]:
    """The env API over the MCP SDK's in-memory transport to a gym server in this process (one
    sandbox worker, started for the episode): the transport of OpenEnv's direct mode, without OpenEnv."""
    from codegym_mcp.runtime import SandboxConfig, WorkerPool, default_isolation
    from codegym_mcp.servers.mcp._server import GymServer, ServeOptions

    async def run() -> tuple[float, list[float]]:
        async with WorkerPool(SandboxConfig(isolation=default_isolation(no_sandbox=False)), size=1) as pool:
            server = GymServer(gym, pool, options=ServeOptions(instance=0))
            connected = CodeGymEnv.connect(server.server, task_id=gym.task_id, harness_key=server.harness_key)
            async with await connected as env:
                return await _oracle_episode(env, gym)

    return anyio.run(run)


def play_gymnasium(url: str, gym: Gym) -> tuple[float, list[float]]:
    import gymnasium

    import codegym_mcp.servers.trainers.gymnasium_env  # noqa: F401  (registers the id)

    env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=gym.task_id)
    try:
        env.reset(options={"instance": 0})
        times, reward = [], 0.0
        for call in oracle_plan(gym):
            started = time.perf_counter()
            _, r, terminated, truncated, _ = env.step({"name": call.name, "arguments": call.arguments})
            times.append(time.perf_counter() - started)
            reward = float(r)
            if terminated or truncated:
                break
        return reward, times
    finally:
        env.close()


def play_skyrl(url: str, gym: Gym) -> tuple[float, list[float]]:
    import skyrl_gym

    import codegym_mcp.servers.trainers.skyrl_env  # noqa: F401  (registers the id)

    env = skyrl_gym.make(
        "codegym", env_config={"catalog_url": url}, extras={"task_id": gym.task_id, "instance": 0}
    )
    try:
        env.init([])
        times, reward = [], 0.0
        for call in oracle_plan(gym):
            text = f"<tool_call>{json.dumps({'name': call.name, 'arguments': call.arguments})}</tool_call>"
            started = time.perf_counter()
            out = env.step(text)
            times.append(time.perf_counter() - started)
            reward = float(out["reward"])
            if out["done"]:
                break
        return reward, times
    finally:
        env.close()


def openenv_player(openenv_url: str) -> Player:
    from codegym_mcp.servers.trainers.openenv_env import CallToolAction, CodeGymOpenEnvClient

    def play(_: str, gym: Gym) -> tuple[float, list[float]]:
        async def run() -> tuple[float, list[float]]:
            async with CodeGymOpenEnvClient(base_url=openenv_url) as client:
                await client.reset(task_id=gym.task_id, instance=0)
                times, reward = [], 0.0
                for call in oracle_plan(gym):
                    started = time.perf_counter()
                    result = await client.step(CallToolAction(tool_name=call.name, arguments=call.arguments))
                    times.append(time.perf_counter() - started)
                    reward = float(result.reward or 0.0)
                    if result.done:
                        break
                return reward, times

        return anyio.run(run)

    return play


def health(url: str, path: str = "/health") -> dict[str, Any] | None:
    """The JSON object a server answers at ``url + path`` (None: not listening, or an HTTP error)."""
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=10) as response:
            value = json.loads(response.read())
            return value if isinstance(value, dict) else None
    except urllib.error.HTTPError as exc:
        exc.close()
        return None
    except OSError:  # not listening yet
        return None


def echo_player(echo_url: str) -> Player:
    """OpenEnv's own step: the same calls through OpenEnv to an environment that answers at once."""
    play = openenv_player(echo_url)

    def run(url: str, gym: Gym) -> tuple[float, list[float]]:
        return 0.0, play(url, gym)[1]

    return run
