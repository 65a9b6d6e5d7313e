"""The verifiers side of ``benchmarks.verifiers_adapter`` (runs in verifiers' own venv).

``python -m codegym_verifiers._bench --catalog-url URL --model-url URL/v1 --tasks T ...`` loads the
environment once, then reads one JSON command per stdin line and answers one JSON line each:

- ``{"mode": "verifiers", "task": T}``: instance 0 of T through verifiers' ``Env.run_episode``
  (interception endpoint, trace, scoring: the adapter as a trainer runs it);
- ``{"mode": "direct", "task": T}``: the same episode with the adapter's own session and loop
  (:class:`~codegym_verifiers._episode.EpisodeSession`, :func:`~codegym_verifiers._harness.play_loop`)
  talking to the model directly: no verifiers machinery;
- ``{"mode": "leak", "episodes": N, "concurrency": C, "warmup": W}``: N short episodes through
  ``Env.run_episode`` (each its own MCP session), C at a time, round robin over the tasks; this
  process's fds, threads and RSS after W episodes and after the N.

Each episode answers with its tool calls' round trips (``step_ms``), its seconds and its reward.
The model requests carry ``x-codegym-episode: task=T;instance=0;seed=S`` (seed 0 for the timed
episodes, 1 for the leak's), so a scripted model can tell them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import verifiers.v1 as vf
from openai import AsyncOpenAI

from . import REWARD_NAME, load_environment
from ._catalog import task_url
from ._episode import EpisodeSession
from ._harness import play_loop

__all__ = ["main"]

_HEADER = "x-codegym-episode"


def _tag(task: str, seed: int) -> str:
    return f"task={task};instance=0;seed={seed}"


def _process() -> dict[str, int]:
    """This process's open fds, threads and RSS (KiB)."""
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines()
    )
    return {
        "fds": len(list(Path("/proc/self/fd").iterdir())),
        "threads": int(status["Threads"]),
        "rss_kib": int(status["VmRSS"].split()[0]),
    }


class Bench:
    """The loaded environment and its tasks (instance 0 of each gym), served for the commands."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.env = load_environment(args.catalog_url, tasks=args.tasks, seed=None, instances_per_task=1)
        self.tasks = {t.data.task_id: t for t in self.env.taskset}

    def _context(self, task: str, seed: int) -> vf.ModelContext:
        client = vf.EvalClientConfig(
            base_url=self.args.model_url, api_key_var="OPENAI_API_KEY", headers={_HEADER: _tag(task, seed)}
        )
        return vf.ModelContext(model="scripted", client=client)

    async def verifiers(self, task: str, seed: int = 0) -> dict[str, Any]:
        """One episode through ``Env.run_episode``."""
        started = time.perf_counter()
        episode = await self.env.run_episode(self.tasks[task], self._context(task, seed))
        seconds = time.perf_counter() - started
        trace = episode.traces[0] if episode.traces else None
        errors = [e.message for e in [*episode.errors, *(trace.errors if trace is not None else [])]]
        reward = trace.rewards.get(REWARD_NAME) if trace is not None else None
        return {
            "step_ms": (trace.info.get("codegym_step_ms") if trace is not None else None) or [],
            "seconds": seconds,
            "reward": reward.score if reward is not None and not errors else None,
            "error": "; ".join(errors) or None,
        }

    async def direct(self, task: str) -> dict[str, Any]:
        """The same episode with the adapter's session and loop, the model called directly."""
        data = self.tasks[task].data
        started = time.perf_counter()
        async with await EpisodeSession.open(task_url(data.catalog_url, task, instance=0)) as episode:
            messages: list[dict[str, Any]] = [{"role": "user", "content": episode.instructions}]
            async with AsyncOpenAI(base_url=self.args.model_url, api_key="unused") as model:
                await play_loop(model, "scripted", messages, episode, headers={_HEADER: _tag(task, 0)})
        seconds = time.perf_counter() - started
        last = episode.last
        return {
            "step_ms": episode.step_ms,
            "seconds": seconds,
            "reward": last.reward if last is not None else None,
            "error": None,
        }

    async def leak(self, episodes: int, concurrency: int, warmup: int) -> dict[str, Any]:
        """``episodes`` short episodes (see the module doc); snapshots after the warm-up and the end."""
        names = list(self.tasks)
        results: dict[str, Any] = {"errors": 0, "scored": 0, "rewards": 0.0}
        gate = asyncio.Semaphore(concurrency)

        async def one(k: int) -> None:
            async with gate:
                record = await self.verifiers(names[k % len(names)], seed=1)
            if record["reward"] is None:
                results["errors"] += 1
                results.setdefault("first_error", record["error"])
            else:
                results["scored"] += 1
                results["rewards"] += record["reward"]

        started = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(min(warmup, episodes))))
        results["start"] = _process()
        await asyncio.gather(*(one(k) for k in range(min(warmup, episodes), episodes)))
        results["end"] = _process()
        results["seconds"] = round(time.perf_counter() - started, 1)
        return results


async def serve(args: argparse.Namespace) -> None:
    """Answer the commands on stdin until it closes (see the module doc)."""
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    bench = Bench(args)
    loop = asyncio.get_running_loop()
    async with bench.env.serving():
        print(json.dumps({"ready": sorted(bench.tasks)}), flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            mode = command["mode"]
            if mode == "verifiers":
                answer = await bench.verifiers(command["task"])
            elif mode == "direct":
                answer = await bench.direct(command["task"])
            elif mode == "leak":
                answer = await bench.leak(command["episodes"], command["concurrency"], command["warmup"])
            else:
                answer = {"error": f"unknown mode {mode!r}: verifiers, direct or leak"}
            print(json.dumps(answer), flush=True)


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module doc)."""
    parser = argparse.ArgumentParser(prog="python -m codegym_verifiers._bench")
    parser.add_argument("--catalog-url", required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--tasks", nargs="+", required=True)
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
