"""A trainer-style rollout loop over codegym-mcp gyms with the async env API.

Starts a catalog server in this process (streamable HTTP on 127.0.0.1), then for each task
plays a few episodes with a policy (the oracle here: swap in your model's sampler), and
writes every trajectory as chat messages with tool calls (the format TRL / verl take), one
JSON object per line with the reward::

    .venv/bin/python examples/rollout_loop.py --catalog tests/fixtures/catalog --out /tmp/chats.jsonl

With your own model: replace ``OraclePolicy(catalog)`` (the one policy handed the answers) by anything with ``agent(ctx).act(obs)``,
e.g. ``OpenAIPolicy(model="...", base_url="http://127.0.0.1:8000/v1")`` for a vLLM server.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

import anyio

from codegym_mcp.runtime import Catalog, CatalogNotFound, default_catalog_dir
from codegym_mcp.servers import CodeGymEnv, EpisodeContext, OraclePolicy, catalog_inprocess, catalog_task_url


async def rollout(catalog_dir: Path, out: Path, *, episodes_per_task: int, max_tasks: int) -> None:
    catalog = Catalog(catalog_dir)
    policy = OraclePolicy(catalog)
    total = solved = 0
    # The harness key lets this loop (and no agent) start the next episode of a session.
    harness_key = secrets.token_urlsafe(24)
    async with catalog_inprocess(catalog_dir, harness_key=harness_key) as base_url:
        with out.open("w", encoding="utf-8") as sink:
            for task_id in catalog.task_ids()[:max_tasks]:
                # One MCP session per task; reset(seed=...) moves it to the next instance.
                async with await CodeGymEnv.connect(
                    catalog_task_url(base_url, task_id), task_id=task_id, harness_key=harness_key
                ) as env:
                    for seed in range(episodes_per_task):
                        obs, info = await env.reset(seed=seed)
                        agent = policy.agent(
                            EpisodeContext(
                                task_id=task_id,
                                task_text=obs.text,
                                tools=env.agent_tools,
                                seed=seed,
                                instance_id=info["instance_id"],
                            )
                        )
                        reward, done = 0.0, False
                        while not done and (action := await agent.act(obs)) is not None:
                            obs, reward, terminated, truncated, _ = await env.step(action)
                            done = terminated or truncated
                        record = {
                            "task_id": task_id,
                            "instance_id": info["instance_id"],
                            "reward": reward,
                            "messages": env.chat_messages(),
                            "tools": [t.to_openai() for t in env.agent_tools],
                        }
                        sink.write(json.dumps(record) + "\n")
                        total += 1
                        solved += int(reward == 1.0)
    print(f"{solved}/{total} episodes solved; chat trajectories in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--catalog", type=Path, default=default_catalog_dir(), help="catalog folder (default: the demo's)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("demo-out/chats.jsonl"), help="chat trajectories, one JSON line each"
    )
    parser.add_argument("--episodes-per-task", type=int, default=2, help="episodes per gym (default 2)")
    parser.add_argument("--max-tasks", type=int, default=10, help="play the first N gyms (default 10)")
    args = parser.parse_args()
    try:
        Catalog(args.catalog).task_ids()
    except CatalogNotFound as exc:
        parser.error(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    anyio.run(
        lambda: rollout(
            args.catalog, args.out, episodes_per_task=args.episodes_per_task, max_tasks=args.max_tasks
        )
    )


if __name__ == "__main__":
    main()
