"""The gym page (statement as the agent reads it, tools with schemas, instances) and the oracle
trajectory of one instance, step by step.

The statement and the published tools come from the MCP server's own code (``GymServer``): what is
shown is what an agent connected to ``codegym-mcp serve`` receives, batch ``case`` arguments and
the added ``task`` tool included. Building the server runs no tool: its runner refuses every call.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import JsonValue

from ...runtime import Catalog, CatalogError, Gym
from ...schemas import Instance
from ._data import Calibration, CatalogData, ViewerError
from ._html import cut, esc, json_block, link, page, share, table

__all__ = ["gym_page", "instance_page", "load_gym"]


class _NoRunner:
    """A ToolRunner that never runs anything (the viewer only builds the server to read it)."""

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        raise RuntimeError(f"the viewer does not run tools (asked for {function})")


def load_gym(data: CatalogData, task_id: str) -> Gym:
    """The gym ``task_id`` of the catalog, loaded and validated.

    Raises:
        ViewerError: no such gym (the message lists the nearest ids), or its files are broken.
    """
    try:
        return Catalog(data.path).load(task_id)
    except CatalogError as exc:
        raise ViewerError(str(exc)) from None


def _size(value: JsonValue) -> str:
    if isinstance(value, list | str | dict):
        unit = "characters" if isinstance(value, str) else "items"
        return f"{len(value)} {unit}"
    return "scalar"


def input_size(instance: Instance) -> str:
    """Each parameter's size (items or characters; scalar) and the input's JSON length."""
    parts = [f"{esc(name)}: {_size(value)}" for name, value in instance.input.items()]
    total = len(json.dumps(instance.input, separators=(",", ":")))
    return "; ".join(parts) + f' <span class="muted">({total:,} chars of JSON)</span>'


def _statement_and_tools(gym: Gym) -> tuple[str, list[Any]]:
    from ..mcp._server import GymServer  # deferred: mcp is a heavy import, the catalog page needs none

    server = GymServer(gym, _NoRunner())
    return server.instructions(), list(server.tools)


def gym_page(data: CatalogData, task_id: str) -> str:
    """The statement, the tools, the instances (expected answers behind a click) of one gym.

    Raises:
        ViewerError: the gym does not exist or cannot be loaded.
    """
    gym = load_gym(data, task_id)
    m = gym.manifest
    statement, tools = _statement_and_tools(gym)
    kinds = {t.name: t.kind for t in m.tools}
    facts = table(
        [
            "problem",
            "source",
            "entry point",
            "observation",
            "batch K",
            "step budget",
            "instances",
            "oracle steps",
        ],
        [
            [
                esc(m.problem_id),
                esc(m.source),
                esc(m.entry_point),
                esc(m.observation),
                str(m.batch_size),
                str(m.step_budget),
                str(m.n_instances),
                f"{m.oracle.steps_min} / {m.oracle.steps_mean:.1f} / {m.oracle.steps_max}",
            ]
        ],
    )
    tool_rows = [
        [
            f"<code>{esc(t.name)}</code>",
            esc(kinds.get(t.name, "task")),
            f"<pre>{esc(t.description or '')}</pre>",
            json_block(t.input_schema, limit=3000, compact=True),
            json_block(t.output_schema, limit=3000, compact=True),
        ]
        for t in tools
    ]
    body = [
        facts,
        "<h2>Statement (the server's instructions, as the agent reads them)</h2>",
        f'<pre id="statement">{esc(statement)}</pre>',
        f"<h2>Tools ({len(tools)}, as published over MCP)</h2>",
        table(["name", "kind", "description", "input schema", "output schema"], tool_rows, table_id="tools"),
        f"<h2>Instances ({len(gym.instances)})</h2>",
        _instances(gym, data.calibration),
        _findings(data, m.task_id),
        f"<h2>Episodes</h2><p>{link(f'/episodes?task={m.task_id}', 'episode records of this gym')}</p>",
    ]
    return page(f"Gym {m.task_id}", "".join(body), where=str(data.path))


def _instances(gym: Gym, calibration: Calibration | None) -> str:
    rows = []
    for index, inst in enumerate(gym.instances):
        # calibration.json counts episodes (?instance=K): in a batched gym, K lines make one episode
        rate = calibration.rates.get((gym.task_id, index // gym.manifest.batch_size)) if calibration else None
        expected = json.dumps(inst.expected, ensure_ascii=False)
        rows.append(
            [
                str(index),
                link(f"/gym/{gym.task_id}/instance/{index}", inst.instance_id),
                esc(inst.origin),
                esc(inst.tier),
                input_size(inst),
                str(inst.oracle_steps),
                "—" if rate is None else share(rate),
                f"<details><summary>show</summary><pre>{esc(cut(expected, 2000))}</pre></details>",
            ]
        )
    headers = [
        "#",
        "instance (oracle trajectory)",
        "origin",
        "tier",
        "input size",
        "oracle steps",
        "pass rate",
        "expected answer",
    ]
    return table(headers, rows, numeric=(0, 5, 6), table_id="instances")


def _findings(data: CatalogData, task_id: str) -> str:
    if data.audit is None:
        return ""
    found = [f for f in data.audit.findings if f.task_id == task_id]
    if not found:
        return "<h2>Honesty findings</h2><p>none (audit.json)</p>"
    rows = [[esc(f.check), esc(f.tool or "statement"), esc(f.message)] for f in found]
    return f"<h2>Honesty findings ({len(found)})</h2>" + table(["check", "where", "message"], rows)


def instance_page(data: CatalogData, task_id: str, index: int) -> str:
    """The oracle's recorded trajectory on one instance: every call, its arguments and result.

    Raises:
        ViewerError: no such gym or instance.
    """
    gym = load_gym(data, task_id)
    if not 0 <= index < len(gym.instances):
        raise ViewerError(
            f"gym {task_id} has no instance {index}: its instances are numbered 0 to {len(gym.instances) - 1}"
        )
    inst = gym.instances[index]
    rows = [
        [
            str(i),
            f"<code>{esc(call.tool)}</code>",
            json_block(call.arguments, limit=1000, compact=True),
            json_block(call.result, limit=1000, compact=True),
        ]
        for i, call in enumerate(inst.oracle_trace)
    ]
    body = [
        f"<p>{link(f'/gym/{task_id}', f'← gym {task_id}')} · instance {index} · id {esc(inst.instance_id)} · "
        f"{esc(inst.origin)}, tier {esc(inst.tier)} · input size {input_size(inst)}</p>",
        "<details><summary>hidden input</summary>" + json_block(inst.input, limit=20000) + "</details>",
        "<details><summary>expected answer</summary>" + json_block(inst.expected, limit=20000) + "</details>",
        f"<h2>Oracle trajectory ({len(inst.oracle_trace)} calls)</h2>",
        table(["step", "tool", "arguments", "result"], rows, numeric=(0,), table_id="trace"),
    ]
    return page(f"{task_id} · instance {index}", "".join(body), where=str(data.path))
