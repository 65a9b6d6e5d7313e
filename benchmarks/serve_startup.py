"""Start-up of `codegym-mcp serve` over stdio: launch -> first answered tools/list.

``python -m benchmarks.serve_startup [--runs N] [--catalog DIR] [--task ID]`` launches the server N
times, speaks raw JSON-RPC over its pipes (initialize, initialized, tools/list: no client library
in the measurement) and prints the median and spread, next to the same measurement for a trivial
low-level MCP server (the floor: python start-up plus ``import mcp``). Runs are interleaved so
that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "catalog"

_FLOOR = """
import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

async def tools(ctx, params):
    return types.ListToolsResult(tools=[types.Tool(name="x", input_schema={"type": "object"})])

async def serve():
    server = Server("floor", on_list_tools=tools)
    async with stdio_server() as (r, w):
        await server.run(r, w, server.create_initialization_options())

anyio.run(serve)
"""


def time_to_tools_list(command: list[str]) -> float:
    """Seconds from launching ``command`` to its answer to tools/list.

    Raises:
        RuntimeError: the server exited before answering.
    """
    started = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        for message in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        ):
            proc.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{command[0]} exited before answering tools/list")
            if json.loads(line).get("id") == 2:
                elapsed = time.perf_counter() - started
                break
        proc.stdin.close()
        proc.wait(timeout=30)
    return elapsed


def measure(commands: list[list[str]], runs: int) -> list[list[float]]:
    """Interleaved runs (a, b, a, b, ...) of every command, after one warm-up each."""
    for command in commands:
        time_to_tools_list(command)  # warm the OS file cache
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for i, command in enumerate(commands):
            times[i].append(time_to_tools_list(command))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start-up of codegym-mcp serve over stdio")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--catalog", type=Path, default=FIXTURE)
    parser.add_argument("--task", default="Fixture_maxsub")
    args = parser.parse_args(argv)
    cli = str(Path(sys.executable).parent / "codegym-mcp")
    rows = [
        ("floor: trivial mcp lowlevel server", [sys.executable, "-c", _FLOOR]),
        (f"codegym-mcp serve {args.task}", [cli, "serve", args.task, "--catalog", str(args.catalog)]),
    ]
    print(f"| server (stdio, {args.runs} runs) | median s | p10 s | p90 s |")
    print("|---|---|---|---|")
    for (name, _), times in zip(rows, measure([c for _, c in rows], args.runs), strict=True):
        times.sort()
        p10, p90 = times[len(times) // 10], times[(len(times) * 9) // 10]
        print(f"| {name} | {statistics.median(times):.3f} | {p10:.3f} | {p90:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
