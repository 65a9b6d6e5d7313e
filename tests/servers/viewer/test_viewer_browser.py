"""The viewer in a real headless browser: navigation, figures, console, screenshots, bad input, report.html."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import GenerationReport
from codegym_mcp.servers.viewer import running_viewer, write_report_html

from ._browser import chromium, console_errors, screenshot
from ._viewer_fixtures import build_catalog, write_records

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as d:
        yield d


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("browser"))


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _all(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def test_catalog_to_gym_to_instance_to_episodes_navigates_with_the_files_numbers(
    driver: Any, catalog: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    records = tmp_path / "oracle.jsonl"
    write_records(records, 120)
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    with running_viewer(catalog, [("oracle", records)]) as base:
        driver.get(base + "/")
        assert _text(driver, "#fig-problems-read b") == str(report.problems_read)
        assert _text(driver, "#fig-gyms-verified b") == str(report.gyms_verified)
        assert len(_all(driver, "#gyms tbody tr")) == len(Catalog(catalog).task_ids())
        assert console_errors(driver) == []
        screenshot(driver, "catalog")

        driver.find_element(By.ID, "search").send_keys("vowels")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        assert [e.text for e in _all(driver, "#gyms tbody tr td:first-child")] == ["Fixture_vowels"]

        driver.find_element(By.LINK_TEXT, "Fixture_vowels").click()
        gym = Catalog(catalog).load("Fixture_vowels")
        assert driver.title == "Gym Fixture_vowels"
        assert gym.manifest.task.split("\n")[0] in _text(driver, "#statement")
        answer = _all(driver, "#instances tbody tr")[0].find_element(By.CSS_SELECTOR, "details")
        assert not answer.find_element(By.TAG_NAME, "pre").is_displayed()
        answer.find_element(By.TAG_NAME, "summary").click()
        assert answer.find_element(By.TAG_NAME, "pre").is_displayed()
        assert console_errors(driver) == []
        screenshot(driver, "gym")

        _all(driver, "#instances tbody tr")[0].find_element(By.CSS_SELECTOR, "td:nth-child(2) a").click()
        assert len(_all(driver, "#trace tbody tr")) == len(gym.instances[0].oracle_trace)
        assert console_errors(driver) == []
        screenshot(driver, "instance")

        driver.find_element(By.LINK_TEXT, "Episodes").click()
        assert _text(driver, "#matching") == "120 of 120 records match; page 1 of 3"
        driver.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
        assert "page 2 of 3" in _text(driver, "#matching")
        assert len(_all(driver, "#episodes tbody tr")) == 50
        screenshot(driver, "episodes")
        _all(driver, "#episodes tbody tr")[0].find_element(By.CSS_SELECTOR, "td:first-child a").click()
        assert _text(driver, "#reward") == "0"  # record 50: reward 0 (write_records)
        assert len(_all(driver, "#steps tbody tr")) == 4
        assert console_errors(driver) == []
        screenshot(driver, "episode")
        task = driver.find_element(By.CSS_SELECTOR, "#facts tbody td:nth-child(2) a")
        task_id = task.text
        task.click()
        assert driver.title == f"Gym {task_id}"


def test_the_plots_page_draws_every_chart_with_the_reports_numbers(
    driver: Any, catalog: Path, tmp_path: Path
) -> None:
    records = tmp_path / "random.jsonl"
    write_records(records, 30)
    report = GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))
    with running_viewer(catalog, [("random", records)]) as base:
        driver.get(base + "/plots")
        charts = {e.get_attribute("id") for e in _all(driver, "svg")}
        assert charts >= {
            "chart-yield",
            "chart-steps",
            "chart-tools",
            "chart-pass-rate",
            "chart-success",
            "chart-tool-use",
        }
        yielded = {
            e.get_attribute("data-label"): float(e.get_attribute("data-value"))
            for e in _all(driver, "#chart-yield rect.bar")
        }
        assert yielded["gyms verified"] == report.gyms_verified
        steps = sum(float(e.get_attribute("data-value")) for e in _all(driver, "#chart-steps rect.bar"))
        assert steps == sum(len(g.oracle_steps) for g in report.gyms)
        assert console_errors(driver) == []
        screenshot(driver, "plots")


def test_bad_input_shows_a_message_in_the_browser_never_a_stack_trace(driver: Any, tmp_path: Path) -> None:
    records = tmp_path / "broken.jsonl"
    write_records(records, 2)
    with records.open("a", encoding="utf-8") as out:
        out.write("this is not json\n")
    with running_viewer(tmp_path / "no-catalog", [("broken", records)]) as base:
        driver.get(base + "/")
        assert "no catalog at" in _text(driver, ".msg.error")
        screenshot(driver, "missing-catalog")
        driver.get(base + "/episodes")
        assert "broken.jsonl line 3: not JSON" in _text(driver, ".msg.error")
        assert len(_all(driver, "#episodes tbody tr")) == 2
        screenshot(driver, "malformed-record")
        assert "Traceback" not in driver.page_source
        assert console_errors(driver) == []


def test_report_html_opens_from_a_file_with_nothing_fetched(
    driver: Any, catalog: Path, tmp_path: Path
) -> None:
    path = write_report_html(tmp_path / "report.html", catalog)
    driver.get(path.as_uri())
    assert {e.get_attribute("id") for e in _all(driver, "svg")} >= {
        "chart-yield",
        "chart-steps",
        "chart-tools",
    }
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert console_errors(driver) == []
    screenshot(driver, "report")
