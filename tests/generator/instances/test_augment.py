"""Type-driven mutation of recorded inputs: deterministic, typed, along the size ladder, new."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.generator.instances._augment import LADDER, mutate_inputs, rng_for, tier_for
from codegym_mcp.runtime import canonical_json, encode, infer_schema

INPUTS: list[dict[str, Any]] = [
    {
        "nums": [3, 1, 2],
        "word": "abca",
        "pair": (1, "x"),
        "tags": {"a", "b"},
        "counts": {1: 2.5},
        "flag": True,
    },
    {
        "nums": [5, 9, 2, 7, 1],
        "word": "bb",
        "pair": (4, "y"),
        "tags": {"c"},
        "counts": {3: 0.5, 4: 1.0},
        "flag": False,
    },
]


def _schema(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    props = {k: infer_schema([i[k] for i in inputs]) for k in inputs[0]}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def test_the_same_seed_and_task_give_the_same_inputs() -> None:
    one = mutate_inputs(INPUTS, _schema(INPUTS), n=9, rng=rng_for(7, "task_a"))
    two = mutate_inputs(INPUTS, _schema(INPUTS), n=9, rng=rng_for(7, "task_a"))
    other = mutate_inputs(INPUTS, _schema(INPUTS), n=9, rng=rng_for(8, "task_a"))
    assert [canonical_json(encode(m.input)) for m in one] == [canonical_json(encode(m.input)) for m in two]
    assert [m.input for m in one] != [m.input for m in other]


def test_mutants_keep_the_python_types_of_each_parameter() -> None:
    for mutant in mutate_inputs(INPUTS, _schema(INPUTS), n=12, rng=rng_for(0, "t")):
        value = mutant.input
        assert isinstance(value["nums"], list) and all(type(v) is int for v in value["nums"])
        assert isinstance(value["word"], str) and set(value["word"]) <= set("abcy")
        assert isinstance(value["pair"], tuple) and len(value["pair"]) == 2
        assert isinstance(value["tags"], set)
        assert isinstance(value["counts"], dict) and all(type(k) is int for k in value["counts"])
        assert type(value["flag"]) is bool


def test_rungs_of_the_size_ladder_come_round_robin_and_collections_take_the_rungs_size() -> None:
    mutants = mutate_inputs(INPUTS, _schema(INPUTS), n=30, rng=rng_for(1, "t"))
    assert [m.size for m in mutants[:6]] == list(LADDER)
    assert [m.tier for m in mutants[:6]] == ["easy", "easy", "medium", "medium", "hard", "hard"]
    for m in mutants:
        assert tier_for(m.size) == m.tier
        assert 3 * m.size // 4 <= len(m.input["nums"]) <= m.size
        assert 3 * m.size // 4 <= len(m.input["word"]) <= m.size
    assert max(len(m.input["nums"]) for m in mutants) >= 192  # the hard tier holds hundreds


def test_the_bigger_rungs_get_more_candidates_than_the_smaller() -> None:
    sizes = [m.size for m in mutate_inputs(INPUTS, _schema(INPUTS), n=36, rng=rng_for(5, "t"))]
    count = {size: sizes.count(size) for size in LADDER}
    assert count == {8: 3, 16: 3, 32: 6, 64: 6, 128: 9, 256: 9}


def test_integers_alone_grow_to_the_rung_as_sizes_or_counts() -> None:
    inputs: list[dict[str, Any]] = [{"n": 5}, {"n": 0}]
    mutants = mutate_inputs(inputs, _schema(inputs), n=12, rng=rng_for(0, "t"))
    for m in mutants:
        assert 3 * m.size // 4 <= m.input["n"] <= m.size


def test_on_every_other_candidate_top_level_counts_grow_with_the_collections() -> None:
    inputs: list[dict[str, Any]] = [{"nums": [1, 2, 3], "k": 2}, {"nums": [4, 5], "k": 1}]
    mutants = mutate_inputs(inputs, _schema(inputs), n=24, rng=rng_for(3, "t"))
    grown = [m for m in mutants if m.size >= 64 and m.input["k"] >= m.size // 2]
    kept = [m for m in mutants if m.size >= 64 and m.input["k"] < 16]
    assert grown and kept


def test_a_grid_grows_as_a_rectangle_of_about_the_rungs_size() -> None:
    inputs: list[dict[str, Any]] = [{"grid": [[1, 0], [0, 1]]}, {"grid": [[1, 1, 0], [0, 0, 1]]}]
    for m in mutate_inputs(inputs, _schema(inputs), n=12, rng=rng_for(4, "t")):
        rows = m.input["grid"]
        assert len({len(r) for r in rows}) == 1
        assert len(rows) * len(rows[0]) <= m.size
        assert all(v in (0, 1) for r in rows for v in r)


def test_no_mutant_repeats_a_recorded_input_or_another_mutant() -> None:
    mutants = mutate_inputs(INPUTS, _schema(INPUTS), n=20, rng=rng_for(2, "t"))
    keys = [canonical_json(encode(m.input)) for m in mutants] + [canonical_json(encode(i)) for i in INPUTS]
    assert len(keys) == len(set(keys))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50), max_size=6), min_size=1, max_size=4), st.integers(0, 2**16))
def test_any_recorded_int_lists_mutate_into_int_lists(recorded: list[list[int]], seed: int) -> None:
    inputs = [{"xs": xs} for xs in recorded]
    for mutant in mutate_inputs(inputs, _schema(inputs), n=5, rng=rng_for(seed, "p")):
        assert isinstance(mutant.input["xs"], list)
        assert all(type(v) is int for v in mutant.input["xs"])
