"""Problems as loaded from a dataset, and the report of rows that could not be read."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["LoadIssue", "Problem", "TestStyle", "task_id_for"]

TestStyle = Literal["humaneval", "pytest"]
"""How a problem's tests run: HumanEval's ``check(candidate)``, or a pytest file."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def task_id_for(problem_id: str) -> str:
    """The filesystem-safe task id of a dataset id: ``HumanEval/0`` -> ``HumanEval_0``.

    Stable (a pure function of the id) and readable; every run of unsafe characters becomes
    one underscore, and a leading dot or dash is prefixed so the id never names a hidden file
    or looks like an option.
    """
    safe = _UNSAFE.sub("_", problem_id.strip()).strip("_") or "task"
    if safe[0] in ".-":
        safe = "t" + safe
    return safe


class Problem(BaseModel):
    """One dataset row, normalised: question, reference solution, unit tests, entry point."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problem_id: str = Field(description="The dataset's own id, as written (HumanEval/0, Leetcode_36406_I)")
    task_id: str = Field(description="Filesystem-safe id derived from problem_id (task_id_for)")
    source: str = Field(description="Which loader read it: humaneval, kodcode, jsonl")
    question: str = Field(description="The task statement in natural language")
    solution: str = Field(description="Reference solution: Python source defining the entry point")
    tests: str = Field(description="Unit tests: Python source, run against the reference")
    test_style: TestStyle
    entry_point: str | None = Field(
        description="Function the tests call; None for class-based problems (the tests drive a class)"
    )
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class LoadIssue(BaseModel):
    """A dataset row that could not become a Problem: where it is and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int = Field(description="0-based row number in the file (or record index)")
    file: str | None = Field(default=None, description="The file the row is in, when a dataset has several")
    field: str | None = Field(default=None, description="The offending field, if one")
    reason: str
    problem_id: str | None = None
