"""OpenEnv: the OpenEnv server over a catalog, played by OpenEnv's own client.

    .venv/bin/python examples/openenv_loop.py --catalog tests/fixtures/catalog [--relay]

Starts the OpenEnv server (uvicorn, port 8001 by default) in direct mode (it serves the catalog
itself), or with ``--relay`` in relay mode over a catalog server (child process), then plays the
oracle on the first instance of each gym with ``CodeGymOpenEnvClient``.
Needs ``pip install 'codegym-mcp[openenv]'``.
"""

from __future__ import annotations

import argparse
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import anyio
import uvicorn

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers.trainers.local import catalog_server_process
from codegym_mcp.servers.trainers.openenv_env import CallToolAction, CodeGymOpenEnvClient, create_codegym_app


async def play(openenv_url: str, catalog: Catalog, max_tasks: int) -> None:
    for task_id in catalog.task_ids()[:max_tasks]:
        gym = catalog.load(task_id)
        async with CodeGymOpenEnvClient(base_url=openenv_url) as client:
            result = await client.reset(task_id=task_id, instance=0)
            print(f"{task_id}: {len(result.observation.tools)} tools")
            for call in gym.instances[0].oracle_trace:  # your policy goes here
                result = await client.step(CallToolAction(tool_name=call.tool, arguments=call.arguments))
                if result.done:
                    break
            print(f"  reward {result.reward} ({result.observation.info.get('end_reason')})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--catalog", type=Path, default=Path("tests/fixtures/catalog"))
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--max-tasks", type=int, default=5)
    parser.add_argument("--relay", action="store_true", help="relay to a catalog server (child process)")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.relay:
            app = create_codegym_app(stack.enter_context(catalog_server_process(args.catalog)))
        else:
            app = create_codegym_app(catalog=args.catalog)
        server = uvicorn.Server(uvicorn.Config(app, port=args.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            anyio.run(play, f"http://127.0.0.1:{args.port}", Catalog(args.catalog), args.max_tasks)
        finally:
            server.should_exit = True
            thread.join()


if __name__ == "__main__":
    main()
