"""The value codec: wire round trips, plain form, coercion by type schema, inference, equality."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from codegym_mcp.schemas import (
    CoercionError,
    UnsupportedValue,
    coerce,
    decode,
    describe_schema,
    encode,
    infer_schema,
    to_plain,
    values_equal,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    # beyond 2**53 an int merged with floats into one "number" type loses precision
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner), max_leaves=6)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(hashables, max_size=4).map(set),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
        st.dictionaries(st.integers(), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(values)
def test_wire_round_trip_is_exact_and_survives_json(value: Any) -> None:
    wire = json.loads(json.dumps(encode(value)))
    assert values_equal(decode(wire), value, rel_tol=0, abs_tol=0)
    assert type(decode(wire)) is type(value)


def _ambiguous(schema: Any) -> bool:
    """Unions the plain form cannot tell apart: two array (or object) options, or string and
    non-string dict keys (plain dict keys are all strings)."""
    if isinstance(schema, dict):
        kinds = [o.get("type") for o in schema.get("anyOf", [])]
        if len(kinds) != len(set(kinds)):
            return True
        keys = schema.get("x-python-keys", {})
        if "string" in [o.get("type") for o in keys.get("anyOf", [])]:
            return True
        return any(_ambiguous(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_ambiguous(v) for v in schema)
    return False


@given(values)
def test_plain_form_coerces_back_through_the_inferred_schema(value: Any) -> None:
    schema = infer_schema([value])
    assume(not _ambiguous(schema))
    back = coerce(json.loads(json.dumps(to_plain(value))), schema)
    assert values_equal(back, value)


def test_nan_and_infinity_have_a_wire_form() -> None:
    assert math.isnan(decode(encode(float("nan"))))
    assert decode(encode(float("-inf"))) == float("-inf")


def test_objects_have_no_wire_form() -> None:
    class Node:
        pass

    with pytest.raises(UnsupportedValue, match=r"Node at \$\[1\]"):
        encode([1, Node()])


def test_coercion_error_names_the_path_and_the_expected_type() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    with pytest.raises(CoercionError) as info:
        coerce([1, "x"], schema)
    assert info.value.path == "$[1]"
    assert "expected int" in str(info.value)


def test_lenient_coercion_reads_answers_sent_as_text() -> None:
    assert coerce("3", {"type": "integer"}, lenient=True) == 3
    assert coerce("[1, 2]", {"type": "array", "items": {"type": "integer"}}, lenient=True) == [1, 2]
    assert coerce("True", {"type": "boolean"}, lenient=True) is True
    with pytest.raises(CoercionError):
        coerce("3", {"type": "integer"})


def test_tuples_coerce_from_lists_with_their_length() -> None:
    schema = infer_schema([(1, "a")])
    assert coerce([2, "b"], schema) == (2, "b")
    with pytest.raises(CoercionError, match="2 items"):
        coerce([2], schema)
    assert describe_schema(schema) == "tuple[int, str]"


def test_inference_keeps_ints_and_floats_apart_and_keeps_optionals() -> None:
    schema = infer_schema([1, 2.5])
    assert describe_schema(schema) == "int | float"
    assert type(coerce(4, schema)) is int
    assert type(coerce(4.0, schema)) is float
    assert coerce([4, 4.5], {"type": "array", "items": schema}) == [4, 4.5]
    assert describe_schema(infer_schema([1, None])) == "int | None"
    assert infer_schema([[], [1]]) == {"type": "array", "items": {"type": "integer"}}


def test_int_keyed_dicts_survive_the_plain_form() -> None:
    value = {1: "a", 2: "b"}
    assert coerce(to_plain(value), infer_schema([value])) == value


def test_equality_tolerates_float_noise_but_not_type_changes() -> None:
    assert values_equal(0.1 + 0.2, 0.3)
    assert not values_equal([1, 2], (1, 2))
    assert not values_equal(True, 1)
    assert values_equal({"a": [1.0]}, {"a": [1.0000000001]})
