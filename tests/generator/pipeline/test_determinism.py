"""The same problems and seed give a byte-identical catalog (report timings aside), in or out of a pool."""

from __future__ import annotations

import json
from pathlib import Path

from codegym_mcp.generator._results import GenerateSettings
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline._run import generate
from codegym_mcp.runtime import SandboxConfig

IDS = ["HumanEval/0", "HumanEval/3", "HumanEval/12", "HumanEval/22", "HumanEval/107"]


def _files(catalog: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(catalog.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "report.json":
                report = json.loads(data)
                report.pop("seconds")
                data = json.dumps(report, sort_keys=True).encode()
            out[str(path.relative_to(catalog))] = data
    return out


def test_two_runs_with_one_seed_write_identical_catalogs(tmp_path: Path) -> None:
    problems = [p for p in load_dataset("humaneval").problems if p.problem_id in IDS]
    settings = GenerateSettings(seed=5)  # the defaults: size ladder, filters, degenerate cap
    sandbox = SandboxConfig(isolation="nsjail")
    for name, order, workers in (("a", problems, 1), ("b", list(reversed(problems)), 2)):
        generate(
            order,
            catalog=tmp_path / name,
            dataset="humaneval",
            settings=settings,
            sandbox=sandbox,
            workers=workers,
        )
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    assert any("augmented" in data.decode() for name, data in a.items() if name.endswith("instances.jsonl"))


def test_another_seed_changes_only_the_augmented_instances(tmp_path: Path) -> None:
    problems = [p for p in load_dataset("humaneval").problems if p.problem_id == "HumanEval/0"]
    sandbox = SandboxConfig(isolation="nsjail")
    for seed in (1, 2):
        generate(
            problems,
            catalog=tmp_path / str(seed),
            dataset="humaneval",
            settings=GenerateSettings.unfiltered(seed=seed, augment=3),
            sandbox=sandbox,
        )
    one, two = (_files(tmp_path / s) for s in ("1", "2"))
    assert one["HumanEval_0/tools.py"] == two["HumanEval_0/tools.py"]
    assert one["HumanEval_0/instances.jsonl"] != two["HumanEval_0/instances.jsonl"]
