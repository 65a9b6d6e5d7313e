"""Every tool of every gym of a catalog (``task`` aside), called over MCP with extreme and ill-typed arguments.

Used by the test that no argument ends an episode unscored, and runnable by hand to measure a
catalog::

    python -m tests.servers._extreme_sweep CATALOG [--timeout 1.0] [--no-sandbox]

Each gym gets one in-process MCP session (the real ``GymServer`` behind ``mcp.Client``); when an
episode ends (step budget, or unscored) the harness starts the next one with its key.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
from mcp import Client
from mcp_types import CallToolResult, RequestParamsMeta, TextContent
from pydantic import JsonValue

from codegym_mcp.runtime import Catalog, Gym, SandboxConfig, WorkerPool
from codegym_mcp.schemas import ToolSpec
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY, HARNESS_KEY_META, GymServer

__all__ = ["EXTREMES", "SweepResult", "argument_sets", "sweep_catalog"]

EXTREMES: tuple[JsonValue, ...] = (
    0,
    -3,
    10**9,
    -(10**9),
    "",
    "x" * 10_000,
    [],
    list(range(1000)),
    None,
    True,
    2.5,
    {"k": 1},
)
"""Numbers at and past the edges, empty and huge collections, and values of the wrong type."""

_NOT_SWEPT = frozenset({"task"})  # it only repeats the statement


@dataclass(slots=True)
class SweepResult:
    """What a sweep counted; ``unscored`` lists (task, tool, arguments, message) of each unscored ending."""

    gyms: int = 0
    calls: int = 0
    tool_errors: int = 0
    stopped_by_limits: int = 0
    episodes_ended: int = 0
    unscored: list[tuple[str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        """A few human lines."""
        lines = [
            f"gyms {self.gyms}, calls {self.calls}, tool errors {self.tool_errors} "
            f"(stopped by a time/memory/output limit: {self.stopped_by_limits}), "
            f"episodes ended {self.episodes_ended}, unscored endings {len(self.unscored)}, {self.seconds:.1f} s"
        ]
        lines += [f"  unscored: {t} {tool}({args}): {msg[:160]}" for t, tool, args, msg in self.unscored]
        return "\n".join(lines)


def _default(schema: dict[str, Any]) -> JsonValue:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    if schema.get("anyOf"):
        return _default(schema["anyOf"][0])
    defaults: dict[str, JsonValue] = {
        "integer": 1,
        "number": 1.0,
        "boolean": False,
        "string": "a",
        "array": [],
        "object": {},
        "null": None,
    }
    return defaults.get(str(kind), 1)


def _agent_arguments(spec: ToolSpec) -> dict[str, dict[str, Any]]:
    """The arguments the agent passes, with their schemas: the agent parameters of a tool with
    code, else the input schema's properties (``submit``'s answer, runtime-implemented tools)."""
    agent = {p.name: p.type_schema for p in spec.params if p.source == "agent"}
    if agent:
        return agent
    properties = spec.input_schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: schema for name, schema in properties.items() if isinstance(schema, dict)}


def _base_arguments(gym: Gym, spec: ToolSpec) -> dict[str, JsonValue]:
    """Arguments the oracle used for this tool (a valid call), else a plain default per argument."""
    for instance in gym.instances:
        for call in instance.oracle_trace:
            if call.tool == spec.name:
                return dict(call.arguments)
    return {name: _default(schema) for name, schema in _agent_arguments(spec).items()}


def argument_sets(gym: Gym, spec: ToolSpec) -> Iterator[dict[str, JsonValue]]:
    """A valid call with one agent argument replaced by each extreme value in turn ({} without any)."""
    base = _base_arguments(gym, spec)
    names = list(_agent_arguments(spec))
    if not names:
        yield base
        return
    for name in names:
        for value in EXTREMES:
            yield {**base, name: value}


def _text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def _short(arguments: dict[str, JsonValue]) -> str:
    shown = json.dumps(arguments)
    return shown if len(shown) <= 80 else shown[:77] + "..."


async def _sweep_gym(gym: Gym, pool: WorkerPool, out: SweepResult) -> None:
    server = GymServer(gym, pool)
    reset_meta = cast(RequestParamsMeta, {HARNESS_KEY_META: server.harness_key})
    async with Client(server.server, mode="legacy") as client:
        await client.list_tools(meta=reset_meta)  # the harness sees reset: its results are checked
        for spec in gym.manifest.tools:
            if spec.kind in _NOT_SWEPT:
                continue
            for arguments in argument_sets(gym, spec):
                result = await client.call_tool(spec.name, arguments)
                out.calls += 1
                text = _text(result)
                if result.is_error:
                    out.tool_errors += 1
                    if "was stopped by the sandbox" in text:
                        out.stopped_by_limits += 1
                status = (result.meta or {}).get(EPISODE_META_KEY, {})
                if status.get("done"):
                    out.episodes_ended += 1
                    if status.get("reward") is None:
                        out.unscored.append((gym.task_id, spec.name, _short(arguments), text))
                    started = await client.call_tool("reset", {}, meta=reset_meta)
                    assert not started.is_error, _text(started)
    out.gyms += 1


async def sweep_catalog(catalog: Catalog, pool: WorkerPool, *, concurrency: int = 2) -> SweepResult:
    """Sweep every gym of ``catalog`` (``concurrency`` gyms at a time, all sharing ``pool``)."""
    out = SweepResult()
    started = time.perf_counter()
    task_ids = iter(catalog.task_ids())

    async def worker() -> None:
        for task_id in task_ids:
            await _sweep_gym(catalog.load(task_id), pool, out)

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    out.seconds = time.perf_counter() - started
    return out


async def _main(catalog: Path, config: SandboxConfig, workers: int) -> None:
    async with WorkerPool(config, size=workers) as pool:
        result = await sweep_catalog(Catalog(catalog), pool, concurrency=workers)
    print(result.format())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--timeout", type=float, default=1.0, help="per-call wall-clock limit (s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-sandbox", action="store_true")
    options = parser.parse_args()
    sandbox = SandboxConfig(
        isolation="none" if options.no_sandbox else "nsjail",
        call_timeout=options.timeout,
        cpu_seconds=max(1, round(options.timeout)),
    )
    anyio.run(_main, options.catalog, sandbox, options.workers)
