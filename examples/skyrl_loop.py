"""SkyRL-gym's text env: a model's text with <tool_call> blocks goes in, tool responses come out.

    .venv/bin/python examples/skyrl_loop.py --catalog tests/fixtures/catalog

The oracle's calls are written as a model would write them (one call per turn); in SkyRL the
dataset row names the env (``"env_class": "codegym"``) and its extras (task_id, seed), and the
generator feeds each sampled turn to ``env.step``. Needs ``pip install 'codegym-mcp[skyrl]'``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import skyrl_gym

import codegym_mcp.servers.trainers.skyrl_env  # noqa: F401  (registers "codegym")
from codegym_mcp.runtime import Catalog
from codegym_mcp.servers.trainers.local import catalog_server_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, default=Path("tests/fixtures/catalog"))
    parser.add_argument("--max-tasks", type=int, default=5)
    args = parser.parse_args()
    catalog = Catalog(args.catalog)
    with catalog_server_process(args.catalog) as url:
        for task_id in catalog.task_ids()[: args.max_tasks]:
            gym = catalog.load(task_id)
            env = skyrl_gym.make(
                "codegym", env_config={"catalog_url": url}, extras={"task_id": task_id, "instance": 0}
            )
            try:
                prompt, _ = env.init([])
                print(f"{task_id}: prompt of {len(prompt)} messages")
                for call in gym.instances[0].oracle_trace:  # the model's turns
                    turn = f"<tool_call>{json.dumps({'name': call.tool, 'arguments': call.arguments})}</tool_call>"
                    out = env.step(turn)
                    if out["done"]:
                        break
                print(f"  reward {out['reward']} ({out['metadata']['end_reason']}), {env.turns} turns")
            finally:
                env.close()


if __name__ == "__main__":
    main()
