"""--min/--max-pass-rate on rollout (and the serve it starts), calibrate --write-filtered, tool-use stats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegym_mcp.runtime import CalibratedCatalog, Catalog, PassRateRange, gym_sha256
from codegym_mcp.schemas import Calibration, EndReason, EpisodeRecord, InstanceCalibration, StepRecord
from codegym_mcp.servers import RolloutSummary
from codegym_mcp.servers.cli import main
from codegym_mcp.servers.rollout._tool_use import problem_tools_of, tool_use_stats

from .._serve_helpers import FIXTURE

RATES = {
    ("Fixture_maxsub", 0): 0.0,
    ("Fixture_maxsub", 1): 1.0,
    ("Fixture_maxsub", 2): 0.25,
    ("Fixture_vowels", 0): 1.0,
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(FIXTURE, root)
    catalog = Catalog(root)
    rows = [
        InstanceCalibration(
            task_id=task_id,
            instance=instance,
            instance_id=catalog.load(task_id).instances[instance].instance_id,
            gym_sha256=gym_sha256(catalog.load(task_id)),
            passes=round(4 * rate),
            samples=4,
            pass_rate=rate,
        )
        for (task_id, instance), rate in RATES.items()
    ]
    calibration = Calibration(
        model="m",
        base_url=None,
        samples=4,
        temperature=1.0,
        max_turns=9,
        created="2026-01-01T00:00:00+00:00",
        instances=rows,
    )
    (root / "calibration.json").write_text(calibration.model_dump_json(), encoding="utf-8")
    return root


def test_rollout_plays_only_the_episodes_in_range_through_a_filtering_server(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, summary_json = tmp_path / "out.jsonl", tmp_path / "summary.json"
    args = ["rollout", "--catalog", str(root), "--policy", "oracle", "--episodes", "8", "--no-sandbox"]
    args += ["--max-pass-rate", "0.25", "--out", str(out), "--summary-json", str(summary_json)]
    assert main(args) == 0
    full = {t: Catalog(root).load(t) for t in ("Fixture_maxsub", "Fixture_vowels")}
    kept = {
        full["Fixture_maxsub"].instances[0].instance_id,
        full["Fixture_maxsub"].instances[2].instance_id,
        full["Fixture_maxsub"].instances[3].instance_id,  # unmeasured
        full["Fixture_vowels"].instances[1].instance_id,  # unmeasured
        full["Fixture_vowels"].instances[2].instance_id,  # unmeasured
    }
    records = [
        EpisodeRecord.model_validate_json(line) for line in out.read_text(encoding="utf-8").splitlines()
    ]
    assert {r.instance_id for r in records} == kept
    assert all(r.reward == 1 for r in records)
    summary = RolloutSummary.model_validate_json(summary_json.read_text(encoding="utf-8"))
    assert summary.tool_use == tool_use_stats(records, problem_tools_of(full))
    assert summary.tool_use is not None and summary.tool_use.episodes == 8
    err = capsys.readouterr().err
    assert "kept 5 of 7 episodes" in err and "3 kept without a measurement" in err


def test_write_filtered_gives_a_catalog_the_same_filter_keeps_whole(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "hard"
    assert (
        main(["calibrate", "--catalog", str(root), "--write-filtered", str(out), "--max-pass-rate", "0.25"])
        == 0
    )
    view = CalibratedCatalog(root, PassRateRange(max_rate=0.25))
    written = Catalog(out)
    assert written.task_ids() == view.task_ids()
    for task_id in view.task_ids():
        assert written.load(task_id).instances == view.load(task_id).instances
        assert written.load(task_id).manifest == view.load(task_id).manifest
    again = CalibratedCatalog(out, PassRateRange(max_rate=0.25)).counts()
    assert (again.kept, again.dropped, again.unmeasured) == (5, 0, 3)
    assert (
        main(["calibrate", "--catalog", str(root), "--write-filtered", str(out), "--max-pass-rate", "0.25"])
        == 2
    )


def test_tool_use_counts_problem_tools_and_the_solved_episodes_that_skipped_them() -> None:
    def record(tools: list[str], reward: int | None, errors: int = 0) -> EpisodeRecord:
        steps = [
            StepRecord(index=i, tool=t, arguments={}, latency_ms=1.0, error="bad" if i < errors else None)
            for i, t in enumerate(tools)
        ]
        end: EndReason = "submitted" if reward is not None else "infra_error"
        return EpisodeRecord(
            episode_id="e",
            task_id="t",
            instance_id="i",
            started_at=0,
            ended_at=1,
            steps=steps,
            reward=reward,
            end_reason=end,
        )

    records = [
        record(["observe", "read_xs", "add", "add", "submit"], 1),
        record(["observe", "submit"], 1),
        record(["add", "submit"], 0, errors=1),
        record(["add", "add", "add"], None),  # infrastructure: not counted
    ]
    stats = tool_use_stats(records, problem_tools_of({}))
    assert (stats.episodes, stats.used_problem_tools, stats.problem_tool_calls) == (3, 2, 3)
    assert (stats.solved, stats.solved_without_tools, stats.tool_calls, stats.tool_errors) == (2, 1, 9, 1)
    assert stats.solved_without_tools_share == 0.5
