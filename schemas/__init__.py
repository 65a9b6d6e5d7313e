"""Formats of codegym-mcp: pydantic models of every file and record, and the value codec.

The JSON Schema files exported from the models live beside this module in ``json/``
(``python -m codegym_mcp.schemas`` rewrites them; a test fails when one drifts).
"""

from ._episode import EndReason, EpisodeRecord, StepRecord
from ._gym import (
    FORMAT_VERSION,
    GymManifest,
    Instance,
    ObservationPolicy,
    OracleSummary,
    ParamSpec,
    ToolKind,
    ToolSpec,
    TraceCall,
)
from ._observation import (
    ITEMS_CAP,
    TEXT_CAP,
    ReadError,
    collection_kind,
    collection_params,
    observe_output_schema,
    observe_values,
    read_input_schema,
    read_output_schema,
    read_tool_name,
    read_window,
)
from ._problem import LoadIssue, Problem, TestStyle, task_id_for
from ._report import GenerationReport, GymSummary, LlmUsage, Rejection, Stage
from ._values import (
    CoercionError,
    UnsupportedValue,
    as_hashable,
    canonical_json,
    coerce,
    decode,
    describe_schema,
    encode,
    infer_schema,
    merge_schemas,
    to_plain,
    values_equal,
)

__all__ = [
    "FORMAT_VERSION",
    "ITEMS_CAP",
    "TEXT_CAP",
    "CoercionError",
    "EndReason",
    "EpisodeRecord",
    "GenerationReport",
    "GymManifest",
    "GymSummary",
    "Instance",
    "LlmUsage",
    "LoadIssue",
    "ObservationPolicy",
    "OracleSummary",
    "ParamSpec",
    "Problem",
    "ReadError",
    "Rejection",
    "Stage",
    "StepRecord",
    "TestStyle",
    "ToolKind",
    "ToolSpec",
    "TraceCall",
    "UnsupportedValue",
    "as_hashable",
    "canonical_json",
    "coerce",
    "collection_kind",
    "collection_params",
    "decode",
    "describe_schema",
    "encode",
    "infer_schema",
    "merge_schemas",
    "observe_output_schema",
    "observe_values",
    "read_input_schema",
    "read_output_schema",
    "read_tool_name",
    "read_window",
    "task_id_for",
    "to_plain",
    "values_equal",
]
