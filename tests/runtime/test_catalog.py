"""Catalog: default location, task lookup by task id or dataset id, suggestions, broken gyms."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from codegym_mcp.runtime import BrokenGym, Catalog, CatalogNotFound, UnknownTask, default_catalog_dir
from codegym_mcp.schemas import GymManifest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalog"


def test_default_catalog_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEGYM_CATALOG", str(tmp_path / "cat"))
    assert default_catalog_dir() == tmp_path / "cat"


def test_default_catalog_dir_falls_back_to_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("CODEGYM_CATALOG", raising=False)
    assert default_catalog_dir() == Path(platformdirs.user_data_dir("codegym-mcp")) / "catalog"


def test_fixture_catalog_lists_its_gyms() -> None:
    assert Catalog(FIXTURE).task_ids() == ["Fixture_maxsub", "Fixture_vowels"]


@pytest.mark.parametrize("name", ["Fixture_maxsub", "Fixture/maxsub"])
def test_a_gym_is_found_by_task_id_or_dataset_id(name: str) -> None:
    gym = Catalog(FIXTURE).load(name)
    assert gym.task_id == "Fixture_maxsub"
    assert gym.manifest.problem_id == "Fixture/maxsub"
    assert len(gym.instances) == gym.manifest.n_instances == 4
    assert "def kadane_step" in gym.tools_source


def test_every_fixture_instance_has_an_oracle_trace_ending_in_submit() -> None:
    catalog = Catalog(FIXTURE)
    for task_id in catalog.task_ids():
        gym = catalog.load(task_id)
        GymManifest.model_validate(gym.manifest.model_dump())
        for instance in gym.instances:
            assert instance.oracle_trace[0].tool == "observe"
            assert instance.oracle_trace[-1].tool == "submit"
            assert instance.oracle_trace[-1].result == {"reward": 1}
            assert instance.oracle_steps == len(instance.oracle_trace)


def test_fixture_manifests_are_rebuilt_after_their_tools_change() -> None:
    """After editing a fixture's tools.py, run ``python -m tests.fixtures.build_catalog``."""
    catalog = Catalog(FIXTURE)
    for task_id in catalog.task_ids():
        gym = catalog.load(task_id)
        digest = hashlib.sha256(gym.tools_source.encode("utf-8")).hexdigest()
        assert digest == gym.manifest.tools_sha256, (
            f"{task_id}: rebuild with python -m tests.fixtures.build_catalog"
        )


def test_an_unknown_task_suggests_the_nearest_ids() -> None:
    with pytest.raises(UnknownTask) as info:
        Catalog(FIXTURE).load("Fixture_maxsup")
    assert info.value.suggestions[0] == "Fixture_maxsub"
    assert "did you mean Fixture_maxsub" in str(info.value)


def test_a_missing_catalog_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(CatalogNotFound, match="codegym-mcp generate"):
        Catalog(tmp_path / "nowhere").load("x")


def test_a_bad_instance_line_is_named(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "cat")
    path = tmp_path / "cat" / "Fixture_vowels" / "instances.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = '{"instance_id": 3}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BrokenGym, match=r"instances\.jsonl line 2"):
        Catalog(tmp_path / "cat").load("Fixture_vowels")


def test_an_invalid_manifest_is_reported_with_the_field(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "cat")
    (tmp_path / "cat" / "Fixture_vowels" / "manifest.json").write_text('{"task_id": "x"}', encoding="utf-8")
    with pytest.raises(BrokenGym, match=r"manifest\.json invalid"):
        Catalog(tmp_path / "cat").load("Fixture_vowels")
