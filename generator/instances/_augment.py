"""More instances than the tests give: type-driven mutation of recorded inputs along a size ladder.

Given the recorded inputs (python values by parameter) and the input's type schema, derive new
inputs whose size follows a ladder (:data:`LADDER`: 8, 16, 32, 64, 128, 256 elements), round
robin, so that some land in the paper's horizon window whatever a gym's oracle spends per
element: verification measures each instance's oracle steps and the filters keep those inside
10-256 (see _filters.py). A rung's size is the length of each top-level collection or string
(nested collections share it: a list of lists gets about sqrt(size) rows of sqrt(size) items);
on every other candidate, top-level integers that look like sizes or counts (no bigger than the
rung) grow to the rung too. Tiers name the rungs: *easy* (8, 16), *medium* (32, 64), *hard*
(128, 256). Every value is mutated according to its type schema: integers move by small steps
(keeping their sign), floats are jittered, booleans flip, strings and lists are resized with
elements drawn from and mutated like the recorded ones, sets stay sets, tuples keep their arity,
dicts keep their key type. A problem with nothing that grows (no collection, string or integer)
gets mild mutations, labelled with the rungs' tiers all the same.

Deterministic: one ``random.Random`` seeded from (seed, task id) drives everything. Hypothesis's
``.example()`` is not reproducible and its ``find`` machinery is built for shrinking, so the
strategies here are a small seeded mutator of our own, driven by the same type schemas that
``infer_schema`` produces. The expected output of each new input is computed by the reference
solution in the sandbox (the pipeline's job, with a per-call time limit), and inputs the
reference rejects or times out on are dropped and counted.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from dataclasses import dataclass
from typing import Any, Literal

from ...runtime import UnsupportedValue, as_hashable, canonical_json, encode

__all__ = ["DRAWS", "LADDER", "Mutant", "Tier", "mutate_inputs", "rng_for", "tier_for"]

Tier = Literal["easy", "medium", "hard"]
TIERS: tuple[Tier, ...] = ("easy", "medium", "hard")
LADDER: tuple[int, ...] = (8, 16, 32, 64, 128, 256)
"""Target sizes (elements of each top-level collection or string) of the derived inputs."""
DRAWS: tuple[int, ...] = (*LADDER, 32, 64, 128, 256, 128, 256)
"""The round robin over the ladder: every rung once, then the bigger rungs again (of 12
candidates, 1 each of 8 and 16, 2 each of 32 and 64, 3 each of 128 and 256). Where the big
rungs leave the step window, the ladder's verification spends what they did not use lower."""
_MAX_LEN = 256
_MAX_STR = 256


def tier_for(size: int) -> Tier:
    """The tier of a rung: easy up to 16 elements, medium up to 64, hard above."""
    if size <= 16:
        return "easy"
    return "medium" if size <= 64 else "hard"


@dataclass(frozen=True, kw_only=True)
class Mutant:
    """A derived input (python values by parameter), its rung on the size ladder and its tier."""

    input: dict[str, Any]
    tier: Tier
    size: int = 0


