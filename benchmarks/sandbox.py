"""Sandbox overhead, in one run: ``.venv/bin/python -m benchmarks.sandbox [--warm N] [--cold N]``.

Measures, as median and p95:

- in-process call: the same function called directly in the host (the lower bound),
- plain-subprocess pipe round trip: a JSON line to a trivial echo process and back (the floor
  for any out-of-process call),
- warm worker round trip, unjailed (``isolation="none"``) and jailed (``isolation="nsjail"``):
  ``Worker.call`` of a two-argument function (JSON encode, pipe, decode, call, encode, pipe),
  and jailed with wire-tagged arguments (two tuples: the codec's decode path in the worker);
  the floor and these rows alternate in ``--rounds`` blocks, so a burst of noise hits all alike,
- warm pool round trip (``WorkerPool.call`` from one anyio task, thread hop included) and pool
  throughput with concurrent callers,
- cold plain process start (``python3 -I -S -c pass``), cold jailed start (nsjail + the same),
  and a jailed worker start (nsjail + python + the first reply).

Prints a markdown table and writes ``bench-out/sandbox.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio

from codegym_mcp.runtime import SandboxConfig, Worker, WorkerPool
from codegym_mcp.runtime._nsjail import prepare_jail

PYTHON = "/usr/bin/python3"
SOURCE = "def add(a, b):\n    return a + b\n"
ECHO = (
    "import os, sys\nr = sys.stdin.buffer\nfd = sys.stdout.fileno()\nfor line in r:\n    os.write(fd, line)\n"
)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {"n": len(samples), "median_us": statistics.median(ordered) * 1e6, "p95_us": p95 * 1e6}


def _time_each(fn: Callable[[], object], n: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_in_process(n: int) -> list[float]:
    ns: dict[str, Any] = {}
    exec(compile(SOURCE, "<bench>", "exec"), ns)
    add = ns["add"]
    return _time_each(lambda: add(1, 2), n)


@contextlib.contextmanager
def pipe_floor() -> Iterator[Callable[[], object]]:
    """The floor: one call = a JSON line to a trivial echo process and back, json on the host."""
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    assert proc.stdin is not None and proc.stdout is not None
    wfd, rfd = proc.stdin.fileno(), proc.stdout.fileno()
    msg = {"op": "call", "module": "m", "function": "add", "args": [1, 2], "kwargs": {}}

    def one() -> None:
        os.write(wfd, (json.dumps(msg) + "\n").encode("utf-8"))
        buf = b""
        while not buf.endswith(b"\n"):
            buf += os.read(rfd, 65536)
        json.loads(buf)

    try:
        yield one
    finally:
        proc.stdin.close()
        proc.wait(timeout=5)
        proc.stdout.close()


@contextlib.contextmanager
def warm_worker(isolation: str, args: list[Any] | None = None) -> Iterator[Callable[[], object]]:
    """One call = ``Worker.call`` of ``add`` in a started worker (``args`` default ``[1, 2]``)."""
    call_args = [1, 2] if args is None else args
    with Worker(SandboxConfig(isolation=isolation)) as w:  # type: ignore[arg-type]
        w.load("m", SOURCE)
        yield lambda: w.call("m", "add", args=call_args)


def bench_pipe_floor(n: int) -> list[float]:
    with pipe_floor() as one:
        return _time_each(one, n)


def bench_worker(isolation: str, n: int, args: list[Any] | None = None) -> list[float]:
    with warm_worker(isolation, args) as one:
        return _time_each(one, n)


def bench_interleaved(fns: dict[str, Callable[[], object]], n: int, rounds: int) -> dict[str, list[float]]:
    """``n`` timed calls of each function, taken in ``rounds`` alternating blocks.

    The machine's noise comes in bursts (a busy neighbour, a slow wake-up phase) that last
    longer than one block: alternating spreads a burst over every row alike instead of
    landing on one of them, so the ratios between rows hold.
    """
    for fn in fns.values():
        for _ in range(20):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    per = max(1, n // max(1, rounds))
    while any(len(v) < n for v in samples.values()):
        for name, fn in fns.items():
            out = samples[name]
            for _ in range(min(per, n - len(out))):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
    return samples


def bench_pool(isolation: str, n: int, size: int, concurrent: int) -> tuple[list[float], float]:
    samples: list[float] = []
    rate = 0.0

    async def main() -> None:
        nonlocal rate
        async with WorkerPool(SandboxConfig(isolation=isolation), size=size) as pool:  # type: ignore[arg-type]
            for _ in range(20):
                await pool.call(source=SOURCE, function="add", args=[1, 2])
            for _ in range(n):
                t0 = time.perf_counter()
                await pool.call(source=SOURCE, function="add", args=[1, 2])
                samples.append(time.perf_counter() - t0)

            async def caller(k: int) -> None:
                for _ in range(k):
                    await pool.call(source=SOURCE, function="add", args=[1, 2])

            total = concurrent * 100
            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(concurrent):
                    tg.start_soon(caller, 100)
            rate = total / (time.perf_counter() - t0)

    anyio.run(main)
    return samples, rate


def bench_cold(argv_prefix: list[str], n: int) -> list[float]:
    argv = [*argv_prefix, PYTHON, "-I", "-S", "-c", "pass"]

    def one() -> None:
        subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=True, env={})

    return _time_each(one, n, warmup=3)


def bench_worker_start(n: int) -> tuple[list[float], list[float]]:
    """Jailed worker: start to the first reply, and close (SIGTERM to nsjail, wait), per worker."""
    cfg = SandboxConfig(isolation="nsjail")
    starts: list[float] = []
    closes: list[float] = []
    for i in range(n + 3):
        w = Worker(cfg)
        t0 = time.perf_counter()
        w.start()
        t1 = time.perf_counter()
        w.close()
        t2 = time.perf_counter()
        if i >= 3:
            starts.append(t1 - t0)
            closes.append(t2 - t1)
    return starts, closes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=2000, help="calls per warm measurement (>= 200)")
    parser.add_argument("--cold", type=int, default=200, help="process starts per cold measurement (>= 200)")
    parser.add_argument(
        "--rounds", type=int, default=10, help="the warm round trips alternate in this many blocks"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/sandbox.json"))
    args = parser.parse_args(argv)

    jail = prepare_jail(SandboxConfig(isolation="nsjail"))
    rows: dict[str, dict[str, float]] = {}
    rows["in-process call"] = _stats(bench_in_process(args.warm))
    # wire-tagged values ($tuple) take the codec's decode path in the worker; plain JSON skips it
    tagged = [{"$tuple": [1, 2]}, {"$tuple": [3]}]
    with contextlib.ExitStack() as stack:
        warm_samples = bench_interleaved(
            {
                "plain-subprocess pipe round trip (floor)": stack.enter_context(pipe_floor()),
                "warm worker round trip, no isolation": stack.enter_context(warm_worker("none")),
                "warm jailed worker round trip (nsjail)": stack.enter_context(warm_worker("nsjail")),
                "warm jailed worker round trip, tagged args (two tuples)": stack.enter_context(
                    warm_worker("nsjail", tagged)
                ),
            },
            args.warm,
            args.rounds,
        )
    for name, samples in warm_samples.items():
        rows[name] = _stats(samples)
    pool_samples, pool_rate = bench_pool("nsjail", args.warm, size=4, concurrent=16)
    rows["warm jailed pool.call round trip (anyio, 1 caller)"] = _stats(pool_samples)
    rows["cold plain process start (python3 -I -S -c pass)"] = _stats(bench_cold([], args.cold))
    rows["cold jailed process start (nsjail + python3 -c pass)"] = _stats(bench_cold(jail.argv, args.cold))
    starts, closes = bench_worker_start(args.cold)
    rows["jailed worker start (nsjail + python + first reply)"] = _stats(starts)
    rows["jailed worker close (SIGTERM, nsjail exits, cgroups removed)"] = _stats(closes)

    floor = rows["plain-subprocess pipe round trip (floor)"]["median_us"]
    warm = rows["warm jailed worker round trip (nsjail)"]["median_us"]
    cold = rows["cold jailed process start (nsjail + python3 -c pass)"]["median_us"]
    for row in rows.values():
        row["x_floor"] = row["median_us"] / floor
    ratios = {
        "warm_jailed_over_floor": warm / floor,
        "warm_jailed_over_unjailed": warm / rows["warm worker round trip, no isolation"]["median_us"],
        "cold_jailed_over_warm_jailed": cold / warm,
        "cold_jailed_over_cold_plain": cold
        / rows["cold plain process start (python3 -I -S -c pass)"]["median_us"],
    }
    targets = {
        # against a bare echo process (no JSON work on the far side, no function call)
        "warm_jailed_within_1.5x_bare_pipe_floor": ratios["warm_jailed_over_floor"] <= 1.5,
        # against the same worker protocol over plain pipes, without the jail
        "warm_jailed_within_1.5x_unjailed_same_protocol": ratios["warm_jailed_over_unjailed"] <= 1.5,
        "warm_jailed_median_under_1ms": warm < 1000.0,
    }

    print("| what | n | median | p95 | x floor |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['n']:.0f} | {_fmt(row['median_us'])} | {_fmt(row['p95_us'])} | {row['x_floor']:.2f} |"
        )
    print(
        f"| jailed pool throughput (4 workers, 16 concurrent callers) | {16 * 100} | {pool_rate:,.0f} calls/s | | |"
    )
    print()
    for name, value in ratios.items():
        print(f"- {name}: {value:.2f}")
    for name, ok in targets.items():
        print(f"- target {name}: {'met' if ok else 'NOT met'}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "rows": rows,
        "pool_throughput_calls_per_s": pool_rate,
        "ratios": ratios,
        "targets": targets,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


def _fmt(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"


if __name__ == "__main__":
    raise SystemExit(main())
