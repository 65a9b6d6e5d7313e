"""The getters carving: tools that reveal the hidden input piece by piece; the oracle runs the reference.

Under the ``full`` observation policy every input gets a whole-value getter ``get_<p>()``. A
string or list input also gets ``get_<p>_length()`` and an item getter (``get_<p>_char(index)``
/ ``get_<p>_item(index)``); the oracle reads short sequences item by item (partial
observability, as in the paper's ``GetCharAtPosition``) and long ones whole, so its number of
calls stays bounded.

Under ``partial`` no getter is offered: a whole-value getter would undo the policy, ``observe``
already gives every scalar and every collection's length, and the generic ``read_<p>`` tool
is the item getter (``read_p(start=i, count=1)``). The oracle reads the input through
``observe`` and the read tools, then runs the reference.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from ...runtime import read_tool_name
from ...schemas import ObservationPolicy
from ._analysis import SolutionFacts
from ._carve_common import Namer, entry_schema, input_schema_of, render
from ._carving_types import CarvedParam, CarvedTool, Carving
from ._oracle_reads import read_function_source, read_kinds, read_lines
from ._type_hints import annotation_schema

__all__ = ["ITEMWISE_MAX", "getters_carving"]

ITEMWISE_MAX = 32
"""The oracle reads a sequence item by item up to this length, whole beyond it."""

_INDEX = {"type": "integer"}


def _sequence_kind(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    if schema.get("type") == "string":
        return "char"
    if schema.get("type") == "array" and "x-python" not in schema and "prefixItems" not in schema:
        return "item"
    return None


def getters_carving(
    facts: SolutionFacts,
    entry_params: list[str],
    schemas: dict[str, Any],
    *,
    observation: ObservationPolicy = "full",
) -> Carving:
    """Getter tools over each input and an oracle that reads the input through them (under
    ``partial``: no getter, the oracle reads through ``observe`` and the read tools)."""
    namer = Namer(facts.all_names | facts.module_names)
    tools_var = "tools" if "tools" not in facts.all_names else "_cg_tools"
    if observation == "partial":
        return _reads_only(facts, entry_params, schemas, namer, tools_var)
    defs: list[str] = []
    carved: list[CarvedTool] = []
    lines = [f"def oracle({tools_var}):", "    _in = {}"]
    for p in entry_params:
        schema = entry_schema(schemas, p)
        whole = namer.unique(f"get_{p}")
        defs.append(f"def {whole}({p}):\n    return {p}\n")
        carved.append(
            _tool(
                whole, f"Return the whole hidden input `{p}`.", [CarvedParam(p, "hidden", p, schema)], schema
            )
        )
        kind = _sequence_kind(schema)
        if kind is None:
            lines.append(f"    _in[{p!r}] = {tools_var}.{whole}()")
            continue
        lines += _sequence_getters(p, kind, schema, whole, namer, tools_var, defs, carved)
    lines.append(f"    return {tools_var}.submit(answer={facts.entry.name}(**_in))")
    oracle = cst.parse_statement("\n".join(lines) + "\n")
    nodes = [cst.parse_statement(d) for d in defs]
    return Carving(
        tools_source=render(facts, nodes, "Getters over the hidden input (codegym-mcp)."),
        oracle_source=render(facts, [oracle], "The oracle: read the input through the getters, then solve."),
        tools=carved,
        entry_point=facts.entry.name,
        granularity="getters",
        input_schema=input_schema_of(schemas, entry_params),
        output_schema=annotation_schema(facts.entry.returns),
    )


def _sequence_getters(
    p: str,
    kind: str,
    schema: dict[str, Any] | None,
    whole: str,
    namer: Namer,
    tools_var: str,
    defs: list[str],
    carved: list[CarvedTool],
) -> list[str]:
    """The length and item getters of sequence input ``p`` (added to ``defs``/``carved``); the
    oracle's lines that read it item by item when short, whole otherwise."""
    length = namer.unique(f"get_{p}_length")
    item = namer.unique(f"get_{p}_{kind}")
    defs.append(f"def {length}({p}):\n    return len({p})\n")
    defs.append(f"def {item}({p}, index):\n    return {p}[index]\n")
    hidden = CarvedParam(p, "hidden", p, schema)
    assert schema is not None
    item_schema = {"type": "string"} if kind == "char" else schema.get("items") or None
    carved.append(
        _tool(length, f"Return the length of the hidden input `{p}`.", [hidden], {"type": "integer"})
    )
    carved.append(
        _tool(
            item,
            f"Return the {kind} at position `index` (0-based) of the hidden input `{p}`.",
            [hidden, CarvedParam("index", "agent", None, _INDEX)],
            item_schema,
        )
    )
    read = f"[{tools_var}.{item}(index=_i) for _i in range(_n)]"
    if kind == "char":
        read = "''.join(" + read + ")"
    return [
        f"    _n = {tools_var}.{length}()",
        f"    if _n <= {ITEMWISE_MAX}:",
        f"        _in[{p!r}] = {f"''.join({read})" if kind == 'char' else read}",
        "    else:",
        f"        _in[{p!r}] = {tools_var}.{whole}()",
    ]


def _reads_only(
    facts: SolutionFacts, entry_params: list[str], schemas: dict[str, Any], namer: Namer, tools_var: str
) -> Carving:
    in_var = "_in" if "_in" not in facts.all_names else "_cg_in"
    kinds = read_kinds(entry_params, schemas, "partial")
    for p in kinds:
        namer.claimed.add(read_tool_name(p))
    reader = namer.unique("read_whole")
    lines = [f"def oracle({tools_var}):", f"    {in_var} = {tools_var}.observe()"]
    lines += ["    " + line for line in read_lines(kinds, reader=reader, tools_var=tools_var, in_var=in_var)]
    lines.append(f"    return {tools_var}.submit(answer={facts.entry.name}(**{in_var}))")
    nodes = [cst.parse_statement(read_function_source(reader))] if kinds else []
    nodes.append(cst.parse_statement("\n".join(lines) + "\n"))
    return Carving(
        tools_source=render(facts, [], "No tools beyond observe and the read tools (codegym-mcp)."),
        oracle_source=render(
            facts, nodes, "The oracle: read the input through observe and the read tools, then solve."
        ),
        tools=[],
        entry_point=facts.entry.name,
        granularity="getters",
        input_schema=input_schema_of(schemas, entry_params),
        output_schema=annotation_schema(facts.entry.returns),
    )


def _tool(
    name: str, description: str, params: list[CarvedParam], returns: dict[str, Any] | None
) -> CarvedTool:
    return CarvedTool(
        name=name,
        kind="getter",
        description=description,
        function=name,
        params=params,
        returns_schema=dict(returns) if returns else None,
    )
