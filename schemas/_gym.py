"""A gym on disk: manifest.json (GymManifest), tools.py, instances.jsonl (Instance lines), oracle.py."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "FORMAT_VERSION",
    "GymManifest",
    "Instance",
    "ObservationPolicy",
    "OracleSummary",
    "ParamSpec",
    "ToolKind",
    "ToolSpec",
    "TraceCall",
]

FORMAT_VERSION: Final = 1

ToolKind = Literal["observe", "read", "submit", "task", "helper", "segment", "method", "getter"]
"""observe/read/submit/task are generic (read: a bounded window of one hidden collection, under the
partial observation policy); helper, segment and method are carved out of the solution; getter
reveals one part of the hidden input."""

ObservationPolicy = Literal["partial", "full"]
"""What the agent can see of the hidden input. full: ``observe`` returns every value. partial:
``observe`` returns scalar values and the size of each collection; a collection's contents are
read through its ``read`` tool, a bounded window at a time."""

JsonSchema = dict[str, JsonValue]


class ParamSpec(BaseModel):
    """One parameter of a tool's python function, and where its value comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: Literal["agent", "hidden", "state"] = Field(
        description=(
            "agent: the agent passes it; hidden: bound to the instance's input field `hidden_key`; "
            "state: the episode's state value, kept by the runtime (see ToolSpec.stateful)"
        )
    )
    hidden_key: str | None = None
    type_schema: JsonSchema = Field(
        default_factory=dict, description="Type schema (JSON Schema + x-python hints)"
    )


class ToolSpec(BaseModel):
    """One tool as the agent sees it and as the runtime calls it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="MCP tool name")
    kind: ToolKind
    description: str
    function: str | None = Field(
        default=None, description="Function in the gym's tools module; None for generic tools"
    )
    params: list[ParamSpec] = Field(default_factory=list)
    input_schema: JsonSchema = Field(description="JSON Schema (object) of the agent-visible arguments")
    output_schema: JsonSchema = Field(description="JSON Schema (object) of the structured result")
    stateful: bool = Field(
        default=False,
        description=(
            "The function takes the episode state (a 'state' param, None at reset) and returns "
            "[new_state, result]; the runtime keeps new_state and shows only result"
        ),
    )
    result_fields: list[str] | None = Field(
        default=None,
        description="If the function returns a tuple of named values, their names; else the value is {'result': v}",
    )


class TraceCall(BaseModel):
    """One tool call of the oracle's replay: what an agent would send and receive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str
    arguments: dict[str, JsonValue]
    result: JsonValue


class Instance(BaseModel):
    """One concrete hidden input with its expected output (wire form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_id: str = Field(description="Stable id: a short hash of the input")
    input: dict[str, JsonValue] = Field(description="Entry-point arguments by parameter name, wire form")
    expected: JsonValue = Field(description="Expected output, wire form")
    origin: Literal["test", "augmented"] = "test"
    tier: Literal["test", "easy", "medium", "hard"] = "test"
    oracle_steps: int = Field(
        ge=0, description="Tool calls the oracle makes on it, observe and submit included"
    )
    oracle_trace: list[TraceCall] = Field(default_factory=list)


class OracleSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str = "oracle.py"
    steps_min: int
    steps_max: int
    steps_mean: float


class GymManifest(BaseModel):
    """manifest.json of one gym."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = FORMAT_VERSION
    task_id: str
    problem_id: str
    source: str
    task: str = Field(description="The task statement shown to the agent: the goal, not the input")
    entry_point: str
    input_schema: JsonSchema = Field(description="Type schema (object) of the hidden input")
    output_schema: JsonSchema = Field(description="Type schema of the answer that submit takes")
    tools: list[ToolSpec]
    tools_module: str = "tools.py"
    tools_sha256: str
    instances_file: str = "instances.jsonl"
    n_instances: int = Field(ge=1)
    oracle: OracleSummary
    step_budget: int = Field(ge=1, description="Default step limit of an episode")
    seed: int = 0
    llm_model: str | None = Field(default=None, description="Model that proposed the decomposition, if any")
    observation: ObservationPolicy = Field(
        default="full", description="What observe reveals: partial (sizes and scalars) or full (every value)"
    )
    batch_size: int = Field(
        default=1,
        ge=1,
        description=(
            "Hidden inputs (cases) one episode asks about at once; above 1, every tool but submit and task "
            "takes a `case` index and submit takes the list of answers, one per case"
        ),
    )
