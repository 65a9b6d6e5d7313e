"""The rules of a tool call (runtime/jail/tool_rules.py), one rule at a time."""

from __future__ import annotations

from typing import Any

import pytest

from codegym_mcp.runtime import CoercionError
from codegym_mcp.runtime.jail import tool_rules as rules

TOOL: dict[str, Any] = {
    "name": "span",
    "params": [
        {"name": "xs", "source": "hidden", "hidden_key": "nums", "type_schema": {}},
        {"name": "state", "source": "state", "hidden_key": None, "type_schema": {}},
        {"name": "lo", "source": "agent", "hidden_key": None, "type_schema": {"type": "integer"}},
        {"name": "hi", "source": "agent", "hidden_key": None, "type_schema": {"type": "integer"}},
    ],
    "stateful": True,
    "result_fields": ["low", "high"],
    "output_schema": {
        "type": "object",
        "properties": {"low": {"type": "integer"}, "high": {"type": "integer"}},
        "required": ["low", "high"],
        "additionalProperties": False,
    },
}


def test_unknown_arguments_are_reported_before_missing_ones() -> None:
    with pytest.raises(rules.ArgumentError, match=r"^unexpected argument x: span takes hi, lo$"):
        rules.agent_arguments(TOOL, {"x": 1})


def test_a_missing_argument_names_its_expected_type() -> None:
    with pytest.raises(rules.ArgumentError, match=r"^missing argument hi: expected int$"):
        rules.agent_arguments(TOOL, {"lo": 1})


def test_a_value_of_the_wrong_type_carries_its_coercion_error() -> None:
    with pytest.raises(rules.ArgumentError) as caught:
        rules.agent_arguments(TOOL, {"lo": "a", "hi": 2})
    assert isinstance(caught.value.coercion, CoercionError) and caught.value.coercion.path == "lo"


def test_a_raw_param_keeps_its_value_uncoerced() -> None:
    assert rules.agent_arguments(TOOL, {"lo": (1,), "hi": 2}, raw=["lo"]) == {"lo": (1,), "hi": 2}


def test_binding_follows_param_order_and_reads_the_hidden_key() -> None:
    args = rules.bind(TOOL, {"lo": 1, "hi": 2}, {"nums": [5, 6]}.__getitem__, "S")
    assert args == [[5, 6], "S", 1, 2]


def test_a_hidden_key_the_instance_lacks_is_a_gym_bug() -> None:
    empty: dict[str, Any] = {}
    with pytest.raises(rules.HiddenMissing, match="reads hidden input 'nums'"):
        rules.bind(TOOL, {"lo": 1, "hi": 2}, empty.__getitem__, None)


def test_a_stateful_tool_returns_a_pair_and_nothing_else() -> None:
    assert rules.split_state(TOOL, ["s", 1]) == ("s", 1)
    with pytest.raises(
        rules.ResultError, match=r"returned int for these arguments instead of its \[new_state"
    ):
        rules.split_state(TOOL, 3)


def test_several_result_fields_take_a_tuple_but_not_a_list() -> None:
    assert rules.result_values(TOOL, (1, 2)) == {"low": 1, "high": 2}
    with pytest.raises(rules.ResultError, match=r"returned list .* its 2 values \(low, high\)"):
        rules.result_values(TOOL, [1, 2])
    assert rules.result_values({"name": "f", "result_fields": None}, [1, 2]) == {"result": [1, 2]}


def test_a_result_outside_the_output_schema_names_the_types_not_the_value() -> None:
    rules.check_output(TOOL, {"low": 1, "high": 2})
    with pytest.raises(rules.ResultError, match=r"\(result.high: expected int, got float\)$"):
        rules.check_output(TOOL, {"low": 1, "high": 0.001})


def test_answers_are_coerced_leniently_and_scored_with_tolerance() -> None:
    schema = {"type": "number"}
    assert rules.score(rules.answer_argument("submit", {"answer": "0.1"}, schema), 0.1 + 1e-12) == 1
    assert rules.score(rules.coerce_answer(0.2, schema), 0.1) == 0
    with pytest.raises(rules.ArgumentError, match=r"^missing argument answer: expected float$"):
        rules.answer_argument("submit", {}, schema)
    with pytest.raises(rules.ArgumentError, match=r"^unexpected argument why: submit takes answer$"):
        rules.answer_argument("submit", {"answer": 1, "why": "x"}, schema)
