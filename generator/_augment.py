"""More instances than the tests give: type-driven mutation of recorded inputs.

Given the recorded inputs (python values by parameter) and the input's type schema, derive new
inputs in three size tiers: *easy* (no bigger than the smallest recorded), *medium* (about the
largest recorded), *hard* (about twice the largest, capped). Every value is mutated according to
its type schema: integers move by small steps (keeping their sign), floats are jittered,
booleans flip, strings and lists are resized with elements drawn from and mutated like the
recorded ones, sets stay sets, tuples keep their arity, dicts keep their key type.

Deterministic: one ``random.Random`` seeded from (seed, task id) drives everything. Hypothesis's
``.example()`` is not reproducible and its ``find`` machinery is built for shrinking, so the
strategies here are a small seeded mutator of our own, driven by the same type schemas that
``infer_schema`` produces. The expected output of each new input is computed by the reference
solution in the sandbox (the pipeline's job), and inputs the reference rejects are dropped.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from dataclasses import dataclass
from typing import Any, Literal

from ..schemas import UnsupportedValue, as_hashable, canonical_json, encode

__all__ = ["Mutant", "Tier", "mutate_inputs", "rng_for"]

Tier = Literal["easy", "medium", "hard"]
TIERS: tuple[Tier, ...] = ("easy", "medium", "hard")
_MAX_LEN = 64
_MAX_STR = 200


@dataclass(frozen=True, kw_only=True)
class Mutant:
    """A derived input (python values by parameter) and its size tier."""

    input: dict[str, Any]
    tier: Tier


def rng_for(seed: int, task_id: str) -> random.Random:
    """The generator's random source for one problem: a pure function of (seed, task id)."""
    digest = hashlib.sha256(f"{seed}\0{task_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True, kw_only=True)
class _Sizes:
    """Observed lengths across the recorded inputs, which the tiers scale."""

    low: int
    high: int

    def pick(self, rng: random.Random, tier: Tier) -> int:
        if tier == "easy":
            return rng.randint(0, max(1, self.low))
        if tier == "medium":
            return rng.randint(max(0, self.low), max(1, self.high))
        return rng.randint(max(1, self.high), max(2, 2 * self.high))


def _lengths(value: Any, out: list[int]) -> None:
    if isinstance(value, (list, tuple, set, frozenset, str, dict)):
        out.append(len(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _lengths(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _lengths(v, out)


class _Mutator:
    def __init__(self, rng: random.Random, tier: Tier, sizes: _Sizes, pool: list[Any]) -> None:
        self.rng = rng
        self.tier = tier
        self.sizes = sizes
        self.pool = pool  # every recorded value, for drawing fresh elements of the right shape

    def value(self, value: Any, schema: dict[str, Any]) -> Any:
        if "anyOf" in schema:
            return self.value(value, _matching(value, schema["anyOf"]))
        kind = schema.get("type")
        if isinstance(value, bool) or kind == "boolean":
            return (not value) if isinstance(value, bool) and self.rng.random() < 0.5 else value
        if isinstance(value, int) and kind in ("integer", "number", None):
            return self.integer(value)
        if isinstance(value, float):
            return self.number(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, tuple) and "prefixItems" in schema:
            return tuple(self.maybe(v, s) for v, s in zip(value, schema["prefixItems"], strict=False))
        if isinstance(value, (list, tuple, set, frozenset)):
            items = self.sequence(list(value), schema.get("items", {}))
            if isinstance(value, (set, frozenset)):
                return set(_hashables(items))
            return tuple(items) if isinstance(value, tuple) else items
        if isinstance(value, dict):
            return self.mapping(value, schema)
        return value

    def maybe(self, value: Any, schema: dict[str, Any]) -> Any:
        return self.value(value, schema) if self.rng.random() < 0.6 else value

    def integer(self, value: int) -> int:
        span = {"easy": 2, "medium": 5, "hard": 20}[self.tier]
        span = max(span, abs(value) // 2) if self.tier != "easy" else span
        out = value + self.rng.randint(-span, span)
        return abs(out) if value >= 0 else out

    def number(self, value: float) -> float:
        if not math.isfinite(value):
            return value
        scale = {"easy": 0.1, "medium": 0.5, "hard": 2.0}[self.tier]
        out = value + self.rng.uniform(-scale, scale) * max(1.0, abs(value))
        out = round(out, 3)
        return abs(out) if value >= 0 else out

    def text(self, value: str) -> str:
        alphabet = sorted(set(value)) or list(string.ascii_lowercase)
        size = min(self.sizes.pick(self.rng, self.tier), _MAX_STR)
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

    def sequence(self, items: list[Any], item_schema: dict[str, Any]) -> list[Any]:
        size = min(self.sizes.pick(self.rng, self.tier), _MAX_LEN)
        seeds = items or [v for v in self.pool if _fits(v, item_schema)]
        out = [self.maybe(v, item_schema) for v in items]
        while len(out) > size:
            del out[self.rng.randrange(len(out))]
        while len(out) < size and seeds:
            out.insert(self.rng.randrange(len(out) + 1), self.value(self.rng.choice(seeds), item_schema))
        return out

    def mapping(self, value: dict[Any, Any], schema: dict[str, Any]) -> dict[Any, Any]:
        props = schema.get("properties")
        if isinstance(props, dict):
            return {k: self.maybe(v, props.get(k, {})) for k, v in value.items()}
        extra = schema.get("additionalProperties", {})
        keys_schema = schema.get("x-python-keys", {"type": "string"})
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if self.rng.random() < 0.15:
                continue
            key = self.maybe(k, keys_schema)
            out[as_hashable(key)] = self.maybe(v, extra if isinstance(extra, dict) else {})
        return out


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


def _mutate_param(mutator: _Mutator, value: Any, schema: dict[str, Any]) -> Any:
    # sized values always move, so that the tier shows in their size; scalars only sometimes
    if isinstance(value, (str, list, tuple, set, frozenset, dict)):
        return mutator.value(value, schema)
    return mutator.maybe(value, schema)


def mutate_inputs(
    inputs: list[dict[str, Any]],
    input_schema: dict[str, Any],
    *,
    n: int,
    rng: random.Random,
    attempts: int = 8,
) -> list[Mutant]:
    """Up to ``n`` new inputs unlike the recorded ones (and each other), tiers round-robin.

    ``inputs`` are python values by parameter; ``input_schema`` the object type schema of the
    hidden input. A candidate that cannot be encoded or repeats a known input is discarded.
    """
    if not inputs or n <= 0:
        return []
    lengths: list[int] = []
    pool: list[Any] = []
    for one in inputs:
        for v in one.values():
            _lengths(v, lengths)
            _flatten(v, pool)
    sizes = _Sizes(low=min(lengths, default=1), high=min(max(lengths, default=4), _MAX_LEN))
    props = input_schema.get("properties", {})
    seen = {_key(one) for one in inputs}
    out: list[Mutant] = []
    for i in range(n * attempts):
        if len(out) >= n:
            break
        tier = TIERS[len(out) % len(TIERS)]
        base = inputs[rng.randrange(len(inputs))]
        mutator = _Mutator(rng, tier, sizes, pool)
        new = {
            k: _mutate_param(mutator, v, props.get(k, {}) if isinstance(props, dict) else {})
            for k, v in base.items()
        }
        if i % 2 == 0 or new == base:  # make sure some parameter moves
            name = sorted(base)[rng.randrange(len(base))] if base else None
            if name is not None:
                new[name] = mutator.value(base[name], props.get(name, {}) if isinstance(props, dict) else {})
        key = _key(new)
        if key is None or key in seen:
            continue
        seen.add(key)
        out.append(Mutant(input=new, tier=tier))
    return out


def _key(value: dict[str, Any]) -> str | None:
    try:
        return canonical_json(encode(value))
    except UnsupportedValue:
        return None
