"""The ladder's last resorts for work out of the carving's reach: node numbers, in-place bodies,
helpers carved as plans. Each fixture is shaped like a KodCode problem the filters rejected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codegym_mcp.generator._results import Generated, GenerateSettings
from codegym_mcp.generator.pipeline._pipeline import build_gym
from codegym_mcp.runtime import Worker
from codegym_mcp.schemas import Problem

from .._recording import kodcode_problems, sandbox_worker

SETTINGS = GenerateSettings(augment=12, max_instances=16)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    yield from sandbox_worker()


def _problem(solution: str, tests: str, entry: str) -> Problem:
    return Problem(
        problem_id="reach/1",
        task_id="reach_1",
        source="jsonl",
        question="a test problem",
        solution=solution,
        tests=tests,
        test_style="pytest",
        entry_point=entry,
    )


def _tools(result: Generated | object) -> list[str]:
    assert isinstance(result, Generated), result
    return [t.name for t in result.files.manifest.tools if t.name not in ("observe", "submit", "task")]


def test_a_tree_walk_becomes_a_gym_of_node_accessors(worker: Worker) -> None:
    result = build_gym(kodcode_problems()["FX_Leetcode_004"], SETTINGS, worker)
    assert set(_tools(result)) >= {"read_root", "root_of", "val_of", "left_of", "right_of"}


QUICK = """
def quick_sort(arr):
    def partition(low, high):
        pivot = arr[high]
        i = low - 1
        for j in range(low, high):
            if arr[j] <= pivot:
                i += 1
                arr[i], arr[j] = arr[j], arr[i]
        arr[i + 1], arr[high] = arr[high], arr[i + 1]
        return i + 1

    def sort(low, high):
        if low < high:
            p = partition(low, high)
            sort(low, p - 1)
            sort(p + 1, high)

    sort(0, len(arr) - 1)
"""

QUICK_TESTS = """
from solution import quick_sort


def test_sorts():
    for arr in ([3, 1, 2], [5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 12, 11], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9]):
        want = sorted(arr)
        quick_sort(arr)
        assert arr == want
"""

NEXT_PRIME = """
def is_prime(n):
    if n <= 1:
        return False
    if n <= 3:
        return True
    if n % 2 == 0 or n % 3 == 0:
        return False
    i = 5
    while i * i <= n:
        if n % i == 0 or n % (i + 2) == 0:
            return False
        i += 6
    return True

def next_prime(value):
    while True:
        value += 1
        if is_prime(value):
            return value
"""

NEXT_PRIME_TESTS = """
from solution import next_prime


def test_next_prime():
    assert next_prime(89) == 97
    assert next_prime(113) == 127
    assert next_prime(200) == 211
    assert next_prime(1) == 2
"""


def test_an_in_place_sort_with_closures_becomes_a_gym_of_its_partition_step(worker: Worker) -> None:
    result = build_gym(_problem(QUICK, QUICK_TESTS, "quick_sort"), SETTINGS, worker)
    assert _tools(result) == ["read_arr", "partition"]


def test_a_helper_doing_the_work_is_carved_into_the_tools_of_its_plan(worker: Worker) -> None:
    result = build_gym(_problem(NEXT_PRIME, NEXT_PRIME_TESTS, "next_prime"), SETTINGS, worker)
    tools = _tools(result)
    assert "is_prime" not in tools and len(tools) >= 2
