"""The value codec: wire round trips, plain form, coercion by type schema, inference, equality."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from codegym_mcp.runtime import (
    CoercionError,
    UnsupportedValue,
    coerce,
    decode,
    describe_schema,
    encode,
    infer_schema,
    plain_schema,
    to_plain,
    values_equal,
)
from codegym_mcp.servers.mcp._server import json_safe_schema

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


@settings(deadline=None)  # no timing assertion: a loaded machine is slow now and then
@given(values)
def test_wire_round_trip_is_exact_and_survives_json(value: Any) -> None:
    wire = json.loads(json.dumps(encode(value)))
    assert values_equal(decode(wire), value, rel_tol=0, abs_tol=0)
    assert type(decode(wire)) is type(value)


def _plain_kind(schema: dict[str, Any]) -> Any:
    """The JSON type of a schema's plain form (a dict with non-string keys is a list of pairs)."""
    if schema.get("type") == "object" and "x-python-keys" in schema:
        return "array"
    return schema.get("type")


def _spells_a_float(value: Any) -> bool:
    """Whether ``value`` holds a string that is a non-finite float's plain spelling."""
    if isinstance(value, str):
        return value in ("NaN", "Infinity", "-Infinity")
    if isinstance(value, dict):
        return any(_spells_a_float(k) or _spells_a_float(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_spells_a_float(v) for v in value)
    return False


def _ambiguous(schema: Any) -> bool:
    """Unions the plain form cannot tell apart: two options whose plain forms are both arrays
    (or both objects)."""
    if isinstance(schema, dict):
        kinds = [_plain_kind(o) for o in schema.get("anyOf", [])]
        if len(kinds) != len(set(kinds)):
            return True
        return any(_ambiguous(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_ambiguous(v) for v in schema)
    return False


@settings(deadline=None)  # no timing assertion: a loaded machine is slow now and then
@given(values)
def test_plain_form_coerces_back_through_the_inferred_schema(value: Any) -> None:
    schema = infer_schema([value])
    assume(not _ambiguous(schema))
    # a float's non-finite values are spelled "NaN"/"Infinity"/"-Infinity" in plain form: the same
    # strings under a number-or-string union cannot be told apart (pre-existing, found by hypothesis)
    assume(not _spells_a_float(value))
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


def test_non_string_dict_keys_stay_distinguishable_in_the_plain_form() -> None:
    value = {5: "int", "5": "str", (1, 2): "tuple"}
    plain = to_plain(value)
    assert plain == [[5, "int"], ["5", "str"], [[1, 2], "tuple"]]
    back = coerce(json.loads(json.dumps(plain)), infer_schema([value]))
    assert back == value and type(next(iter(back))) is int
    assert to_plain({"a": {7: None}}) == {"a": [[7, None]]}  # only dicts with a non-string key change
    assert to_plain({}) == {}


def test_a_non_string_keyed_dict_coerces_from_pairs_or_from_an_object_with_string_keys() -> None:
    schema = infer_schema([{1: [True]}])
    assert coerce([[3, [False]]], schema) == {3: [False]}
    assert coerce({"3": [False]}, schema) == {3: [False]}  # what a client building from the schema sends
    assert coerce("[[3, [false]]]", schema, lenient=True) == {3: [False]}
    with pytest.raises(CoercionError, match=r"\$\[0\]: expected a \[key, value\] pair"):
        coerce([[1, [True], "extra"]], schema)
    with pytest.raises(CoercionError, match=r"\$\[1\]\[0\]: expected a key not given before"):
        coerce([[1, [True]], [1, [False]]], schema)
    with pytest.raises(CoercionError, match=r"\$\[0\]\[0\]: expected int"):
        coerce([["x", [True]]], schema)


@settings(deadline=None)  # no timing assertion: a loaded machine is slow now and then
@given(values)
def test_the_plain_form_satisfies_the_plain_schema_of_the_inferred_schema(value: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")  # installed with mcp, which validates tool results with it
    published = plain_schema(infer_schema([value]))
    # what the server publishes also admits "NaN"/"Infinity"/"-Infinity" for numbers (json_safe_schema)
    jsonschema.Draft202012Validator(json_safe_schema(published)).validate(
        json.loads(json.dumps(to_plain(value)))
    )
    assert plain_schema(published) == published


def test_plain_schema_shows_a_non_string_keyed_dict_as_pairs() -> None:
    schema = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "x-python-keys": {"type": "integer"},
    }
    pair = {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    pairs_or_empty = {"anyOf": [{"type": "array", "items": pair}, {"type": "object", "maxProperties": 0}]}
    assert plain_schema(schema) == pairs_or_empty
    wrapped = {"type": "object", "properties": {"d": schema}, "required": ["d"]}
    assert plain_schema(wrapped) == {"type": "object", "properties": {"d": pairs_or_empty}, "required": ["d"]}
    assert plain_schema({"type": "object", "additionalProperties": {"type": "integer"}}) == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }


def test_equality_tolerates_float_noise_but_not_type_changes() -> None:
    assert values_equal(0.1 + 0.2, 0.3)
    assert not values_equal([1, 2], (1, 2))
    assert not values_equal(True, 1)
    assert values_equal({"a": [1.0]}, {"a": [1.0000000001]})
