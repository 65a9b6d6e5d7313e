"""Ray scale-out: ``python -m benchmarks.ray_scale`` (or ``make bench-ray``), to bench-out/ray.json.

1. generate: HumanEval with the local process pool (``--workers 2``) and on a local 2-CPU Ray
   cluster (``--ray --workers 2``), each a fresh catalog, one after the other in this run; the
   wall time of each command, their ratio (target <= 1.5) and whether the catalogs are
   byte-identical (report.json's ``seconds`` aside).
2. sessions: ``serve --all --ray --replicas R`` (sandbox on, ``--workers 2`` and
   ``--idle-timeout 3600`` per replica) on a catalog (``--catalog``, else the Ray-generated
   HumanEval one, else the fixture catalog) and N oracle episodes whose sessions are all held
   open at once (they open 64 at a time and wait until all N are open; the front's ``/health``
   is read then), then play: peak sessions reported by the front's ``/health``, episodes scored
   1, records the replicas wrote (lost = N - submitted records), whether every episode the
   client saw scored 1 has its record scored 1, the replicas' memory at the peak. The client is
   ``--client light`` (default: benchmarks/_jsonrpc_client.py, plain JSON-RPC over one pooled
   HTTP client, 256 requests in flight at most) or ``--client sdk`` (``CodeGymEnv``, one SDK
   ``mcp.Client`` per session, each holding its own GET event stream through the front).

``--only generate|sessions``, ``--sessions N`` (default 4096), ``--replicas R`` (default 2).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

from codegym_mcp.runtime import Catalog, episode_count
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers import CodeGymEnv, ServerFailure, catalog_task_url
from codegym_mcp.servers.rollout._connectors import shared_http_client
from codegym_mcp.servers.rollout._policies import OraclePolicy
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, plan_episodes, run_rollouts

from ._jsonrpc_client import LightEpisode, ProtocolFailure, open_session

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
CLI = [sys.executable, "-m", "codegym_mcp.servers"]
FIXTURE_CATALOG = REPO / "tests" / "fixtures" / "catalog"
_IN_FLIGHT = 256
"""Requests the light client keeps in flight at most (its connection pool's size)."""


def _files(catalog: Path) -> dict[str, bytes]:
    files = {str(p.relative_to(catalog)): p.read_bytes() for p in sorted(catalog.rglob("*")) if p.is_file()}
    files["report.json"] = re.sub(rb'\n  "seconds": [0-9.e+-]+,?', b"", files.get("report.json", b""))
    return files


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench_generate(work: Path) -> dict[str, Any]:
    """HumanEval, local pool vs local Ray cluster, 2 workers each."""
    base = [*CLI, "generate", "--dataset", "humaneval", "--workers", "2", "--no-resume"]
    local = _timed([*base, "--out", str(work / "local")])
    on_ray = _timed([*base, "--out", str(work / "ray"), "--ray"])
    local_files, ray_files = _files(work / "local"), _files(work / "ray")
    report = json.loads((work / "ray" / "report.json").read_text(encoding="utf-8"))
    local_report = json.loads((work / "local" / "report.json").read_text(encoding="utf-8"))
    entries = [
        (a["task_id"], a == b)
        for key in ("gyms", "rejections")
        for a, b in zip(local_report[key], report[key], strict=False)
    ]
    return {
        "problems": report["problems_read"],
        "gyms": report["gyms_verified"],
        "local_seconds": round(local, 1),
        "ray_seconds": round(on_ray, 1),
        "ratio_ray_to_local": round(on_ray / local, 2),
        "target_ratio": 1.5,
        "byte_identical": local_files == ray_files,
        "gym_files_identical": {k: v for k, v in local_files.items() if k != "report.json"}
        == {k: v for k, v in ray_files.items() if k != "report.json"},
        # a reference call near its time limit under load may time out in one run only: the entry
        # of that problem then differs (its dropped-instance reasons), local vs local as well
        "report_entries_differing": [task for task, same in entries if not same],
    }


@contextmanager
def ray_front(catalog: Path, record: Path, replicas: int) -> Iterator[str]:
    """``serve --all --ray --replicas R`` on a local cluster; yields its base URL."""
    argv = [*CLI, "serve", "--all", "--catalog", str(catalog), "--ray", "--replicas", str(replicas)]
    # sessions opened first wait for the last to open, then for their turn: no idle reaping meanwhile
    argv += ["--port", "0", "--record", str(record), "--workers", "2", "--idle-timeout", "3600"]
    env = {**os.environ, "RAY_TMPDIR": os.environ.get("RAY_TMPDIR", tempfile.gettempdir())}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, encoding="utf-8", env=env)
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            found = re.search(r" on (http://\S+)/<task_id>/mcp over", line)
            if found:
                threading.Thread(target=lines.extend, args=(proc.stderr,), daemon=True).start()
                yield found.group(1)
                break
        else:
            raise RuntimeError(f"the front did not start: {''.join(lines)}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print("front's stderr (end):", "".join(lines[-10:]), file=sys.stderr, flush=True)


def _replica_rss_mb(record: Path) -> float:
    total = 0
    for proc in Path("/proc").iterdir():
        try:
            if str(record.parent).encode() not in (proc / "cmdline").read_bytes():
                continue
            status = (proc / "status").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return round(total / 1024, 1)


async def _watch_peak(url: str, record: Path, peak: dict[str, Any]) -> None:
    """Every half second: the front's session count, and the replicas' memory at its peak."""
    async with httpx2.AsyncClient() as probe:
        while True:
            try:
                health = (await probe.get(f"{url}/health", timeout=30)).json()
            except httpx2.HTTPError:  # the front is busy: the next look will do
                await anyio.sleep(0.5)
                continue
            if health["sessions"] > peak["sessions"]:
                peak["sessions"] = health["sessions"]
                peak["rss_mb"] = _replica_rss_mb(record)
            await anyio.sleep(0.5)


async def _held_sessions(url: str, catalog: Path, n: int, record: Path) -> dict[str, Any]:
    cat = Catalog(catalog)
    gyms = [(t, episode_count(cat.load(t))) for t in cat.task_ids()]
    specs = plan_episodes(gyms, episodes=n)
    connected = failed = 0
    everyone = anyio.Event()
    peak: dict[str, Any] = {"sessions": 0, "rss_mb": 0.0}
    async with shared_http_client(max_connections=n + 16) as http:
        opening = anyio.Semaphore(64)  # sessions open 64 at a time, then all stay open together

        async def connect(spec: EpisodeSpec) -> Any:
            nonlocal connected, failed
            try:
                async with opening:
                    env = await CodeGymEnv.connect(
                        catalog_task_url(url, spec.task_id, instance=spec.instance),
                        task_id=spec.task_id,
                        read_timeout=600.0,
                        connect_timeout=600.0,
                        http_client=http,
                    )
            except Exception as exc:  # counted as that episode's infra error, not a crash of the run
                failed += 1
                if connected + failed >= n:
                    everyone.set()
                raise ServerFailure(f"{type(exc).__name__}: {exc}", task_id=spec.task_id) from exc
            connected += 1
            if connected + failed >= n:
                everyone.set()
            await everyone.wait()
            return env

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_peak, url, record, peak)
            records, summary = await run_rollouts(
                specs, connect=connect, policy=OraclePolicy(cat), catalog=cat, concurrency=n
            )
            tg.cancel_scope.cancel()
    return {
        "sessions_requested": n,
        "sessions_open_at_once": connected,
        "sessions_failed_to_open": failed,
        "front_peak_sessions": peak["sessions"],
        "replicas_rss_mb_at_peak": peak["rss_mb"],
        "scored_1": sum(r.reward == 1 for r in records),
        "infra_errors": summary.infra_errors,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "episodes_per_second": round(n / (time.perf_counter() - started), 1),
    }


