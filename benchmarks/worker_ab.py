"""Two versions of ``Worker`` in one run: ``python -m benchmarks.worker_ab --before FILE``.

``FILE`` is another version of ``runtime/_worker.py`` (for example ``git show
main:runtime/_worker.py > /tmp/worker_before.py``). Both versions drive the SAME worker
process (the older one is handed the newer one's process and pipes), so only the host-side
code differs between their rows; the plain-pipe floor (see ``benchmarks.sandbox``) runs beside
them. Rows: ``call``, ``acall`` and ``WorkerPool.call`` (4 workers whose class is switched between
the versions before each block) of a two-argument function, each version, timed in many short
blocks whose order flips every round, so the machine's bursts of noise hit every row alike.
Prints a markdown table (median, p95, ratio to the floor).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from benchmarks.sandbox import SOURCE, pipe_floor
from codegym_mcp.runtime import SandboxConfig, Worker, WorkerPool


def _load_worker_class(path: Path) -> Any:
    name = "codegym_mcp.runtime._worker_before"  # a sibling of _worker: its relative imports resolve
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path} as a module; pass a copy of runtime/_worker.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.Worker


async def _measure(before_cls: Any, isolation: str, n: int, rounds: int) -> dict[str, list[float]]:
    cfg = SandboxConfig(isolation=isolation)  # type: ignore[arg-type]
    async with contextlib.AsyncExitStack() as stack:
        floor = stack.enter_context(pipe_floor())
        after = stack.enter_context(Worker(cfg))
        after.load("m", SOURCE)
        pool = await stack.enter_async_context(WorkerPool(cfg, size=4))
        before = before_cls(cfg)
        before._proc, before._poller, before._jail = after._proc, after._poller, after._jail
        before._buf, before._sources = after._buf, after._sources
        try:
            sync_rows: dict[str, Callable[[], object]] = {
                "floor (plain pipe)": floor,
                "before: call": lambda: before.call("m", "add", args=[1, 2]),
                "after: call": lambda: after.call("m", "add", args=[1, 2]),
            }
            async_rows: dict[str, Callable[[], Awaitable[object]]] = {
                "before: acall": lambda: before.acall("m", "add", args=[1, 2]),
                "after: acall": lambda: after.acall("m", "add", args=[1, 2]),
                "before: pool.call": lambda: pool.call(source=SOURCE, function="add", args=[1, 2]),
                "after: pool.call": lambda: pool.call(source=SOURCE, function="add", args=[1, 2]),
            }
            names = [*sync_rows, *async_rows]
            samples: dict[str, list[float]] = {name: [] for name in names}
            per = max(1, n // rounds)
            for r in range(rounds + 1):  # round 0 warms up and is dropped
                for name in names if r % 2 else names[::-1]:
                    for w in pool._workers:  # the same processes, the host code of one version
                        w.__class__ = before_cls if name.startswith("before") else Worker
                    for _ in range(per):
                        t0 = time.perf_counter()
                        if name in sync_rows:
                            sync_rows[name]()
                        else:
                            await async_rows[name]()
                        if r:
                            samples[name].append(time.perf_counter() - t0)
        finally:
            before._proc = None  # the process is the newer worker's: it closes it
            for w in pool._workers:
                w.__class__ = Worker
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.worker_ab", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--before", type=Path, required=True, help="another version of runtime/_worker.py")
    parser.add_argument("--isolation", choices=["nsjail", "none"], default="nsjail")
    parser.add_argument("--n", type=int, default=10000, help="timed calls per row")
    parser.add_argument("--rounds", type=int, default=500, help="blocks per row (order flips each round)")
    args = parser.parse_args(argv)
    samples = anyio.run(_measure, _load_worker_class(args.before), args.isolation, args.n, args.rounds)
    floor = statistics.median(samples["floor (plain pipe)"])
    print(f"isolation={args.isolation}, {args.n} calls per row in {args.rounds} alternating blocks")
    print("| row | median | p95 | x floor |\n|---|---:|---:|---:|")
    for name, values in samples.items():
        values.sort()
        median = statistics.median(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"| {name} | {median * 1e6:.1f} us | {p95 * 1e6:.1f} us | {median / floor:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
