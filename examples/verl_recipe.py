"""verl: write the tools config and the dataset rows of a whole catalog, for verl's ToolAgentLoop.

    codegym-mcp serve --all --catalog tests/fixtures/catalog --transport http --port 8000 &
    .venv/bin/python examples/verl_recipe.py --catalog tests/fixtures/catalog \\
        --catalog-url http://127.0.0.1:8000 --out verl-data

writes verl-data/codegym_tools.yaml (``actor_rollout_ref.rollout.multi_turn.tool_config_path``)
and verl-data/rows.jsonl, one row per instance (``agent_name: tool_agent``; convert it to parquet,
verl's dataset format, e.g. ``pandas.read_json(path, lines=True).to_parquet(...)``). The
catalog URL is the one verl's rollout workers will reach. verl itself is not needed to run this.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import anyio
import yaml

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import CodeGymEnv, ToolInfo, catalog_task_url
from codegym_mcp.servers.trainers.recipes import verl_catalog_config, verl_row


async def listing(url: str, task_ids: list[str]) -> tuple[dict[str, list[ToolInfo]], dict[str, str]]:
    """Each gym's tools as the server lists them, and its task text as reset shows it."""
    tools, texts = {}, {}
    for task_id in task_ids:
        async with await CodeGymEnv.connect(catalog_task_url(url, task_id), task_id=task_id) as env:
            texts[task_id] = (await env.reset())[0].text
            tools[task_id] = list(env.agent_tools)
    return tools, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, default=Path("tests/fixtures/catalog"))
    parser.add_argument("--catalog-url", required=True, help="the catalog server (codegym-mcp serve --all)")
    parser.add_argument("--out", type=Path, default=Path("verl-data"))
    args = parser.parse_args()
    catalog = Catalog(args.catalog)
    tools, texts = anyio.run(listing, args.catalog_url, catalog.task_ids())
    config, names = verl_catalog_config(tools, catalog_url=args.catalog_url)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "codegym_tools.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    rows = 0
    with (args.out / "rows.jsonl").open("w", encoding="utf-8") as out:
        for task_id in catalog.task_ids():
            for instance in range(len(catalog.load(task_id).instances)):
                row = verl_row(texts[task_id], names[task_id], task_id=task_id, instance=instance, index=rows)
                out.write(json.dumps(row) + "\n")
                rows += 1
    print(f"{len(config['tools'])} verl tools for {len(names)} gyms, {rows} rows in {args.out}")


if __name__ == "__main__":
    main()
