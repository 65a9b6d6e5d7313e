"""``--report-html`` of generate, audit and rollout: one self-contained page with the viewer's plots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codegym_mcp.schemas import GenerationReport
from codegym_mcp.servers.cli import main

from ._viewer_fixtures import FIXTURE_CATALOG, build_catalog, chart_bars, table_rows

KODCODE_PAIRS = Path(__file__).parents[2] / "fixtures" / "dedup" / "kodcode_pairs.jsonl"


def assert_self_contained(page: str) -> None:
    """Nothing the page loads comes from elsewhere (the SVG namespace is a name, not a fetch)."""
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "<script" not in page and "@import" not in page and "url(" not in page


def test_audit_writes_a_report_whose_charts_match_report_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = build_catalog(tmp_path)
    out = tmp_path / "reports" / "audit.html"
    assert main(["audit", "--catalog", str(catalog), "--report-html", str(out)]) == 0
    assert f"report: {out}" in capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    bars = chart_bars(page)
    assert bars["chart-yield"]["gyms verified"] == report.gyms_verified
    assert sum(bars["chart-steps"].values()) == sum(len(g.oracle_steps) for g in report.gyms)
    assert sum(bars["chart-pass-rate"].values()) == 7


@pytest.mark.slow
def test_rollout_writes_a_report_with_its_policys_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rollout.html"
    argv = ["rollout", "--catalog", str(FIXTURE_CATALOG), "--policy", "oracle", "--episodes", "4"]
    assert main([*argv, "--server", "inprocess", "--report-html", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert table_rows(page, "policy-table")[0][:4] == ["oracle", "4", "4", "100.0%"]
    assert chart_bars(page)["chart-success"] == {"oracle": 1.0}
    assert "no report.json in" in page  # the fixture catalog has none: said, not hidden


@pytest.mark.slow
def test_generate_writes_a_report_beside_its_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog, out = tmp_path / "catalog", tmp_path / "report.html"
    argv = ["generate", "--dataset", f"kodcode:{KODCODE_PAIRS}", "--out", str(catalog), "--workers", "1"]
    assert main([*argv, "--limit", "2", "--report-html", str(out)]) == 0
    capsys.readouterr()
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    bars = chart_bars(out.read_text(encoding="utf-8"))
    assert bars["chart-yield"]["problems read"] == report.problems_read
    assert bars["chart-yield"]["gyms verified"] == report.gyms_verified


def test_an_unwritable_report_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = build_catalog(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["audit", "--catalog", str(catalog), "--report-html", str(blocker / "r.html")]) == 2
    assert "cannot write --report-html" in capsys.readouterr().err
