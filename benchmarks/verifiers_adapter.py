"""The verifiers adapter, measured: oracle success and overhead per step against the env API.

``.venv/bin/python -m benchmarks.verifiers_adapter --catalog DIR [--timing-gyms 10]`` needs
``.venv-verifiers`` (``make bootstrap``). It starts a catalog server (child process) and a scripted
OpenAI-compatible model that replays the oracle (a thread), then:

1. oracle sweep: the first instance of every gym through ``python -m codegym_verifiers.play``
   (verifiers' ``Env.run_episode``, ``--concurrency`` episodes at a time; target 100%);
2. time per step, on the first ``--timing-gyms`` gyms, one episode at a time: the env API's own
   step (``CodeGymEnv.step``, played before and after the verifiers run) against the adapter's
   tool call (its MCP 2.0.0 session, as the harness measures it), medians; the adapter's whole
   turn (model reply through verifiers' interception + the call) is reported beside it.

Writes ``bench-out/verifiers.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from codegym_mcp.runtime import Catalog

from ._trainer_paths import REPO, catalog_server, play_env_api

VENV_PYTHON = REPO / ".venv-verifiers" / "bin" / "python"


def play_verifiers(catalog_url: str, model_url: str, *extra: str) -> list[dict[str, Any]]:
    """The per-episode records of one ``codegym_verifiers.play`` run (the summary line dropped).

    Raises:
        RuntimeError: the play command failed (its stderr tail is in the message).
    """
    command = [str(VENV_PYTHON), "-m", "codegym_verifiers.play", "--catalog-url", catalog_url]
    command += ["--model-url", model_url, "--model", "scripted", "--tag-header", "x-codegym-episode", *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"codegym_verifiers.play exited {done.returncode}: {done.stderr[-3000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [r for r in lines if "summary" not in r]


def main(argv: list[str] | None = None) -> None:
    from tests.servers.scripted_openai import scripted_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--timing-gyms", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "verifiers.json")
    args = parser.parse_args(argv)
    if not VENV_PYTHON.exists():
        raise SystemExit(f"{VENV_PYTHON} is missing: run `make bootstrap` first")
    catalog = Catalog(args.catalog)
    gyms = [catalog.load(t) for t in catalog.task_ids()]
    timed = gyms[: args.timing_gyms]
    with (
        catalog_server(args.catalog) as url,
        scripted_server(args.catalog, lambda t, i, s: "right") as model,
    ):
        env_steps = [s for gym in timed for s in play_env_api(url, gym)[1]]
        tasks = ["--tasks", *(g.task_id for g in timed), "--instances-per-task", "1", "--concurrency", "1"]
        timing = play_verifiers(url, model.url, *tasks)
        env_steps += [s for gym in timed for s in play_env_api(url, gym)[1]]
        started = time.perf_counter()
        sweep = play_verifiers(
            url, model.url, "--instances-per-task", "1", "--concurrency", str(args.concurrency)
        )
        sweep_seconds = time.perf_counter() - started
    tool_ms = [ms for r in timing for ms in r["step_ms"] or []]
    turn_ms = [1000.0 * r["seconds"] / len(r["step_ms"]) for r in timing if r["step_ms"]]
    base = statistics.median(env_steps) * 1000.0
    solved = [r for r in sweep if r["reward"] == 1.0]
    load = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    report = {
        "catalog": str(args.catalog),
        "load_average": load,
        "oracle_success": f"{len(solved)}/{len(sweep)} (gyms {len(gyms)})",
        "unsolved": sorted(
            f"{r['task_id']}: {r['error'] or r['end_reason']}" for r in sweep if r["reward"] != 1.0
        ),
        "sweep_seconds": round(sweep_seconds, 1),
        "timed_gyms": len(timed),
        "env_api_median_step_ms": round(base, 3),
        "adapter_median_tool_call_ms": round(statistics.median(tool_ms), 3),
        "adapter_vs_env_api": round(statistics.median(tool_ms) / base, 3),
        "adapter_median_turn_ms_with_model": round(statistics.median(turn_ms), 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
