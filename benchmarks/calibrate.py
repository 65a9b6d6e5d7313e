"""Calibration: its overhead per episode against a plain oracle rollout, its exactness on a whole catalog.

``.venv/bin/python -m benchmarks.calibrate --catalog CATALOG`` (default: the demo catalog).

1. Overhead. The same E episodes (a seeded random sample of the catalog's) are played, one at a time, through
   one catalog server (a child process, nsjail) by (a) the oracle policy, as ``rollout --policy
   oracle`` plays them, and (b) calibration (``run_calibration``: the OpenAI policy, journal) against
   a scripted OpenAI-compatible server in its own process that answers at once with the oracle's
   calls: everything but the model's own latency. Rounds alternate (a) and (b); the figure is the
   ratio of the median per-episode times. Done twice: one tool call per model reply (each reply
   resends the whole conversation, as a chat agent does), and the whole plan in one reply.
2. Exactness (``--full``): ``codegym-mcp calibrate --samples K`` over a copy of the whole catalog
   against the scripted server playing :func:`tests.servers.scripted_openai.hashed_script` (pass
   rate r/K per episode, r from a hash; one gym in 5 answers without tools); every pass rate must
   equal the script's; then the same command again, whose model requests are counted (target 0).

Writes bench-out/calibrate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from codegym_mcp.runtime import Catalog, default_catalog_dir, episode_count, gym_sha256
from codegym_mcp.schemas import Calibration
from codegym_mcp.servers.cli import main as cli_main
from codegym_mcp.servers.rollout._calibrate import (
    JOURNAL_FILE,
    CalibrationPlan,
    CalibrationRun,
    Journal,
    rate_label,
    run_calibration,
)
from codegym_mcp.servers.rollout._connectors import (
    catalog_subprocess,
    http_connector,
    server_subprocess,
    shared_http_client,
)
from codegym_mcp.servers.rollout._policies import OpenAIPolicy, OraclePolicy
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, run_rollouts
from tests.servers.scripted_openai import SERVER_SECONDS_HEADER, hashed_script, scripted_server

REPO = Path(__file__).resolve().parent.parent


async def _overhead(catalog: Catalog, *, episodes: int, rounds: int, chunk: int) -> dict[str, Any]:
    task_ids = catalog.task_ids()
    gyms = [(t, episode_count(catalog.load(t))) for t in task_ids]
    pairs = [(t, e) for t, n in gyms for e in range(n)]
    chosen = sorted(random.Random(0).sample(pairs, min(episodes, len(pairs))))  # a seeded sample of episodes
    specs = [EpisodeSpec(index=i, task_id=t, instance=e, seed=0) for i, (t, e) in enumerate(chosen)]
    digests = {s.task_id: gym_sha256(catalog.load(s.task_id)) for s in specs}
    scripted = [sys.executable, "-m", "tests.servers.scripted_openai", "--catalog", str(catalog.path)]
    scripted += ["--always-right", "--chunk", str(chunk)]
    oracle_s: list[float] = []
    calib_s: list[float] = []
    model_s: list[float] = []
    server_s: list[float] = []
    requests = 0
    solved: list[int] = []
    async with (
        catalog_subprocess(catalog.path) as base,
        server_subprocess(
            scripted,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
        ) as model_url,
        shared_http_client() as http,
    ):
        connect = http_connector(base, http_client=http)

        async def oracle_run() -> float:
            started = time.perf_counter()
            records, _ = await run_rollouts(
                specs, connect=connect, policy=OraclePolicy(catalog), catalog=catalog, concurrency=1
            )
            solved.append(sum(r.reward == 1 for r in records))
            return (time.perf_counter() - started) / len(specs)

        async def calibration_run() -> tuple[float, float, float]:
            nonlocal requests
            with tempfile.TemporaryDirectory() as tmp:
                journal = Journal(Path(tmp) / "journal.jsonl")
                policy = OpenAIPolicy(
                    model="scripted", base_url=f"{model_url}/v1", max_turns=10_000, max_retries=0
                )
                waited, spent = _time_model(policy)
                plan = CalibrationPlan(
                    run=CalibrationRun(),
                    todo=[(s, digests[s.task_id]) for s in specs],
                    gyms={t: (catalog.load(t), digests[t]) for t in digests},
                )
                started = time.perf_counter()
                run = await run_calibration(
                    plan, policy=policy, connect=connect, journal=journal, concurrency=1
                )
                elapsed = (time.perf_counter() - started) / len(specs)
                await policy.aclose()
            requests = run.requests
            solved.append(run.solved)
            return elapsed, sum(waited) / len(specs), sum(spent) / len(specs)

        # Warm-up, untimed: the server's first sessions of a gym (and the scripted server's first
        # requests of an episode) cost more; then the two alternate which goes first.
        await oracle_run()
        await calibration_run()
        for r in range(rounds):
            for side in ("oracle", "calibration") if r % 2 == 0 else ("calibration", "oracle"):
                if side == "oracle":
                    oracle_s.append(await oracle_run())
                    print(
                        f"chunk {chunk}: oracle {1000 * oracle_s[-1]:.0f} ms/episode",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
                elapsed, waited_s, spent_s = await calibration_run()
                calib_s.append(elapsed)
                model_s.append(waited_s)
                server_s.append(spent_s)
                print(
                    f"chunk {chunk}: calibration {1000 * elapsed:.0f} ms/episode, model {1000 * waited_s:.0f} "
                    f"(server {1000 * spent_s:.0f})",
                    file=sys.stderr,
                    flush=True,
                )
    oracle, calib = statistics.median(oracle_s), statistics.median(calib_s)
    bare = statistics.median([c - m for c, m in zip(calib_s, model_s, strict=True)])
    strict = statistics.median([c - m for c, m in zip(calib_s, server_s, strict=True)])
    # Round r's ratio: its calibration (model time out) over its own oracle run.
    per_round = [(c - m) / o for c, m, o in zip(calib_s, model_s, oracle_s, strict=True)]
    per_round_strict = [(c - m) / o for c, m, o in zip(calib_s, server_s, oracle_s, strict=True)]
    return {
        "chunk": chunk,
        "episodes": len(specs),
        "rounds": rounds,
        "oracle_ms_per_episode": round(1000 * oracle, 1),
        "calibration_ms_per_episode": round(1000 * calib, 1),
        "ratio_with_model_time": round(calib / oracle, 3),
        "model_ms_per_episode": round(1000 * statistics.median(model_s), 1),
        "calibration_ms_per_episode_without_model": round(1000 * bare, 1),
        "ratio": round(bare / oracle, 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "server_ms_per_episode": round(1000 * statistics.median(server_s), 1),
        "ratio_only_server_time_out": round(strict / oracle, 3),
        "ratio_only_server_time_out_per_round": [round(r, 3) for r in per_round_strict],
        "model_requests_per_episode": round(requests / len(specs), 2),
        "solved_per_run": solved,
        "oracle_runs_ms": [round(1000 * x, 1) for x in oracle_s],
        "calibration_runs_ms": [round(1000 * x, 1) for x in calib_s],
    }


def _time_model(policy: OpenAIPolicy) -> tuple[list[float], list[float]]:
    """Give the policy a client that times each model request: the model's latency as the client's
    HTTP layer sees it (request handed to the transport -> response headers; the openai client's
    request building and response parsing stay on our side), which the overhead figure leaves
    out; and the scripted server's own time per request (its :data:`SERVER_SECONDS_HEADER`), the
    stricter figure that counts the loopback HTTP exchange as ours."""
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    waited: list[float] = []
    spent: list[float] = []
    sent: dict[int, float] = {}

    async def on_request(request: Any) -> None:
        policy.requests += 1
        sent[id(request)] = time.perf_counter()

    async def on_response(response: Any) -> None:
        waited.append(time.perf_counter() - sent.pop(id(response.request)))
        spent.append(float(response.headers.get(SERVER_SECONDS_HEADER, "0")))

    hooks: dict[str, list[Callable[..., Any]]] = {"request": [on_request], "response": [on_response]}
    policy._client = AsyncOpenAI(
        base_url=policy.base_url,
        api_key="none",
        max_retries=0,
        http_client=DefaultAsyncHttpxClient(event_hooks=hooks),
    )
    return waited, spent


def _exactness(
    catalog: Path,
    *,
    samples: int,
    concurrency: int,
    chunk: int,
    gyms: int | list[str] | None,
    keep: Path | None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = keep or Path(tmp) / "catalog"
        if not copy.is_dir():  # a kept copy (--full-dir) resumes its journal
            shutil.copytree(catalog, copy, ignore=shutil.ignore_patterns("calibration*"))
        script = hashed_script(samples)
        task_ids = Catalog(copy).task_ids()
        if isinstance(gyms, int):  # a seeded sample of the catalog's gyms
            task_ids = sorted(random.Random(0).sample(task_ids, min(gyms, len(task_ids))))
        elif gyms is not None:
            task_ids = [t for t in task_ids if t in set(gyms)]
        argv = ["calibrate", "--catalog", str(copy), "--llm-model", "scripted", "--samples", str(samples)]
        argv += ["--concurrency", str(concurrency), "--tasks", *task_ids]
        timings = []
        counts = []
        for _ in range(2):
            with scripted_server(copy, script, chunk=chunk) as server:
                started = time.perf_counter()
                code = cli_main([*argv, "--llm-base-url", server.url])
                timings.append(time.perf_counter() - started)
                counts.append(server.requests)
            if code != 0:
                raise SystemExit(f"calibrate exited {code}")
        calibration = Calibration.model_validate_json((copy / "calibration.json").read_text(encoding="utf-8"))
        mismatches = []
        chosen = set(task_ids)
        rows = [r for r in calibration.instances if r.task_id in chosen]  # the journal may hold more gyms
        for row in rows:
            implied = sum(
                script(row.task_id, row.instance, s) in ("right", "skip_right") for s in range(samples)
            )
            if row.pass_rate != implied / samples:
                mismatches.append(f"{row.task_id}#{row.instance}: {row.pass_rate} != {implied}/{samples}")
        total = sum(episode_count(Catalog(copy).load(t)) for t in task_ids)
        entries = [
            e
            for e in Journal(copy / JOURNAL_FILE).entries.values()
            if e.task_id in chosen and e.sample < samples and e.reward is not None
        ]
        wrong = [
            e
            for e in entries
            if (e.reward == 1) != (script(e.task_id, e.instance, e.sample).endswith("right"))
        ]
    return {
        "gyms": task_ids,
        "samples": samples,
        "episodes": total,
        "measured": len(rows),
        "exact": len(rows) - len(mismatches),
        "mismatches": mismatches[:20],
        "samples_scored": len(entries),
        "samples_exact": len(entries) - len(wrong),
        "infra_errors": calibration.infra_errors,
        "histogram": dict(Counter(rate_label(r.pass_rate) for r in rows)),
        "tool_use": calibration.tool_use.model_dump() if calibration.tool_use else None,
        "first_run_requests": counts[0],
        "rerun_requests": counts[1],
        "first_run_seconds": round(timings[0], 1),
        "rerun_seconds": round(timings[1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print and write bench-out/calibrate.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, help="default: the demo catalog, else the fixture catalog")
    parser.add_argument("--episodes", type=int, default=40, help="episodes per overhead round (default 40)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--full", action="store_true", help="also calibrate the whole catalog (exactness, rerun)"
    )
    parser.add_argument("--samples", type=int, default=2, help="samples per episode of --full (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="episodes in flight in --full (default 8)")
    parser.add_argument(
        "--chunks",
        type=int,
        nargs="*",
        default=[1, 10_000],
        help="tool calls per model reply, one overhead run each",
    )
    parser.add_argument(
        "--full-chunk", type=int, default=16, help="tool calls per model reply in --full (default 16)"
    )
    parser.add_argument(
        "--full-gyms", type=int, help="--full on a seeded sample of this many gyms (default: all)"
    )
    parser.add_argument("--full-tasks", nargs="+", help="--full on these gyms only")
    parser.add_argument(
        "--full-dir",
        type=Path,
        help="--full calibrates a copy of the catalog kept here: a second command resumes its journal",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "calibrate.json")
    args = parser.parse_args(argv)
    demo = REPO / "demo-out" / "catalog"
    path = args.catalog or (demo if demo.is_dir() else default_catalog_dir())
    if not path.is_dir():
        path = REPO / "tests" / "fixtures" / "catalog"
    catalog = Catalog(path)
    result: dict[str, Any] = {
        "catalog": str(path),
        "gyms": len(catalog.task_ids()),
        "load_before": os.getloadavg(),
    }
    result["overhead"] = [
        anyio.run(partial(_overhead, catalog, episodes=args.episodes, rounds=args.rounds, chunk=chunk))
        for chunk in args.chunks
    ]
    if args.full:
        result["exactness"] = _exactness(
            path,
            samples=args.samples,
            concurrency=args.concurrency,
            chunk=args.full_chunk,
            gyms=args.full_tasks or args.full_gyms,
            keep=args.full_dir,
        )
    result["load_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
