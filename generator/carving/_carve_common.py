"""Pieces shared by the carvings: unique names, schemas of the entry's inputs, module rendering."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import libcst as cst

from ._analysis import FunctionFacts, SolutionFacts

__all__ = ["RESERVED", "Namer", "PendingTool", "entry_schema", "input_schema_of", "render", "slug", "snippet"]

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
        """``base``, else ``base`` with a variant letter (``_b``, ``_c``..): never a numeric suffix,
        which would read as a constant of the code."""
        base = re.sub(r"[^0-9a-zA-Z_]+", "_", base).strip("_").lower() or "tool"
        if base[0].isdigit():
            base = "t_" + base
        candidate = base
        for k in range(1, 10_000):
            if not (candidate in self.claimed or candidate in self.reserved or candidate in self.taken):
                break
            candidate = f"{base}_{_letters(k)}"
        self.claimed.add(candidate)
        return candidate


def _letters(k: int) -> str:
    """1 -> "b", 24 -> "z", 25 -> "ab"...: a variant mark without digits."""
    out, n = "", k + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


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
    kept = [s for s in module.body if not _script_only(s, facts)]
    solution = module.with_changes(body=kept).code.rstrip() + module.default_newline
    spaced = [n.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) for n in nodes]
    extra = module.with_changes(body=spaced, header=[], footer=[]).code
    nl = module.default_newline
    return solution + nl + nl + f"# {comment}" + extra.rstrip() + nl


def _script_only(stmt: cst.BaseStatement, facts: SolutionFacts) -> bool:
    """Module-level code that only runs the solution as a script: ``if __name__ == "__main__":``,
    ``print(..)`` or a bare call of one of its own functions. The tools never need it."""
    if isinstance(stmt, cst.If) and isinstance(stmt.test, cst.Comparison):
        left = stmt.test.left
        return isinstance(left, cst.Name) and left.value == "__name__"
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        small = stmt.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            own = {s.name.value for s in facts.module.body if isinstance(s, cst.FunctionDef)}
            return isinstance(func, cst.Name) and (func.value == "print" or func.value in own)
    return False


_OPS = {
    "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne", "%": "mod", "+": "plus",
    "-": "minus", "*": "times", "/": "div", "//": "div", "**": "pow",
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|<=|>=|==|!=|\*\*|//|[<>%+\-*/]")


def slug(code: str, *, limit: int = 5) -> str:
    """A snake_case name from a code snippet: ``x.startswith(prefix)`` -> ``x_startswith_prefix``."""
    words: list[str] = []
    for tok in _TOKEN.findall(code):
        word = _OPS.get(tok, tok).lower().strip("_")
        if word and word not in ("self",):
            words.append(word)
        if len(words) >= limit:
            break
    out = re.sub(r"_+", "_", "_".join(words))[:40].strip("_")
    return out or "value"


@dataclass
class PendingTool:
    """A tool being carved; ``sites`` holds, per call site, the argument expression of each param."""

    name: str
    kind: Literal["helper", "segment"]
    description: str
    function: str
    params: list[str]
    returns: list[str] | None = None  # statement segments: the returned names
    node: cst.FunctionDef | None = None  # generated function (None: the solution's own helper)
    helper: FunctionFacts | None = None
    free: list[str] = field(default_factory=list)  # closure variables of a nested helper
    sites: list[dict[str, str | None]] = field(default_factory=list)  # param -> entry param it is, or None
    state_param: str | None = None  # stateful: the parameter the runtime fills with the episode state
    changed: list[str] = field(default_factory=list)  # closure values it changes, returned after its result
    write_back: str | None = None  # the oracle function that copies them back into the plan's objects


def snippet(code: str, limit: int = 70) -> str:
    """The code on one line, cut to ``limit`` characters."""
    text = " ".join(code.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
