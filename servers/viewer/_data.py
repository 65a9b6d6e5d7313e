"""What the viewer reads of a catalog, as files: manifests, report.json, audit.json, calibration.json.

Nothing here runs gym code. A file that is missing is simply not shown; a file that cannot be read
or does not validate becomes a problem message on the page (``CatalogData.problems``), never an
exception that reaches the browser. Manifests are cached by modification time, so a catalog page
over a large catalog parses each manifest once.

Exceptions::

    Exception
     +-- ViewerError   (also ValueError)   a page cannot be shown; the message says why and what to do
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...schemas import AuditReport, GenerationReport, GymManifest

__all__ = ["Calibration", "CatalogData", "CatalogReader", "GymRow", "ViewerError", "read_calibration"]

PROBLEM_KINDS = frozenset({"helper", "segment", "method", "getter"})


class ViewerError(ValueError):
    """A page cannot be shown: the message says what is missing and what to do."""


@dataclass(frozen=True)
class Calibration:
    """calibration.json (shared decision 4): the model's pass rate per (task id, instance index)."""

    model: str | None
    base_url: str | None
    samples: int | None
    temperature: float | None
    created: str | None
    rates: dict[tuple[str, int], float]

    def gym_rates(self, task_id: str) -> list[float]:
        """The pass rates of one gym's measured instances, in instance order."""
        return [rate for (task, _), rate in sorted(self.rates.items()) if task == task_id]


@dataclass(frozen=True)
class GymRow:
    """One gym as the catalog page lists it (from its manifest, plus the audit and calibration)."""

    task_id: str
    problem_id: str
    source: str
    tools: int
    problem_tools: int
    instances: int
    batch_size: int
    observation: str
    steps_min: int
    steps_mean: float
    steps_max: int
    findings: int | None
    pass_rate: float | None
    measured: int


@dataclass
class CatalogData:
    """Everything the catalog and plots pages show."""

    path: Path
    rows: list[GymRow]
    broken: list[tuple[str, str]] = field(default_factory=list)
    report: GenerationReport | None = None
    audit: AuditReport | None = None
    calibration: Calibration | None = None
    problems: list[str] = field(default_factory=list)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "$"
    return f"{where}: {err['msg']}"


def read_calibration(path: Path) -> Calibration:
    """Read calibration.json leniently: the instance entries may sit under any list of objects.

    Raises:
        ViewerError: the file is not JSON, or holds no entry with task_id and pass_rate.
    """
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ViewerError(f"{path} cannot be read as JSON ({exc}): rerun `codegym-mcp calibrate`") from None
    if not isinstance(data, dict):
        raise ViewerError(f"{path} holds {type(data).__name__}, not an object: rerun `codegym-mcp calibrate`")
    entries = next(
        (v for v in data.values() if isinstance(v, list) and v and all(isinstance(e, dict) for e in v)), []
    )
    rates: dict[tuple[str, int], float] = {}
    for position, entry in enumerate(entries):
        task, rate = entry.get("task_id"), entry.get("pass_rate")
        index = entry.get("instance", entry.get("instance_index", entry.get("index", position)))
        if isinstance(task, str) and isinstance(rate, int | float) and isinstance(index, int):
            rates[(task, index)] = float(rate)
    if not rates:
        raise ViewerError(
            f"{path} lists no instance with task_id and pass_rate: rerun `codegym-mcp calibrate`"
        )

    def pick(key: str, kind: type | tuple[type, ...]) -> Any:
        value = data.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    return Calibration(
        model=pick("model", str),
        base_url=pick("base_url", str),
        samples=pick("samples", int),
        temperature=pick("temperature", (int, float)),
        created=None if data.get("created") is None else str(data["created"]),
        rates=rates,
    )


class CatalogReader:
    """Reads one catalog folder on each request, re-parsing only the manifests that changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._manifests: dict[str, tuple[tuple[int, int], GymManifest | str]] = {}

    def _manifest(self, file: Path) -> GymManifest | str:
        stat = file.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            hit = self._manifests.get(file.parent.name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value: GymManifest | str
        try:
            value = GymManifest.model_validate_json(file.read_bytes())
        except ValidationError as exc:
            value = f"manifest.json invalid: {_first_error(exc)}"
        with self._lock:
            self._manifests[file.parent.name] = (key, value)
        return value

    def read(self) -> CatalogData:
        """The catalog's gyms and reports.

        Raises:
            ViewerError: the folder does not exist or is not a catalog.
        """
        if not self.path.is_dir():
            raise ViewerError(
                f"no catalog at {self.path}: build one with `codegym-mcp generate --out {self.path}`, "
                "or start the viewer with --catalog DIR naming an existing one"
            )
        data = CatalogData(path=self.path, rows=[])
        data.report = self._model(GenerationReport, "report.json", data, "codegym-mcp generate")
        data.audit = self._model(AuditReport, "audit.json", data, "codegym-mcp audit")
        calibration = self.path / "calibration.json"
        if calibration.is_file():
            try:
                data.calibration = read_calibration(calibration)
            except ViewerError as exc:
                data.problems.append(str(exc))
        findings: dict[str, int] = {}
        if data.audit is not None:
            for finding in data.audit.findings:
                findings[finding.task_id] = findings.get(finding.task_id, 0) + 1
        for file in sorted(self.path.glob("*/manifest.json")):
            try:
                manifest = self._manifest(file)
            except OSError as exc:
                manifest = f"manifest.json unreadable ({exc.strerror})"
            if isinstance(manifest, str):
                data.broken.append((file.parent.name, manifest))
                continue
            data.rows.append(_row(manifest, data, findings))
        if not data.rows and not data.broken and data.report is None:
            raise ViewerError(
                f"{self.path} holds no gym (no */manifest.json) and no report.json: is it a catalog? "
                f"Build one with `codegym-mcp generate --out {self.path}`"
            )
        return data

    def _model[M: (GenerationReport, AuditReport)](
        self, model: type[M], name: str, data: CatalogData, command: str
    ) -> M | None:
        file = self.path / name
        if not file.is_file():
            return None
        try:
            return model.model_validate_json(file.read_bytes())
        except ValidationError as exc:
            data.problems.append(f"{file} does not validate ({_first_error(exc)}): rerun `{command}`")
        except OSError as exc:
            data.problems.append(f"{file} cannot be read ({exc.strerror}): check its permissions")
        return None


def _row(manifest: GymManifest, data: CatalogData, findings: dict[str, int]) -> GymRow:
    rates = data.calibration.gym_rates(manifest.task_id) if data.calibration else []
    return GymRow(
        task_id=manifest.task_id,
        problem_id=manifest.problem_id,
        source=manifest.source,
        tools=len(manifest.tools),
        problem_tools=sum(t.kind in PROBLEM_KINDS for t in manifest.tools),
        instances=manifest.n_instances,
        batch_size=manifest.batch_size,
        observation=manifest.observation,
        steps_min=manifest.oracle.steps_min,
        steps_mean=manifest.oracle.steps_mean,
        steps_max=manifest.oracle.steps_max,
        findings=findings.get(manifest.task_id, 0) if data.audit is not None else None,
        pass_rate=sum(rates) / len(rates) if rates else None,
        measured=len(rates),
    )
