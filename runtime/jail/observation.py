"""The partial observation policy: what ``observe`` shows and what a ``read_<p>`` tool returns.

Standard library only, and Python 3.11 compatible (the in-jail package): the live runtime
(``runtime/_episode.py``) imports it on the host, and the oracle harness (``oracle``) in the
sandbox worker, so the oracle reads the hidden input exactly as an agent does over MCP.

Under ``partial``:

- ``observe()`` returns each scalar parameter (int, float, bool, None, or any value whose type
  schema is not one collection) by value, and each collection parameter as ``{"length": N}``;
- ``read_<p>(start, count)`` returns a window of collection ``p``: at most :data:`ITEMS_CAP`
  items of a list, tuple or set (``{"items": [...]}``; a set in a deterministic sorted order),
  at most :data:`TEXT_CAP` characters of a string (``{"text": "..."}``), at most
  :data:`ITEMS_CAP` entries of a dict (``{"items": [[key, value], ...]}``, insertion order).
  A window that runs past the end is cut at the end; a ``start`` past the end is an error.

Under ``full``, ``observe()`` returns every value and there are no read tools.

Exceptions::

    ValueError
     +-- ReadError    read arguments the agent can fix (start past the end, count over the cap...)
"""

from __future__ import annotations

from typing import Any, Final

from . import values as _cv

__all__ = [
    "COLLECTION_KINDS",
    "ITEMS_CAP",
    "TEXT_CAP",
    "ReadError",
    "cap_for",
    "collection_kind",
    "collection_params",
    "observe_output_schema",
    "observe_values",
    "read_input_schema",
    "read_output_schema",
    "read_tool_name",
    "read_window",
]

ITEMS_CAP: Final = 5
"""Most items (or dict entries) one read returns."""

TEXT_CAP: Final = 10
"""Most characters one read of a string returns."""

COLLECTION_KINDS: Final = ("text", "list", "tuple", "set", "dict")
"""How a collection parameter is read: text (str), list, tuple, set, dict."""


class ReadError(ValueError):
    """Arguments of a read tool that do not select a window; the message says the fix."""


# --------------------------------------------------------------------------- which params


