"""The Ray front's upstream pools, A/B: ``python -m benchmarks.front_pools`` (bench-out/front_pools.json).

Two plain ``serve --all`` replicas (the fixture catalog, sandbox on, ``--workers 2`` each, no Ray:
the front is the thing measured) and, one after the other in this run, a front process with 1
upstream connection pool (the front before this change) and with :data:`POOLS` pools. Each
front carries N oracle sessions of the light JSON-RPC client (all opened and held at once, then
played; ``benchmarks/ray_scale.py``'s run). Reported per front: the front process's CPU seconds
(``/proc/PID/stat``) per 1,000 proxied requests, wall seconds, episodes scored 1; and the ratio.

``--sessions N`` (default 1024), ``--pools K...`` (default 1 and the front's default).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio

from codegym_mcp.servers.mcp._catalog_server import base_url, bind_socket
from codegym_mcp.servers.mcp._front import POOLS, Front, Replica, serve_front

from ._server_probe import cpu_seconds, server
from .ray_scale import FIXTURE_CATALOG, OUT, light_held_sessions


@contextmanager
def front_process(urls: list[str], pools: int) -> Iterator[tuple[str, int]]:
    """This module's ``--serve-front`` in its own process; yields (base URL, pid)."""
    argv = [sys.executable, "-m", "benchmarks.front_pools", "--pools", str(pools), "--serve-front", *urls]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, encoding="utf-8")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the front did not start (pools={pools})")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


async def _serve_front(urls: list[str], pools: int) -> None:
    front = Front([Replica(key=f"r{i}", url=url) for i, url in enumerate(urls)], pools=pools)
    sock = bind_socket("127.0.0.1", 0)
    sock.listen(4096)
    print(base_url(sock), flush=True)
    await serve_front(front.app(), sock)


def one_front(urls: list[str], pools: int, sessions: int, record: Path) -> dict[str, Any]:
    with front_process(urls, pools) as (url, pid):
        before = cpu_seconds(pid)
        played = anyio.run(light_held_sessions, url, FIXTURE_CATALOG, sessions, record)
        cpu = cpu_seconds(pid) - before
    # each session: initialize, notifications/initialized, its calls, DELETE (+ the front's health reads)
    requests = played["tool_calls"] + 3 * played["sessions_open_at_once"]
    return {
        "pools": pools,
        "sessions": sessions,
        "scored_1": played["scored_1"],
        "episode_errors": played["episode_errors"],
        "front_peak_sessions": played["front_peak_sessions"],
        "proxied_requests": requests,
        "front_cpu_seconds": round(cpu, 2),
        "front_cpu_ms_per_request": round(1000 * cpu / max(1, requests), 3),
        "wall_seconds": played["wall_seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=1024)
    parser.add_argument("--pools", type=int, nargs="+", default=[1, POOLS])
    parser.add_argument("--serve-front", nargs="+", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_front:  # the front process of one_front
        anyio.run(_serve_front, args.serve_front, args.pools[0])
        return 0
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="front_pools_") as tmp, ExitStack() as stack:
        record = Path(tmp) / "episodes.jsonl"
        urls = [
            stack.enter_context(
                server(FIXTURE_CATALOG, record.with_suffix(f".r{i}.jsonl"), workers=2, extra=[], key=f"k{i}")
            )[0]
            for i in range(2)
        ]
        for pools in args.pools:
            runs.append(one_front(urls, pools, args.sessions, record))
            print(json.dumps(runs[-1]), flush=True)
    out: dict[str, Any] = {"cpus": os.cpu_count(), "runs": runs}
    if len(runs) >= 2:
        first, last = runs[0], runs[-1]
        out["cpu_per_request_ratio_last_to_first"] = round(
            last["front_cpu_ms_per_request"] / max(1e-9, first["front_cpu_ms_per_request"]), 3
        )
        out["wall_ratio_last_to_first"] = round(last["wall_seconds"] / max(1e-9, first["wall_seconds"]), 3)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "front_pools.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
