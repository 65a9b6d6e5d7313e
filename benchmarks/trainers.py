"""The trainer adapters, measured: oracle success, overhead per step, nothing left after many episodes.

``.venv/bin/python -m benchmarks.trainers [--catalog DIR] [--leak-episodes 10000]`` writes
``bench-out/trainers.json`` and prints tables:

1. time per step of each adapter against the env API's own step (target <= 1.2x): every path
   plays the same episodes (the oracle on the first instance of the first ``--timing-gyms`` gyms)
   one at a time, interleaved gym by gym, for ``--rounds`` rounds (the order of the paths rotates
   each round); each round gives each path's median step over the env API's median step, and the
   table shows the median ratio over the rounds with its spread (min-max). "env API memory" is the
   env API over the MCP SDK's in-memory transport (gym server and a sandbox worker in this process),
   the transport of OpenEnv's direct mode: the direct mode is also shown over it. OpenEnv is measured in
   both modes: "openenv" (direct: the OpenEnv server serves the catalog directory itself) and
   "openenv-relay" (the OpenEnv server relays each step to the catalog server). "openenv echo" is
   OpenEnv's own cost: its client and server over an environment that answers at once, so
   OpenEnv's step splits into the env API's step + OpenEnv's own + ours (the rest);
2. oracle success of each adapter of ``--sweep`` (gymnasium, skyrl, openenv, openenv-relay) on the
   first instance of every gym of the catalog (target 100%), ``--concurrency`` episodes at a time;
3. leak check, per adapter of ``--leak-adapters`` (see :mod:`benchmarks._trainer_leak`).

The catalog server and the OpenEnv servers run as child processes, as they are deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks._trainer_leak import (
    OPENENV,
    Episodes,
    child,
    leak_check,
    leak_gymnasium,
    leak_skyrl,
    openenv_leak,
)
from benchmarks._trainer_paths import (
    REPO,
    Player,
    catalog_server,
    child_server,
    echo_player,
    openenv_player,
    play_env_api,
    play_env_api_memory,
    play_gymnasium,
    play_skyrl,
)
from codegym_mcp.runtime import Catalog, Gym, default_catalog_dir

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
    """CPU seconds so far of this process (the client) and of the servers it started (sandbox
    workers not included: they are children of the catalog server or of the direct OpenEnv server)."""
    return {
        "client": time.process_time(),
        "catalog server": _cpu_seconds(child(b"codegym_mcp.servers", b"--all")),
        "openenv server": _cpu_seconds(child(OPENENV, b"--catalog")),
        "openenv relay server": _cpu_seconds(child(OPENENV, b"--catalog-url")),
        "echo server": _cpu_seconds(child(b"benchmarks._openenv_echo")),
    }


MEMORY = "env API memory"
"""The env API over the in-memory transport: the baseline of OpenEnv's direct mode without OpenEnv."""


def timing(players: dict[str, Player], url: str, timed: list[Gym], rounds: int) -> dict[str, dict[str, Any]]:
    """Per path: steps, episodes scored 1, median step, its ratio to the env API's median step per
    round (see 1.), and the CPU per step of each process (episode set-up included)."""
    names = list(players)
    steps: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    same_transport: dict[str, list[float]] = {name: [] for name in names}  # over "env API memory"
    cpu: dict[str, dict[str, float]] = {name: dict.fromkeys(_cpu_now(), 0.0) for name in names}
    solved = dict.fromkeys(names, 0)  # episodes the oracle scored 1 (the echo scores none)
    started = time.perf_counter()
    for r in range(rounds):
        this: dict[str, list[float]] = {name: [] for name in names}
        for g, gym in enumerate(timed):  # interleaved: every path plays the same gym back to back
            turn = (r * len(timed) + g) % len(names)
            for name in names[turn:] + names[:turn]:
                before = _cpu_now()
                reward, times = players[name](url, gym)
                this[name].extend(times)
                solved[name] += reward == 1.0
                for part, seconds in _cpu_now().items():
                    cpu[name][part] += seconds - before[part]
        base = statistics.median(this["env API"])
        for name in names:
            steps[name] += this[name]
            ratios[name].append(statistics.median(this[name]) / base)
            if this.get(MEMORY):
                same_transport[name].append(statistics.median(this[name]) / statistics.median(this[MEMORY]))
        line = " ".join(f"{n}={ratios[n][-1]:.3f}" for n in names[1:])
        print(f"[timing round {r + 1}/{rounds}, {time.perf_counter() - started:.0f}s] {line}", flush=True)
    return {
        name: {
            "steps": len(steps[name]),
            "episodes_scored_1": solved[name],
            "episodes": rounds * len(timed),
            "median_step_ms": round(statistics.median(steps[name]) * 1000, 3),
            "vs_env_api": round(statistics.median(ratios[name]), 3),
            "vs_env_api_min": round(min(ratios[name]), 3),
            "vs_env_api_max": round(max(ratios[name]), 3),
            "vs_env_api_rounds": [round(x, 3) for x in ratios[name]],
            "vs_env_api_memory_rounds": [round(x, 3) for x in same_transport[name]],
            "cpu_ms_per_step": {k: round(v * 1000 / len(steps[name]), 3) for k, v in cpu[name].items()},
        }
        for name in names
    }


