"""Read-only analysis of reference solutions: entry point, helpers, names, segments."""

from __future__ import annotations

import libcst as cst
import pytest

from codegym_mcp.generator.carving._analysis import SolutionFacts, analyse_solution
from codegym_mcp.generator.carving._segments import (
    SegmentContext,
    SegmentInterface,
    expression_interface,
    opaque_names,
    segment_interface,
    suite_statements,
)
from codegym_mcp.generator.carving._type_hints import annotation_schema

SOLUTION = '''
from typing import List
import heapq


def helper(x: int) -> bool:
    """Tell whether x is even."""
    return x % 2 == 0


def solve(nums: List[int], k: int = 2) -> int:
    from collections import Counter

    counts = Counter(nums)
    best = 0
    heap = []

    def closure(v):
        return v * k

    for i, n in enumerate(nums):
        if helper(n) and n > best:
            best = n
        heapq.heappush(heap, closure(n))
    squares = [n * n for n in nums if n > 0]
    return best + len(squares) + len(heap) + len(counts)


for _ in range(2):
    print(solve([1, 2]))
'''


def _facts(source: str = SOLUTION, entry: str = "solve") -> SolutionFacts:
    facts = analyse_solution(source, entry)
    assert isinstance(facts, SolutionFacts), facts
    return facts


def _ctx(facts: SolutionFacts) -> SegmentContext:
    body = facts.entry.node.body
    return SegmentContext(
        index=facts.index,
        all_reads=facts.index.read_nodes(body),
        available=frozenset(),
        opaque=frozenset(opaque_names(facts)),
        alias_prone=frozenset(),
    )


def test_analysis_finds_the_entry_point_with_typed_params() -> None:
    facts = _facts()
    assert facts.entry.name == "solve"
    assert [p.name for p in facts.entry.params] == ["nums", "k"]
    assert annotation_schema(facts.entry.params[0].annotation) == {
        "type": "array",
        "items": {"type": "integer"},
    }
    assert facts.entry.params[1].default is not None


def test_analysis_lists_top_level_and_nested_helpers() -> None:
    facts = _facts()
    assert list(facts.helpers) == ["helper"]
    assert facts.helpers["helper"].doc == "Tell whether x is even."
    assert list(facts.nested) == ["closure"]


def test_analysis_gathers_loop_bodies_conditions_and_comprehensions() -> None:
    kinds = [c.kind for c in _facts().candidates]
    assert kinds.count("loop_body") == 1
    assert "condition" in kinds
    assert "comprehension" in kinds


def test_analysis_reports_a_missing_entry_point_as_a_reason() -> None:
    reason = analyse_solution("def other():\n    return 1\n", "solve")
    assert isinstance(reason, str)
    assert "solve" in reason


def test_analysis_reports_unparsable_source_as_a_reason() -> None:
    reason = analyse_solution("def solve(:\n", "solve")
    assert isinstance(reason, str)
    assert "parse" in reason


def test_name_index_sees_in_place_mutation_through_heapq_and_methods() -> None:
    facts = _facts()
    assert "heap" in facts.index.mutated(facts.entry.node.body)
    assert "nums" not in facts.index.mutated(facts.entry.node.body)


def test_opaque_names_include_counters_and_local_functions() -> None:
    opaque = opaque_names(_facts())
    assert {"counts", "closure"} <= opaque
    assert "best" not in opaque


def _loop(facts: SolutionFacts) -> cst.For:
    return next(s for s in facts.entry.node.body.body if isinstance(s, cst.For))


def test_loop_body_returns_loop_carried_values_and_takes_free_ones() -> None:
    source = "def f(xs):\n    total = 0\n    for x in xs:\n        total = total + x * 2\n    return total\n"
    facts = _facts(source, "f")
    loop = _loop(facts)
    iface = segment_interface(
        _ctx(facts), suite_statements(loop.body), bound=frozenset({"xs", "total", "x"}), in_loop=True
    )
    assert iface == SegmentInterface(params=["total", "x"], returns=["total"])


def test_segment_reading_a_maybe_unbound_name_is_refused() -> None:
    source = (
        "def f(xs):\n    for x in xs:\n        if x:\n            prev = x\n        y = prev\n    return y\n"
    )
    facts = _facts(source, "f")
    loop = _loop(facts)
    iface = segment_interface(
        _ctx(facts), suite_statements(loop.body), bound=frozenset({"xs", "x"}), in_loop=True
    )
    assert isinstance(iface, str)
    assert "unbound" in iface


@pytest.mark.parametrize("stmt", ["break", "continue", "return x"])
def test_segment_with_escaping_control_flow_is_refused(stmt: str) -> None:
    source = f"def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n        {stmt}\n    return t\n"
    facts = _facts(source, "f")
    loop = _loop(facts)
    iface = segment_interface(
        _ctx(facts), suite_statements(loop.body), bound=frozenset({"xs", "t", "x"}), in_loop=True
    )
    assert isinstance(iface, str)


def test_expression_with_a_mutating_call_is_refused() -> None:
    source = "def f(xs):\n    while xs.pop() > 0:\n        pass\n    return xs\n"
    facts = _facts(source, "f")
    loop = next(s for s in facts.entry.node.body.body if isinstance(s, cst.While))
    assert isinstance(expression_interface(_ctx(facts), loop.test, bound=frozenset({"xs"})), str)


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        ("int", {"type": "integer"}),
        ("Optional[str]", {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        (
            "Tuple[int, float]",
            {
                "type": "array",
                "x-python": "tuple",
                "prefixItems": [{"type": "integer"}, {"type": "number"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (
            "dict[int, str]",
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "x-python-keys": {"type": "integer"},
            },
        ),
        ("set[str]", {"type": "array", "x-python": "set", "uniqueItems": True, "items": {"type": "string"}}),
        ("list", None),
        ("MyClass", None),
    ],
)
def test_annotation_schema_spells_the_annotation(annotation: str, schema: object) -> None:
    assert annotation_schema(cst.parse_expression(annotation)) == schema
