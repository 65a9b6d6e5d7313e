"""Type-driven mutation of recorded inputs: deterministic, typed, tiered, new."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.generator._augment import mutate_inputs, rng_for
from codegym_mcp.schemas import canonical_json, encode, infer_schema

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


def test_tiers_come_round_robin_and_hard_inputs_are_bigger() -> None:
    mutants = mutate_inputs(INPUTS, _schema(INPUTS), n=30, rng=rng_for(1, "t"))
    assert [m.tier for m in mutants[:3]] == ["easy", "medium", "hard"]
    size = {tier: max(len(m.input["nums"]) for m in mutants if m.tier == tier) for tier in ("easy", "hard")}
    assert size["hard"] > size["easy"]


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
