"""Class-based (design) problems: stateful tools per method, an operations oracle, verified gyms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from codegym_mcp.generator._results import Generated, GenerateSettings
from codegym_mcp.generator.carving._carving_types import CarveRejected, Carving
from codegym_mcp.generator.carving._classes import DESIGN_INPUT_SCHEMA, carve_class_problem, mutate_operations
from codegym_mcp.generator.instances._augment import rng_for
from codegym_mcp.generator.instances._instances import (
    ComputeError,
    RecordedInstances,
    compute_outputs,
    record_instances,
)
from codegym_mcp.generator.pipeline._pipeline import build_gym
from codegym_mcp.runtime import ITEMS_CAP, Worker, encode
from codegym_mcp.schemas import Problem

from .._recording import kodcode_problems, sandbox_worker

DESIGN = ["RingBuffer", "QueueStack", "BoundedQueue"]


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    yield from sandbox_worker()


@pytest.fixture(scope="module")
def kodcode() -> dict[str, Problem]:
    return kodcode_problems()


def _carve(problem: Problem, worker: Worker) -> tuple[RecordedInstances, Carving]:
    rec = record_instances(problem, worker)
    assert isinstance(rec, RecordedInstances), rec
    carving = carve_class_problem(problem, rec)
    assert isinstance(carving, Carving), carving
    return rec, carving


def test_ring_buffer_gets_one_stateful_tool_per_method_and_the_constructor(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    _rec, carving = _carve(kodcode["FX_Leetcode_001"], worker)
    names = [t.name for t in carving.tools]
    assert names[0] == "RingBuffer"
    assert set(names) == {"RingBuffer", "first", "last", "push", "pop", "is_empty", "is_full"}
    assert all(t.stateful and t.kind == "method" for t in carving.tools)
    push = next(t for t in carving.tools if t.name == "push")
    assert [(p.name, p.source) for p in push.params] == [("codegym_state", "state"), ("value", "agent")]
    assert push.params[1].type_schema == {"type": "integer"}
    assert push.returns_schema == {"type": "boolean"}
    assert carving.input_schema == DESIGN_INPUT_SCHEMA
    assert "def oracle(tools):" in carving.oracle_source


def test_tools_keep_the_object_state_across_calls_in_the_sandbox(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    _rec, carving = _carve(kodcode["FX_Leetcode_002"], worker)  # QueueStack keeps two deques
    worker.load("tools_mystack", carving.tools_source)
    state: Any = None
    for function, args, expected in [
        ("codegym_new", [], None),
        ("codegym_push", [1], None),
        ("codegym_push", [2], None),
        ("codegym_top", [], 2),
        ("codegym_pop", [], 2),
        ("codegym_empty", [], False),
    ]:
        state, result = worker.call("tools_mystack", function, args=[state, *args])
        assert result == expected, function


def test_a_method_called_before_the_constructor_says_which_tool_to_call(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    _rec, carving = _carve(kodcode["FX_Leetcode_001"], worker)
    worker.load("tools_cq", carving.tools_source)
    with pytest.raises(Exception, match="call the RingBuffer tool first"):
        worker.call("tools_cq", "codegym_first", args=[None])


def test_state_without_json_form_is_rejected_with_the_attribute(worker: Worker) -> None:
    solution = (
        "class Node:\n    def __init__(self, v):\n        self.v = v\n\n"
        "class Stack:\n    def __init__(self):\n        self.top = None\n"
        "    def push(self, v):\n        n = Node(v)\n        n.below = self.top\n        self.top = n\n"
        "    def peek(self):\n        return self.top.v\n"
    )
    tests = "from solution import *\n\ndef test_stack():\n    s = Stack()\n    s.push(1)\n    assert s.peek() == 1\n"
    p = Problem(
        problem_id="s/1", task_id="s_1", source="jsonl", question="A stack.", solution=solution, tests=tests,
        test_style="pytest", entry_point=None,
    )  # fmt: skip
    rec = record_instances(p, worker)
    assert isinstance(rec, RecordedInstances)
    out = carve_class_problem(p, rec)
    assert isinstance(out, CarveRejected)
    assert out.reason.startswith("the object's state holds a Node at self.top")


def test_every_kodcode_design_problem_becomes_a_verified_gym(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    problems = [p for p in kodcode.values() if any(f"class {name}" in p.solution for name in DESIGN)]
    assert len(problems) == len(DESIGN)
    for p in problems:
        out = build_gym(p, GenerateSettings.unfiltered(), worker)
        assert isinstance(out, Generated), (p.problem_id, out)
        assert out.summary.n_problem_tools >= 2
        first = out.files.instances[0]
        n = len(first.input["operations"])  # type: ignore[arg-type]
        reads = 2 * -(-n // ITEMS_CAP)  # partial observation: operations and arguments, 5 a read
        assert first.oracle_steps == n + reads + 2  # observe, reads, one call per operation, submit
        assert [c.tool for c in first.oracle_trace[1 : 1 + reads]] == ["read_operations"] * (reads // 2) + [
            "read_arguments"
        ] * (reads // 2)
        full = build_gym(p, GenerateSettings.unfiltered(observe="full"), worker)
        assert isinstance(full, Generated)
        assert full.files.instances[0].oracle_steps == n + 2


def test_operation_sequences_are_augmented_in_tiers_and_computed_by_the_reference(
    worker: Worker, kodcode: dict[str, Problem]
) -> None:
    p = kodcode["FX_Leetcode_003"]
    rec, _carving = _carve(p, worker)
    mutants = mutate_operations(rec, n=9, rng=rng_for(0, p.task_id))
    assert [m.tier for m in mutants] == ["easy", "medium", "hard"] * 3
    assert mutate_operations(rec, n=9, rng=rng_for(0, p.task_id)) == mutants  # deterministic
    recorded_inputs = [c.input for c in rec.calls]
    for m in mutants:
        ops = m.input["operations"]
        assert isinstance(ops, list) and ops[0] == "BoundedQueue" and len(ops) >= 2
        assert set(ops[1:]) <= {"enqueue", "dequeue", "snapshot", "isFull", "isEmpty"}
        assert m.input not in recorded_inputs
    outputs = compute_outputs(
        p, worker, [{k: encode(v) for k, v in m.input.items()} for m in mutants], target=rec.target
    )
    assert isinstance(outputs, list) and not any(isinstance(o, ComputeError) for o in outputs)
    assert all(isinstance(o, list) and o[0] is None for o in outputs)
