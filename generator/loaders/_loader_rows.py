"""Dataset rows -> :class:`Problem`: one reader per dataset format, and the reasons a row is unusable.

A reader (:data:`RowReader`) takes one decoded record and either returns the problem or raises
:class:`RowError` naming the field and what is wrong with it; ``_loaders.py`` turns that into a
:class:`~codegym_mcp.schemas.LoadIssue`. Sources and tests are only parsed (``ast``), never run.

Exceptions::

    Exception
     +-- RowError     one field of one row is unusable (caught by the loader, never escapes it)
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from ...schemas import Problem, TestStyle, task_id_for

__all__ = [
    "RowError",
    "RowReader",
    "check_entry",
    "generic_problem",
    "kodcode_problem",
    "make_problem",
    "parse_source",
    "row_id",
    "text_field",
]

_SOLUTION_IMPORT = "from solution import *\n"


RowReader = Callable[[Mapping[str, Any], str, Path], Problem]
"""(record, problem id, file) -> Problem; raises RowError for an unusable field."""


class RowError(Exception):
    """One field of one row is unusable; becomes a LoadIssue."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


def row_id(record: Mapping[str, Any], source: str) -> str:
    """The row's problem id: the first of the source's id fields that holds a string or an integer.

    Raises:
        RowError: no id field holds one.
    """
    keys = ("question_id", "id", "task_id") if source == "kodcode" else ("id", "task_id", "question_id")
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    raise RowError(keys[0], f"missing id: give a non-empty string in {keys[0]!r} (or {keys[1]!r})")


def text_field(record: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` present in the row, as a non-empty string.

    Raises:
        RowError: none is present, or the first present one is not a non-empty string.
    """
    for name in names:
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RowError(name, f"expected a string, got {type(value).__name__}")
        if not value.strip():
            raise RowError(name, "is empty: give the text")
        return value
    raise RowError(
        names[0], "missing" + (f" (also looked for {', '.join(names[1:])})" if len(names) > 1 else "")
    )


def parse_source(source: str, field_name: str) -> ast.Module:
    """``source`` parsed as Python 3.11 (the jail's version).

    Raises:
        RowError: it does not parse; the reason names the line.
    """
    try:
        return ast.parse(source, feature_version=(3, 11))
    except SyntaxError as exc:
        raise RowError(field_name, f"not valid Python 3.11: {exc.msg} (line {exc.lineno})") from None


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


def check_entry(solution_tree: ast.Module, entry_point: str, field_name: str) -> None:
    """Check that the solution defines ``entry_point`` at its top level.

    Raises:
        RowError: it does not.
    """
    if entry_point not in _top_level_names(solution_tree):
        raise RowError(
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
    tree = parse_source(tests, field_name)
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
        raise RowError(
            "test_info",
            f"expected a list of {{function_name, ...}} or null, got {json.dumps(info, default=str)[:60]}",
        )
    names: list[str] = []
    for i, item in enumerate(info):
        name = item.get("function_name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name.isidentifier():
            raise RowError("test_info", f"test_info[{i}].function_name must be a Python name, got {name!r}")
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


def kodcode_problem(record: Mapping[str, Any], problem_id: str, path: Path) -> Problem:
    """A KodCode-V1 row as a pytest-style problem (entry point from ``test_info``, None for classes).

    Raises:
        RowError: a field is missing, empty, not valid Python, or names no top-level definition.
    """
    question = text_field(record, "question")
    solution = text_field(record, "solution")
    tests_field = "test" if record.get("test") is not None else "test_code"
    _hint_other_format(record, mine=("test", "test_code"), theirs="tests", spec="jsonl")
    tests = _pytest_tests(text_field(record, "test", "test_code"), tests_field)
    tree = parse_source(solution, "solution")
    entry_point = _kodcode_entry(record, parse_source(tests, tests_field), tree)
    if entry_point is not None:
        check_entry(tree, entry_point, "test_info")
    metadata: dict[str, JsonValue] = {"file": path.name}
    for key in ("subset", "style", "gpt_difficulty", "gpt_pass_percentage", "test_info"):
        if record.get(key) is not None:
            metadata[key] = _json_value(record[key])
    return make_problem(
        problem_id=problem_id,
        source="kodcode",
        question=question,
        solution=solution,
        tests=tests,
        test_style="pytest",
        entry_point=entry_point,
        metadata=metadata,
    )


def _hint_other_format(record: Mapping[str, Any], *, mine: tuple[str, ...], theirs: str, spec: str) -> None:
    """A row with the other format's tests field instead of this one's was read with the wrong spec.

    Raises:
        RowError: none of ``mine`` is present but ``theirs`` is; says which spec fits the row.
    """
    if all(record.get(name) is None for name in mine) and record.get(theirs) is not None:
        raise RowError(
            mine[0],
            f"missing, but the row has {theirs!r}: it looks like the {spec} format, "
            f"read it with --dataset {spec}:PATH",
        )


def generic_problem(record: Mapping[str, Any], problem_id: str, path: Path) -> Problem:
    """A row of the generic jsonl format (``id, question, solution, tests, entry_point[, test_style]``).

    Raises:
        RowError: a field is missing, empty, of the wrong type or not valid Python.
    """
    question = text_field(record, "question")
    solution = text_field(record, "solution")
    style = record.get("test_style", "pytest")
    if style not in ("pytest", "humaneval"):
        raise RowError("test_style", f"expected 'pytest' or 'humaneval', got {style!r}")
    entry = record.get("entry_point")
    if entry is not None and (not isinstance(entry, str) or not entry.isidentifier()):
        raise RowError("entry_point", f"expected a Python function name or null, got {entry!r}")
    if style == "humaneval" and entry is None:
        raise RowError(
            "entry_point", "test_style 'humaneval' needs the entry point that check(candidate) receives"
        )
    _hint_other_format(record, mine=("tests",), theirs="test_code", spec="kodcode")
    _hint_other_format(record, mine=("tests",), theirs="test", spec="kodcode")
    tests = text_field(record, "tests")
    if style == "pytest":
        tests = _pytest_tests(tests, "tests")
    else:
        parse_source(tests, "tests")
    tree = parse_source(solution, "solution")
    if entry is not None:
        check_entry(tree, entry, "entry_point")
    metadata: dict[str, JsonValue] = {"file": path.name}
    extra = record.get("metadata")
    if isinstance(extra, Mapping):
        metadata.update({str(k): _json_value(v) for k, v in extra.items()})
    return make_problem(
        problem_id=problem_id,
        source="jsonl",
        question=question,
        solution=solution,
        tests=tests,
        test_style="humaneval" if style == "humaneval" else "pytest",
        entry_point=entry,
        metadata=metadata,
    )


def make_problem(
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
    """The validated :class:`Problem` (task id derived from the problem id).

    Raises:
        RowError: the model rejects a value; the first error names the field.
    """
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
        raise RowError(loc, first["msg"]) from None
