"""Formats of codegym-mcp: pydantic models of every file and record.

The value codec and the observation rules live in the in-jail package (``codegym_mcp.runtime.jail``)
and are re-exported by ``codegym_mcp.runtime``.

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
from ._calibration import CALIBRATION_FILE, Calibration, InstanceCalibration, ToolUseStats
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

__all__ = [
    "CALIBRATION_FILE",
    "FORMAT_VERSION",
    "AuditReport",
    "BlindGuess",
    "Calibration",
    "DuplicateGym",
    "EndReason",
    "EpisodeRecord",
    "GenerationReport",
    "GymManifest",
    "GymSummary",
    "HonestyCheck",
    "HonestyFinding",
    "Instance",
    "InstanceCalibration",
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
    "ToolUseStats",
    "TraceCall",
    "task_id_for",
]
