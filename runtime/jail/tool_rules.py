"""The rules of a tool call: one home for the live runtime and the oracle's verification.

Standard library only, and Python 3.11 compatible (the in-jail package): the live runtime
(``runtime/_episode.py``, ``runtime/_batch.py``) imports it on the host, and the oracle harness
(``oracle``) in the sandbox worker. So "verification proves solvability" holds
by construction: the oracle's calls are checked, bound, wrapped and scored by the code that
checks, binds, wraps and scores an agent's calls.

Tools are described by plain dicts (``ToolSpec.model_dump()`` / the harness's tool dicts):
``name``, ``params`` (each ``name``, ``source`` agent|hidden|state, ``hidden_key``,
``type_schema``), ``stateful``, ``result_fields``.

The rules:

- *agent arguments* (:func:`agent_arguments`): an argument the tool does not take is an error
  (checked first), then each agent param in order must be present; each value is coerced by its
  param's type schema (:func:`.values.coerce`, strict).
- *binding* (:func:`bind`): the function's positional arguments in param order: agent values,
  the hidden input field ``hidden_key`` (default: the param's name), the episode state.
- *stateful contract* (:func:`split_state`): a stateful tool returns a pair
  ``[new_state, result]``, a list or a tuple of exactly two values.
- *result wrapping* (:func:`result_values`): a tool with ``result_fields`` returns a **tuple** of
  exactly that many values (what ``return a, b`` produces), one per field; a list is NOT taken
  for several values (a list is one list-typed value, and the carved code returns a tuple).
  Any other tool's value ``v`` becomes ``{"result": v}``. (Issue 12: the runtime used to take a
  list too while verification took only a tuple; this is the one rule both follow now.)
- *output* (:func:`check_output`): a structured result must fit the tool's output schema.
- *answers* (:func:`coerce_answer`, :func:`score`): a submitted answer is coerced leniently by
  the gym's output schema, and scores 1 when it equals the expected value under
  :func:`.values.values_equal` (floats within tolerance), else 0.

Exceptions::

    ValueError
     +-- ArgumentError    the call's arguments break the rules (what the agent sees as a tool error)
     +-- ResultError      the tool's value breaks the result contract (stateful pair, fields)
    LookupError
     +-- HiddenMissing    a hidden param names an input field the instance does not hold (a gym bug)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import values as _cv

__all__ = [
    "ArgumentError",
    "HiddenMissing",
    "ResultError",
    "agent_arguments",
    "answer_argument",
    "bind",
    "check_arguments",
    "check_output",
    "coerce_answer",
    "hidden_key",
    "result_values",
    "score",
    "split_state",
    "structured_result",
]


class ArgumentError(ValueError):
    """The arguments of a call break the rules; the message is what the agent sees.

    ``coercion`` is the :class:`CoercionError` when a value does not fit its type schema.
    """

    def __init__(self, message: str, coercion: _cv.CoercionError | None = None) -> None:
        super().__init__(message)
        self.coercion = coercion


class ResultError(ValueError):
    """A tool's value breaks the result contract (``[new_state, result]``, one value per field)."""


class HiddenMissing(LookupError):
    """A hidden param reads an input field the instance does not hold."""

    def __init__(self, tool: str, key: str) -> None:
        super().__init__(f"tool {tool} reads hidden input {key!r}, which the instance does not hold")
        self.tool = tool
        self.key = key


def check_arguments(tool: str, arguments: Iterable[str], allowed: Iterable[str]) -> None:
    """No argument outside ``allowed`` (checked before anything else about a call).

    Raises:
        ArgumentError: an argument ``tool`` does not take.
    """
    takes = sorted(set(allowed))
    extra = sorted(set(arguments) - set(takes))
    if extra:
        says = f"takes {', '.join(takes)}" if takes else "takes no arguments"
        raise ArgumentError(f"unexpected argument {', '.join(extra)}: {tool} {says}")


def agent_arguments(
    tool: Mapping[str, Any], arguments: Mapping[str, Any], *, raw: Iterable[str] = ()
) -> dict[str, Any]:
    """The python values of a call's agent arguments (plain JSON in), by param name.

    A param named in ``raw`` keeps its value as given, uncoerced (verification's first pass,
    while the param's type schema is still being inferred).

    Raises:
        ArgumentError: an unknown or missing argument, or a value that does not fit its type schema.
    """
    params = [p for p in tool.get("params", []) if p["source"] == "agent"]
    check_arguments(tool["name"], arguments, [p["name"] for p in params])
    for p in params:
        if p["name"] not in arguments:
            expected = _cv.describe_schema(p.get("type_schema") or {})
            raise ArgumentError(f"missing argument {p['name']}: expected {expected}")
    keep = set(raw)
    values: dict[str, Any] = {}
    for p in params:
        name = p["name"]
        if name in keep:
            values[name] = arguments[name]
            continue
        try:
            values[name] = _cv.coerce(arguments[name], p.get("type_schema") or {}, path=name)
        except _cv.CoercionError as exc:
            raise ArgumentError(f"invalid argument {exc}", exc) from exc
    return values


