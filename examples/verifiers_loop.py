"""verifiers (Prime Intellect): a catalog as a verifiers Env, played by a model through verifiers' rollout.

Runs in the verifiers venv (``make bootstrap`` makes ``.venv-verifiers``; elsewhere
``pip install -e integrations/verifiers``), against a running catalog server and any
OpenAI-compatible model server::

    .venv/bin/codegym-mcp serve --all --catalog tests/fixtures/catalog --transport http --port 8000
    .venv/bin/python -m tests.servers.scripted_openai --catalog tests/fixtures/catalog --always-right
    .venv-verifiers/bin/python examples/verifiers_loop.py --model-url http://127.0.0.1:PORT/v1

(the second line is a scripted model that replays the oracle; use your vLLM server instead). In
prime-rl or ``vf-eval`` the same environment is ``codegym_verifiers.load_environment``.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import codegym_verifiers
import verifiers.v1 as vf


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog-url", default="http://127.0.0.1:8000")
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    env = codegym_verifiers.load_environment(args.catalog_url, seed=0, instances_per_task=2)
    async with env.serving():
        for task in env.taskset.take(args.rows):
            # The header names the episode to the model server (the scripted model plays by it).
            tag = {"x-codegym-episode": f"task={task.data.task_id};instance={task.data.instance};seed=0"}
            client = vf.EvalClientConfig(base_url=args.model_url, api_key_var="OPENAI_API_KEY", headers=tag)
            episode = await env.run_episode(task, vf.ModelContext(model=args.model, client=client))
            trace = episode.traces[0]
            reward = trace.rewards.get(codegym_verifiers.REWARD_NAME)
            outcome = f"reward {reward.score}" if reward and trace.ok else f"infra error {trace.errors}"
            print(f"{task.key}: {outcome}, {trace.metrics.get('codegym_steps')} steps")


if __name__ == "__main__":
    asyncio.run(main())
