"""The trainer adapters, measured: oracle success, overhead per step, nothing left after many episodes.

``.venv/bin/python -m benchmarks.trainers [--catalog DIR] [--leak-episodes 10000]`` writes
``bench-out/trainers.json`` and prints tables:

1. time per step of each adapter against the env API's own step (target <= 1.2x): every path
   plays the same episodes (the oracle on the first instance of the first ``--timing-gyms`` gyms)
   one at a time, interleaved gym by gym, for ``--rounds`` rounds (the order of the paths rotates
   each round); each round gives each path's median step over the env API's median step, and the
   table shows the median ratio over the rounds with its spread (min-max). "openenv echo" is
   OpenEnv's own cost: its client and server over an environment that answers at once, so
   OpenEnv's step splits into the env API's step + OpenEnv's own + ours (the rest);
2. oracle success of each adapter (Gymnasium, SkyRL-gym, OpenEnv) on the first instance of every
   gym of the catalog (target 100%), ``--concurrency`` episodes at a time;
3. leak check, per adapter of ``--leak-adapters``: N short episodes (reset, one read, a random
   answer), ``--leak-per-env`` per new env (each episode opens and closes its MCP session, each env
   its loop and HTTP client; SkyRL makes an env per episode); then the catalog server's live
   sessions (``GET /health``) and the open fds, threads, RSS and child processes of this process
   and of both servers, after a warm-up of 50 episodes (start) and after the N (end).

The catalog server and both OpenEnv servers run as child processes, as they are deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio

from codegym_mcp.runtime import Catalog, Gym, default_catalog_dir
from codegym_mcp.servers import CodeGymEnv, ToolCall, catalog_task_url
from codegym_mcp.servers.trainers._bridge import open_sessions
from codegym_mcp.servers.trainers.local import stop_process

REPO = Path(__file__).resolve().parent.parent
Player = Callable[[str, Gym], tuple[float, list[float]]]
Episodes = Callable[[str, Gym, int, int], None]


@contextmanager
def _catalog_server(catalog: Path) -> Iterator[str]:
    from codegym_mcp.servers.trainers.local import catalog_server_process

    with catalog_server_process(catalog, startup_timeout=300.0) as url:
        yield url


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _child_server(args: Sequence[str], *, timeout: float = 600.0) -> Iterator[str]:
    """``python -m ARGS --port P`` as a child process; yields its URL once ``GET /health`` answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port)], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while _health(url) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(args)} did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


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
    except OSError:  # not listening yet
        return None


def echo_player(echo_url: str) -> Player:
    """OpenEnv's own step: the same calls through OpenEnv to an environment that answers at once."""
    play = openenv_player(echo_url)

    def run(url: str, gym: Gym) -> tuple[float, list[float]]:
        return 0.0, play(url, gym)[1]

    return run


# ---------------------------------------------------------------------- leak check


def _status(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _children(pid: int | str) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text(encoding="utf-8").split()]
    return kids


def _child(*marks: bytes) -> int | None:
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
    """fds, threads, RSS and child processes of this process (the client) and of its two servers."""
    return {
        "client": _process("self"),
        "catalog_server": _process(_child(b"codegym_mcp.servers", b"--all")),
        "openenv_server": _process(_child(b"codegym_mcp.servers.trainers.openenv_env")),
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
    url: str, gym: Gym, play: Episodes, episodes: int, *, per_env: int, seconds: float, warmup: int = 50
) -> dict[str, Any]:
    """``warmup`` + ``episodes`` short episodes, ``per_env`` per new env, stopping early after
    ``seconds``; what is left at the start and at the end (and every 100 episodes, printed)."""
    play(url, gym, 0, warmup)
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
    health = _health(url)
    return {
        "episodes": played,
        "episodes_asked": episodes,
        "episodes_per_env": per_env,
        "seconds": round(wall, 1),
        "server_sessions_after": None if health is None else health.get("sessions"),
        "open_adapter_sessions_after": open_sessions(),
        "start": start,
        "end": _snapshot(),
    }


