"""Instances recorded from unit tests in the sandbox: functions, in-place functions, classes, pytest shim."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import JsonValue

from codegym_mcp.generator.instances._instances import (
    ComputeError,
    RecordedInstances,
    RecordingFailed,
    Target,
    answer_text,
    compute_outputs,
    record_instances,
    recording_tests,
    resolve_target,
)
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.runtime import Worker
from codegym_mcp.schemas import Problem

from .._recording import kodcode_problems, sandbox_worker


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    """One sandbox worker (nsjail where it runs) shared by the module's tests."""
    yield from sandbox_worker()


@pytest.fixture(scope="module")
def kodcode() -> dict[str, Problem]:
    return kodcode_problems()


def problem(solution: str, tests: str, entry: str | None, *, style: str = "pytest") -> Problem:
    return Problem(
        problem_id="t/1",
        task_id="t_1",
        source="jsonl",
        question="a test problem",
        solution=solution,
        tests=tests,
        test_style="humaneval" if style == "humaneval" else "pytest",
        entry_point=entry,
    )


def recorded(result: RecordedInstances | RecordingFailed) -> RecordedInstances:
    assert isinstance(result, RecordedInstances), result
    return result


def test_every_humaneval_problem_records_instances_and_passes_its_tests(worker: Worker) -> None:
    problems = load_dataset("humaneval").problems
    results = [recorded(record_instances(p, worker)) for p in problems]
    assert all(r.calls and r.tests_passed for r in results)
    first = results[0]
    assert [p.name for p in first.params] == ["numbers", "threshold"]
    assert first.calls[0].input == {"numbers": [1.0, 2.0, 3.9, 4.0, 5.0, 2.2], "threshold": 0.3}
    assert first.calls[0].expected is True


def test_kodcode_function_problem_records_each_call(worker: Worker, kodcode: dict[str, Problem]) -> None:
    out = recorded(record_instances(kodcode["FX_Algorithm_002"], worker))
    assert out.target == Target("function", "next_palindrome")
    assert [(c.input, c.expected) for c in out.calls][:2] == [({"value": 10}, 11), ({"value": 99}, 101)]
    # the test file also calls its test at import time: 14 calls, 7 distinct inputs
    assert out.total_calls == 14 and len(out.calls) == 7 and out.tests_passed


def test_in_place_function_records_the_modified_argument(worker: Worker, kodcode: dict[str, Problem]) -> None:
    p = kodcode["FX_Algorithm_003"]
    _tests, removed = recording_tests(p)
    assert removed == ["insertion_sort_in_place"]  # the tests pasted their own copy of the reference
    out = recorded(record_instances(p, worker))
    # an adapter returns the argument, so downstream the answer is a plain return value
    assert out.answer_is_argument == "arr" and out.in_place is None
    assert out.target == Target("function", "codegym_insertion_sort_in_place") and out.adapted is not None
    first, already_sorted = out.calls[:2]
    assert first.input == {"arr": [10, 5, 2, 3, 7, 6, 8, 4, 9, 1]}
    assert first.expected == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # unchanged by the call, still answered with the (sorted) argument
    assert already_sorted.input == {"arr": [1, 2, 3, 4, 5]} and already_sorted.expected == [1, 2, 3, 4, 5]
    again = compute_outputs(out.adapted, worker, [c.input for c in out.calls], target=out.target)
    assert again == [c.expected for c in out.calls]


def test_design_class_is_recorded_as_operation_sequences(worker: Worker, kodcode: dict[str, Problem]) -> None:
    p = kodcode["FX_Leetcode_001"]
    assert resolve_target(p) == Target("class", "RingBuffer")
    out = recorded(record_instances(p, worker))
    assert len(out.calls) == 2
    first = out.calls[0]
    assert first.input["operations"] == [
        "RingBuffer", "push", "push", "push", "push", "last", "first", "pop", "push", "first"
    ]  # fmt: skip
    assert first.input["arguments"] == [[3], [5], [6], [7], [8], [], [], [], [8], []]
    assert first.expected == [None, True, True, True, False, 7, 5, True, True, 6]
    assert set(out.methods) >= {"push", "pop", "first", "last", "is_empty", "is_full"}
    assert out.state_issues == {}


