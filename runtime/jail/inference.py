"""Type schemas inferred from values: the JSON Schema subset (with ``x-python`` hints) that
:func:`~.values.coerce` reads, built from the python values a tool saw.

Standard library only, Python 3.11 (part of the in-jail package; the oracle harness infers the
schemas of the oracle's calls in the jail, the generator merges them on the host).
"""

from __future__ import annotations

from typing import Any

from .values import UnsupportedValue, canonical_json

__all__ = ["infer_schema", "merge_schemas"]


def infer_schema(values: list[Any]) -> dict[str, Any]:
    """The narrowest type schema that covers every python value given (``{}`` if none)."""
    schema: dict[str, Any] | None = None
    for value in values:
        one = _schema_of(value)
        schema = one if schema is None else merge_schemas(schema, one)
    return schema if schema is not None else {}


def _schema_of(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": infer_schema(value)}
    if isinstance(value, tuple):
        if len(value) <= 8:
            return {
                "type": "array",
                "x-python": "tuple",
                "prefixItems": [_schema_of(v) for v in value],
                "minItems": len(value),
                "maxItems": len(value),
            }
        return {"type": "array", "x-python": "tuple", "items": infer_schema(list(value))}
    if isinstance(value, (set, frozenset)):
        return {"type": "array", "x-python": "set", "uniqueItems": True, "items": infer_schema(list(value))}
    if isinstance(value, dict):
        if not value:  # an empty dict tells nothing about its keys or values
            return {"type": "object"}
        out: dict[str, Any] = {"type": "object", "additionalProperties": infer_schema(list(value.values()))}
        keys = infer_schema(list(value.keys()))
        if keys and keys.get("type") != "string":
            out["x-python-keys"] = keys
        return out
    raise UnsupportedValue(type(value).__name__)


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return list(schema["anyOf"]) if "anyOf" in schema else [schema]


def merge_schemas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The narrowest schema covering both; ``{}`` (any) absorbs everything."""
    if not a or not b:
        return {}
    if a == b:
        return a
    options = _options(a)
    for new in _options(b):
        for i, old in enumerate(options):
            joined = _join(old, new)
            if joined is not None:
                options[i] = joined
                break
        else:
            options.append(new)
    # integer and number stay two options (int | float): a reference that checks
    # isinstance(x, int) must get its ints back as ints
    if len(options) == 1:
        return options[0]
    options.sort(key=_option_order)
    return {"anyOf": options}


def _option_order(schema: dict[str, Any]) -> tuple[int, str]:
    order = ["boolean", "integer", "number", "string", "array", "object", "null"]
    kind = str(schema.get("type", ""))
    return (order.index(kind) if kind in order else len(order), canonical_json(schema))


def _join(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """Join two single-type schemas of the same shape, or None when they differ in kind."""
    if a == b:
        return a
    ka, kb = a.get("type"), b.get("type")
    if ka != kb or ka is None:
        return None
    if ka == "array":
        if a.get("x-python") != b.get("x-python"):
            return None
        if "prefixItems" in a and "prefixItems" in b and len(a["prefixItems"]) == len(b["prefixItems"]):
            return {
                **a,
                "prefixItems": [
                    merge_schemas(x, y) for x, y in zip(a["prefixItems"], b["prefixItems"], strict=True)
                ],
            }
        items_a = a.get("items", infer_schema([])) if "prefixItems" not in a else _union(a["prefixItems"])
        items_b = b.get("items", infer_schema([])) if "prefixItems" not in b else _union(b["prefixItems"])
        out = {k: v for k, v in a.items() if k not in ("prefixItems", "minItems", "maxItems", "items")}
        out["items"] = _merge_items(items_a, items_b, a, b)
        return out
    if ka == "object":
        if "additionalProperties" not in a:
            return b
        if "additionalProperties" not in b:
            return a
        merged = dict(a)
        merged["additionalProperties"] = merge_schemas(
            a.get("additionalProperties", {}), b.get("additionalProperties", {})
        )
        if "x-python-keys" in a or "x-python-keys" in b:
            merged["x-python-keys"] = merge_schemas(
                a.get("x-python-keys", {"type": "string"}), b.get("x-python-keys", {"type": "string"})
            )
        return merged
    return None


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for s in schemas:
        out = s if out is None else merge_schemas(out, s)
    return out if out is not None else {}


def _merge_items(
    x: dict[str, Any], y: dict[str, Any], a: dict[str, Any], b: dict[str, Any]
) -> dict[str, Any]:
    # An empty list tells nothing about its items: the other side's items win.
    empty_a = a.get("prefixItems") == [] or ("items" in a and a["items"] == {} and "prefixItems" not in a)
    empty_b = b.get("prefixItems") == [] or ("items" in b and b["items"] == {} and "prefixItems" not in b)
    if empty_a:
        return y
    if empty_b:
        return x
    return merge_schemas(x, y)
