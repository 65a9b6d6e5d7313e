"""Formats of codegym-mcp: pydantic models of every file and record, and the value codec.

The JSON Schema files exported from the models live beside this module in ``json/``
(``python -m codegym_mcp.schemas`` rewrites them; a test fails when one drifts).
"""

from ._audit import (
    AuditReport,
    BlindGuess,
    DuplicateGym,
    HonestyCheck,
    HonestyFinding,
    InstanceMeasures,
    OracleStepMeasures,
    ToolMeasures,
    ToolRef,
)
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
    plain_schema,
    to_plain,
    values_equal,
)

__all__ = [
    "FORMAT_VERSION",
    "AuditReport",
    "BlindGuess",
    "CoercionError",
    "DuplicateGym",
    "EndReason",
    "EpisodeRecord",
    "GenerationReport",
    "GymManifest",
    "GymSummary",
    "HonestyCheck",
    "HonestyFinding",
    "Instance",
    "InstanceMeasures",
    "LlmUsage",
    "LoadIssue",
    "ObservationPolicy",
    "OracleStepMeasures",
    "OracleSummary",
    "ParamSpec",
    "Problem",
    "Rejection",
    "Stage",
    "StepRecord",
    "TestStyle",
    "ToolKind",
    "ToolMeasures",
    "ToolRef",
    "ToolSpec",
    "TraceCall",
    "UnsupportedValue",
    "as_hashable",
    "canonical_json",
    "coerce",
    "decode",
    "describe_schema",
    "encode",
    "infer_schema",
    "merge_schemas",
    "plain_schema",
    "task_id_for",
    "to_plain",
    "values_equal",
]
