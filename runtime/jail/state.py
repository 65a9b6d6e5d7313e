"""Object state <-> a value the wire codec can carry (for stateful class tools).

Standard library only, Python 3.11 compatible: the recording harness imports it in the sandbox
worker (``codegym_jail.state``), and a class-based gym's ``tools.py`` embeds this source, so both
sides pack an object's ``__dict__`` the same way.

``pack_state(obj.__dict__)`` turns the containers the wire codec does not know into tagged
dicts -- ``deque``, ``defaultdict`` (of a builtin factory), ``OrderedDict``, ``Counter`` --
and leaves everything else as is (``values.encode`` then raises ``UnsupportedValue`` for
what still has no JSON form: a node object, a function...). ``unpack_state`` inverts it.

Exceptions::

    ValueError
     +-- StateNotPackable    a defaultdict whose default factory is not a builtin type
"""

from __future__ import annotations

import collections
from typing import Any

__all__ = ["STATE_FACTORIES", "StateNotPackable", "pack_state", "restore_object", "unpack_state"]

STATE_FACTORIES: dict[str, Any] = {
    "list": list,
    "int": int,
    "float": float,
    "str": str,
    "set": set,
    "dict": dict,
    "tuple": tuple,
    "bool": bool,
    "None": None,
}


class StateNotPackable(ValueError):
    """A container whose rebuild recipe cannot be written down (a defaultdict of a lambda)."""


def _factory_name(factory: Any) -> str:
    for name, known in STATE_FACTORIES.items():
        if factory is known:
            return name
    raise StateNotPackable(
        f"defaultdict with default factory {factory!r} cannot be stored as state: "
        f"use one of {', '.join(STATE_FACTORIES)} as the factory"
    )


def pack_state(value: Any) -> Any:
    """A python value with deques/defaultdicts/OrderedDicts/Counters turned into tagged dicts.

    Raises:
        StateNotPackable: a defaultdict's default factory is none of ``STATE_FACTORIES``.
    """
    if isinstance(value, collections.deque):
        return {"$deque": [pack_state(v) for v in value], "$maxlen": value.maxlen}
    if isinstance(value, collections.defaultdict):
        return {
            "$defaultdict": _factory_name(value.default_factory),
            "$items": [[pack_state(k), pack_state(v)] for k, v in value.items()],
        }
    if isinstance(value, collections.Counter):
        return {"$counter": [[pack_state(k), pack_state(v)] for k, v in value.items()]}
    if isinstance(value, collections.OrderedDict):
        return {"$ordereddict": [[pack_state(k), pack_state(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        return {k: pack_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pack_state(v) for v in value]
    if isinstance(value, tuple):
        return tuple(pack_state(v) for v in value)
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def unpack_state(value: Any) -> Any:
    """Inverse of :func:`pack_state` (after a wire round trip)."""
    if isinstance(value, dict):
        if "$deque" in value:
            return collections.deque((unpack_state(v) for v in value["$deque"]), value.get("$maxlen"))
        if "$defaultdict" in value:
            out: Any = collections.defaultdict(STATE_FACTORIES[value["$defaultdict"]])
            for k, v in value["$items"]:
                out[_hashable(unpack_state(k))] = unpack_state(v)
            return out
        if "$counter" in value:
            return collections.Counter(
                {_hashable(unpack_state(k)): unpack_state(v) for k, v in value["$counter"]}
            )
        if "$ordereddict" in value:
            return collections.OrderedDict(
                (_hashable(unpack_state(k)), unpack_state(v)) for k, v in value["$ordereddict"]
            )
        return {k: unpack_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack_state(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unpack_state(v) for v in value)
    return value


def restore_object(cls: Any, state: Any) -> Any:
    """A ``cls`` instance whose ``__dict__`` is the unpacked ``state`` (no ``__init__`` call)."""
    obj = cls.__new__(cls)
    obj.__dict__.update(unpack_state(state))
    return obj