def _non_null(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The one non-null option of a schema (``list[int] | None`` -> ``list[int]``), else None."""
    if "anyOf" not in schema:
        return schema
    options = [o for o in schema["anyOf"] if isinstance(o, dict) and o.get("type") != "null"]
    return options[0] if len(options) == 1 else None


def collection_kind(schema: dict[str, Any]) -> str | None:
    """The read kind of a parameter's type schema, or None for a value observe shows whole.

    A parameter is a collection when its schema (apart from ``None``) is one of: a string, an
    array (a list; ``x-python`` tuple or set), an object whose values are free (a dict). A union
    of several kinds, an object with fixed fields, or an unknown type (``{}``) is shown whole.
    """
    one = _non_null(schema) if schema else None
    if one is None:
        return None
    kind = one.get("type")
    if kind == "string":
        return "text"
    if kind == "array":
        hint = one.get("x-python", "list")
        return hint if hint in ("tuple", "set") else "list"
    if kind == "object" and "properties" not in one:
        return "dict"
    return None


def collection_params(input_schema: dict[str, Any]) -> dict[str, str]:
    """Parameter -> read kind, for every collection parameter of the hidden input (in order)."""
    props = input_schema.get("properties")
    if not isinstance(props, dict):
        return {}
    out: dict[str, str] = {}
    for name, schema in props.items():
        kind = collection_kind(schema) if isinstance(schema, dict) else None
        if kind is not None:
            out[name] = kind
    return out


def read_tool_name(param: str) -> str:
    """The name of the read tool of collection parameter ``param``."""
    return f"read_{param}"


def cap_for(kind: str) -> int:
    """Most items (characters for text) one read of this kind returns."""
    return TEXT_CAP if kind == "text" else ITEMS_CAP


def _unit(kind: str, n: int) -> str:
    word = "character" if kind == "text" else "entry" if kind == "dict" else "item"
    if n == 1:
        return word
    return "entries" if word == "entry" else word + "s"


# --------------------------------------------------------------------------- observe


_LENGTH: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"length": {"type": "integer", "minimum": 0}},
    "required": ["length"],
    "additionalProperties": False,
}


def observe_values(values: dict[str, Any], input_schema: dict[str, Any], policy: str) -> dict[str, Any]:
    """What ``observe`` returns (plain JSON) for the python values of one hidden input.

    Raises:
        UnsupportedValue: a value has no JSON form.
    """
    if policy == "full":
        return {name: _cv.to_plain(value) for name, value in values.items()}
    kinds = collection_params(input_schema)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in kinds and value is not None:
            out[name] = {"length": len(value)}
        else:
            out[name] = _cv.to_plain(value)
    return out


def observe_output_schema(input_schema: dict[str, Any], policy: str) -> dict[str, Any]:
    """The output schema of ``observe``: the input schema, collections replaced by ``{length}``."""
    if policy == "full":
        return input_schema
    kinds = collection_params(input_schema)
    props = input_schema.get("properties") or {}
    shaped: dict[str, Any] = {}
    for name, schema in props.items():
        if name not in kinds:
            shaped[name] = schema
        elif "anyOf" in schema:  # a collection or None
            shaped[name] = {"anyOf": [_LENGTH, {"type": "null"}]}
        else:
            shaped[name] = _LENGTH
    return {**input_schema, "properties": shaped}


# --------------------------------------------------------------------------- read


def read_input_schema(kind: str) -> dict[str, Any]:
    """The JSON schema of a read tool's arguments ``start`` and ``count``."""
    cap = cap_for(kind)
    unit = _unit(kind, 2)
    return {
        "type": "object",
        "properties": {
            "start": {
                "type": "integer",
                "minimum": 0,
                "description": f"position of the first {unit[:-1]} (0-based)",
            },
            "count": {
                "type": "integer",
                "minimum": 1,
                "maximum": cap,
                "description": f"how many {unit} (1 to {cap})",
            },
        },
        "required": ["start", "count"],
        "additionalProperties": False,
    }


def _item_schema(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    one = _non_null(schema) or {}
    if kind == "dict":
        key = one.get("x-python-keys", {"type": "string"})
        value = one.get("additionalProperties", {})
        return {
            "type": "array",
            "prefixItems": [key, value if isinstance(value, dict) else {}],
            "minItems": 2,
            "maxItems": 2,
        }
    if "prefixItems" in one:  # a fixed-length tuple: any of its item types
        options: list[dict[str, Any]] = []
        for item in one["prefixItems"]:
            if item not in options:
                options.append(item)
        if not options or {} in options:
            return {}
        return options[0] if len(options) == 1 else {"anyOf": options}
    items = one.get("items", {})
    return items if isinstance(items, dict) else {}


def read_output_schema(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The output schema of the read tool of a collection of ``kind`` with type schema ``schema``."""
    if kind == "text":
        props: dict[str, Any] = {"text": {"type": "string"}}
    else:
        props = {"items": {"type": "array", "items": _item_schema(kind, schema)}}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _int_argument(arguments: dict[str, Any], name: str, tool: str) -> int:
    if name not in arguments:
        raise ReadError(f"missing argument {name}: {tool} takes start and count (integers)")
    value = arguments[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReadError(f"invalid argument {name}: expected an integer, got {value!r}")
    return value


def read_window(param: str, kind: str, value: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """What ``read_<param>(**arguments)`` returns (plain JSON) for the python ``value``.

    Raises:
        ReadError: unknown or missing arguments, ``start`` negative or past the end, ``count``
            below 1 or over the cap; the message names the value and the fix.
        UnsupportedValue: an item has no JSON form.
    """
    tool = read_tool_name(param)
    extra = sorted(set(arguments) - {"start", "count"})
    if extra:
        raise ReadError(f"unexpected argument {', '.join(extra)}: {tool} takes start and count")
    start = _int_argument(arguments, "start", tool)
    count = _int_argument(arguments, "count", tool)
    cap = cap_for(kind)
    if count < 1:
        raise ReadError(f"count {count} is below 1: ask for 1 to {cap} {_unit(kind, 2)}")
    if count > cap:
        raise ReadError(
            f"count {count} is over the cap of {cap}: read at most {cap} {_unit(kind, 2)} per call"
        )
    if value is None:
        raise ReadError(f"`{param}` is None in this instance (observe shows it): there is nothing to read")
    n = len(value)
    if start < 0:
        raise ReadError(f"start {start} is negative: positions of `{param}` start at 0")
    if start >= n:
        if n == 0:
            raise ReadError(f"start {start} is past the end: `{param}` is empty (0 {_unit(kind, 0)})")
        raise ReadError(f"start {start} is past the end: `{param}` has {n} {_unit(kind, n)} (0..{n - 1})")
    stop = min(n, start + count)
    if kind == "text":
        return {"text": value[start:stop]}
    if kind == "dict":
        entries = list(value.items())[start:stop]
        return {"items": [[_cv.to_plain(k), _cv.to_plain(v)] for k, v in entries]}
    if kind == "set":
        return {"items": _cv.to_plain(_sorted(value)[start:stop])}
    return {"items": _cv.to_plain(list(value[start:stop]))}


def _sorted(items: Any) -> list[Any]:
    """A set's items in a deterministic order: natural order when comparable, else by JSON text."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=lambda v: _cv.canonical_json(_cv.to_plain(v)))