def rng_for(seed: int, task_id: str) -> random.Random:
    """The generator's random source for one problem: a pure function of (seed, task id)."""
    digest = hashlib.sha256(f"{seed}\0{task_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _is_sized(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, str, dict))


def _length(rng: random.Random, budget: int) -> int:
    """A length near ``budget`` (between three quarters of it and all of it)."""
    return rng.randint(max(1, (3 * budget + 3) // 4), max(1, budget))


class _Mutator:
    """Mutates one value after its type schema; ``budget`` is the size a collection should take
    (``None``: about its own size, for values below the top level of a mild mutation)."""

    def __init__(self, rng: random.Random, tier: Tier, pool: list[Any]) -> None:
        self.rng = rng
        self.tier = tier
        self.pool = pool  # every recorded value, for drawing fresh elements of the right shape

    def value(self, value: Any, schema: dict[str, Any], budget: int | None = None) -> Any:
        if "anyOf" in schema:
            return self.value(value, _matching(value, schema["anyOf"]), budget)
        kind = schema.get("type")
        if isinstance(value, bool) or kind == "boolean":
            return (not value) if isinstance(value, bool) and self.rng.random() < 0.5 else value
        if isinstance(value, int) and kind in ("integer", "number", None):
            return self.integer(value)
        if isinstance(value, float):
            return self.number(value)
        if isinstance(value, str):
            return self.text(value, budget)
        if isinstance(value, tuple) and "prefixItems" in schema:
            return tuple(self.maybe(v, s) for v, s in zip(value, schema["prefixItems"], strict=False))
        if isinstance(value, (list, tuple, set, frozenset)):
            items = self.sequence(list(value), schema.get("items", {}), budget)
            if isinstance(value, (set, frozenset)):
                return set(_hashables(items))
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, dict):
            return self.mapping(value, schema, budget)
        return value

    def maybe(self, value: Any, schema: dict[str, Any], budget: int | None = None) -> Any:
        return self.value(value, schema, budget) if self.rng.random() < 0.6 else value

    def integer(self, value: int) -> int:
        span = {"easy": 2, "medium": 5, "hard": 20}[self.tier]
        span = max(span, abs(value) // 2) if self.tier != "easy" else span
        out = value + self.rng.randint(-span, span)
        return abs(out) if value >= 0 else out

    def count(self, value: int, size: int) -> int:
        """An integer that looks like a size or count, grown to about ``size`` (sign kept)."""
        if abs(value) > size:
            return self.integer(value)
        out = _length(self.rng, size)
        return -out if value < 0 else out

    def number(self, value: float) -> float:
        if not math.isfinite(value):
            return value
        scale = {"easy": 0.1, "medium": 0.5, "hard": 2.0}[self.tier]
        out = value + self.rng.uniform(-scale, scale) * max(1.0, abs(value))
        out = round(out, 3)
        return abs(out) if value >= 0 else out

    def _target(self, current: int, budget: int | None, cap: int) -> int:
        if budget is None:
            return max(0, min(cap, current + self.rng.randint(-2, 2)))
        return min(cap, _length(self.rng, budget))

    def text(self, value: str, budget: int | None) -> str:
        alphabet = sorted(set(value)) or sorted({c for v in self.pool if isinstance(v, str) for c in v})
        alphabet = alphabet or list(string.ascii_lowercase)
        size = self._target(len(value), budget, _MAX_STR)
        if not value:
            return "".join(self.rng.choice(alphabet) for _ in range(size))
        chars = list(value)
        while len(chars) > size:
            del chars[self.rng.randrange(len(chars))]
        while len(chars) < size:
            chars.insert(self.rng.randrange(len(chars) + 1), self.rng.choice(alphabet))
        if chars and self.rng.random() < 0.5:
            chars[self.rng.randrange(len(chars))] = self.rng.choice(alphabet)
        return "".join(chars)

    def sequence(self, items: list[Any], item_schema: dict[str, Any], budget: int | None) -> list[Any]:
        seeds = items or [v for v in self.pool if _fits(v, item_schema)]
        nested = any(_is_sized(v) for v in seeds)
        inner: int | None = None
        size = self._target(len(items), budget, _MAX_LEN)
        if nested and budget is not None:
            # rows of a grid, words of a text: about sqrt(budget) of them, sqrt(budget) long each
            size = self._target(0, max(1, math.isqrt(budget)), _MAX_LEN)
            inner = max(1, budget // max(1, size))
            rows = [len(v) for v in seeds if isinstance(v, (list, tuple))]
            if rows and len(rows) == len(seeds) and len(set(rows)) == 1:
                inner = min(_MAX_LEN, _length(self.rng, inner))  # a rectangular grid stays one
                return self._grid(seeds, item_schema, size, inner)
        fixed = _categorical([v for v in self.pool if _fits(v, item_schema)])  # 0/1 flags, '#'/'.' marks
        if fixed:
            out = list(items)
        else:
            out = [self.value(v, item_schema, inner) if nested else self.maybe(v, item_schema) for v in items]
        while len(out) > size:
            del out[self.rng.randrange(len(out))]
        while len(out) < size and seeds:
            seed = self.rng.choice(seeds)
            out.insert(
                self.rng.randrange(len(out) + 1), seed if fixed else self.value(seed, item_schema, inner)
            )
        return out

    def _grid(self, rows: list[Any], schema: dict[str, Any], height: int, width: int) -> list[Any]:
        cells = [c for r in rows for c in r] or [0]
        cell_schema = schema.get("items", {})
        fixed = _categorical([v for v in self.pool if _fits(v, cell_schema)] or cells)
        out: list[Any] = []
        for _ in range(height):
            drawn = [self.rng.choice(cells) for _ in range(width)]
            row = drawn if fixed else [self.maybe(c, cell_schema) for c in drawn]
            out.append(tuple(row) if isinstance(rows[0], tuple) else row)
        return out

    def mapping(self, value: dict[Any, Any], schema: dict[str, Any], budget: int | None) -> dict[Any, Any]:
        props = schema.get("properties")
        if isinstance(props, dict):
            return {k: self.maybe(v, props.get(k, {})) for k, v in value.items()}
        extra = schema.get("additionalProperties", {})
        extra = extra if isinstance(extra, dict) else {}
        keys_schema = schema.get("x-python-keys", {"type": "string"})
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if self.rng.random() < 0.15:
                continue
            key = self.maybe(k, keys_schema)
            out[as_hashable(key)] = self.maybe(v, extra)
        size = self._target(len(value), budget, _MAX_LEN)
        items = list(value.items())
        for _ in range(4 * size):  # new keys are mutated old ones: a few collide, hence the bound
            if len(out) >= size or not items:
                break
            k, v = items[self.rng.randrange(len(items))]
            key = as_hashable(self.value(k, keys_schema, 8 if isinstance(k, str) else None))
            if key not in out:
                out[key] = self.value(v, extra)
        return out


def _categorical(values: list[Any]) -> bool:
    """Flags or marks (two distinct values, or up to three one-character strings): not mutated."""
    if not values or any((_is_sized(v) and not isinstance(v, str)) or isinstance(v, float) for v in values):
        return False
    distinct = {as_hashable(v) for v in values}
    if all(isinstance(v, str) and len(v) == 1 for v in values):
        return len(distinct) <= 3
    return len(distinct) <= 2 and not any(isinstance(v, str) for v in values)


def _hashables(items: list[Any]) -> list[Any]:
    return [as_hashable(v) for v in items]


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if not kind:
        return not isinstance(value, (list, dict, tuple, set))
    python = {
        "integer": (int,),
        "number": (int, float),
        "string": (str,),
        "boolean": (bool,),
        "array": (list, tuple, set, frozenset),
        "object": (dict,),
    }.get(str(kind), ())
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, python)


def _matching(value: Any, options: list[dict[str, Any]]) -> dict[str, Any]:
    for option in options:
        if _fits(value, option):
            return option
    return {}


def _flatten(value: Any, out: list[Any]) -> None:
    out.append(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _flatten(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _flatten(v, out)


def _grows(value: Any) -> bool:
    """Whether a top-level value follows the ladder: a collection, a string or an integer."""
    return _is_sized(value) or (isinstance(value, int) and not isinstance(value, bool))


def _mutate_param(mutator: _Mutator, value: Any, schema: dict[str, Any], size: int, counts: bool) -> Any:
    if _is_sized(value) and not (isinstance(value, tuple) and "prefixItems" in schema):
        return mutator.value(value, schema, size)  # sized values take the rung's size
    if counts and isinstance(value, int) and not isinstance(value, bool):
        return mutator.count(value, size)
    return mutator.maybe(value, schema)


def mutate_inputs(
    inputs: list[dict[str, Any]],
    input_schema: dict[str, Any],
    *,
    n: int,
    rng: random.Random,
    ladder: tuple[int, ...] = DRAWS,
    attempts: int = 8,
) -> list[Mutant]:
    """Up to ``n`` new inputs unlike the recorded ones (and each other), sizes of ``ladder`` round-robin.

    ``inputs`` are python values by parameter; ``input_schema`` the object type schema of the
    hidden input. On a problem with collections, every other candidate also grows its top-level
    integers to the rung (they are often counts or sizes; when they are indices the reference
    rejects the input and it is dropped); with no collection, integers always grow. A candidate
    that cannot be encoded or repeats a known input is discarded.
    """
    if not inputs or n <= 0 or not ladder:
        return []
    pool: list[Any] = []
    for one in inputs:
        for v in one.values():
            _flatten(v, pool)
    props = input_schema.get("properties", {})
    props = props if isinstance(props, dict) else {}
    seen = {_key(one) for one in inputs}
    has_collections = any(_is_sized(v) for one in inputs for v in one.values())
    grows = any(_grows(v) for one in inputs for v in one.values())
    out: list[Mutant] = []
    for i in range(n * attempts):
        if len(out) >= n:
            break
        size = ladder[len(out) % len(ladder)]
        tier = tier_for(size)
        counts = grows and (not has_collections or i % 2 == 1)
        base = inputs[rng.randrange(len(inputs))]
        mutator = _Mutator(rng, tier, pool)
        new = {k: _mutate_param(mutator, v, props.get(k, {}), size, counts) for k, v in base.items()}
        if not grows and (i % 2 == 0 or new == base) and base:  # make sure some parameter moves
            name = sorted(base)[rng.randrange(len(base))]
            new[name] = mutator.value(base[name], props.get(name, {}))
        key = _key(new)
        if key is None or key in seen:
            continue
        seen.add(key)
        out.append(Mutant(input=new, tier=tier, size=size if grows else 0))
    return out


def _key(value: dict[str, Any]) -> str | None:
    try:
        return canonical_json(encode(value))
    except UnsupportedValue:
        return None
