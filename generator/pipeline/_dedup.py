"""Duplicate problems: the same reference solution and the same tests make one gym.

KodCode ships each problem twice (``_C`` and ``_I`` variants: other words in the question, the
same solution and tests), so without this a catalog holds two identical gyms. Two problems are
duplicates when their fingerprints match: the entry point, the solution and the tests, each
normalised by an ``ast`` dump (so whitespace, comments and docstrings do not count). Identical
solution and tests record identical instances, so the instances need no comparison.

Parsing is all that happens to the untrusted code here (``ast.parse`` runs nothing). The first
problem of a group in the given order (dataset order) is the one generated; each later one is
reported as a rejection at stage ``dedup`` naming the task id it duplicates.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Sequence

from ...schemas import Problem, Rejection
from .._results import Rejected

__all__ = ["duplicate_rejection", "find_duplicates", "fingerprint"]


class _NoDocstrings(ast.NodeTransformer):
    def _strip(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        self.generic_visit(node)
        return node

    visit_Module = _strip
    visit_FunctionDef = _strip
    visit_AsyncFunctionDef = _strip
    visit_ClassDef = _strip


def _normalised(source: str) -> str:
    """The code's AST without docstrings; text without comments or blank space if it does not parse."""
    try:
        return ast.dump(_NoDocstrings().visit(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError):
        lines = (re.sub(r"#.*$", "", line).strip() for line in source.splitlines())
        return "\n".join(line for line in lines if line)


def fingerprint(problem: Problem) -> str:
    """What makes two problems the same gym: entry point, solution and tests, normalised."""
    parts = (problem.entry_point or "", _normalised(problem.solution), _normalised(problem.tests))
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def find_duplicates(problems: Sequence[Problem]) -> dict[str, Problem]:
    """Task id of each duplicate -> the problem it duplicates (the first of its group, in order)."""
    first: dict[str, Problem] = {}
    out: dict[str, Problem] = {}
    for problem in problems:
        key = fingerprint(problem)
        if key in first:
            out[problem.task_id] = first[key]
        else:
            first[key] = problem
    return out


def duplicate_rejection(problem: Problem, original: Problem) -> Rejected:
    """The report entry of a duplicate: stage ``dedup``, naming the task id it duplicates."""
    return Rejected(
        rejection=Rejection(
            task_id=problem.task_id,
            problem_id=problem.problem_id,
            stage="dedup",
            reason=f"same reference solution and tests as {original.problem_id}: one gym, {original.task_id}",
            duplicate_of=original.task_id,
        )
    )
