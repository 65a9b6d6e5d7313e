"""Play a catalog through the verifiers environment against any OpenAI-compatible model endpoint.

    python -m codegym_verifiers.play --catalog-url http://127.0.0.1:8000 \\
        --model-url http://127.0.0.1:9000/v1 --model my-model [--tasks A B] [--instances-per-task 1] \\
        [--concurrency 4] [--mcp-timeout 300]

Each episode goes through verifiers' own machinery (``Env.serving``, ``Env.run_episode``: the
interception endpoint, the trace, scoring). One JSON line per episode on stdout (task, instance,
reward, error, instance id, seconds), then a summary line: episodes, scored, infra errors (not
scored) and the mean reward over the scored ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import verifiers.v1 as vf

from . import REWARD_NAME, load_environment
from ._episode import close_shared_http_client

__all__ = ["main", "play"]


def _context(args: argparse.Namespace, task: vf.Task) -> vf.ModelContext:
    headers: dict[str, str] = {}
    if args.tag_header:
        # Names the episode to the model server (routing, logs, a scripted test model); never in the prompt.
        headers[args.tag_header] = f"task={task.data.task_id};instance={task.data.instance};seed=0"
    client = vf.EvalClientConfig(base_url=args.model_url, api_key_var=args.api_key_var, headers=headers)
    return vf.ModelContext(model=args.model, client=client)


def _record(task: vf.Task, episode: vf.Episode, seconds: float) -> dict[str, Any]:
    trace = episode.traces[0] if episode.traces else None
    reward = trace.rewards.get(REWARD_NAME) if trace is not None else None
    errors = [e.message for e in [*episode.errors, *(trace.errors if trace is not None else [])]]
    return {
        "task_id": task.data.task_id,
        "instance": task.data.instance,
        "reward": reward.score if reward is not None and not errors else None,
        "error": "; ".join(errors) or None,
        "instance_id": trace.info.get("codegym_instance_id") if trace is not None else None,
        "end_reason": trace.info.get("codegym_end_reason") if trace is not None else None,
        "step_ms": trace.info.get("codegym_step_ms") if trace is not None else None,
        "seconds": round(seconds, 3),
    }


async def play(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Play every row (``args.concurrency`` at a time); one record per episode, in row order."""
    os.environ.setdefault(args.api_key_var, "unused")
    env = load_environment(
        args.catalog_url,
        tasks=args.tasks,
        seed=None if args.seed < 0 else args.seed,
        instances_per_task=args.instances_per_task,
        mcp_timeout=args.mcp_timeout,
    )
    tasks = list(env.taskset)
    gate = asyncio.Semaphore(args.concurrency)

    async def one(task: vf.Task) -> dict[str, Any]:
        async with gate:
            started = time.perf_counter()
            episode = await env.run_episode(task, _context(args, task))
            record = _record(task, episode, time.perf_counter() - started)
        print(json.dumps(record), flush=True)
        return record

    async with env.serving():
        try:
            return list(await asyncio.gather(*(one(t) for t in tasks)))
        finally:
            await close_shared_http_client()


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module doc); exit 0 unless no episode could be played."""
    parser = argparse.ArgumentParser(
        prog="python -m codegym_verifiers.play", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--catalog-url", required=True)
    parser.add_argument("--model-url", required=True, help="an OpenAI-compatible base URL (ending in /v1)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key-var", default="OPENAI_API_KEY", help="environment variable with the key")
    parser.add_argument("--tasks", nargs="*", default=None)
    parser.add_argument("--instances-per-task", type=int, default=None)
    parser.add_argument(
        "--seed", type=int, default=0, help="row order's shuffle seed (-1: the server's order)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--mcp-timeout", type=float, default=300.0, help="seconds to wait for any one answer of the server"
    )
    parser.add_argument("--tag-header", default=None, help="send task/instance of the episode in this header")
    args = parser.parse_args(argv)
    records = asyncio.run(play(args))
    scored = [r["reward"] for r in records if r["reward"] is not None]
    summary = {
        "episodes": len(records),
        "scored": len(scored),
        "infra_errors": len(records) - len(scored),
        "mean_reward": sum(scored) / len(scored) if scored else None,
    }
    print(json.dumps({"summary": summary}), flush=True)
    return 0 if records else 1


if __name__ == "__main__":
    sys.exit(main())
