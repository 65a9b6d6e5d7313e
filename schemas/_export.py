"""Export the JSON Schema file of every model into schemas/json/."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from ._audit import AuditReport
from ._calibration import Calibration
from ._episode import EpisodeRecord
from ._gym import GymManifest, Instance, ToolSpec
from ._problem import Problem
from ._report import GenerationReport

__all__ = ["EXPORTED", "render_schema", "schema_dir", "write_schemas"]

EXPORTED: dict[str, type[BaseModel]] = {
    "problem": Problem,
    "instance": Instance,
    "tool-spec": ToolSpec,
    "gym-manifest": GymManifest,
    "episode-record": EpisodeRecord,
    "generation-report": GenerationReport,
    "audit-report": AuditReport,
    "calibration": Calibration,
}


def schema_dir() -> Path:
    return Path(__file__).resolve().parent / "json"


def render_schema(model: type[BaseModel]) -> str:
    """The exact text of a model's schema file (sorted keys, trailing newline)."""
    return json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path | None = None) -> list[Path]:
    out = directory or schema_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = out / f"{name}.schema.json"
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written