# ---------------------------------------------------------------------- oracle sweep and timing


def _sweep(play: Player, url: str, gyms: list[Gym], concurrency: int) -> list[str]:
    """The task ids whose first instance the oracle solves through ``play`` (``concurrency`` at a time)."""

    def one(gym: Gym) -> str | None:
        try:
            return gym.task_id if play(url, gym)[0] == 1.0 else None
        except Exception as exc:  # an adapter failure is a miss, reported with its cause
            print(f"  {gym.task_id}: {type(exc).__name__}: {exc}", flush=True)
            return None

    solved: list[str] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done, task_id in enumerate(pool.map(one, gyms), 1):
            solved += [task_id] if task_id is not None else []
            if done % 10 == 0:
                print(f"  [sweep] {len(solved)}/{done} solved", flush=True)
    return solved


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_now() -> dict[str, float]:
    """CPU seconds so far of this process (the client) and of the adapter servers it started."""
    return {
        "client": time.process_time(),
        "openenv server": _cpu_seconds(_child(b"codegym_mcp.servers.trainers.openenv_env")),
        "echo server": _cpu_seconds(_child(b"benchmarks._openenv_echo")),
    }


def timing(players: dict[str, Player], url: str, timed: list[Gym], rounds: int) -> dict[str, dict[str, Any]]:
    """Per path: steps, median step, its ratio to the env API's median step per round (see 1.), and
    the CPU per step of the client and of the OpenEnv servers (episode set-up included)."""
    names = list(players)
    steps: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, dict[str, float]] = {name: dict.fromkeys(_cpu_now(), 0.0) for name in names}
    started = time.perf_counter()
    for r in range(rounds):
        this: dict[str, list[float]] = {name: [] for name in names}
        for g, gym in enumerate(timed):  # interleaved: every path plays the same gym back to back
            turn = (r * len(timed) + g) % len(names)
            for name in names[turn:] + names[:turn]:
                before = _cpu_now()
                this[name].extend(players[name](url, gym)[1])
                for part, seconds in _cpu_now().items():
                    cpu[name][part] += seconds - before[part]
        base = statistics.median(this["env API"])
        for name in names:
            steps[name] += this[name]
            ratios[name].append(statistics.median(this[name]) / base)
        line = " ".join(f"{n}={ratios[n][-1]:.3f}" for n in names[1:])
        print(f"[timing round {r + 1}/{rounds}, {time.perf_counter() - started:.0f}s] {line}", flush=True)
    return {
        name: {
            "steps": len(steps[name]),
            "median_step_ms": round(statistics.median(steps[name]) * 1000, 3),
            "vs_env_api": round(statistics.median(ratios[name]), 3),
            "vs_env_api_min": round(min(ratios[name]), 3),
            "vs_env_api_max": round(max(ratios[name]), 3),
            "vs_env_api_rounds": [round(x, 3) for x in ratios[name]],
            "cpu_ms_per_step": {k: round(v * 1000 / len(steps[name]), 3) for k, v in cpu[name].items()},
        }
        for name in names
    }


def _write(out: Path, report: dict[str, Any]) -> None:
    load = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "load_average_at_end": load}, indent=2), encoding="utf-8")


