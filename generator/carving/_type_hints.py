"""Type schemas from Python annotations: ``List[int]`` -> ``{"type": "array", "items": {"type": "integer"}}``."""

from __future__ import annotations

import libcst as cst

__all__ = ["annotation_schema"]

_SCALARS = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def annotation_schema(node: cst.BaseExpression | None) -> dict[str, object] | None:
    """The type schema an annotation spells (``List[int]`` -> array of integers); None if unsure."""
    if node is None:
        return None
    if isinstance(node, cst.Name) and node.value in _SCALARS:
        return {"type": _SCALARS[node.value]}
    if isinstance(node, cst.Name) and node.value == "None":
        return {"type": "null"}
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _union([annotation_schema(node.left), annotation_schema(node.right)])
    if not isinstance(node, cst.Subscript):
        return None
    base = (
        node.value.attr.value if isinstance(node.value, cst.Attribute) else getattr(node.value, "value", "")
    )
    args: list[cst.BaseExpression] = []
    for el in node.slice:
        if not isinstance(el.slice, cst.Index):
            return None
        args.append(el.slice.value)
    base = str(base).lower()
    if base == "optional" and len(args) == 1:
        return _union([annotation_schema(args[0]), {"type": "null"}])
    if base == "union":
        return _union([annotation_schema(a) for a in args])
    if base in ("list", "sequence") and len(args) == 1:
        inner = annotation_schema(args[0])
        return None if inner is None else {"type": "array", "items": inner}
    if base in ("set", "frozenset") and len(args) == 1:
        inner = annotation_schema(args[0])
        return (
            None
            if inner is None
            else {"type": "array", "x-python": "set", "uniqueItems": True, "items": inner}
        )
    if base == "tuple" and args:
        if len(args) == 2 and isinstance(args[1], cst.Ellipsis):
            inner = annotation_schema(args[0])
            return None if inner is None else {"type": "array", "x-python": "tuple", "items": inner}
        items = [annotation_schema(a) for a in args]
        if any(i is None for i in items):
            return None
        return {
            "type": "array",
            "x-python": "tuple",
            "prefixItems": items,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if base == "dict" and len(args) == 2:
        key, value = annotation_schema(args[0]), annotation_schema(args[1])
        if key is None or value is None:
            return None
        out: dict[str, object] = {"type": "object", "additionalProperties": value}
        if key.get("type") != "string":
            out["x-python-keys"] = key
        return out
    return None


def _union(options: list[dict[str, object] | None]) -> dict[str, object] | None:
    if any(o is None for o in options):
        return None
    flat: list[dict[str, object]] = []
    for o in options:
        assert o is not None
        sub = o.get("anyOf")
        flat.extend(sub if isinstance(sub, list) else [o])
    return {"anyOf": flat}
