"""The partial observation rules: what observe shows, read windows, caps, argument errors, kinds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.runtime import (
    ITEMS_CAP,
    TEXT_CAP,
    ReadError,
    coerce,
    collection_kind,
    collection_params,
    infer_schema,
    observe_output_schema,
    observe_values,
    read_input_schema,
    read_output_schema,
    read_tool_name,
    read_window,
)

INTS = {"type": "array", "items": {"type": "integer"}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "numbers": INTS,
        "word": {"type": "string"},
        "k": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
    },
    "required": ["numbers", "word", "k", "ratio", "flag"],
    "additionalProperties": False,
}
VALUES: dict[str, Any] = {
    "numbers": list(range(12)),
    "word": "hello world!",
    "k": 3,
    "ratio": 0.5,
    "flag": True,
}


def _message(param: str, kind: str, value: Any, **arguments: Any) -> str:
    with pytest.raises(ReadError) as info:
        read_window(param, kind, value, arguments)
    return str(info.value)


def test_observe_shows_scalars_by_value_and_collections_by_length() -> None:
    shown = observe_values(VALUES, SCHEMA, "partial")
    assert shown == {"numbers": {"length": 12}, "word": {"length": 12}, "k": 3, "ratio": 0.5, "flag": True}


def test_observe_under_full_shows_every_value() -> None:
    assert observe_values(VALUES, SCHEMA, "full") == VALUES
    assert observe_output_schema(SCHEMA, "full") == SCHEMA


def test_the_observe_output_schema_describes_the_partial_observation() -> None:
    schema = observe_output_schema(SCHEMA, "partial")
    shown = observe_values(VALUES, SCHEMA, "partial")
    assert coerce(shown, schema) == shown
    assert schema["properties"]["k"] == {"type": "integer"}
    assert schema["properties"]["numbers"]["required"] == ["length"]


def test_a_list_is_read_in_windows_of_at_most_five_items() -> None:
    value = list(range(12))
    assert read_window("numbers", "list", value, {"start": 0, "count": 5}) == {"items": [0, 1, 2, 3, 4]}
    assert read_window("numbers", "list", value, {"start": 10, "count": 5}) == {"items": [10, 11]}
    assert ITEMS_CAP == 5


def test_a_string_is_read_ten_characters_at_a_time() -> None:
    text = "hello world!"
    assert read_window("word", "text", text, {"start": 0, "count": 10}) == {"text": "hello worl"}
    assert read_window("word", "text", text, {"start": 10, "count": 10}) == {"text": "d!"}
    assert TEXT_CAP == 10
    assert "count 11 is over the cap of 10" in _message("word", "text", text, start=0, count=11)


def test_a_start_past_the_end_says_how_many_items_there_are() -> None:
    message = _message("numbers", "list", list(range(12)), start=40, count=1)
    assert message == "start 40 is past the end: `numbers` has 12 items (0..11)"
    assert "`word` has 3 characters (0..2)" in _message("word", "text", "abc", start=3, count=1)
    assert "is empty" in _message("numbers", "list", [], start=0, count=1)


def test_a_count_over_the_cap_or_below_one_is_refused() -> None:
    assert _message("numbers", "list", [1], start=0, count=9).startswith("count 9 is over the cap of 5")
    assert "below 1" in _message("numbers", "list", [1], start=0, count=0)
    assert "negative" in _message("numbers", "list", [1], start=-1, count=1)


def test_arguments_must_be_the_two_integers() -> None:
    assert "missing argument count" in _message("numbers", "list", [1], start=0)
    assert "expected an integer" in _message("numbers", "list", [1], start="0", count=1)
    assert "expected an integer" in _message("numbers", "list", [1], start=True, count=1)
    assert "unexpected argument index" in _message("numbers", "list", [1], start=0, count=1, index=2)
    assert read_window("numbers", "list", [7], {"start": 0.0, "count": 1.0}) == {"items": [7]}


def test_a_set_is_read_in_sorted_order() -> None:
    value = {10, 9, 100, -1}
    first = read_window("seen", "set", value, {"start": 0, "count": 2})
    rest = read_window("seen", "set", value, {"start": 2, "count": 2})
    assert first["items"] + rest["items"] == [-1, 9, 10, 100]
    mixed = {1, "a", (2, 3)}  # not comparable: ordered by JSON text, still deterministic
    assert read_window("m", "set", mixed, {"start": 0, "count": 3}) == {"items": ["a", 1, [2, 3]]}


def test_a_dict_is_read_as_key_value_pairs_in_insertion_order() -> None:
    value = {3: "c", 1: "a", 2: "b"}
    assert read_window("d", "dict", value, {"start": 1, "count": 5}) == {"items": [[1, "a"], [2, "b"]]}
    schema = infer_schema([value])
    out = read_output_schema("dict", schema)
    pairs = coerce({"items": [[1, "a"]]}, out)["items"]
    assert dict(pairs) == {1: "a"}


def test_a_tuple_is_read_like_a_list_and_coerced_back_by_its_item_types() -> None:
    value = (1, "x", 2)
    schema = infer_schema([value])
    assert collection_kind(schema) == "tuple"
    window = read_window("t", "tuple", value, {"start": 0, "count": 3})
    assert window == {"items": [1, "x", 2]}
    assert coerce(window, read_output_schema("tuple", schema)) == window


def test_collection_kinds_follow_the_type_schema() -> None:
    assert collection_kind({"type": "string"}) == "text"
    assert collection_kind(INTS) == "list"
    assert collection_kind({"type": "array", "x-python": "set", "items": {}}) == "set"
    assert collection_kind({"type": "object", "additionalProperties": {"type": "integer"}}) == "dict"
    assert collection_kind({"anyOf": [INTS, {"type": "null"}]}) == "list"
    assert collection_kind({"anyOf": [INTS, {"type": "string"}]}) is None  # a union: shown whole
    assert collection_kind({"type": "integer"}) is None
    assert collection_kind({}) is None
    assert collection_params(SCHEMA) == {"numbers": "list", "word": "text"}


def test_a_none_collection_is_shown_as_none_and_has_nothing_to_read() -> None:
    schema = {"type": "object", "properties": {"xs": {"anyOf": [INTS, {"type": "null"}]}}}
    assert observe_values({"xs": None}, schema, "partial") == {"xs": None}
    assert observe_values({"xs": [1, 2]}, schema, "partial") == {"xs": {"length": 2}}
    assert coerce({"xs": None}, observe_output_schema(schema, "partial")) == {"xs": None}
    assert "nothing to read" in _message("xs", "list", None, start=0, count=1)


def test_read_tool_arguments_carry_their_bounds() -> None:
    schema = read_input_schema("list")
    assert schema["properties"]["count"]["maximum"] == ITEMS_CAP
    assert schema["properties"]["start"]["minimum"] == 0
    assert read_input_schema("text")["properties"]["count"]["maximum"] == TEXT_CAP
    assert read_tool_name("numbers") == "read_numbers"


@settings(deadline=None)  # no timing assertion: a loaded machine is slow now and then
@given(st.lists(st.integers(), max_size=40), st.integers(min_value=1, max_value=ITEMS_CAP))
def test_reading_window_after_window_gives_back_the_whole_list(value: list[int], count: int) -> None:
    items: list[int] = []
    for start in range(0, len(value), count):
        items += read_window("xs", "list", value, {"start": start, "count": count})["items"]
    assert items == value