def test_tree_arguments_become_level_order_lists_behind_an_adapter(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    out = recorded(record_instances(kodcode["FX_Leetcode_004"], worker))
    assert out.shapes == {
        "root": {"kind": "tree", "cls": "TreeNode", "val": "val", "left": "left", "right": "right"}
    }
    assert out.target == Target("function", "codegym_kth_largest")
    assert out.calls[0].input == {"root": [3, 1, 4, None, 2], "k": 1} and out.calls[0].expected == 4
    assert out.adapted is not None and out.adapted.entry_point == "codegym_kth_largest"
    # the adapter rebuilds the tree in the sandbox: every recorded output comes back
    again = compute_outputs(out.adapted, worker, [c.input for c in out.calls], target=out.target)
    assert again == [c.expected for c in out.calls]


def test_linked_list_arguments_and_results_become_lists_of_their_values(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    out = recorded(record_instances(kodcode["FX_Leetcode_005"], worker))
    shape = {"kind": "list", "cls": "ListNode", "val": "val", "next": "next"}
    assert out.shapes == {"head": shape, "return": shape}
    assert [(c.input, c.expected) for c in out.calls] == [
        ({"head": [1, 2, 3, 4]}, [2, 1, 4, 3]),
        ({"head": [1, 2, 3, 4, 5]}, [2, 1, 4, 3, 5]),
        ({"head": [7]}, [7]),
        ({"head": None}, None),
    ]
    assert out.adapted is not None
    again = compute_outputs(out.adapted, worker, [c.input for c in out.calls], target=out.target)
    assert again == [c.expected for c in out.calls]


def test_tree_results_are_flattened_the_same_way(worker: Worker) -> None:
    solution = (
        "class Node:\n    def __init__(self, data, left=None, right=None):\n"
        "        self.data = data\n        self.left = left\n        self.right = right\n\n"
        "def mirror(root):\n    if root is None:\n        return None\n"
        "    root.left, root.right = mirror(root.right), mirror(root.left)\n    return root\n"
    )
    tests = (
        "from solution import Node, mirror\n\n"
        "def test_mirror():\n    t = mirror(Node(1, Node(2, None, Node(4)), Node(3)))\n"
        "    assert t.left.data == 3 and t.right.left.data == 4\n"
        "    assert mirror(None) is None\n"
    )
    out = recorded(record_instances(problem(solution, tests, "mirror"), worker))
    assert [(c.input, c.expected) for c in out.calls] == [
        ({"root": [1, 2, 3, None, 4]}, [1, 3, 2, None, None, 4]),
        ({"root": None}, None),
    ]
    assert set(out.shapes) == {"root", "return"} and out.adapted is not None
    again = compute_outputs(out.adapted, worker, [c.input for c in out.calls], target=out.target)
    assert again == [c.expected for c in out.calls]


def test_cyclic_or_wrapped_structures_are_dropped_with_the_reason(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    out = record_instances(kodcode["FX_Algorithm_005"], worker)  # a Chain object, cyclic in one test
    assert isinstance(out, RecordingFailed)
    assert "argument 'chain' holds a Chain (no JSON form)" in out.reason
    assert not out.infra


def test_a_cyclic_linked_list_argument_is_dropped_with_the_reason(worker: Worker) -> None:
    solution = (
        "class Node:\n    def __init__(self, val, next=None):\n        self.val = val\n        self.next = next\n\n"
        "def length(head):\n    seen, n = set(), 0\n    while head is not None and id(head) not in seen:\n"
        "        seen.add(id(head))\n        n += 1\n        head = head.next\n    return n\n"
    )
    tests = (
        "from solution import Node, length\n\n"
        "def test_length():\n    a = Node(1, Node(2))\n    assert length(a) == 2\n"
        "    a.next.next = a\n    assert length(a) == 2\n"
    )
    out = recorded(record_instances(problem(solution, tests, "length"), worker))
    assert [(c.input, c.expected) for c in out.calls] == [({"head": [1, 2]}, 2)]
    assert out.dropped == {"argument 'head' holds a cyclic or shared Node structure": 1}


def test_a_solution_that_needs_numpy_is_a_recording_failure_that_names_it(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    out = record_instances(kodcode["FX_Algorithm_006"], worker)
    assert isinstance(out, RecordingFailed) and not out.infra
    assert out.reason == "the solution does not load: ModuleNotFoundError: No module named 'numpy'"


def test_object_state_without_json_form_is_reported(worker: Worker) -> None:
    solution = (
        "class Node:\n    def __init__(self, v):\n        self.v = v\n\n"
        "class Stack:\n    def __init__(self):\n        self.top = None\n"
        "    def push(self, v):\n        n = Node(v)\n        n.below = self.top\n        self.top = n\n"
        "    def peek(self):\n        return self.top.v\n"
    )
    tests = "def test_stack():\n    s = Stack()\n    s.push(1)\n    assert s.peek() == 1\n"
    out = recorded(record_instances(problem(solution, "from solution import *\n" + tests, None), worker))
    assert out.target == Target("class", "Stack")
    assert "the object's state holds a Node at self.top" in out.state_issues


def test_failing_tests_nondeterminism_and_duplicates_are_reported(worker: Worker) -> None:
    solution = "import random\n\ndef f(x):\n    return x + 1\n\ndef noisy(x):\n    return random.random()\n"
    tests = (
        "from solution import f\n\n"
        "def test_ok():\n    assert f(1) == 2\n    assert f(1) == 2\n\n"
        "def test_wrong():\n    assert f(2) == 4\n"
    )
    out = recorded(record_instances(problem(solution, tests, "f"), worker))
    assert [(c.input, c.expected) for c in out.calls] == [({"x": 1}, 2), ({"x": 2}, 3)]
    assert out.dropped == {"duplicate input": 1}
    assert not out.tests_passed
    assert out.tests.failed == 1 and "test_wrong: AssertionError" in out.tests.failures[0]
    tests = "from solution import noisy\n\ndef test_a():\n    noisy(1)\n    noisy(1)\n\ndef test_b():\n    noisy(2)\n"
    out = recorded(record_instances(problem(solution, tests, "noisy"), worker))
    assert [c.input for c in out.calls] == [{"x": 2}]
    assert out.dropped == {"same input gave different outputs (non-deterministic)": 2}


def test_pytest_shim_runs_parametrize_fixtures_classes_raises_and_approx(worker: Worker) -> None:
    solution = "def half(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x / 2\n"
    tests = """
import pytest
import unittest
from solution import half

@pytest.fixture
def base():
    yield 10

@pytest.fixture(params=[100, 200])
def big(request):
    return request.param

@pytest.mark.parametrize("x,expected", [(2, 1.0), pytest.param(4, 2.0, id="four")])
def test_param(x, expected):
    assert half(x) == pytest.approx(expected)

def test_fixtures(base, big):
    assert half(base + big) > 0

def test_raises():
    with pytest.raises(ValueError, match="neg"):
        half(-1)

@pytest.mark.skip(reason="not now")
def test_skipped():
    half(999)

class TestHalf:
    def setup_method(self, method):
        self.v = 6
    def test_method(self):
        assert half(self.v) == 3

class TestCaseHalf(unittest.TestCase):
    def test_unittest(self):
        self.assertEqual(half(8), 4)
"""
    out = recorded(record_instances(problem(solution, tests, "half"), worker))
    inputs = sorted(c.input["x"] for c in out.calls)  # type: ignore[type-var]
    assert inputs == [2, 4, 6, 8, 110, 210]
    assert out.tests.run == 8 and out.tests.skipped == 1 and out.tests_passed
    assert out.dropped == {"the reference raised ValueError": 1}


def test_a_looping_test_costs_its_own_time_slice_only(worker: Worker) -> None:
    solution = "def f(x):\n    while x:\n        pass\n    return 0\n"
    tests = "from solution import f\n\ndef test_loop():\n    f(1)\n\ndef test_ok():\n    assert f(0) == 0\n"
    out = recorded(record_instances(problem(solution, tests, "f"), worker, timeout=8.0))
    assert [c.input for c in out.calls] == [{"x": 0}]
    assert out.tests.failures[0].startswith("test_loop: TestTimeout: test ran past its time slice")


def test_unloadable_solution_is_a_recording_failure(worker: Worker) -> None:
    out = record_instances(problem("import numpy\n\ndef f(x):\n    return x\n", "f(1)\n", "f"), worker)
    assert isinstance(out, RecordingFailed)
    assert out.reason == "the solution does not load: ModuleNotFoundError: No module named 'numpy'"


def test_compute_outputs_runs_the_reference_on_new_inputs(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    p = kodcode["FX_Algorithm_002"]
    assert compute_outputs(p, worker, [{"value": 13}, {"value": "x"}]) == [
        22,
        ComputeError('TypeError: can only concatenate str (not "int") to str'),
    ]
    sort = kodcode["FX_Algorithm_003"]
    assert compute_outputs(sort, worker, [{"arr": [3, 1, 2]}], in_place="arr") == [[1, 2, 3]]
    queue = kodcode["FX_Leetcode_001"]
    design: dict[str, JsonValue] = {
        "operations": ["RingBuffer", "push", "last", "is_full"],
        "arguments": [[1], [7], [], []],
    }
    assert compute_outputs(queue, worker, [design]) == [[None, True, 7, True]]
    short: dict[str, JsonValue] = {"operations": ["RingBuffer", "push"], "arguments": [[1]]}
    assert compute_outputs(queue, worker, [short]) == [
        ComputeError("ValueError: 2 operations but 1 argument lists: give one list per operation")
    ]


def test_answer_text_explains_design_in_place_and_tree_answers(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    queue = answer_text(recorded(record_instances(kodcode["FX_Leetcode_001"], worker)))
    assert queue.answer is not None and queue.answer.startswith("the list of what each operation returns")
    sort = answer_text(recorded(record_instances(kodcode["FX_Algorithm_003"], worker)))
    assert sort.answer == "the value of `arr` after `insertion_sort_in_place` has changed it in place"
    tree = answer_text(recorded(record_instances(kodcode["FX_Leetcode_004"], worker)))
    assert tree.answer is None
    assert tree.notes == [
        "`root` is a binary tree (TreeNode) as its level-order list of values, null for a missing child."
    ]


def test_tests_that_print_a_lot_and_use_capsys_still_record(worker: Worker) -> None:
    solution = "def shout(n):\n    print('x' * 1000)\n    return n\n"
    tests = (
        "from solution import shout\n\n"
        "def test_loud():\n    for i in range(3000):\n        shout(i % 3)\n\n"
        "def test_captured(capsys):\n    shout(7)\n    assert capsys.readouterr().out == 'x' * 1000 + '\\n'\n"
    )
    out = recorded(record_instances(problem(solution, tests, "shout"), worker))
    assert [c.input for c in out.calls] == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 7}]
    assert out.tests_passed


def test_a_test_file_that_hangs_at_import_fails_without_killing_the_worker(worker: Worker) -> None:
    out = record_instances(
        problem("def f(x):\n    return x\n", "while True:\n    pass\n", "f"), worker, timeout=8.0
    )
    assert isinstance(out, RecordingFailed) and not out.infra
    assert "<module>: TestTimeout" in out.reason


def test_a_failing_teardown_class_fails_the_tests(worker: Worker) -> None:
    tests = (
        "from solution import f\n\n"
        "class TestF:\n"
        "    @classmethod\n    def teardown_class(cls):\n        raise RuntimeError('left a mess')\n\n"
        "    def test_one(self):\n        assert f(1) == 1\n"
    )
    out = recorded(record_instances(problem("def f(x):\n    return x\n", tests, "f"), worker))
    assert [c.input for c in out.calls] == [{"x": 1}]
    assert not out.tests_passed and out.tests.failed == 1
    assert out.tests.failures == ["TestF.teardown_class: RuntimeError: left a mess"]


class _CannedWorker:
    """A worker whose harness answers with fixed text (what a tampered-with worker could send)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def call(self, module: str, function: str, **_: object) -> object:
        return self.reply


@pytest.mark.parametrize("reply", ["not json", "[1, 2]"])
def test_a_harness_reply_that_is_not_a_json_object_is_a_recording_failure(reply: str) -> None:
    out = record_instances(problem("def f(x):\n    return x\n", "f(1)\n", "f"), _CannedWorker(reply))
    assert isinstance(out, RecordingFailed) and not out.infra
    assert out.reason.startswith(f"the recording harness replied with {reply!r}, expected a JSON object")


def test_compute_outputs_refuses_a_reply_with_the_wrong_number_of_results() -> None:
    worker = _CannedWorker('{"ok": true, "results": [{"ok": true, "expected": 1}]}')
    out = compute_outputs(problem("def f(x):\n    return x\n", "f(1)\n", "f"), worker, [{"x": 1}, {"x": 2}])
    assert isinstance(out, RecordingFailed)
    assert out.reason == "the compute harness answered 1 results for 2 inputs"
