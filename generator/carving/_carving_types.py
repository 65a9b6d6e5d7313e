"""What carving a reference solution produces: the tools module, the oracle plan and the tool specs.

Plain frozen dataclasses (picklable, so a process pool or a Ray task can return them). A type
schema of ``None`` means "unknown": the pipeline infers it from the values the oracle passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ...schemas import ParamSpec, ToolSpec

__all__ = [
    "CarveRejected",
    "CarvedParam",
    "CarvedTool",
    "Carving",
    "Granularity",
    "ParamSource",
    "ToolKindCarved",
]

ToolKindCarved = Literal["helper", "segment", "getter", "method"]
ParamSource = Literal["agent", "hidden", "state"]
Granularity = Literal["fine", "split", "inline", "coarse", "helpers", "getters"]
"""fine: helpers + loop bodies, conditions, comprehension parts; split: fine, but each statement of
a loop body a tool of its own (tried when fine's gym falls short of the filters); inline: fine, but
the helpers the entry point calls carved like the entry point, their bodies plan functions of the
oracle (tried after split); coarse: helpers + whole top-level
loops and the straight-line code around them (few calls even on large inputs); helpers: helper
functions only; getters: getters over the input (always verifiable, the fallback)."""


@dataclass(frozen=True)
class CarvedParam:
    """One parameter of a tool function, in the function's order."""

    name: str
    source: ParamSource
    hidden_key: str | None = None
    type_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class CarvedTool:
    """A problem-specific tool: a function of the tools module and where its arguments come from."""

    name: str
    kind: ToolKindCarved
    description: str
    function: str
    params: list[CarvedParam] = field(default_factory=list)
    stateful: bool = False
    result_fields: list[str] | None = None
    returns_schema: dict[str, Any] | None = None

    def agent_params(self) -> list[CarvedParam]:
        """The parameters the agent passes (the others are bound by the runtime)."""
        return [p for p in self.params if p.source == "agent"]

    def to_tool_spec(self) -> ToolSpec:
        """The manifest entry; unknown types are ``{}`` (the pipeline fills them in from recorded values)."""
        props = {p.name: dict(p.type_schema or {}) for p in self.agent_params()}
        input_schema: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }
        if self.result_fields:
            out_props: dict[str, Any] = {name: {} for name in self.result_fields}
            rs = self.returns_schema or {}
            if rs.get("prefixItems") and len(rs["prefixItems"]) == len(self.result_fields):
                out_props = dict(zip(self.result_fields, rs["prefixItems"], strict=True))
        else:
            out_props = {"result": dict(self.returns_schema or {})}
        output_schema: dict[str, Any] = {
            "type": "object",
            "properties": out_props,
            "required": list(out_props),
            "additionalProperties": False,
        }
        return ToolSpec(
            name=self.name,
            kind=self.kind,
            description=self.description,
            function=self.function,
            params=[
                ParamSpec(
                    name=p.name, source=p.source, hidden_key=p.hidden_key, type_schema=p.type_schema or {}
                )
                for p in self.params
            ],
            input_schema=input_schema,
            output_schema=output_schema,
            stateful=self.stateful,
            result_fields=list(self.result_fields) if self.result_fields else None,
        )


@dataclass(frozen=True)
class Carving:
    """tools.py + oracle.py sources and the problem tools (observe/submit/task are not included)."""

    tools_source: str
    oracle_source: str
    tools: list[CarvedTool]
    entry_point: str
    granularity: Granularity
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None

    def tool_specs(self) -> list[ToolSpec]:
        """Manifest entries of the problem tools, in order."""
        return [t.to_tool_spec() for t in self.tools]


@dataclass(frozen=True)
class CarveRejected:
    """The solution could not be carved: why (short, stable) and the detail (for the report)."""

    reason: str
    detail: str = ""
