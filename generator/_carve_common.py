"""Pieces shared by the carvings: unique names, schemas of the entry's inputs, module rendering."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import libcst as cst

from ._analysis import SolutionFacts

__all__ = ["RESERVED", "Namer", "entry_schema", "input_schema_of", "render"]

RESERVED = frozenset({"observe", "submit", "task", "reset", "oracle", "tools", "_in"})
"""Names no tool may take: the generic tools, and the oracle's own names."""


class Namer:
    """Unique snake_case names, clear of the solution's identifiers and the generic tools."""

    def __init__(self, taken: frozenset[str], reserved: frozenset[str] = RESERVED) -> None:
        self.taken = taken
        self.reserved = reserved
        self.claimed: set[str] = set()

    def claim(self, name: str) -> str:
        if name in self.claimed or name in self.reserved:
            return self.unique(name)
        self.claimed.add(name)
        return name

    def unique(self, base: str) -> str:
        base = re.sub(r"[^0-9a-zA-Z_]+", "_", base).strip("_").lower() or "tool"
        if base[0].isdigit():
            base = "t_" + base
        candidate, k = base, 1
        while candidate in self.claimed or candidate in self.reserved or candidate in self.taken:
            k += 1
            candidate = f"{base}_{k}"
        self.claimed.add(candidate)
        return candidate


def entry_schema(schemas: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The type schema of one entry parameter, or None when unknown."""
    value = schemas.get(name)
    return dict(value) if value else None


def input_schema_of(schemas: dict[str, Any], entry_params: list[str]) -> dict[str, Any] | None:
    """The object schema of the hidden input, when every parameter's type is known."""
    if not all(schemas.get(p) for p in entry_params):
        return None
    return {
        "type": "object",
        "properties": {p: schemas[p] for p in entry_params},
        "required": list(entry_params),
        "additionalProperties": False,
    }


def render(facts: SolutionFacts, nodes: Sequence[cst.BaseStatement], comment: str) -> str:
    """The solution's source followed by ``nodes`` under a comment line, in the solution's layout."""
    module = facts.module
    solution = module.code.rstrip() + module.default_newline
    spaced = [n.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) for n in nodes]
    extra = module.with_changes(body=spaced, header=[], footer=[]).code
    nl = module.default_newline
    return solution + nl + nl + f"# {comment}" + extra.rstrip() + nl
