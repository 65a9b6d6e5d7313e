"""The "inline" rung: a helper the entry point calls is carved into tools, its body a plan function."""

from __future__ import annotations

from codegym_mcp.generator.carving._carve import carve_function_problem
from codegym_mcp.generator.carving._carving_types import Carving, Granularity

from .test_carve import _problem, _reference, _run

# shaped like KodCode's find_next_prime: the work sits in a helper called once per candidate
NEXT_PRIME = """
def is_prime(n: int) -> bool:
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

def solve(value: int) -> int:
    while True:
        value += 1
        if is_prime(value):
            return value
"""

# the helper's parameter has the entry's name, and the entry never rebinds it
SAME_NAME = """
def digit_sum(n):
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total

def solve(n):
    return digit_sum(n) % 7
"""

RECURSIVE = """
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)

def solve(n):
    return fact(n) % 1000
"""


def _carve(solution: str, params: list[str], granularity: Granularity = "fine") -> Carving:
    out = carve_function_problem(_problem(solution), entry_params=params, granularity=granularity)
    assert isinstance(out, Carving), out
    return out


def test_the_inline_rung_carves_a_called_helper_into_tools_whose_plan_the_entry_calls() -> None:
    fine, inline = _carve(NEXT_PRIME, ["value"]), _carve(NEXT_PRIME, ["value"], "inline")
    assert [t.name for t in fine.tools] == ["is_prime"]  # one tool per candidate
    assert inline.granularity == "inline"
    assert "is_prime" not in {t.name for t in inline.tools} and len(inline.tools) >= 3
    steps, fine_steps = 0, 0
    for value in (1, 10, 24, 89, 113, 200):
        answer, calls = _run(inline, {"value": value})
        assert answer == _reference(NEXT_PRIME, "solve", {"value": value})
        steps, fine_steps = steps + len(calls), fine_steps + len(_run(fine, {"value": value})[1])
        if value == 113:  # 114..126 are composite: the helper's loop runs for several of them
            assert len(set(calls)) == 4 and len(calls) > 20
    assert steps > fine_steps


def test_a_carved_helpers_tools_take_their_arguments_from_the_agent_not_the_hidden_input() -> None:
    inline = _carve(SAME_NAME, ["n"], "inline")
    assert inline.tools and all(p.source != "hidden" for t in inline.tools for p in t.params)
    for n in (0, 7, 98765):
        answer, calls = _run(inline, {"n": n})
        assert answer == _reference(SAME_NAME, "solve", {"n": n})
        assert calls == ["observe"] + ["loop_step_while_n_gt_0"] * len(str(n or ""))


def test_a_recursive_helper_is_not_carved_as_a_plan() -> None:
    inline = _carve(RECURSIVE, ["n"], "inline")
    assert "fact" in {t.name for t in inline.tools}
    answer, _ = _run(inline, {"n": 12})
    assert answer == _reference(RECURSIVE, "solve", {"n": 12})


# shaped like KodCode's quick_sort_in_place: closures that change the input in place
QUICK = """
def solve(arr):
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
    return arr
"""

# a recursive closure called with positional arguments
COUNT = """
def solve(nums, k):
    def count(i):
        return 0 if i == len(nums) else (nums[i] > k) + count(i + 1)
    return count(0)
"""


def test_a_closure_that_changes_the_input_returns_it_and_the_plan_writes_it_back() -> None:
    carving = _carve(QUICK, ["arr"])
    (tool,) = carving.tools
    assert tool.name == "partition" and [p.name for p in tool.params] == ["arr", "low", "high"]
    assert "the reply is [its result, arr after the change]" in tool.description
    for arr in ([5, 1, 4, 2, 3], [3, 3, 1], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]):
        answer, calls = _run(carving, {"arr": arr})
        assert answer == sorted(arr) and calls.count("partition") >= len(arr) // 2


def test_a_recursive_closure_tool_passes_its_closure_values_before_its_own_arguments() -> None:
    carving = _carve(COUNT, ["nums", "k"])
    assert [t.name for t in carving.tools] == ["count"]
    answer, _ = _run(carving, {"nums": [1, 5, 2, 8], "k": 2})
    assert answer == _reference(COUNT, "solve", {"nums": [1, 5, 2, 8], "k": 2}) == 2
