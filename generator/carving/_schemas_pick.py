"""Type schemas of a gym's hidden input and answer: annotations when they fit, else inferred.

An annotation is kept only if every recorded value survives the MCP path under it
(``to_plain`` then ``coerce`` gives back an equal value of the same type); otherwise the schema
is inferred from the values themselves (``infer_schema``), which always fits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...runtime import CoercionError, UnsupportedValue, coerce, infer_schema, to_plain, values_equal

__all__ = ["fits", "input_schema_for", "pick_schema"]


def fits(schema: dict[str, Any], values: Sequence[Any]) -> bool:
    """Whether every python value round-trips through plain JSON under ``schema``: equal, and of
    the same types all the way down (an int must not come back as a float, a tuple as a list)."""
    try:
        return all(_same(coerce(to_plain(v), schema), v) for v in values)
    except (CoercionError, UnsupportedValue):
        return False


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b) or not values_equal(a, b):
        return False
    if isinstance(a, (list, tuple)):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return all(_same(a[k], b[k]) for k in a)
    return True


def pick_schema(annotated: dict[str, Any] | None, values: Sequence[Any]) -> dict[str, Any]:
    """The annotated schema if all values fit it, else the schema inferred from the values.

    Raises:
        UnsupportedValue: a value has no JSON form (the caller drops such instances first).
    """
    if annotated and fits(annotated, values):
        return dict(annotated)
    return infer_schema(list(values))


def input_schema_for(
    params: list[str], annotated: dict[str, Any] | None, inputs: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The object type schema of the hidden input: one property per entry-point parameter.

    Raises:
        UnsupportedValue: an input value has no JSON form.
    """
    props_in = (annotated or {}).get("properties")
    props_in = props_in if isinstance(props_in, dict) else {}
    props = {}
    for name in params:
        values = [one[name] for one in inputs if name in one]
        props[name] = pick_schema(props_in.get(name), values)
    required = [name for name in params if all(name in one for one in inputs)]
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}
