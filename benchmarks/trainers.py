"""The trainer adapters, measured: oracle success, overhead per step, sessions left after many episodes.

``.venv/bin/python -m benchmarks.trainers [--catalog DIR] [--leak-episodes 10000]`` writes
``bench-out/trainers.json`` and prints a table:

1. oracle success of the env API and of each adapter (Gymnasium, SkyRL-gym, OpenEnv) on the
   first instance of every gym of the catalog (target 100%);
2. time per step of each adapter against the env API's own step, on the same episodes (the first
   ``--timing-gyms`` gyms), played interleaved gym by gym in one run, one episode at a time
   (target <= 1.2x): medians of the per-step latencies (the sweep of 1. runs ``--concurrency``
   episodes at a time and is not timed);
3. leak check: N short episodes (reset, one read, a random answer) through the Gymnasium
   adapter, each in a new env (so each one opens and closes its MCP session); then the catalog
   server's live sessions (``GET /health``), the process's threads and its RSS growth.

The catalog server runs as a child process (``codegym-mcp serve --all``); the OpenEnv server in a
thread of this process, like a trainer would host it.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from codegym_mcp.runtime import Catalog, Gym, default_catalog_dir
from codegym_mcp.servers import CodeGymEnv, ToolCall, catalog_task_url
from codegym_mcp.servers.trainers._bridge import portal_users

REPO = Path(__file__).resolve().parent.parent
Player = Callable[[str, Gym], tuple[float, list[float]]]


@contextmanager
def _catalog_server(catalog: Path) -> Iterator[str]:
    from codegym_mcp.servers.trainers.local import catalog_server_process

    with catalog_server_process(catalog, startup_timeout=300.0) as url:
        yield url


@contextmanager
def _openenv_server(catalog_url: str) -> Iterator[str]:
    from codegym_mcp.servers.trainers.openenv_env import create_codegym_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_codegym_app(catalog_url, max_concurrent_envs=16), log_level="critical")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _plan(gym: Gym) -> list[ToolCall]:
    if gym.manifest.batch_size > 1:  # a batched gym's oracle: the batch agent's plan for episode 0
        from codegym_mcp.servers.rollout._batch_oracle import BatchOracleAgent
        from codegym_mcp.servers.rollout._policies import EpisodeContext

        agent = BatchOracleAgent.for_episode(gym, EpisodeContext(gym.task_id, "", (), instance_index=0))
        return [ToolCall(c.tool, dict(c.arguments)) for c in agent.plan]
    return [ToolCall(c.tool, dict(c.arguments)) for c in gym.instances[0].oracle_trace]


def play_env_api(url: str, gym: Gym) -> tuple[float, list[float]]:
    async def run() -> tuple[float, list[float]]:
        async with await CodeGymEnv.connect(
            catalog_task_url(url, gym.task_id, instance=0), task_id=gym.task_id
        ) as env:
            await env.reset()
            times, reward = [], 0.0
            for call in _plan(gym):
                started = time.perf_counter()
                _, reward, terminated, truncated, _ = await env.step(call)
                times.append(time.perf_counter() - started)
                if terminated or truncated:
                    break
            return reward, times

    return anyio.run(run)


def play_gymnasium(url: str, gym: Gym) -> tuple[float, list[float]]:
    import gymnasium

    import codegym_mcp.servers.trainers.gymnasium_env  # noqa: F401  (registers the id)

    env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=gym.task_id)
    try:
        env.reset(options={"instance": 0})
        times, reward = [], 0.0
        for call in _plan(gym):
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
        for call in _plan(gym):
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
                for call in _plan(gym):
                    started = time.perf_counter()
                    result = await client.step(CallToolAction(tool_name=call.name, arguments=call.arguments))
                    times.append(time.perf_counter() - started)
                    reward = float(result.reward or 0.0)
                    if result.done:
                        break
                return reward, times

        return anyio.run(run)

    return play


def _health(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            value = json.loads(response.read())
            return value if isinstance(value, dict) else None
    except urllib.error.HTTPError as exc:
        exc.close()
        return None


def leak_check(url: str, gym: Gym, episodes: int) -> dict[str, Any]:
    import gymnasium

    import codegym_mcp.servers.trainers.gymnasium_env  # noqa: F401

    submit = next(t for t in gym.manifest.tools if t.kind == "submit")
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    threads_start = threading.active_count()
    started = time.perf_counter()
    for i in range(episodes):
        env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=gym.task_id)
        try:
            env.reset(seed=i)
            env.step({"name": "task", "arguments": {}})
            env.step({"name": submit.name, "arguments": {"answer": None}})
        finally:
            env.close()
    wall = time.perf_counter() - started
    time.sleep(1.0)
    health = _health(url)
    return {
        "episodes": episodes,
        "seconds": round(wall, 1),
        "server_sessions_after": None if health is None else health.get("sessions"),
        "health": health,
        "sync_loop_users_after": portal_users(),
        "threads_before": threads_start,
        "threads_after": threading.active_count(),
        "max_rss_growth_mb": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start) / 1024, 1
        ),
    }


def _sweep(play: Player, url: str, gyms: list[Gym], concurrency: int) -> list[str]:
    """The task ids whose first instance the oracle solves through ``play`` (``concurrency`` at a time)."""

    def one(gym: Gym) -> str | None:
        try:
            return gym.task_id if play(url, gym)[0] == 1.0 else None
        except Exception as exc:  # an adapter failure is a miss, reported with its cause
            print(f"  {gym.task_id}: {type(exc).__name__}: {exc}", flush=True)
            return None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [t for t in pool.map(one, gyms) if t is not None]


def _summary(
    gyms: list[Gym], timed: list[Gym], times: dict[str, list[float]], solved: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    base = statistics.median(times["env API"])
    results: dict[str, dict[str, Any]] = {}
    for name, steps in times.items():
        median = statistics.median(steps)
        results[name] = {
            "oracle_success": len(solved[name]) / len(gyms) if name in solved else None,
            "unsolved": sorted({g.task_id for g in gyms} - set(solved.get(name, [])))
            if name in solved
            else None,
            "timed_gyms": len(timed),
            "steps": len(steps),
            "median_step_ms": round(median * 1000, 3),
            "mean_step_ms": round(statistics.fmean(steps) * 1000, 3),
            "vs_env_api": round(median / base, 3),
        }
    return results


def _write(
    out: Path, catalog: Path, gyms: int, results: dict[str, dict[str, Any]], leak: dict[str, Any] | None
) -> None:
    load = (
        Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
        if Path("/proc/loadavg").exists()
        else []
    )
    report = {"catalog": str(catalog), "gyms": gyms, "load_average": load, "adapters": results, "leak": leak}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    demo = REPO / "demo-out" / "catalog"
    parser.add_argument("--catalog", type=Path, default=demo if demo.is_dir() else default_catalog_dir())
    parser.add_argument("--gyms", type=int, default=0, help="only the first N gyms (0: all)")
    parser.add_argument("--timing-gyms", type=int, default=10, help="gyms played for the per-step timing")
    parser.add_argument("--concurrency", type=int, default=4, help="episodes at a time in the oracle sweep")
    parser.add_argument("--sweep-env-api", action="store_true", help="sweep the env API too (rollout does)")
    parser.add_argument("--leak-episodes", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "trainers.json")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    catalog = Catalog(args.catalog)
    gyms = [catalog.load(t) for t in catalog.task_ids()]
    gyms = gyms[: args.gyms] if args.gyms else gyms
    results: dict[str, dict[str, Any]] = {}
    leak: dict[str, Any] | None = None
    with _catalog_server(args.catalog) as url, _openenv_server(url) as openenv_url:
        players: dict[str, Player] = {
            "env API": play_env_api,
            "gymnasium": play_gymnasium,
            "skyrl": play_skyrl,
            "openenv": openenv_player(openenv_url),
        }
        timed = gyms[: args.timing_gyms]
        times: dict[str, list[float]] = {name: [] for name in players}
        started = time.perf_counter()
        for done, gym in enumerate(timed, 1):  # interleaved: every path plays the same gym back to back
            for name, play in players.items():
                times[name].extend(play(url, gym)[1])
            print(
                f"[timing {done}/{len(timed)}, {time.perf_counter() - started:.0f}s] {gym.task_id}",
                flush=True,
            )
        solved: dict[str, list[str]] = {}
        for name, play in players.items():
            if name == "env API" and not args.sweep_env_api:
                continue  # rollout --policy oracle is the env API's own sweep
            solved[name] = _sweep(play, url, gyms, args.concurrency)
            print(f"[oracle sweep] {name}: {len(solved[name])}/{len(gyms)}", flush=True)
            results = _summary(gyms, timed, times, solved)
            _write(args.out, args.catalog, len(gyms), results, None)
        if args.leak_episodes:
            leak = leak_check(url, gyms[0], args.leak_episodes)
    _write(args.out, args.catalog, len(gyms), results, leak)
    print(f"catalog {args.catalog}: first instance of {len(gyms)} gyms")
    print(f"{'path':<10} {'oracle':>8} {'steps':>7} {'median step':>12} {'vs env API':>11}")
    for name, r in results.items():
        success = "-" if r["oracle_success"] is None else f"{r['oracle_success']:.1%}"
        print(
            f"{name:<10} {success:>8} {r['steps']:>7} {r['median_step_ms']:>9.2f} ms {r['vs_env_api']:>10.2f}x"
        )
    if leak is not None:
        print(f"leak check: {json.dumps(leak)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
