"""Default generation: instances along the size ladder, measured in oracle steps, kept in the window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from codegym_mcp.generator._results import Generated, GenerateSettings
from codegym_mcp.generator.instances._augment import LADDER, tier_for
from codegym_mcp.generator.instances._filters import degenerate_allowance, is_degenerate
from codegym_mcp.generator.pipeline._pipeline import build_gym
from codegym_mcp.generator.verification import _ladder
from codegym_mcp.generator.verification._ladder import UNTRIED, fill_sizes
from codegym_mcp.generator.verification._stages import SizedCandidate
from codegym_mcp.generator.verification._verify import Candidate, SyncWorker, Verification
from codegym_mcp.runtime import Worker, decode
from codegym_mcp.schemas import Instance, Problem

from .._pipeline_fakes import sandbox_worker

__all__ = ["sandbox_worker"]

EVENS = Problem(
    problem_id="evens/0",
    task_id="evens_0",
    source="jsonl",
    question="Add the even elements of lst that are at odd indices.",
    solution=(
        "def add(lst):\n"
        '    """Add the even elements of lst that are at odd indices."""\n'
        "    return sum([lst[i] for i in range(1, len(lst), 2) if lst[i] % 2 == 0])\n"
    ),
    tests=(
        "def check(candidate):\n"
        "    assert candidate([4, 88]) == 88\n"
        "    assert candidate([4, 5, 6, 7, 2, 122]) == 122\n"
        "    assert candidate([4, 0, 6, 7]) == 0\n"
        "    assert candidate([4, 4, 6, 8]) == 12\n\n"
        "check(add)\n"
    ),
    test_style="humaneval",
    entry_point="add",
)


def _longest(instance_input: dict[str, Any]) -> int:
    values = [decode(v) for v in instance_input.values()]
    return max((len(v) for v in values if isinstance(v, (list, str))), default=0)


def test_by_default_a_gym_keeps_instances_of_every_tier_inside_the_step_window(
    sandbox_worker: Worker,
) -> None:
    result = build_gym(EVENS, GenerateSettings(), sandbox_worker)
    assert isinstance(result, Generated), result
    instances = result.files.instances
    settings = GenerateSettings()
    assert 24 <= len(instances) <= settings.max_instances
    assert all(10 <= i.oracle_steps <= 256 for i in instances)
    assert {i.tier for i in instances} >= {"easy", "medium", "hard"}
    assert max(_longest(i.input) for i in instances) >= 100  # the hard tier holds hundreds
    assert sum(is_degenerate(i.input) for i in instances) <= degenerate_allowance(len(instances))
    assert len({c.tool for i in instances for c in i.oracle_trace}) >= 4


ZERO_PAIRS = Problem(
    problem_id="zero_pairs/0",
    task_id="zero_pairs_0",
    source="jsonl",
    question="Count the pairs i < j with nums[i] + nums[j] == 0.",
    solution=(
        "def pair_ok(a: int, b: int) -> bool:\n"
        "    return a + b == 0\n\n\n"
        "def count_zero_pairs(nums: list[int]) -> int:\n"
        "    total = 0\n"
        "    for i in range(len(nums)):\n"
        "        for j in range(i + 1, len(nums)):\n"
        "            if pair_ok(nums[i], nums[j]):\n"
        "                total += 1\n"
        "    return total\n"
    ),
    tests=(
        "def check(candidate):\n"
        "    assert candidate([1, -1, 2]) == 1\n"
        "    assert candidate([3, -3, -3, 0, 0]) == 3\n"
        "    assert candidate([4, 5, -4, 1]) == 1\n\n"
        "check(count_zero_pairs)\n"
    ),
    test_style="humaneval",
    entry_point="count_zero_pairs",
)


def test_the_climb_stops_where_steps_leave_the_window_and_fills_the_gap_below(sandbox_worker: Worker) -> None:
    # one pair_ok call per pair: about n * n / 2 oracle calls, so 32 elements are already over 256
    result = build_gym(ZERO_PAIRS, GenerateSettings(), sandbox_worker)
    assert isinstance(result, Generated), result
    dropped = result.summary.instances_dropped
    assert dropped[UNTRIED] > 0
    sizes = {_longest(i.input) for i in result.files.instances if i.origin == "augmented"}
    assert any(16 < s < 32 for s in sizes)  # filled between the rung that fit and the one that did not
    assert all(10 <= i.oracle_steps <= 256 for i in result.files.instances)


def test_fill_sizes_sit_at_quarters_between_two_rungs() -> None:
    assert fill_sizes(16, 32) == (20, 24, 28)
    assert fill_sizes(0, 8) == (2, 4, 6)
    assert fill_sizes(1, 2) == ()


GRAY = Problem(
    problem_id="gray/0",
    task_id="gray_0",
    source="jsonl",
    question="The n-bit Gray code sequence.",
    solution=(
        "def gray(n: int) -> list[int]:\n"
        "    codes = [0]\n"
        "    for i in range(n):\n"
        "        codes += [x + 2**i for x in reversed(codes)]\n"
        "    return codes\n"
    ),
    tests="def check(candidate):\n    assert candidate(2) == [0, 1, 3, 2]\n    assert candidate(3)[-1] == 4\n\ncheck(gray)\n",
    test_style="humaneval",
    entry_point="gray",
)


def test_sizes_above_one_the_reference_cannot_finish_at_all_are_not_even_computed(
    sandbox_worker: Worker,
) -> None:
    # 2**n codes: from n = 128 on, nothing fits the sandbox's time or memory
    result = build_gym(GRAY, GenerateSettings.unfiltered(augment=12), sandbox_worker)
    assert isinstance(result, Generated), result
    assert result.summary.instances_dropped["augment: not computed, a smaller size went over the limits"] > 0
    assert max(len(decode(i.expected)) for i in result.files.instances) >= 256  # the small rungs stay


def _fake_verify(steps_for: Callable[[int], int], calls: list[int]) -> Callable[..., Verification]:
    def verify_gym(*, candidates: list[Candidate], **_: object) -> Verification:
        size = max((c.size for c in candidates if isinstance(c, SizedCandidate)), default=0)
        calls.append(size)
        instances = [
            Instance(
                instance_id=f"{size}-{k}",
                input=c.input,
                expected=c.expected,
                origin=c.origin,
                tier=c.tier,
                oracle_steps=steps_for(size),
            )
            for k, c in enumerate(candidates)
        ]
        return Verification(tools=[], instances=instances)

    return verify_gym


def _rungs() -> list[Candidate]:
    tests: list[Candidate] = [Candidate(input={"n": 3}, expected=1)]
    derived: list[Candidate] = [
        SizedCandidate(input={"n": size + k}, expected=0, origin="augmented", tier=tier_for(size), size=size)
        for size in LADDER
        for k in range(2)
    ]
    return tests + derived


def _climb(
    monkeypatch: pytest.MonkeyPatch, steps_for: Callable[[int], int]
) -> tuple[list[int], dict[str, int]]:
    calls: list[int] = []
    monkeypatch.setattr(_ladder, "verify_gym", _fake_verify(steps_for, calls))
    out = _ladder.verify_by_rungs(
        worker=cast(SyncWorker, None),
        tools_source="",
        oracle_source="",
        tools=[],
        candidates=_rungs(),
        input_schema={},
        output_schema={},
        settings=GenerateSettings(),
    )
    assert isinstance(out, Verification)
    return calls, out.dropped


def test_the_climb_stops_when_steps_do_not_grow_and_stay_under_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, dropped = _climb(monkeypatch, lambda size: 5)
    assert calls == [8, 16]
    assert dropped == {_ladder.FLAT: 8}


def test_the_climb_goes_on_while_steps_grow_and_stops_above_half_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, dropped = _climb(monkeypatch, lambda size: 2 * size)
    assert calls == [8, 16, 32, 64, 128]  # 128 elements: 256 steps, over half the window
    assert dropped == {UNTRIED: 2}
