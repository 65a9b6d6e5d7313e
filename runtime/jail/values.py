"""Values that cross a boundary: the sandbox's pipes, a gym file, an MCP tool result.

Standard library only, and Python 3.11 compatible: part of the in-jail package, which the
sandbox worker imports inside the jail (the system interpreter), so host and jail share one codec.
Type schemas inferred from values: ``inference.py``.

Three forms of a value:

- *python*: what the reference solution takes and returns (tuples, sets, int-keyed dicts...).
- *wire*: JSON that round-trips python values exactly. Plain JSON stands for itself; the
  rest is tagged: ``{"$tuple": [...]}``, ``{"$set": [...]}``, ``{"$dict": [[k, v], ...]}``
  (non-string keys, or keys starting with ``$``), ``{"$float": "nan" | "inf" | "-inf"}``.
- *plain*: what an agent sees and sends: tuples and sets become lists; a dict with only string
  keys stays an object, a dict with any other key becomes the list of its ``[key, value]`` pairs
  (so ``5`` and ``"5"`` stay apart). A *type schema* (a JSON Schema subset with ``x-python``
  hints) turns plain back into python: :func:`coerce` (which takes a non-string-keyed dict in
  either form); :func:`plain_schema` is the JSON Schema of the plain form.

Exceptions::

    ValueError
     +-- UnsupportedValue   a python value with no wire form (a class instance, bytes...)
     +-- CoercionError      a plain value that does not fit a type schema; carries the path
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "CoercionError",
    "UnsupportedValue",
    "as_hashable",
    "canonical_json",
    "coerce",
    "decode",
    "describe_schema",
    "encode",
    "plain_schema",
    "to_plain",
    "values_equal",
]

_TAGS = ("$tuple", "$set", "$dict", "$float")


class UnsupportedValue(ValueError):
    """A python value that has no wire form."""

    def __init__(self, type_name: str, path: str = "$") -> None:
        super().__init__(f"value of type {type_name} at {path} cannot cross the boundary as JSON")
        self.type_name = type_name
        self.path = path


class CoercionError(ValueError):
    """A plain value that does not fit its type schema."""

    def __init__(self, path: str, expected: str, got: Any) -> None:
        shown = json.dumps(got, default=repr)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{path}: expected {expected}, got {shown}")
        self.path = path
        self.expected = expected
        self.got = got


# --------------------------------------------------------------------------- wire codec


def encode(value: Any, path: str = "$") -> Any:
    """Python value -> wire JSON value. Raises UnsupportedValue."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "nan"}
        if math.isinf(value):
            return {"$float": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, list):
        return [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, (set, frozenset)):
        items = [encode(v, f"{path}{{}}") for v in value]
        items.sort(key=canonical_json)
        return {"$set": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode(v, f"{path}.{k}") for k, v in value.items()}
        return {"$dict": [[encode(k, path), encode(v, f"{path}[{k!r}]")] for k, v in value.items()]}
    raise UnsupportedValue(type(value).__name__, path)


def decode(wire: Any) -> Any:
    """Wire JSON value -> python value."""
    if isinstance(wire, list):
        return [decode(v) for v in wire]
    if isinstance(wire, dict):
        if len(wire) == 1:
            ((tag, inner),) = wire.items()
            if tag == "$tuple":
                return tuple(decode(v) for v in inner)
            if tag == "$set":
                return {as_hashable(decode(v)) for v in inner}
            if tag == "$dict":
                return {as_hashable(decode(k)): decode(v) for k, v in inner}
            if tag == "$float":
                return float(inner)
        return {k: decode(v) for k, v in wire.items()}
    return wire


def as_hashable(value: Any) -> Any:
    """The value as a set member or dict key: lists become tuples, sets frozensets (deeply)."""
    if isinstance(value, list):
        return tuple(as_hashable(v) for v in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def canonical_json(wire: Any) -> str:
    """One string per wire value: sorted keys, no spaces. Used for ordering and hashing."""
    return json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- plain form


def to_plain(value: Any) -> Any:
    """Python value -> plain JSON an agent can read (lossy: tuples and sets become lists).

    A dict whose keys are all strings stays an object; any other dict becomes the list of its
    ``[key, value]`` pairs in the dict's order, keys in plain form (``{5: "a", "5": "b"}`` ->
    ``[[5, "a"], ["5", "b"]]``), so no two keys look alike.

    Raises:
        UnsupportedValue: the value (or a part of it) has no JSON form.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_plain(v) for v in value]
        items.sort(key=canonical_json)
        return items
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_plain(v) for k, v in value.items()}
        return [[to_plain(k), to_plain(v)] for k, v in value.items()]
    raise UnsupportedValue(type(value).__name__)


def _keys_not_strings(schema: dict[str, Any]) -> bool:
    """A dict type schema whose keys are not all strings (its plain form is a list of pairs)."""
    keys = schema.get("x-python-keys")
    return isinstance(keys, dict) and keys.get("type") != "string"


def plain_schema(schema: Any) -> Any:
    """The JSON Schema that :func:`to_plain` output of a type schema's values satisfies.

    Every dict schema with non-string keys becomes "a list of [key, value] pairs, or an empty
    object" (an empty dict has no keys to show; when the keys may also be strings, an object of
    the values, as a dict whose keys all happen to be strings shows). Everything else is kept.
    Applying it twice changes nothing.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("anyOf", "prefixItems") and isinstance(value, list):
            out[key] = [plain_schema(v) for v in value]
        elif key in ("items", "additionalProperties"):
            out[key] = plain_schema(value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: plain_schema(v) for name, v in value.items()}
        else:
            out[key] = value
    if out.get("type") == "object" and _keys_not_strings(out):
        keys = out["x-python-keys"]
        values = out.get("additionalProperties", {})
        pair = {
            "type": "array",
            "prefixItems": [keys, values if isinstance(values, dict) else {}],
            "minItems": 2,
            "maxItems": 2,
        }
        # a dict whose keys all happen to be strings stays an object (keys typed str | int, say)
        strings = any(k.get("type") == "string" for k in keys.get("anyOf", []))
        as_object = {k: v for k, v in out.items() if k != "x-python-keys"} if strings else {}
        return {
            "anyOf": [{"type": "array", "items": pair}, as_object or {"type": "object", "maxProperties": 0}]
        }
    return out


