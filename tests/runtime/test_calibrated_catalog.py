"""The hardness filter: a catalog seen through calibration.json keeps the episodes in a pass-rate range."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codegym_mcp.runtime import (
    BadCalibration,
    CalibratedCatalog,
    Catalog,
    PassRateRange,
    UnknownTask,
    episode_count,
    episode_instances,
    gym_sha256,
)
from codegym_mcp.schemas import Calibration, InstanceCalibration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalog"


def write_calibration(
    root: Path, rates: dict[tuple[str, int], float | None], *, stale: frozenset[str] = frozenset()
) -> None:
    catalog = Catalog(root)
    rows = []
    for (task_id, instance), rate in rates.items():
        gym = catalog.load(task_id)
        rows.append(
            InstanceCalibration(
                task_id=task_id,
                instance=instance,
                instance_id="+".join(i.instance_id for i in episode_instances(gym, instance)),
                gym_sha256="0" * 64 if task_id in stale else gym_sha256(gym),
                passes=0 if rate is None else round(4 * rate),
                samples=0 if rate is None else 4,
                pass_rate=rate,
            )
        )
    calibration = Calibration(
        model="m",
        base_url=None,
        samples=4,
        temperature=1.0,
        max_turns=20,
        created="2026-01-01T00:00:00+00:00",
        instances=rows,
    )
    (root / "calibration.json").write_text(calibration.model_dump_json(), encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "catalog")
    return tmp_path / "catalog"


def test_episodes_in_range_and_unmeasured_ones_are_kept_and_renumbered_in_order(root: Path) -> None:
    # maxsub: 4 instances measured; vowels: instance 1 unmeasured, 0 and 2 solved always
    write_calibration(
        root,
        {
            ("Fixture_maxsub", 0): 0.0,
            ("Fixture_maxsub", 1): 1.0,
            ("Fixture_maxsub", 2): 0.25,
            ("Fixture_maxsub", 3): 0.5,
            ("Fixture_vowels", 0): 1.0,
            ("Fixture_vowels", 2): 0.75,
        },
    )
    full = Catalog(root).load("Fixture_maxsub")
    view = CalibratedCatalog(root, PassRateRange(max_rate=0.25))
    gym = view.load("Fixture_maxsub")
    assert [i.instance_id for i in gym.instances] == [
        full.instances[0].instance_id,
        full.instances[2].instance_id,
    ]
    assert gym.manifest.n_instances == 2
    assert gym.manifest.oracle.steps_max == max(i.oracle_steps for i in gym.instances)
    vowels = view.load("Fixture_vowels")
    assert [i.instance_id for i in vowels.instances] == [
        Catalog(root).load("Fixture_vowels").instances[1].instance_id
    ]
    counts = view.counts()
    assert (counts.kept, counts.dropped, counts.unmeasured, counts.stale) == (3, 4, 1, 0)
    assert "1 kept without a measurement" in counts.format(view.rates)


def test_a_gym_left_without_episodes_is_not_served_and_says_why(root: Path) -> None:
    write_calibration(root, {("Fixture_vowels", i): 1.0 for i in range(3)})
    view = CalibratedCatalog(root, PassRateRange(max_rate=0.125))
    assert view.task_ids() == ["Fixture_maxsub"]  # unmeasured: kept whole
    with pytest.raises(UnknownTask, match="no episode with a pass rate in"):
        view.load("Fixture_vowels")
    assert view.load("Fixture_maxsub") == Catalog(root).load("Fixture_maxsub")


def test_a_measurement_of_an_older_gym_counts_as_none(root: Path) -> None:
    write_calibration(
        root, {("Fixture_vowels", i): 1.0 for i in range(3)}, stale=frozenset({"Fixture_vowels"})
    )
    view = CalibratedCatalog(root, PassRateRange(max_rate=0.25))
    assert len(view.load("Fixture_vowels").instances) == 3
    counts = view.counts()
    assert (counts.stale, counts.unmeasured, counts.dropped) == (3, 7, 0)


def test_a_batched_gym_is_filtered_by_whole_episodes(root: Path) -> None:
    path = root / "Fixture_maxsub" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["batch_size"] = 2
    path.write_text(json.dumps(manifest), encoding="utf-8")
    full = Catalog(root).load("Fixture_maxsub")
    assert episode_count(full) == 2
    write_calibration(root, {("Fixture_maxsub", 0): 0.5, ("Fixture_maxsub", 1): 0.0})
    gym = CalibratedCatalog(root, PassRateRange(max_rate=0.25)).load("Fixture_maxsub")
    assert [i.instance_id for i in gym.instances] == [i.instance_id for i in full.instances[2:4]]
    assert episode_count(gym) == 1


def test_bad_bounds_and_a_missing_calibration_are_refused_with_the_fix(root: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        PassRateRange(max_rate=25)
    with pytest.raises(ValueError, match="above --max-pass-rate"):
        PassRateRange(min_rate=0.5, max_rate=0.25)
    with pytest.raises(BadCalibration, match="codegym-mcp calibrate --catalog"):
        CalibratedCatalog(root, PassRateRange())
