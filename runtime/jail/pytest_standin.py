"""A small ``pytest`` stand-in for running dataset tests INSIDE the sandbox worker.

Standard library only, Python 3.11 compatible. The jail has no pytest, and dataset tests only
need a handful of its names: the recording harness (``record``) puts this module in
``sys.modules["pytest"]`` while a problem's tests run, so that ``import pytest`` in a test file
finds it. It marks functions with plain attributes that the test runner (``runner``) reads: ``_codegym_fixture`` (a fixture's options),
``_codegym_params`` (stacked ``parametrize`` lists), ``_codegym_skip`` / ``_codegym_xfail``.

Provided: ``raises`` (context manager and call form, ``match=``), ``approx``, ``mark.parametrize``,
``mark.skip`` / ``skipif`` / ``xfail`` / any other mark (no-op), ``fixture`` (with or without
arguments, ``params=``, ``autouse=``), ``param``, ``skip``, ``fail``, ``xfail``, ``importorskip``,
``warns`` / ``deprecated_call`` (lenient), ``main`` (no-op).

Exceptions (raised inside a test; the runner counts them)::

    Exception
     +-- Skipped            skip(), importorskip(): the test counts as skipped
     +-- XFailed            xfail(): counted as skipped too
    AssertionError
     +-- Failed             fail(), a raises()/warns() block that saw nothing: a failure
"""

from __future__ import annotations

import importlib
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "Failed",
    "Skipped",
    "XFailed",
    "approx",
    "deprecated_call",
    "fail",
    "fixture",
    "importorskip",
    "main",
    "mark",
    "param",
    "raises",
    "skip",
    "warns",
    "xfail",
]

__version__ = "0.0-codegym-shim"


class Skipped(Exception):
    """``pytest.skip()`` was called: the test counts as skipped, not failed."""

    _codegym_skip = True


class XFailed(Exception):
    """``pytest.xfail()`` was called: the test counts as an expected failure."""

    _codegym_skip = True


class Failed(AssertionError):
    """``pytest.fail()`` or a ``raises`` block that did not raise."""


def skip(reason: str = "", *, allow_module_level: bool = False) -> None:
    """Skip the running test."""
    raise Skipped(reason)


def xfail(reason: str = "") -> None:
    """Mark the running test as an expected failure."""
    raise XFailed(reason)


def fail(reason: str = "", pytrace: bool = True) -> None:
    """Fail the running test."""
    raise Failed(reason)


def importorskip(modname: str, minversion: str | None = None, reason: str | None = None) -> Any:
    """Import a module or skip the test."""
    try:
        return importlib.import_module(modname)
    except ImportError:
        raise Skipped(reason or f"could not import {modname!r}") from None


def main(*args: Any, **kwargs: Any) -> int:
    """No-op (tests sometimes call ``pytest.main()`` under ``__main__``)."""
    return 0


# --------------------------------------------------------------------------- raises / warns