# --------------------------------------------------------------------------- type schemas


def describe_schema(schema: dict[str, Any]) -> str:
    """A short python-like name for a type schema, for messages: ``list[int]``."""
    if not schema:
        return "any value"
    if "anyOf" in schema:
        return " | ".join(describe_schema(s) for s in schema["anyOf"])
    kind = schema.get("type")
    hint = schema.get("x-python")
    if kind == "array":
        if "prefixItems" in schema:
            return "tuple[" + ", ".join(describe_schema(s) for s in schema["prefixItems"]) + "]"
        inner = describe_schema(schema.get("items", {}))
        return f"{hint or 'list'}[{inner}]"
    if kind == "object":
        keys = schema.get("x-python-keys", {"type": "string"})
        if "properties" in schema and not schema.get("additionalProperties", True):
            return (
                "{" + ", ".join(f"{k}: {describe_schema(v)}" for k, v in schema["properties"].items()) + "}"
            )
        return f"dict[{describe_schema(keys)}, {describe_schema(schema.get('additionalProperties', {}))}]"
    return {
        "integer": "int",
        "number": "float",
        "string": "str",
        "boolean": "bool",
        "null": "None",
    }.get(str(kind), str(kind))


def coerce(plain: Any, schema: dict[str, Any], *, lenient: bool = False, path: str = "$") -> Any:
    """Plain JSON value -> python value of the schema's type.

    ``lenient`` also accepts strings that spell the value (``"3"`` for an int, a JSON text
    for a list): used for submitted answers, where agents often send text.

    Raises:
        CoercionError: the value does not fit; the message names the path and the type.
    """
    if not schema:
        return _plain_to_python(plain)
    if "anyOf" in schema:
        return _coerce_any_of(plain, schema, lenient=lenient, path=path)
    kind = schema.get("type")
    expected = describe_schema(schema)
    if lenient and isinstance(plain, str) and kind not in ("string", None):
        text = plain.strip()
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        try:
            plain = json.loads(text)
        except ValueError:
            raise CoercionError(path, expected, plain) from None
    if kind in _SCALARS:
        return _coerce_scalar(plain, kind, expected, path)
    if kind == "array":
        return _coerce_array(plain, schema, lenient=lenient, path=path)
    if kind == "object":
        return _coerce_object(plain, schema, lenient=lenient, path=path)
    raise CoercionError(path, expected, plain)


_SCALARS = frozenset(("integer", "number", "string", "boolean", "null"))


def _coerce_any_of(plain: Any, schema: dict[str, Any], *, lenient: bool, path: str) -> Any:
    """The first ``anyOf`` option the value fits strictly (exact types first), then leniently."""
    options = _prefer_exact(plain, schema["anyOf"])
    for option in options:
        try:
            return coerce(plain, option, lenient=False, path=path)
        except CoercionError:
            continue
    if lenient:
        for option in options:
            try:
                return coerce(plain, option, lenient=True, path=path)
            except CoercionError:
                continue
    raise CoercionError(path, describe_schema(schema), plain)


def _coerce_scalar(plain: Any, kind: str, expected: str, path: str) -> Any:
    """A plain value as a scalar of JSON Schema type ``kind`` (in :data:`_SCALARS`)."""
    if kind == "integer":
        if isinstance(plain, bool):
            raise CoercionError(path, expected, plain)
        if isinstance(plain, int):
            return plain
        if isinstance(plain, float) and plain.is_integer():
            return int(plain)
        raise CoercionError(path, expected, plain)
    if kind == "number":
        if isinstance(plain, bool):
            raise CoercionError(path, expected, plain)
        if isinstance(plain, (int, float)):
            return float(plain)
        if plain in ("NaN", "Infinity", "-Infinity"):
            return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[plain])
        raise CoercionError(path, expected, plain)
    if kind == "string":
        if isinstance(plain, str):
            return plain
        raise CoercionError(path, expected, plain)
    if kind == "boolean":
        if isinstance(plain, bool):
            return plain
        raise CoercionError(path, expected, plain)
    if kind == "null":
        if plain is None:
            return None
        raise CoercionError(path, expected, plain)
    raise CoercionError(path, expected, plain)