async def light_held_sessions(url: str, catalog: Path, n: int, record: Path) -> dict[str, Any]:
    """N sessions of the minimal JSON-RPC client (_jsonrpc_client.py): all opened (64 at a time)
    and held open at once, the front's ``/health`` read then, then every one replays its oracle
    trace and closes. Gyms with batched episodes are left out (their trace is not one instance's)."""
    cat = Catalog(catalog)
    gyms = {t: cat.load(t) for t in cat.task_ids()}
    specs = plan_episodes(
        [(t, episode_count(g)) for t, g in gyms.items() if g.manifest.batch_size == 1], episodes=n
    )
    everyone, opened, failures = anyio.Event(), [0], [0]
    peak: dict[str, Any] = {"sessions": 0, "rss_mb": 0.0}
    held: dict[str, Any] = {}
    episodes: list[LightEpisode] = []
    inflight = anyio.Semaphore(_IN_FLIGHT)  # FIFO: every open session gets its turn, none idles out
    opening = anyio.Semaphore(64)
    limits = httpx2.Limits(max_connections=_IN_FLIGHT, max_keepalive_connections=_IN_FLIGHT)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(600.0), limits=limits) as http:

        async def one(spec: EpisodeSpec) -> None:
            target = catalog_task_url(url, spec.task_id, instance=spec.instance)
            try:
                async with opening:
                    session = await open_session(http, target, limit=inflight)
            except (ProtocolFailure, httpx2.HTTPError) as exc:
                failures[0] += 1
                held.setdefault("first_failure", f"{type(exc).__name__}: {exc}")
                session = None
            else:
                opened[0] += 1
            if opened[0] + failures[0] >= n:
                everyone.set()
            await everyone.wait()
            if session is None:
                return
            await held["go"].wait()
            episode = await session.play_trace(gyms[spec.task_id], spec.instance or 0)
            episode.error = episode.error or await session.close()
            episodes.append(episode)

        async def hold_then_go() -> None:
            await everyone.wait()
            held["open_seconds"] = round(time.perf_counter() - started, 1)
            await anyio.sleep(2.5)  # the front's next poll of the replicas' own counts
            held["health"] = (await http.get(f"{url}/health", timeout=60)).json()
            held["go"].set()

        started = time.perf_counter()
        held["go"] = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_peak, url, record, peak)
            async with anyio.create_task_group() as sessions:
                sessions.start_soon(hold_then_go)
                for spec in specs:
                    sessions.start_soon(one, spec)
            tg.cancel_scope.cancel()
    health = held.get("health") or {}
    return {
        "client": "light (JSON-RPC over one pooled httpx2 client, benchmarks/_jsonrpc_client.py)",
        "sessions_requested": n,
        "sessions_open_at_once": opened[0],
        "sessions_failed_to_open": failures[0],
        "first_open_failure": held.get("first_failure"),
        "front_sessions_with_all_open": health.get("sessions"),
        "replica_sessions_with_all_open": {r["key"]: r["sessions"] for r in health.get("replicas", [])},
        "front_peak_sessions": peak["sessions"],
        "replicas_rss_mb_at_peak": peak["rss_mb"],
        "open_seconds": held.get("open_seconds"),
        "scored_1": sum(e.reward == 1 for e in episodes),
        "episode_errors": sum(e.error is not None for e in episodes),
        "first_episode_error": next((e.error for e in episodes if e.error), None),
        "divergent_results": sum(e.divergences for e in episodes),
        "tool_calls": sum(e.calls for e in episodes),
        "episode_ids": sorted(e.episode_id for e in episodes if e.episode_id and e.reward == 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def bench_sessions(
    catalog: Path, n: int, replicas: int, work: Path, *, client: str = "light"
) -> dict[str, Any]:
    record = work / "records" / "episodes.jsonl"
    record.parent.mkdir(parents=True, exist_ok=True)
    for old in record.parent.glob("episodes.r*.jsonl"):
        old.unlink()  # the records of this run only
    play = light_held_sessions if client == "light" else _held_sessions
    with ray_front(catalog, record, replicas) as url:
        result = anyio.run(play, url, catalog, n, record)
    written = [
        EpisodeRecord.model_validate_json(line)
        for path in sorted(record.parent.glob("episodes.r*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    submitted = [r for r in written if r.end_reason == "submitted"]
    scored = result.pop("episode_ids", None)
    if scored is not None:  # every episode the client saw scored 1 has its record, scored 1
        by_id = {r.episode_id: r for r in submitted}
        result["scored_1_without_a_record_scored_1"] = sum(
            1 for e in scored if e not in by_id or by_id[e].reward != 1
        )
    result.update(
        replicas=replicas,
        catalog=str(catalog),
        records_written=len(written),
        records_submitted_reward_1=sum(r.reward == 1 for r in submitted),
        lost_records=n - len(submitted),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=["generate", "sessions"])
    parser.add_argument("--sessions", type=int, default=4096)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--work", type=Path, default=OUT / "ray-work")
    parser.add_argument(
        "--client",
        choices=["light", "sdk"],
        default="light",
        help="sessions: the minimal JSON-RPC client (default) or the SDK's, through CodeGymEnv",
    )
    parser.add_argument(
        "--catalog", type=Path, help="sessions: this catalog (default: the generated one, else the fixture's)"
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"cpus": os.cpu_count()}
    if args.only in (None, "generate"):
        out["generate"] = bench_generate(args.work)
        print(json.dumps(out["generate"]), flush=True)
    if args.only in (None, "sessions"):
        catalog = args.work / "ray" if (args.work / "ray" / "report.json").exists() else FIXTURE_CATALOG
        catalog = args.catalog or catalog
        out["sessions"] = bench_sessions(catalog, args.sessions, args.replicas, args.work, client=args.client)
        print(json.dumps(out["sessions"]), flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "ray.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
