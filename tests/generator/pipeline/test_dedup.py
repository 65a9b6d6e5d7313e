"""Problems with the same reference solution and tests become one gym; the report names the twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline._dedup import find_duplicates, fingerprint
from codegym_mcp.schemas import GenerationReport
from codegym_mcp.servers.cli import main

PAIRS = Path(__file__).parents[2] / "fixtures" / "dedup" / "kodcode_pairs.jsonl"
"""Three KodCode-style rows written for these tests: Fixture_00000001_I and its _C variant (other
question, the same solution and tests up to whitespace, comments and docstrings), and another
problem, Fixture_00000002_I, in between."""


def test_the_c_variant_duplicates_the_i_variant_read_first_and_the_other_problem_stays() -> None:
    problems = load_dataset(f"kodcode:{PAIRS}").problems
    assert [p.task_id for p in problems] == ["Fixture_00000001_I", "Fixture_00000002_I", "Fixture_00000001_C"]
    duplicates = find_duplicates(problems)
    assert {k: v.task_id for k, v in duplicates.items()} == {"Fixture_00000001_C": "Fixture_00000001_I"}
    assert {k: v.task_id for k, v in find_duplicates(problems[::-1]).items()} == {
        "Fixture_00000001_I": "Fixture_00000001_C"  # the first in the given order wins
    }


def test_other_tests_or_another_entry_point_make_another_problem() -> None:
    one = load_dataset(f"kodcode:{PAIRS}").problems[0]
    more_tests = one.model_copy(update={"tests": one.tests + "    assert count_vowels('') == 0\n"})
    renamed = one.model_copy(update={"entry_point": "other"})
    same = one.model_copy(update={"solution": "# a comment\n" + one.solution.replace("    ", "\t")})
    assert fingerprint(more_tests) != fingerprint(one)
    assert fingerprint(renamed) != fingerprint(one)
    assert fingerprint(same) == fingerprint(one)


def test_a_run_makes_one_gym_per_distinct_problem_and_reports_each_duplicate_also_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog"
    args = ["generate", "--dataset", f"kodcode:{PAIRS}", "--out", str(out), "--workers", "1"]
    quick = ["--augment", "0", "--no-filters"]
    assert main([*args, *quick]) == 0
    first = capsys.readouterr().out
    assert "duplicates: 1 problems have the same solution and tests as an earlier one" in first
    report = GenerationReport.model_validate_json((out / "report.json").read_text(encoding="utf-8"))
    assert [g.task_id for g in report.gyms] == ["Fixture_00000001_I", "Fixture_00000002_I"]
    dups = [r for r in report.rejections if r.stage == "dedup"]
    assert [(r.task_id, r.duplicate_of) for r in dups] == [("Fixture_00000001_C", "Fixture_00000001_I")]
    assert not (out / "Fixture_00000001_C").exists()
    assert main([*args, *quick]) == 0  # resume: nothing to do, the same report
    again = capsys.readouterr().out
    assert "problems: 3 selected (0 this run, 2 already done)" in again
    assert "duplicates: 1 problems" in again
    resumed = json.loads((out / "report.json").read_text(encoding="utf-8"))
    before = json.loads(report.model_dump_json())
    assert {k: v for k, v in resumed.items() if k != "seconds"} == {
        k: v for k, v in before.items() if k != "seconds"
    }
