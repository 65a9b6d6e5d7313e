"""The viewer's pages over HTTP (Starlette's test client): figures, filters, paging, bad input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import AuditReport, GenerationReport
from codegym_mcp.servers import GymServer
from codegym_mcp.servers.viewer import build_app

from ._viewer_fixtures import BATCHED, PASS_RATES, build_catalog, chart_bars, table_rows, write_records


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("viewer"))


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("records") / "scripted.jsonl"
    write_records(path, 10_000)
    return path


def client(catalog: Path, records: list[tuple[str, Path]] | None = None) -> TestClient:
    return TestClient(build_app(catalog, records or []))


class _Refuse:
    async def call(self, *, source: str, function: str, args: list[object]) -> object:
        raise AssertionError("no tool runs")


def test_the_catalog_page_lists_every_gym_with_its_manifest_and_audit_figures(catalog: Path) -> None:
    page = client(catalog).get("/")
    assert page.status_code == 200
    rows = {r[0]: r for r in table_rows(page.text, "gyms")}
    assert sorted(rows) == Catalog(catalog).task_ids()
    audit = AuditReport.model_validate_json((catalog / "audit.json").read_text(encoding="utf-8"))
    for task_id, row in rows.items():
        manifest = Catalog(catalog).load(task_id).manifest
        assert row[2] == str(len(manifest.tools))
        assert row[4] == str(manifest.n_instances)
        assert row[5] == str(manifest.batch_size)
        assert row[6] == str(manifest.oracle.steps_min) and row[8] == str(manifest.oracle.steps_max)
        assert row[9] == str(sum(f.task_id == task_id for f in audit.findings))
    assert rows["Fixture_vowels"][10] == f"{sum(PASS_RATES[:3]) / 3:.1%} (3)"
    assert rows[BATCHED][10] == "25.0% (1)"
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    assert f'id="fig-problems-read"><b>{report.problems_read}</b>' in page.text
    assert len(table_rows(page.text, "rejections")) == len(report.rejections)


def test_the_catalog_page_searches_ids_and_sorts_by_a_column(catalog: Path) -> None:
    found = table_rows(client(catalog).get("/", params={"q": "maxsub"}).text, "gyms")
    assert [r[0] for r in found] == ["Fixture_maxsub", BATCHED]
    by_instances = table_rows(
        client(catalog).get("/", params={"sort": "instances", "order": "desc"}).text, "gyms"
    )
    counts = [int(r[4]) for r in by_instances]
    assert counts == sorted(counts, reverse=True)
    nothing = client(catalog).get("/", params={"q": "no-such-gym"}).text
    assert table_rows(nothing, "gyms") == [] and "0 of 3 gyms shown" in nothing


def test_the_plots_match_report_json_and_the_calibration(catalog: Path) -> None:
    bars = chart_bars(client(catalog).get("/plots").text)
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    assert bars["chart-yield"] == {
        "problems read": report.problems_read,
        "rejected at dedup": 1,
        "rejected at verify": 1,
        "rejected at filter": 2,
        "gyms verified": report.gyms_verified,
    }
    steps = [s for g in report.gyms for s in g.oracle_steps]
    assert sum(bars["chart-steps"].values()) == len(steps)
    assert bars["chart-reasons"]["filter: fewer than 4 distinct tools"] == 2
    assert (
        bars["chart-pass-rate"]["0.9–1"] == 2 and sum(bars["chart-pass-rate"].values()) == len(PASS_RATES) + 1
    )
    assert sum(bars["chart-tools"].values()) == 3


def test_the_gym_page_shows_the_servers_own_statement_and_published_tools(catalog: Path) -> None:
    gym = Catalog(catalog).load(BATCHED)
    server = GymServer(gym, _Refuse())
    page = client(catalog).get(f"/gym/{BATCHED}").text
    shown = re.search(r'<pre id="statement">(.*?)</pre>', page, re.S)
    assert shown is not None and html.unescape(shown.group(1)) == server.instructions()
    tools = table_rows(page, "tools")
    assert [r[0] for r in tools] == [t.name for t in server.tools]
    observe = next(r for r in tools if r[0] == "observe")
    assert '"case"' in observe[3]  # a batched gym's tools take the case selector, as published
    instances = table_rows(page, "instances")
    assert [r[5] for r in instances] == [str(i.oracle_steps) for i in gym.instances]
    assert [r[6] for r in instances] == ["—", "—", "25.0%", "25.0%"]  # episode 1 = lines 2 and 3 (K=2)


def test_the_instance_page_walks_the_oracle_trace_call_by_call(catalog: Path) -> None:
    gym = Catalog(catalog).load("Fixture_vowels")
    page = client(catalog).get("/gym/Fixture_vowels/instance/1").text
    trace = table_rows(page, "trace")
    assert [r[1] for r in trace] == [c.tool for c in gym.instances[1].oracle_trace]


def test_ten_thousand_records_page_by_page_with_no_page_over_two_megabytes(
    catalog: Path, records: Path
) -> None:
    viewer = client(catalog, [("scripted", records)])
    first = viewer.get("/episodes")
    assert "10,000 of 10,000 records match; page 1 of 200" in first.text
    assert len(table_rows(first.text, "episodes")) == 50
    largest = max(len(viewer.get("/episodes", params={"per": 200, "page": p}).content) for p in (1, 25, 50))
    assert largest < 2_000_000
    solved = viewer.get("/episodes", params={"outcome": "solved", "task": "vowels"}).text
    expected = sum(1 for i in range(10_000) if i % 10 != 9 and i % 3 == 0 and i % 2 == 1)
    assert f"{expected:,} of 10,000 records match" in solved
    detail = viewer.get("/episode/0/4")  # line 4 holds index 3: reward 1, one tool error
    assert detail.status_code == 200 and '<span id="reward">1</span>' in detail.text
    assert len(table_rows(detail.text, "steps")) == 2


def test_policy_figures_on_the_plots_page_match_the_records(catalog: Path, records: Path) -> None:
    page = client(catalog, [("scripted", records)]).get("/plots").text
    bars = chart_bars(page)
    solved = sum(1 for i in range(10_000) if i % 10 != 9 and i % 3 == 0)
    assert bars["chart-success"]["scripted"] == pytest.approx(solved / 10_000)
    assert bars["chart-tool-use"]["scripted"] == pytest.approx(0.5)
    row = table_rows(page, "policy-table")[0]
    assert row[:3] == ["scripted", "10,000", f"{solved:,}"] and row[7] == "1,000"


def test_a_malformed_record_line_is_named_on_the_page_and_the_others_still_show(
    catalog: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.jsonl"
    write_records(path, 3)
    with path.open("a", encoding="utf-8") as out:
        out.write('{"task_id": "Fixture_vowels", "steps": [\n')
        out.write('{"hello": 1}\n')
    page = client(catalog, [("run", path)]).get("/episodes").text
    assert "run.jsonl line 4: not JSON" in page
    assert "run.jsonl line 5: not an episode record: no task_id" in page
    assert len(table_rows(page, "episodes")) == 3
    assert "Traceback" not in page


def test_a_missing_catalog_is_a_message_on_the_page_not_a_stack_trace(tmp_path: Path) -> None:
    viewer = client(tmp_path / "nowhere")
    for path in ("/", "/plots", "/gym/Fixture_vowels"):
        response = viewer.get(path)
        assert f"no catalog at {tmp_path / 'nowhere'}" in response.text
        assert "codegym-mcp generate --out" in response.text and "Traceback" not in response.text


def test_unknown_gyms_instances_and_pages_answer_404_with_a_hint(catalog: Path) -> None:
    viewer = client(catalog)
    gym = viewer.get("/gym/Fixture_vowel")
    assert gym.status_code == 404 and "did you mean Fixture_vowels" in gym.text
    instance = viewer.get("/gym/Fixture_vowels/instance/9")
    assert instance.status_code == 404 and "numbered 0 to 2" in instance.text
    assert viewer.get("/nowhere").status_code == 404
    assert viewer.get("/episode/0/1").status_code == 404


def test_a_broken_report_file_and_a_broken_gym_are_said_on_the_catalog_page(
    catalog: Path, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(catalog, broken)
    (broken / "audit.json").write_text('{"catalog": 1}', encoding="utf-8")
    (broken / "calibration.json").write_text("not json", encoding="utf-8")
    (broken / "Fixture_vowels" / "manifest.json").write_text("{}", encoding="utf-8")
    page = client(broken).get("/")
    assert page.status_code == 200
    assert "audit.json does not validate" in page.text and "rerun `codegym-mcp audit`" in page.text
    assert "calibration.json cannot be read as JSON" in page.text
    assert table_rows(page.text, "gyms")[0][0] == "Fixture_maxsub"
    assert "Gyms that cannot be read" in page.text and "manifest.json invalid" in page.text
    assert "no calibration.json" not in page.text


def test_an_unexpected_failure_is_a_500_page_without_a_stack_trace(
    catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codegym_mcp.servers.viewer import _app

    def boom(*args: object, **kwargs: object) -> str:
        raise KeyError("surprise")

    monkeypatch.setattr(_app, "catalog_page", boom)
    response = client(catalog).get("/")
    assert response.status_code == 500
    assert "KeyError: &#x27;surprise&#x27;" in response.text and "Traceback" not in response.text