def _write(out: Path, report: dict[str, Any]) -> None:
    load = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**report, "load_average_at_end": load}, indent=2), encoding="utf-8")


def _print_timing(results: dict[str, dict[str, Any]]) -> None:
    head = f"{'path':<13} {'steps':>6} {'scored 1':>9} {'median step':>12}"
    print(f"{head} {'vs env API (median, min-max over rounds)':>42}")
    for name, r in results.items():
        spread = f"{r['vs_env_api']:.3f}x ({r['vs_env_api_min']:.3f}-{r['vs_env_api_max']:.3f})"
        scored = f"{r['episodes_scored_1']}/{r['episodes']}"
        print(f"{name:<13} {r['steps']:>6} {scored:>9} {r['median_step_ms']:>9.3f} ms {spread:>42}")
    if "openenv" in results and MEMORY in results:
        over = results["openenv"]["vs_env_api_memory_rounds"]
        print(
            f"openenv (direct) over {MEMORY} (the same in-memory transport, without OpenEnv): "
            f"{statistics.median(over):.3f}x ({min(over):.3f}-{max(over):.3f})"
        )
    for mode in [m for m in ("openenv", "openenv-relay") if m in results and "openenv echo" in results]:
        env_api, total = results["env API"]["median_step_ms"], results[mode]["median_step_ms"]
        own = results["openenv echo"]["median_step_ms"]
        print(
            f"{mode} step {total:.3f} ms = env API {env_api:.3f} + OpenEnv's own {own:.3f} "
            f"+ the rest {total - env_api - own:.3f} ms (wall, medians)"
        )
    print("CPU ms per step of each process (episode set-up included):")
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
    parser.add_argument(
        "--sweep", default="gymnasium,skyrl,openenv", help="adapters to sweep (+ openenv-relay; '' for none)"
    )
    parser.add_argument("--leak-episodes", type=int, default=10_000)
    parser.add_argument(
        "--leak-adapters", default="gymnasium", help="comma-separated: gymnasium,skyrl,openenv,openenv-relay"
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
    wanted = {*args.sweep.split(","), *args.leak_adapters.split(",")}
    with ExitStack() as servers:
        url = servers.enter_context(catalog_server(args.catalog))
        players: dict[str, Player] = {
            "env API": play_env_api,
            MEMORY: play_env_api_memory,
            "gymnasium": play_gymnasium,
            "skyrl": play_skyrl,
        }
        # OpenEnv's servers only when a part needs them (they take long to start)
        openenv_urls: dict[str, str] = {}
        if timed or "openenv" in wanted:
            direct = [*openenv_args, "--catalog", str(args.catalog)]
            openenv_urls["openenv"] = servers.enter_context(child_server(direct))
        if timed or "openenv-relay" in wanted:
            relay = [*openenv_args, "--catalog-url", url]
            openenv_urls["openenv-relay"] = servers.enter_context(child_server(relay))
        players |= {name: openenv_player(openenv_url) for name, openenv_url in openenv_urls.items()}
        if timed:
            players["openenv echo"] = echo_player(
                servers.enter_context(child_server(["benchmarks._openenv_echo"]))
            )
            report["timing"] = timing(players, url, gyms[: args.timing_gyms], args.rounds)
            report["timing_load_average"] = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
            _write(args.out, report)
            _print_timing(report["timing"])
        report["oracle"] = {}
        for name in [n for n in args.sweep.split(",") if n]:
            started = time.perf_counter()
            solved = _sweep(players[name], url, gyms, args.concurrency)
            unsolved = sorted({g.task_id for g in gyms} - set(solved))
            seconds = round(time.perf_counter() - started, 1)
            report["oracle"][name] = {
                "solved": len(solved),
                "of": len(gyms),
                "unsolved": unsolved,
                "seconds": seconds,
            }
            print(f"[oracle sweep] {name}: {len(solved)}/{len(gyms)} unsolved={unsolved}", flush=True)
            _write(args.out, report)
        episodes: dict[str, Episodes] = {
            "gymnasium": leak_gymnasium,
            "skyrl": leak_skyrl,
        }
        episodes |= {name: openenv_leak(openenv_url) for name, openenv_url in openenv_urls.items()}
        report["leak"] = {}
        for name in [n for n in args.leak_adapters.split(",") if n] if args.leak_episodes else []:
            report["leak"][name] = leak_check(
                url,
                gyms[0],
                episodes[name],
                args.leak_episodes,
                per_env=args.leak_per_env,
                seconds=args.leak_seconds,
                openenv_url=openenv_urls.get(name),
            )
            print(f"[leak] {name}: {json.dumps(report['leak'][name])}", flush=True)
            _write(args.out, report)
    _write(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
