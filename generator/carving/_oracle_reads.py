"""The oracle's prelude under each observation policy: how it learns the hidden input.

Under ``full`` the oracle starts with ``_in = tools.observe()``: every value at once. Under
``partial`` ``observe()`` gives scalars and ``{"length": N}`` per collection, so the oracle then
reads each collection through its ``read_<p>`` tool, one window at a time, exactly as an agent
would over MCP (the harness records every read in the trace). The reads are written out in
``oracle.py``: a module-level reading function plus one line per collection.
"""

from __future__ import annotations

from typing import Any

from ...runtime import ITEMS_CAP, TEXT_CAP, collection_kind, read_tool_name
from ...schemas import ObservationPolicy

__all__ = ["read_function_source", "read_kinds", "read_lines"]


def read_kinds(params: list[str], schemas: dict[str, Any], observation: ObservationPolicy) -> dict[str, str]:
    """Parameter -> read kind of each collection the oracle must read (none under ``full``)."""
    if observation == "full":
        return {}
    out: dict[str, str] = {}
    for p in params:
        schema = schemas.get(p)
        kind = collection_kind(schema) if isinstance(schema, dict) else None
        if kind is not None:
            out[p] = kind
    return out


def read_function_source(name: str) -> str:
    """The module-level function ``name(read, shape, kind)`` the oracle reads a collection with."""
    return (
        f"def {name}(read, shape, kind):\n"
        '    """A hidden collection, read window by window through its read tool (as an agent does).\n\n'
        '    ``shape`` is what observe showed for it (``{"length": N}``, or None for a None value).\n'
        '    """\n'
        "    if shape is None:\n"
        "        return None\n"
        f'    cap = {TEXT_CAP} if kind == "text" else {ITEMS_CAP}\n'
        '    length = shape["length"]\n'
        "    parts = []\n"
        "    for start in range(0, length, cap):\n"
        "        parts += read(start=start, count=min(cap, length - start))\n"
        '    if kind == "text":\n'
        '        return "".join(parts)\n'
        '    return {"tuple": tuple, "set": set, "dict": dict}.get(kind, list)(parts)\n'
    )


def read_lines(kinds: dict[str, str], *, reader: str, tools_var: str, in_var: str) -> list[str]:
    """One statement per collection: ``_in["p"] = reader(tools.read_p, _in["p"], "kind")``."""
    return [
        f"{in_var}[{p!r}] = {reader}({tools_var}.{read_tool_name(p)}, {in_var}[{p!r}], {kind!r})"
        for p, kind in kinds.items()
    ]
