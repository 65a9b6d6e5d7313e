"""check_gym passes on every gym of a sample catalog generated here, and catches broken gyms."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegym_mcp.generator._results import GenerateSettings
from codegym_mcp.generator.audit._check import check_gym
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline._run import generate
from codegym_mcp.runtime import SandboxConfig, Worker
from codegym_mcp.schemas import Problem

from .._recording import KODCODE

HUMANEVAL_IDS = [
    "HumanEval/0",
    "HumanEval/12",
    "HumanEval/36",
    "HumanEval/55",
    "HumanEval/107",
    "HumanEval/129",
]
# functions, a class (design) problem, a tree and a linked list problem (adapted to JSON lists)
KODCODE_IDS = ["FX_Algorithm_004", "FX_Leetcode_001", "FX_Leetcode_004", "FX_Leetcode_005", "FX_Leetcode_006"]


def _sample() -> list[Problem]:
    problems = [p for p in load_dataset("humaneval").problems if p.problem_id in HUMANEVAL_IDS]
    problems += [p for p in load_dataset(f"kodcode:{KODCODE}").problems if p.problem_id in KODCODE_IDS]
    assert len(problems) == len(HUMANEVAL_IDS) + len(KODCODE_IDS)
    return problems


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalog")
    generate(
        _sample(),
        catalog=out,
        dataset="sample",
        settings=GenerateSettings.unfiltered(augment=3, seed=1),
        sandbox=SandboxConfig(isolation="nsjail"),
    )
    return out


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation="nsjail")) as w:
        yield w


def _gyms(catalog: Path) -> list[Path]:
    return sorted(p for p in catalog.iterdir() if (p / "manifest.json").exists())


def test_the_sample_catalog_has_most_of_its_problems_as_gyms(catalog: Path) -> None:
    report = json.loads((catalog / "report.json").read_text(encoding="utf-8"))
    assert report["problems_read"] == len(_sample())
    assert report["gyms_verified"] >= len(_sample()) - 1
    kinds = {
        t["kind"] for g in _gyms(catalog) for t in json.loads((g / "manifest.json").read_text())["tools"]
    }
    assert {"observe", "submit", "task", "segment"} <= kinds


def test_every_generated_gym_passes_check_gym(catalog: Path, worker: Worker) -> None:
    gyms = _gyms(catalog)
    assert gyms
    # the contract; honesty (names, statements) is measured in test_audit_honesty and by `audit`
    problems = {g.name: check_gym(g, worker, honesty=False) for g in gyms}
    assert problems == {g.name: [] for g in gyms}


def _broken_copy(catalog: Path, tmp_path: Path) -> Path:
    source = _gyms(catalog)[0]
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def test_a_changed_expected_output_is_caught(catalog: Path, worker: Worker, tmp_path: Path) -> None:
    gym = _broken_copy(catalog, tmp_path)
    lines = (gym / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["expected"] = {"$tuple": ["not", "the", "answer"]}
    (gym / "instances.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    assert any("does not reproduce" in p for p in check_gym(gym, worker))


def test_edited_tools_and_missing_instances_are_caught(catalog: Path, worker: Worker, tmp_path: Path) -> None:
    gym = _broken_copy(catalog, tmp_path)
    with (gym / "tools.py").open("a", encoding="utf-8") as f:
        f.write("\nimport os\n")
    lines = (gym / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    (gym / "instances.jsonl").write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    found = check_gym(gym, worker)
    assert any("tools_sha256" in p for p in found)
    assert any("instances, the file holds" in p for p in found)


def test_a_manifest_that_does_not_validate_is_reported(catalog: Path, worker: Worker, tmp_path: Path) -> None:
    gym = _broken_copy(catalog, tmp_path)
    manifest = json.loads((gym / "manifest.json").read_text(encoding="utf-8"))
    del manifest["tools"]
    (gym / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert check_gym(gym, worker)[0].startswith("manifest.json is not a GymManifest")