def _print_timing(results: dict[str, dict[str, Any]]) -> None:
    print(f"{'path':<13} {'steps':>6} {'median step':>12} {'vs env API (median, min-max over rounds)':>42}")
    for name, r in results.items():
        spread = f"{r['vs_env_api']:.3f}x ({r['vs_env_api_min']:.3f}-{r['vs_env_api_max']:.3f})"
        print(f"{name:<13} {r['steps']:>6} {r['median_step_ms']:>9.3f} ms {spread:>42}")
    if "openenv" in results and "openenv echo" in results:
        env_api, total = results["env API"]["median_step_ms"], results["openenv"]["median_step_ms"]
        own = results["openenv echo"]["median_step_ms"]
        print(
            f"openenv step {total:.3f} ms = env API {env_api:.3f} + OpenEnv's own {own:.3f} "
            f"+ the rest {total - env_api - own:.3f} ms (wall, medians)"
        )
        print("CPU ms per step (client, OpenEnv server, echo server; episode set-up included):")
        for name, r in results.items():
            print(f"  {name:<13} " + " ".join(f"{k}={v:.3f}" for k, v in r["cpu_ms_per_step"].items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    demo = REPO / "demo-out" / "catalog"
    parser.add_argument("--catalog", type=Path, default=demo if demo.is_dir() else default_catalog_dir())
    parser.add_argument("--gyms", type=int, default=0, help="only the first N gyms (0: all)")
    parser.add_argument("--timing-gyms", type=int, default=10, help="gyms played for the per-step timing")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (the spread is over them)")
    parser.add_argument("--concurrency", type=int, default=4, help="episodes at a time in the oracle sweep")
    parser.add_argument("--sweep", default="gymnasium,skyrl,openenv", help="adapters to sweep ('' for none)")
    parser.add_argument("--leak-episodes", type=int, default=10_000)
    parser.add_argument(
        "--leak-adapters", default="gymnasium", help="comma-separated: gymnasium,skyrl,openenv"
    )
    parser.add_argument(
        "--leak-per-env", type=int, default=1, help="leak check: episodes per new env (SkyRL: always 1)"
    )
    parser.add_argument(
        "--leak-seconds", type=float, default=float("inf"), help="leak check: stop after this"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "trainers.json")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    catalog = Catalog(args.catalog)
    gyms = [catalog.load(t) for t in catalog.task_ids()]
    gyms = gyms[: args.gyms] if args.gyms else gyms
    report: dict[str, Any] = {"catalog": str(args.catalog), "gyms": len(gyms)}
    openenv_args = ["codegym_mcp.servers.trainers.openenv_env", "--max-sessions", "64"]
    timed = bool(args.timing_gyms and args.rounds)
    openenv = timed or "openenv" in args.sweep.split(",") or "openenv" in args.leak_adapters.split(",")
    with ExitStack() as servers:
        url = servers.enter_context(_catalog_server(args.catalog))
        players: dict[str, Player] = {
            "env API": play_env_api,
            "gymnasium": play_gymnasium,
            "skyrl": play_skyrl,
        }
        if openenv:  # OpenEnv's servers only when a part needs them (they take long to start)
            openenv_url = servers.enter_context(_child_server([*openenv_args, "--catalog-url", url]))
            players["openenv"] = openenv_player(openenv_url)
        if timed:
            players["openenv echo"] = echo_player(
                servers.enter_context(_child_server(["benchmarks._openenv_echo"]))
            )
        if timed:
            report["timing"] = timing(players, url, gyms[: args.timing_gyms], args.rounds)
            report["timing_load_average"] = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
            _write(args.out, report)
            _print_timing(report["timing"])
        report["oracle"] = {}
        for name in [n for n in args.sweep.split(",") if n]:
            solved = _sweep(players[name], url, gyms, args.concurrency)
            unsolved = sorted({g.task_id for g in gyms} - set(solved))
            report["oracle"][name] = {"solved": len(solved), "of": len(gyms), "unsolved": unsolved}
            print(f"[oracle sweep] {name}: {len(solved)}/{len(gyms)} unsolved={unsolved}", flush=True)
            _write(args.out, report)
        episodes: dict[str, Episodes] = {
            "gymnasium": leak_gymnasium,
            "skyrl": leak_skyrl,
        }
        if openenv:
            episodes["openenv"] = openenv_leak(openenv_url)
        report["leak"] = {}
        for name in [n for n in args.leak_adapters.split(",") if n] if args.leak_episodes else []:
            report["leak"][name] = leak_check(
                url,
                gyms[0],
                episodes[name],
                args.leak_episodes,
                per_env=args.leak_per_env,
                seconds=args.leak_seconds,
            )
            print(f"[leak] {name}: {json.dumps(report['leak'][name])}", flush=True)
            _write(args.out, report)
    _write(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
