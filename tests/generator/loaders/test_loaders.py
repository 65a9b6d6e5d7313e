"""Dataset loaders: humaneval, kodcode:PATH and jsonl:PATH rows -> Problems, bad rows reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegym_mcp.generator.loaders._loaders import (
    DatasetNotFound,
    DatasetUnreadable,
    UnknownDatasetSpec,
    load_dataset,
)
from codegym_mcp.servers.cli import main

from .._recording import GENERIC, KODCODE, KODCODE_MALFORMED

ALGORITHM = KODCODE / "fixture_algorithm.json"


def _kodcode_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(ALGORITHM.read_text(encoding="utf-8"))
    return rows


def test_humaneval_yields_the_164_packaged_problems() -> None:
    result = load_dataset("humaneval")
    assert len(result.problems) == 164
    assert result.issues == []
    first = result.problems[0]
    assert first.problem_id == "HumanEval/0"
    assert first.task_id == "HumanEval_0"
    assert first.test_style == "humaneval"
    assert first.entry_point == "has_close_elements"
    assert first.solution.startswith(first.question)
    assert first.tests.rstrip().endswith("check(has_close_elements)")


def test_kodcode_directory_yields_the_rows_of_its_json_array_and_its_jsonl() -> None:
    result = load_dataset(f"kodcode:{KODCODE}")
    assert len(result.problems) == 12
    assert result.issues == []
    assert [(Path(s.source).name, s.rows, s.problems) for s in result.sources] == [
        ("fixture_algorithm.json", 6, 6),
        ("fixture_leetcode.jsonl", 6, 6),
    ]
    assert len({p.task_id for p in result.problems}) == 12
    assert all(p.source == "kodcode" and p.test_style == "pytest" for p in result.problems)
    assert {p.metadata["subset"] for p in result.problems} == {"Algorithm", "Leetcode"}


def test_kodcode_class_rows_have_no_entry_point_and_import_the_solution() -> None:
    problems = {p.problem_id: p for p in load_dataset(f"kodcode:{KODCODE}").problems}
    ring = problems["FX_Leetcode_001"]
    assert ring.entry_point is None
    assert ring.tests.startswith("from solution import *\n")
    queue_stack = problems["FX_Leetcode_002"]  # imports what it uses: kept as written
    assert queue_stack.tests.startswith("from solution import QueueStack\n")
    assert problems["FX_Algorithm_001"].entry_point == "merge_alternating"


def test_kodcode_entry_point_skips_a_helper_the_tests_never_use() -> None:
    problems = {p.problem_id: p for p in load_dataset(f"kodcode:{ALGORITHM}").problems}
    # test_info lists is_palindrome first, but the tests only call next_palindrome
    assert problems["FX_Algorithm_002"].entry_point == "next_palindrome"


def test_kodcode_jsonl_with_malformed_rows_loads_the_others_and_names_each() -> None:
    result = load_dataset(f"kodcode:{KODCODE_MALFORMED}")
    assert [p.problem_id for p in result.problems] == ["FX_Algorithm_001", "FX_Algorithm_004"]
    assert [(i.row, i.field, i.problem_id) for i in result.issues] == [
        (1, "solution", "FX_Algorithm_002"),
        (2, None, None),
        (3, None, None),
    ]
    assert "missing" in result.issues[0].reason
    assert "line 3 is not valid JSON" in result.issues[1].reason
    assert result.issues[2].reason == "row is a JSON list, expected an object"
    assert result.sources[0].rows == 5 and result.sources[0].problems == 2


def test_kodcode_accepts_the_published_test_field_name(tmp_path: Path) -> None:
    row = dict(_kodcode_rows()[0])
    row["test"] = row.pop("test_code")
    path = tmp_path / "v1.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    (problem,) = load_dataset(f"kodcode:{path}").problems
    assert "def test_" in problem.tests
    # the malformed fixture's last row spells it `test` too
    shipped = {p.problem_id: p for p in load_dataset(f"kodcode:{KODCODE_MALFORMED}").problems}
    assert "def test_pair_found" in shipped["FX_Algorithm_004"].tests


def test_kodcode_reads_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = _kodcode_rows()[:3]
    keep = ("question_id", "question", "solution", "test_code", "test_info")
    table = pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows])
    path = tmp_path / "kod.parquet"
    pq.write_table(table, path)
    result = load_dataset(f"kodcode:{path}")
    assert [p.problem_id for p in result.problems] == [r["question_id"] for r in rows]
    assert result.problems[0].entry_point == "merge_alternating"


def test_a_parquet_file_that_is_not_parquet_is_unreadable(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "kod.parquet"
    path.write_text('{"question_id": "x"}\n', encoding="utf-8")
    with pytest.raises(DatasetUnreadable, match="is not a readable parquet file"):
        load_dataset(f"kodcode:{path}")


def test_duplicate_task_ids_are_reported_not_loaded_twice(tmp_path: Path) -> None:
    row = _kodcode_rows()[0]
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    result = load_dataset(f"kodcode:{path}")
    assert len(result.problems) == 1
    (issue,) = result.issues
    assert issue.row == 1 and issue.field == "id" and "duplicate task id" in issue.reason


GENERIC_ROW = {
    "id": "demo/add",
    "question": "Add two integers.",
    "solution": "def add(a: int, b: int) -> int:\n    return a + b\n",
    "tests": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "entry_point": "add",
}


def test_generic_jsonl_rows_become_problems_and_bad_ones_are_named(tmp_path: Path) -> None:
    bad_syntax = {**GENERIC_ROW, "id": "demo/bad", "solution": "def add(a, b) return a + b\n"}
    bad_entry = {**GENERIC_ROW, "id": "demo/missing", "entry_point": "sub"}
    humaneval_style = {
        **GENERIC_ROW,
        "id": "demo/he",
        "tests": "def check(candidate):\n    assert candidate(2, 2) == 4\n\ncheck(add)\n",
        "test_style": "humaneval",
    }
    path = tmp_path / "generic.jsonl"
    rows = [GENERIC_ROW, bad_syntax, bad_entry, humaneval_style]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = load_dataset(f"jsonl:{path}")
    assert [(p.problem_id, p.test_style) for p in result.problems] == [
        ("demo/add", "pytest"),
        ("demo/he", "humaneval"),
    ]
    assert result.problems[0].task_id == "demo_add"
    assert [(i.row, i.field) for i in result.issues] == [(1, "solution"), (2, "entry_point")]
    assert "not valid Python" in result.issues[0].reason


def test_generic_fixture_loads_functions_humaneval_checks_and_classes_and_names_bad_rows() -> None:
    result = load_dataset(f"jsonl:{GENERIC}")
    assert [(p.problem_id, p.test_style, p.entry_point) for p in result.problems] == [
        ("fx/digit_sum", "pytest", "digit_sum"),
        ("fx/count_vowels", "humaneval", "count_vowels"),
        ("fx/tally", "pytest", None),
        ("fx/best_player", "pytest", "best_player"),
    ]
    assert result.problems[0].metadata == {"file": "generic.jsonl", "topic": "arithmetic"}
    assert [(i.row, i.field, i.problem_id) for i in result.issues] == [
        (4, "entry_point", "fx/bad_entry"),
        (5, None, None),
    ]
    assert "entry point 'plus' is not defined" in result.issues[0].reason
    assert "line 6 is not valid JSON" in result.issues[1].reason


@pytest.mark.parametrize(
    ("spec", "error", "hint"),
    [
        ("mbpp", UnknownDatasetSpec, "use one of humaneval, kodcode:PATH, jsonl:PATH"),
        ("kodcode:", UnknownDatasetSpec, "kodcode:PATH"),
        ("kodcode:/nonexistent/file.jsonl", DatasetNotFound, "does not exist"),
        ("jsonl:/etc/hostname", DatasetUnreadable, "give a .jsonl, .json or .parquet file"),
    ],
)
def test_unusable_specs_raise_an_error_that_says_what_to_do(
    spec: str, error: type[Exception], hint: str
) -> None:
    with pytest.raises(error, match=hint.replace(".", r"\.")):
        load_dataset(spec)


def test_a_json_file_that_is_not_an_array_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text('{"id": 1}', encoding="utf-8")
    with pytest.raises(DatasetUnreadable, match=r"wrap the rows in \[\.\.\.\]"):
        load_dataset(f"jsonl:{path}")


def test_load_verb_prints_counts_per_source_and_every_unreadable_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _kodcode_rows()[:2]
    path = tmp_path / "kod.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n[1, 2]\n" + json.dumps(rows[1]) + "\n", encoding="utf-8")
    assert main(["load", "--dataset", f"kodcode:{path}"]) == 0
    out = capsys.readouterr().out
    assert "2 problems" in out and "1 unreadable rows" in out
    assert "unreadable: kod.jsonl row 1: row is a JSON list, expected an object" in out
    assert main(["load", "--dataset", f"kodcode:{path}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == 2 and report["issues"][0]["row"] == 1
    assert report["sources"] == [{"source": str(path), "rows": 3, "problems": 2}]


@pytest.mark.parametrize("spec", ["nosuch", "kodcode:/nonexistent/kod.jsonl"])
def test_load_verb_usage_error_exits_2_with_one_line(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "--dataset", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("codegym-mcp load: error: ")


def test_a_row_read_with_the_wrong_spec_says_which_spec_fits(tmp_path: Path) -> None:
    generic = tmp_path / "generic.jsonl"
    row = {"id": "demo/add", "question": "Add.", "solution": "def add(a, b):\n    return a + b\n"}
    generic.write_text(json.dumps({**row, "tests": "from solution import add\n"}) + "\n", encoding="utf-8")
    [issue] = load_dataset(f"kodcode:{generic}").issues
    assert issue.field == "test" and "--dataset jsonl:PATH" in issue.reason
    [issue] = load_dataset(f"jsonl:{ALGORITHM}").issues[:1]
    assert issue.field == "tests" and "--dataset kodcode:PATH" in issue.reason