def _prefer_exact(plain: Any, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union options with the plain value's own JSON type first: in ``int | float`` a 4.5
    stays a float and a 4 stays an int."""
    if isinstance(plain, bool) or not isinstance(plain, (int, float)):
        return options
    exact = "integer" if isinstance(plain, int) else "number"
    return sorted(options, key=lambda o: o.get("type") != exact)


def _coerce_array(plain: Any, schema: dict[str, Any], *, lenient: bool, path: str) -> Any:
    expected = describe_schema(schema)
    if not isinstance(plain, list):
        raise CoercionError(path, expected, plain)
    hint = schema.get("x-python", "list")
    if "prefixItems" in schema:
        prefix = schema["prefixItems"]
        if len(plain) != len(prefix):
            raise CoercionError(path, f"{expected} ({len(prefix)} items)", plain)
        items = [
            coerce(v, s, lenient=lenient, path=f"{path}[{i}]")
            for i, (v, s) in enumerate(zip(plain, prefix, strict=True))
        ]
    else:
        item_schema = schema.get("items", {})
        items = [coerce(v, item_schema, lenient=lenient, path=f"{path}[{i}]") for i, v in enumerate(plain)]
    if hint == "tuple":
        return tuple(items)
    if hint == "set":
        try:
            return {as_hashable(v) for v in items}
        except TypeError:
            raise CoercionError(path, expected, plain) from None
    return items


def _coerce_object(plain: Any, schema: dict[str, Any], *, lenient: bool, path: str) -> Any:
    expected = describe_schema(schema)
    if isinstance(plain, list) and "properties" not in schema:
        return _coerce_pairs(plain, schema, lenient=lenient, path=path)
    if not isinstance(plain, dict):
        raise CoercionError(path, expected, plain)
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", {})
    key_schema = schema.get("x-python-keys")
    for name in schema.get("required", []):
        if name not in plain:
            raise CoercionError(f"{path}.{name}", f"a value (required field of {expected})", None)
    out: dict[Any, Any] = {}
    for key, value in plain.items():
        if key in props:
            out[key] = coerce(value, props[key], lenient=lenient, path=f"{path}.{key}")
            continue
        if extra is False:
            raise CoercionError(f"{path}.{key}", "no such field", value)
        new_key: Any = key
        if key_schema is not None and key_schema.get("type") != "string":
            try:
                new_key = as_hashable(coerce(key, key_schema, lenient=True, path=f"{path}<key {key}>"))
            except CoercionError:
                raise CoercionError(f"{path}<key {key}>", describe_schema(key_schema), key) from None
        out[new_key] = coerce(
            value, extra if isinstance(extra, dict) else {}, lenient=lenient, path=f"{path}.{key}"
        )
    return out


def _coerce_pairs(plain: list[Any], schema: dict[str, Any], *, lenient: bool, path: str) -> Any:
    """A dict given as its list of ``[key, value]`` pairs (the plain form of non-string keys)."""
    expected = describe_schema(schema)
    key_schema = schema.get("x-python-keys", {"type": "string"})
    extra = schema.get("additionalProperties", {})
    value_schema = extra if isinstance(extra, dict) else {}
    out: dict[Any, Any] = {}
    for i, pair in enumerate(plain):
        if not isinstance(pair, list) or len(pair) != 2:
            raise CoercionError(f"{path}[{i}]", f"a [key, value] pair of {expected}", pair)
        key = as_hashable(coerce(pair[0], key_schema, lenient=lenient, path=f"{path}[{i}][0]"))
        if key in out:
            raise CoercionError(f"{path}[{i}][0]", f"a key not given before in {expected}", pair[0])
        out[key] = coerce(pair[1], value_schema, lenient=lenient, path=f"{path}[{i}][1]")
    return out


def _plain_to_python(plain: Any) -> Any:
    if isinstance(plain, list):
        return [_plain_to_python(v) for v in plain]
    if isinstance(plain, dict):
        return {k: _plain_to_python(v) for k, v in plain.items()}
    return plain


# --------------------------------------------------------------------------- equality


def values_equal(a: Any, b: Any, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Python-value equality for scoring: floats within tolerance, containers elementwise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            if math.isnan(a) and math.isnan(b):
                return True
            return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return False
        return all(values_equal(x, y, rel_tol=rel_tol, abs_tol=abs_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        return all(values_equal(a[k], b[k], rel_tol=rel_tol, abs_tol=abs_tol) for k in a)
    try:
        return bool(a == b)
    except Exception:  # a user type with a broken __eq__ is simply not equal
        return False
