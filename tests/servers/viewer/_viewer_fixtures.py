"""A small catalog with report.json, audit.json and calibration.json, and synthetic episode records.

The catalog is the fixture catalog (tests/fixtures/catalog) plus a batched copy of one gym; the
report and calibration are written here with known numbers, the audit by the real ``audit``.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

from codegym_mcp.generator import audit_catalog, write_audit
from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import EpisodeRecord, GenerationReport, GymSummary, Rejection, StepRecord

FIXTURE_CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"
BATCHED = "Fixture_maxsub_K2"
REJECTIONS = [
    Rejection(
        task_id="Fixture_a", problem_id="Fixture/a", stage="filter", reason="fewer than 4 distinct tools"
    ),
    Rejection(
        task_id="Fixture_b", problem_id="Fixture/b", stage="filter", reason="fewer than 4 distinct tools"
    ),
    Rejection(task_id="Fixture_c", problem_id="Fixture/c", stage="verify", reason="oracle mismatch: 3 != 4"),
    Rejection(
        task_id="Fixture_d",
        problem_id="Fixture/d",
        stage="dedup",
        reason="duplicate",
        duplicate_of="Fixture_vowels",
    ),
]
PASS_RATES = [0.0, 0.25, 0.5, 1.0, 1.0, 0.75]
"""Fixture_vowels instances 0-2, then Fixture_maxsub 0-2; the batched gym's episode 1 has 0.25."""


def build_catalog(root: Path) -> Path:
    """The catalog folder under ``root``, with every report file the viewer shows."""
    catalog = root / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    batched = catalog / BATCHED
    shutil.copytree(catalog / "Fixture_maxsub", batched)
    manifest = json.loads((batched / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(task_id=BATCHED, batch_size=2)
    (batched / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    gyms = [Catalog(catalog).load(t) for t in Catalog(catalog).task_ids()]
    summaries = [
        GymSummary(
            task_id=g.task_id,
            problem_id=g.manifest.problem_id,
            n_tools=len(g.manifest.tools),
            n_problem_tools=sum(
                t.kind in ("helper", "segment", "method", "getter") for t in g.manifest.tools
            ),
            n_instances=len(g.instances),
            oracle_steps_min=g.manifest.oracle.steps_min,
            oracle_steps_max=g.manifest.oracle.steps_max,
            oracle_steps_mean=g.manifest.oracle.steps_mean,
            oracle_steps=[i.oracle_steps for i in g.instances],
            batch_size=g.manifest.batch_size,
        )
        for g in gyms
    ]
    report = GenerationReport(
        dataset="fixture",
        problems_read=len(gyms) + len(REJECTIONS),
        gyms_verified=len(gyms),
        gyms=summaries,
        rejections=REJECTIONS,
        seconds=1.5,
    )
    (catalog / "report.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
    write_audit(catalog, audit_catalog(catalog))
    _write_calibration(catalog)
    return catalog


def _write_calibration(catalog: Path) -> None:
    entries = (
        [
            {
                "task_id": "Fixture_vowels",
                "instance": i,
                "passes": round(rate * 4),
                "samples": 4,
                "pass_rate": rate,
            }
            for i, rate in enumerate(PASS_RATES[:3])
        ]
        + [
            {
                "task_id": "Fixture_maxsub",
                "instance": i,
                "passes": round(rate * 4),
                "samples": 4,
                "pass_rate": rate,
            }
            for i, rate in enumerate(PASS_RATES[3:])
        ]
        + [{"task_id": BATCHED, "instance": 1, "passes": 1, "samples": 4, "pass_rate": 0.25}]
    )
    calibration = {
        "model": "scripted-model",
        "base_url": "http://127.0.0.1:8000/v1",
        "samples": 4,
        "temperature": 1.0,
        "created": "2026-11-30T09:00:00Z",
        "instances": entries,
    }
    (catalog / "calibration.json").write_text(json.dumps(calibration), encoding="utf-8")


def record(index: int, *, task_id: str, reward: int | None, tools: tuple[str, ...]) -> EpisodeRecord:
    """A synthetic episode: the given tool calls (the last one submits), one tool error on odd indexes."""
    steps = [
        StepRecord(
            index=i,
            tool=tool,
            arguments={"start": i} if tool.startswith("read_") else {},
            result={"items": [i, i + 1]},
            error="start 99 is past the end (length 4)" if index % 2 and i == 0 else None,
            latency_ms=1.5,
        )
        for i, tool in enumerate(tools)
    ]
    return EpisodeRecord(
        episode_id=f"ep{index:05d}",
        task_id=task_id,
        instance_id=f"inst{index % 7}",
        started_at=1_700_000_000.0 + index,
        ended_at=1_700_000_000.5 + index,
        steps=steps,
        submission=1,
        expected=1 if reward == 1 else 2,
        reward=reward,
        end_reason="submitted" if reward is not None else "infra_error",
    )


def write_records(
    path: Path, count: int, *, tasks: tuple[str, ...] = ("Fixture_maxsub", "Fixture_vowels")
) -> None:
    """``count`` records cycling over ``tasks``: reward 1 on index % 3 == 0, null on index % 10 == 9, else 0.

    Episodes with an even index call a problem tool (``count_vowels``); the others only observe and submit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            reward = None if i % 10 == 9 else 1 if i % 3 == 0 else 0
            tools = ("observe", "read_s", "count_vowels", "submit") if i % 2 == 0 else ("observe", "submit")
            out.write(
                record(i, task_id=tasks[i % len(tasks)], reward=reward, tools=tools).model_dump_json() + "\n"
            )


class _Tables(HTMLParser):
    """Text of every cell of the table with a given id, and the bars of every chart."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.bars: dict[str, dict[str, float]] = {}
        self.chart = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.chart = a.get("id") or ""
        if tag == "rect" and a.get("class") == "bar":
            self.bars.setdefault(self.chart, {})[a.get("data-label") or ""] = float(a.get("data-value") or 0)
        if tag == "table" and (self.depth or a.get("id") == self.table_id):
            self.depth += 1
        if self.depth == 1 and tag == "tr":
            self.rows.append([])
        if self.depth == 1 and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        if tag == "td" and self.depth == 1 and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row of the table ``table_id`` (header rows left out)."""
    parser = _Tables(table_id)
    parser.feed(page)
    return [row for row in parser.rows if row]


def chart_bars(page: str) -> dict[str, dict[str, float]]:
    """chart id -> bar label -> value, for every chart of the page."""
    parser = _Tables("")
    parser.feed(page)
    return parser.bars