def hidden_key(param: Mapping[str, Any]) -> str:
    """The instance input field a hidden param is bound to (its ``hidden_key``, else its name)."""
    return str(param.get("hidden_key") or param["name"])


def bind(
    tool: Mapping[str, Any], agent: Mapping[str, Any], hidden: Callable[[str], Any], state: Any
) -> list[Any]:
    """The function's positional arguments in param order.

    ``agent``: values by param name (from :func:`agent_arguments`, in the caller's form);
    ``hidden(key)``: the instance's input field ``key`` in the caller's form, raising
    ``KeyError`` when absent; ``state``: the episode state.

    Raises:
        HiddenMissing: the instance holds no field a hidden param names.
    """
    args: list[Any] = []
    for p in tool.get("params", []):
        if p["source"] == "agent":
            args.append(agent[p["name"]])
        elif p["source"] == "hidden":
            key = hidden_key(p)
            try:
                args.append(hidden(key))
            except KeyError:
                raise HiddenMissing(tool["name"], key) from None
        else:
            args.append(state)
    return args


def split_state(tool: Mapping[str, Any], value: Any) -> tuple[Any, Any]:
    """``(new_state, result)`` of a stateful tool's value, a list or tuple of two.

    Raises:
        ResultError: the value is not such a pair.
    """
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ResultError(
            f"{tool['name']} returned {type(value).__name__} for these arguments instead of its "
            "[new_state, result] pair"
        )
    return value[0], value[1]


def result_values(tool: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The python values of a tool's result by field: one per ``result_fields``, else ``result``.

    Raises:
        ResultError: a tool with result fields returned something else than a tuple of that many values.
    """
    fields = tool.get("result_fields")
    if not fields:
        return {"result": value}
    if not isinstance(value, tuple) or len(value) != len(fields):
        raise ResultError(
            f"{tool['name']} returned {type(value).__name__} for these arguments instead of its "
            f"{len(fields)} values ({', '.join(fields)})"
        )
    return dict(zip(fields, value, strict=True))


def structured_result(values: Mapping[str, Any]) -> dict[str, Any]:
    """The structured content of a result: each field's value in plain JSON.

    Raises:
        UnsupportedValue: a value has no JSON form.
    """
    return {k: _cv.to_plain(v) for k, v in values.items()}


def answer_argument(tool: str, arguments: Mapping[str, Any], output_schema: dict[str, Any]) -> Any:
    """The python value of a submit call's ``answer`` (its only argument), coerced leniently.

    Raises:
        ArgumentError: another argument, no ``answer``, or one that does not fit the output schema.
    """
    check_arguments(tool, arguments, ["answer"])
    if "answer" not in arguments:
        raise ArgumentError(f"missing argument answer: expected {_cv.describe_schema(output_schema)}")
    try:
        return coerce_answer(arguments["answer"], output_schema)
    except _cv.CoercionError as exc:
        raise ArgumentError(f"invalid argument {exc}", exc) from exc


def check_output(tool: Mapping[str, Any], structured: Mapping[str, Any]) -> None:
    """A structured result must fit the tool's published output schema (when it has one): MCP
    clients reject a whole response that does not. The types were inferred from the oracle's
    calls, so other arguments can leave them (10 ** -3 from an integer tool). The message names
    the types only, never the value.

    Raises:
        ResultError: the result is outside the output schema.
    """
    schema = tool.get("output_schema")
    if not schema:
        return
    try:
        _cv.coerce(dict(structured), schema, path="result")
    except _cv.CoercionError as exc:
        raise ResultError(
            f"{tool['name']} returned a result outside its declared output type for these arguments "
            f"({exc.path}: expected {exc.expected}, got {_type_name(exc.got)})"
        ) from exc


def _type_name(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "object"}
    return "None" if value is None else names.get(type(value), type(value).__name__)


def coerce_answer(plain: Any, output_schema: dict[str, Any], path: str = "answer") -> Any:
    """A submitted answer (plain JSON) as a python value of the gym's output type, leniently
    (``"3"`` for 3 too).

    Raises:
        CoercionError: the answer does not fit the output schema.
    """
    return _cv.coerce(plain, output_schema, lenient=True, path=path)


def score(answer: Any, expected: Any) -> int:
    """1 when the coerced answer equals the expected python value (floats within tolerance), else 0."""
    return int(_cv.values_equal(answer, expected))
