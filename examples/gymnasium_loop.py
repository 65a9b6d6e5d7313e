"""The plain gymnasium.Env contract: the oracle plays the first instance of each gym through gymnasium.make.

    .venv/bin/python examples/gymnasium_loop.py --catalog tests/fixtures/catalog

Swap the oracle's replay for your policy: it gets the task text from reset() and the tools as
OpenAI function tools in info["tools"], and returns {"name": tool, "arguments": {...}}.
Needs ``pip install 'codegym-mcp[gymnasium]'``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium

import codegym_mcp.servers.trainers.gymnasium_env  # noqa: F401  (registers codegym/CodeGym-v0)
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
            env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=task_id)
            try:
                obs, info = env.reset(options={"instance": 0})
                print(f"{task_id}: {len(info['tools'])} tools; task: {obs.splitlines()[0][:70]}")
                reward: float = 0.0
                for call in gym.instances[0].oracle_trace:  # your policy goes here
                    obs, r, terminated, truncated, info = env.step(
                        {"name": call.tool, "arguments": call.arguments}
                    )
                    reward = float(r)
                    if terminated or truncated:
                        break
                print(f"  reward {reward} after {info['step']} steps ({info['end_reason']})")
            finally:
                env.close()


if __name__ == "__main__":
    main()
