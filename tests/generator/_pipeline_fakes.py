"""Shared pieces of the pipeline tests: toy problems, a sandbox worker, a getters-only carving."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codegym_mcp.generator._results import Rejected
from codegym_mcp.generator.carving._carving_types import CarvedParam, CarvedTool, Carving
from codegym_mcp.generator.verification._stages import Recorded
from codegym_mcp.runtime import SandboxConfig, Worker
from codegym_mcp.schemas import Problem

__all__ = ["getters_carving", "sandbox_worker", "toy_problem"]


def toy_problem(name: str = "toy/0", *, tests: str | None = None) -> Problem:
    """A small HumanEval-style problem: count the pairs of ``nums`` that sum to ``target``."""
    solution = (
        "from typing import List\n\n"
        "def count_pairs(nums: List[int], target: int) -> int:\n"
        '    """Count the pairs i < j with nums[i] + nums[j] == target.\n\n'
        "    >>> count_pairs([1, 2, 3], 4)\n"
        "    1\n"
        '    """\n'
        "    total = 0\n"
        "    for i in range(len(nums)):\n"
        "        for j in range(i + 1, len(nums)):\n"
        "            if nums[i] + nums[j] == target:\n"
        "                total += 1\n"
        "    return total\n"
    )
    default_tests = (
        "def check(candidate):\n"
        "    assert candidate([1, 2, 3], 4) == 1\n"
        "    assert candidate([1, 1, 1, 1], 2) == 6\n"
        "    assert candidate([5, -1, 7, 3], 4) == 1\n"
        "    assert candidate([], 0) == 0\n\n"
        "check(count_pairs)\n"
        f"PROBLEM = {name!r}\n"  # toys of other names are other problems, not duplicates (_dedup.py)
    )
    return Problem(
        problem_id=name,
        task_id=name.replace("/", "_"),
        source="jsonl",
        question=solution.split("    total")[0],
        solution=solution,
        tests=default_tests if tests is None else tests,
        test_style="humaneval",
        entry_point="count_pairs",
    )


def getters_carving(
    problem: Problem, recorded: Recorded, granularity: str, input_schema: object, observation: str = "full"
) -> Carving | Rejected:
    """A carving with one getter per input field (what the real carver's last rung does under the
    full observation policy; its oracle never calls observe, so it verifies under either)."""
    params = recorded.params
    tools_source = "".join(f"def get_{p}({p}):\n    return {p}\n\n\n" for p in params)
    calls = ", ".join(f"{p}=tools.get_{p}()" for p in params)
    entry = recorded.raw.target.name
    oracle_source = (
        problem.solution + f"\n\ndef oracle(tools):\n    return tools.submit(answer={entry}({calls}))\n"
    )
    tools = [
        CarvedTool(
            name=f"get_{p}",
            kind="getter",
            description=f"Return the hidden {p}.",
            function=f"get_{p}",
            params=[CarvedParam(name=p, source="hidden", hidden_key=p)],
        )
        for p in params
    ]
    return Carving(
        tools_source=tools_source,
        oracle_source=oracle_source,
        tools=tools,
        entry_point=entry,
        granularity="getters",
    )


@pytest.fixture(scope="module")
def sandbox_worker() -> Iterator[Worker]:
    """One jailed worker for a test module."""
    with Worker(SandboxConfig(isolation="nsjail")) as worker:
        yield worker