class ExceptionInfo:
    """What ``with raises(...) as info`` gives: ``info.value``, ``info.type``, ``info.match``."""

    def __init__(self) -> None:
        self.value: BaseException | None = None
        self.type: type[BaseException] | None = None
        self.tb: Any = None

    def match(self, pattern: str) -> bool:
        if not re.search(pattern, str(self.value)):
            raise AssertionError(f"regex {pattern!r} does not match {str(self.value)!r}")
        return True

    def errisinstance(self, exc: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
        return isinstance(self.value, exc)


class _Raises:
    def __init__(self, expected: Any, match: str | None) -> None:
        self.expected = expected
        self.match_pattern = match
        self.info = ExceptionInfo()

    def __enter__(self) -> ExceptionInfo:
        return self.info

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            raise Failed(f"DID NOT RAISE {self.expected!r}")
        if not issubclass(exc_type, self.expected):
            return False
        self.info.value = exc
        self.info.type = exc_type
        self.info.tb = tb
        if self.match_pattern is not None and not re.search(self.match_pattern, str(exc)):
            raise AssertionError(f"regex {self.match_pattern!r} does not match {str(exc)!r}")
        return True


def raises(expected: Any, *args: Any, match: str | None = None, **kwargs: Any) -> Any:
    """``with raises(ValueError, match="..."):`` or ``raises(ValueError, func, *args)``."""
    if args and callable(args[0]):
        ctx = _Raises(expected, match)
        with ctx:
            args[0](*args[1:], **kwargs)
        return ctx.info
    return _Raises(expected, match)


@contextmanager
def warns(
    expected: Any = Warning, *args: Any, match: str | None = None, **kwargs: Any
) -> Iterator[list[Any]]:
    """Lenient: records warnings, and checks that one of the expected class was issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    if not any(issubclass(w.category, expected) for w in caught):
        raise Failed(f"DID NOT WARN {expected!r}")


def deprecated_call(*args: Any, **kwargs: Any) -> Any:
    """``with deprecated_call():`` -- a lenient ``warns(DeprecationWarning)``."""
    return warns((DeprecationWarning, PendingDeprecationWarning))


# --------------------------------------------------------------------------- approx


class approx:
    """``value == approx(expected, rel=..., abs=...)`` for numbers, sequences and mappings."""

    def __init__(
        self, expected: Any, rel: float | None = None, abs: float | None = None, nan_ok: bool = False
    ) -> None:
        self.expected = expected
        self.rel = 1e-6 if rel is None else rel
        self.abs = 1e-12 if abs is None else abs
        self.nan_ok = nan_ok

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"

    def _close(self, actual: Any, expected: Any) -> bool:
        if isinstance(expected, Mapping):
            return (
                isinstance(actual, Mapping)
                and set(actual) == set(expected)
                and all(self._close(actual[k], expected[k]) for k in expected)
            )
        if isinstance(expected, Sequence) and not isinstance(expected, str):
            return (
                isinstance(actual, Sequence)
                and len(actual) == len(expected)
                and all(self._close(a, e) for a, e in zip(actual, expected, strict=False))
            )
        if (
            isinstance(expected, (int, float))
            and isinstance(actual, (int, float))
            and not isinstance(actual, bool)
        ):
            if math.isnan(expected) or math.isnan(actual):
                return self.nan_ok and math.isnan(expected) and math.isnan(actual)
            if math.isinf(expected):
                return bool(actual == expected)
            return abs(actual - expected) <= max(self.rel * abs(expected), self.abs)
        return bool(actual == expected)

    def __eq__(self, actual: object) -> bool:
        return self._close(actual, self.expected)

    def __ne__(self, actual: object) -> bool:
        return not self.__eq__(actual)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- marks


class _Param:
    """``pytest.param(*values, id=..., marks=...)``."""

    def __init__(self, values: tuple[Any, ...], marks: Any, id: str | None) -> None:
        self.values = values
        self.marks = marks
        self.id = id


def param(*values: Any, marks: Any = (), id: str | None = None) -> _Param:
    """One parametrize case with its own marks."""
    return _Param(values, marks, id)


def _attach(fn: Any, name: str, value: Any) -> Any:
    target = fn
    lst = getattr(target, name, None)
    if lst is None:
        lst = []
        setattr(target, name, lst)
    lst.append(value)
    return fn


class _Mark:
    """A mark usable as ``@mark.x`` or ``@mark.x(args)``."""

    def __init__(self, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs or {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self._apply(args[0])
        return _Mark(self.name, args, kwargs)

    def _apply(self, fn: Any) -> Any:
        if self.name == "parametrize":
            names, values = (
                self.args[0],
                self.args[1] if len(self.args) > 1 else self.kwargs.get("argvalues", []),
            )
            if isinstance(names, str):
                names = [n.strip() for n in names.split(",") if n.strip()]
            return _attach(fn, "_codegym_params", (list(names), list(values)))
        if self.name == "skip":
            fn._codegym_skip = self.kwargs.get("reason", self.args[0] if self.args else "skip mark")
        elif self.name == "skipif":
            cond = self.args[0] if self.args else self.kwargs.get("condition", False)
            if not isinstance(cond, str) and cond:
                fn._codegym_skip = self.kwargs.get("reason", "skipif mark")
        elif self.name == "xfail":
            fn._codegym_xfail = True
        elif self.name == "usefixtures":
            for name in self.args:
                _attach(fn, "_codegym_usefixtures", name)
        return fn


class _MarkGenerator:
    def __getattr__(self, name: str) -> _Mark:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Mark(name)


mark = _MarkGenerator()


# --------------------------------------------------------------------------- fixtures


def fixture(
    fn: Callable[..., Any] | None = None,
    *,
    scope: str = "function",
    params: Sequence[Any] | None = None,
    autouse: bool = False,
    ids: Any = None,
    name: str | None = None,
) -> Any:
    """``@fixture`` or ``@fixture(params=[...], autouse=True)``: marks the function for the harness."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f._codegym_fixture = {  # type: ignore[attr-defined]
            "scope": scope,
            "params": list(params) if params is not None else None,
            "autouse": autouse,
            "name": name or f.__name__,
        }
        return f

    if fn is not None and callable(fn):
        return decorate(fn)
    return decorate


yield_fixture = fixture
