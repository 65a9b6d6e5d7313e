"""Running a dataset's tests INSIDE the sandbox worker: pytest files without pytest, HumanEval code.

Standard library only and Python 3.11 compatible (the in-jail package; the recording harness,
``record``, drives it). Each test runs with ``random``
seeded and its own time slice (a SIGALRM timer when the worker calls from its main thread);
its outcome is counted: passed, failed (with the first line of the error), skipped.

Discovery follows pytest: module-level ``test*`` functions, ``test*`` methods of ``Test*``
classes (``setup_method``/``teardown_method``, ``setup_class``), ``unittest.TestCase``
classes, ``mark.parametrize`` (stacked, ``pytest.param``), fixtures from the test module
(``params=``, ``autouse=``, generator fixtures, ``request.param``) and the builtins
``capsys``/``capfd``, ``monkeypatch``, ``tmp_path``/``tmpdir``, ``request``. The marks and
fixtures are the attributes the ``pytest`` stand-in (``pytest_standin``) sets.

Exceptions::

    BaseException
     +-- TestTimeout     one test ran past its time slice (not an Exception: a test's
                         ``except Exception`` must not swallow it)
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import itertools
import random
import signal
import sys
import tempfile
import threading
import time
import unittest
from collections.abc import Iterator
from typing import Any

__all__ = ["Outcome", "TestTimeout", "run_pytest_module", "safe_str", "time_slice", "timed"]

_MAX_FAILURES_SHOWN = 20


class TestTimeout(BaseException):
    """A single test ran past its time slice (BaseException: a test's ``except Exception`` won't eat it)."""


class Outcome:
    """How the tests went so far: counts, the first failures (one line each), the time budget."""

    def __init__(self, per_test: float, budget: float, *, report: bool = False) -> None:
        self.results: list[list[str]] | None = [] if report else None  # [name, outcome] per test run
        self.run = 0
        self.passed = 0
        self.skipped = 0
        self.failures: list[str] = []
        self.per_test = per_test
        self.deadline = time.monotonic() + budget
        self.exhausted = False
        self.last_error = ""

    def fail(self, name: str, exc: BaseException) -> None:
        """Note the failure of test ``name`` (the caller counts the run)."""
        self.note(name, "failed")
        text = f"{name}: {type(exc).__name__}: {safe_str(exc)}"
        text = text if len(text) < 300 else text[:297] + "..."
        self.last_error = text
        if len(self.failures) < _MAX_FAILURES_SHOWN:
            self.failures.append(text)
        else:
            self.failures[-1] = f"... and more failures (first {_MAX_FAILURES_SHOWN} shown)"

    def as_dict(self) -> dict[str, Any]:
        """The counts as the harness reply's ``tests`` object."""
        failed = self.run - self.passed - self.skipped
        return {
            "tests_run": self.run,
            "tests_passed": self.passed,
            "tests_failed": failed,
            "tests_skipped": self.skipped,
            "failures": self.failures,
            "budget_exhausted": self.exhausted,
            **({} if self.results is None else {"results": self.results}),
        }

    def note(self, name: str, result: str) -> None:
        """Keep ``name``'s outcome (passed, failed, skipped) when asked to report each test."""
        if self.results is not None:
            self.results.append([name, result])


def safe_str(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder when the exception's ``__str__`` itself raises."""
    try:
        return str(exc)
    except BaseException:
        return "<unprintable>"


def _alarm(_signum: int, _frame: Any) -> None:
    raise TestTimeout("test ran past its time slice")


@contextlib.contextmanager
def time_slice(seconds: float) -> Iterator[None]:
    """Raise :class:`TestTimeout` in the block after ``seconds`` (a SIGALRM timer; main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.05, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


def timed(outcome: Outcome, seed: int, name: str, thunk: Any, *, xfail: bool = False) -> None:
    """Run one test with ``random`` seeded and a time slice; count its outcome."""
    if time.monotonic() > outcome.deadline:
        outcome.exhausted = True
        return
    outcome.run += 1
    random.seed(seed)
    try:
        with time_slice(min(outcome.per_test, outcome.deadline - time.monotonic())):
            thunk()
    except TestTimeout as exc:
        outcome.fail(name, exc)
    except Exception as exc:
        if getattr(type(exc), "_codegym_skip", False):
            outcome.skipped += 1
            outcome.note(name, "skipped")
        elif xfail:
            outcome.passed += 1
            outcome.note(name, "passed")
        else:
            outcome.fail(name, exc)
    except SystemExit as exc:
        outcome.fail(name, exc)
    else:
        outcome.passed += 1
        outcome.note(name, "passed")


class _Capture:
    """``capsys`` / ``capfd``: what the test printed since the last read."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = self.out, self.err

    def readouterr(self) -> Any:
        import collections

        CaptureResult = collections.namedtuple("CaptureResult", "out err")
        result = CaptureResult(self.out.getvalue(), self.err.getvalue())
        self.out.seek(0)
        self.out.truncate()
        self.err.seek(0)
        self.err.truncate()
        return result

    def close(self) -> None:
        sys.stdout, sys.stderr = self.saved


class _MonkeyPatch:
    """A minimal ``monkeypatch``: setattr/delattr/setitem/delitem/setenv/delenv, undone after the test."""

    _missing = object()

    def __init__(self) -> None:
        self.undo: list[Any] = []

    def setattr(self, target: Any, name: Any, value: Any = _missing, raising: bool = True) -> None:
        if value is self._missing:
            module_name, _, attr = str(target).rpartition(".")
            target, name, value = sys.modules[module_name], attr, name
        old = getattr(target, name, self._missing)
        self.undo.append(
            lambda: setattr(target, name, old) if old is not self._missing else delattr(target, name)
        )
        setattr(target, name, value)

    def delattr(self, target: Any, name: str, raising: bool = True) -> None:
        old = getattr(target, name, self._missing)
        if old is not self._missing:
            self.undo.append(lambda: setattr(target, name, old))
            delattr(target, name)

    def setitem(self, mapping: Any, key: Any, value: Any) -> None:
        old = mapping.get(key, self._missing)
        self.undo.append(
            lambda: mapping.__setitem__(key, old) if old is not self._missing else mapping.pop(key, None)
        )
        mapping[key] = value

    def delitem(self, mapping: Any, key: Any, raising: bool = True) -> None:
        if key in mapping:
            old = mapping[key]
            self.undo.append(lambda: mapping.__setitem__(key, old))
            del mapping[key]

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        import os

        self.setitem(os.environ, name, value)

    def delenv(self, name: str, raising: bool = True) -> None:
        import os

        self.delitem(os.environ, name)

    def close(self) -> None:
        for fn in reversed(self.undo):
            fn()
        self.undo.clear()


class _Request:
    def __init__(self, param: Any = None) -> None:
        self.param = param


class _Fixtures:
    """Resolves a test's parameters: module fixtures (generator ones too) and a few builtins."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = {}
        for value in namespace.values():
            info = getattr(value, "_codegym_fixture", None)
            if isinstance(info, dict) and callable(value):
                self.defs[str(info["name"])] = value
        self.autouse = [f for f in self.defs.values() if f._codegym_fixture.get("autouse")]

    def param_sets(self, names: list[str]) -> list[dict[str, Any]]:
        """One dict per combination of the params= of the fixtures the test uses."""
        choices: list[list[tuple[str, Any]]] = []
        for name in names:
            fn = self.defs.get(name)
            params = fn._codegym_fixture.get("params") if fn is not None else None
            if params:
                choices.append([(name, p) for p in params])
        return [dict(combo) for combo in itertools.product(*choices)] if choices else [{}]

    def resolve(self, name: str, cache: dict[str, Any], cleanups: list[Any], params: dict[str, Any]) -> Any:
        if name in cache:
            return cache[name]
        if name in ("capsys", "capfd", "capsysbinary"):
            cap = _Capture()
            cleanups.append(cap.close)
            value: Any = cap
        elif name == "monkeypatch":
            value = _MonkeyPatch()
            cleanups.append(value.close)
        elif name in ("tmp_path", "tmpdir"):
            import pathlib

            value = pathlib.Path(tempfile.mkdtemp(prefix="codegym-"))
        elif name == "request":
            value = _Request()
        elif name in self.defs:
            fn = self.defs[name]
            kwargs = {}
            fsig = _signature(fn)
            for p in fsig.parameters if fsig is not None else []:
                if p == "request":
                    kwargs[p] = _Request(params.get(name))
                else:
                    kwargs[p] = self.resolve(p, cache, cleanups, params)
            value = fn(**kwargs)
            if inspect.isgenerator(value):
                gen = value
                value = next(gen)
                cleanups.append(lambda: next(gen, None))
        else:
            raise LookupError(f"fixture {name!r} not found")
        cache[name] = value
        return value


def _mark_effect(marks: Any) -> str | None:
    """What a ``pytest.param``'s marks do to its case: ``"skip"``, ``"xfail"`` or None."""
    effect = None
    for m in marks if isinstance(marks, (list, tuple)) else [marks]:
        name = getattr(m, "name", "")
        args = getattr(m, "args", ())
        kwargs = getattr(m, "kwargs", {}) or {}
        condition = args[0] if args and name in ("skipif", "xfail") else kwargs.get("condition", True)
        if isinstance(condition, str) or not condition:
            continue
        if name in ("skip", "skipif"):
            return "skip"
        if name == "xfail":
            effect = "xfail"
    return effect


def _cases(fn: Any) -> list[tuple[dict[str, Any], str | None]]:
    """The parametrize combinations of a test function (``[({}, None)]`` when none), each with
    what its ``pytest.param`` marks do (:func:`_mark_effect`)."""
    layers = getattr(fn, "_codegym_params", None) or []
    choices: list[list[tuple[dict[str, Any], str | None]]] = []
    for names, values in layers:
        layer = []
        for value in values:
            effect = None
            if hasattr(value, "values") and hasattr(value, "marks"):
                effect = _mark_effect(value.marks)
                value = value.values if len(names) > 1 else value.values[0]
            if len(names) == 1:
                layer.append(({names[0]: value}, effect))
            else:
                layer.append((dict(zip(names, value, strict=False)), effect))
        choices.append(layer)
    if not choices:
        return [({}, None)]
    cases = []
    for combo in itertools.product(*choices):
        effects = {effect for _, effect in combo}
        effect = "skip" if "skip" in effects else ("xfail" if "xfail" in effects else None)
        cases.append(({k: v for part, _ in combo for k, v in part.items()}, effect))
    return cases


def _run_test_callable(
    fn: Any, name: str, fixtures: _Fixtures, outcome: Outcome, seed: int, prepare: Any = None
) -> None:
    """Run every case of test ``fn`` (parametrize x fixture params); ``prepare()``, when given,
    returns a fresh bound test method and its teardown for each case (test classes)."""
    if getattr(fn, "_codegym_skip", None):
        outcome.skipped += 1
        outcome.run += 1
        outcome.note(name, "skipped")
        return
    sig = _signature(fn)
    wanted = [p for p in (sig.parameters if sig is not None else {})]
    xfail = bool(getattr(fn, "_codegym_xfail", False))
    for case, effect in _cases(fn):
        if effect == "skip":
            outcome.run += 1
            outcome.skipped += 1
            outcome.note(name, "skipped")
            continue
        rest = [p for p in wanted if p not in case]
        for fixture_params in fixtures.param_sets(rest):

            def thunk(
                case: dict[str, Any] = case, rest: list[str] = rest, fp: dict[str, Any] = fixture_params
            ) -> None:
                cache: dict[str, Any] = {}
                cleanups: list[Any] = []
                try:
                    for auto in fixtures.autouse:
                        fixtures.resolve(auto._codegym_fixture["name"], cache, cleanups, fp)
                    for extra in getattr(fn, "_codegym_usefixtures", []):
                        fixtures.resolve(extra, cache, cleanups, fp)
                    kwargs = dict(case)
                    for p in rest:
                        kwargs[p] = fixtures.resolve(p, cache, cleanups, fp)
                    test = fn
                    if prepare is not None:
                        test, teardown = prepare()
                        cleanups.append(teardown)
                    test(**kwargs)
                finally:
                    for cleanup in reversed(cleanups):
                        cleanup()

            timed(outcome, seed, name, thunk, xfail=xfail or effect == "xfail")


def run_pytest_module(namespace: dict[str, Any], outcome: Outcome, seed: int) -> None:
    """Run the tests pytest would collect from a module's namespace; count them in ``outcome``."""
    fixtures = _Fixtures(namespace)
    for name, obj in list(namespace.items()):
        if name.startswith("test") and inspect.isfunction(obj) and not hasattr(obj, "_codegym_fixture"):
            _run_test_callable(obj, name, fixtures, outcome, seed)
        elif name.startswith("Test") and inspect.isclass(obj):
            if issubclass(obj, unittest.TestCase):
                _run_unittest_class(obj, outcome, seed)
            else:
                _run_test_class(obj, name, fixtures, outcome, seed)


def _run_test_class(cls: type, cls_name: str, fixtures: _Fixtures, outcome: Outcome, seed: int) -> None:
    if getattr(cls, "_codegym_skip", None):
        return
    names = []
    for klass in reversed(cls.__mro__):
        for attr in vars(klass):
            if attr.startswith("test") and callable(getattr(cls, attr, None)) and attr not in names:
                names.append(attr)
    try:
        if hasattr(cls, "setup_class"):
            cls.setup_class()
    except Exception as exc:
        outcome.run += 1
        outcome.fail(f"{cls_name}.setup_class", exc)
        return
    for attr in names:
        try:
            instance = cls()
        except Exception as exc:
            outcome.run += 1
            outcome.fail(f"{cls_name}()", exc)
            return
        method = getattr(instance, attr)
        setup = getattr(instance, "setup_method", None)
        teardown = getattr(instance, "teardown_method", None)

        def thunk(method: Any = method, setup: Any = setup, teardown: Any = teardown) -> None:
            if setup is not None:
                setup(method)
            try:
                method()
            finally:
                if teardown is not None:
                    teardown(method)

        msig = _signature(method)
        if getattr(method, "_codegym_params", None) or (msig is not None and len(msig.parameters) > 0):
            prepare = functools.partial(_fresh_method, cls, attr)  # pytest: a new instance per case
            _run_test_callable(method, f"{cls_name}.{attr}", fixtures, outcome, seed, prepare)
        else:
            timed(
                outcome,
                seed,
                f"{cls_name}.{attr}",
                thunk,
                xfail=bool(getattr(method, "_codegym_xfail", False)),
            )
    if hasattr(cls, "teardown_class"):
        try:
            cls.teardown_class()
        except Exception as exc:
            outcome.run += 1  # counted like a failing setup_class: the failure must not pass unseen
            outcome.fail(f"{cls_name}.teardown_class", exc)


def _fresh_method(cls: type, attr: str) -> tuple[Any, Any]:
    """Test method ``attr`` of a new instance of ``cls`` after its ``setup_method``, and its teardown."""
    instance = cls()
    method = getattr(instance, attr)
    setup = getattr(instance, "setup_method", None)
    teardown = getattr(instance, "teardown_method", None)
    if setup is not None:
        setup(method)
    return method, (lambda: teardown(method)) if teardown is not None else (lambda: None)


def _run_unittest_class(cls: type, outcome: Outcome, seed: int) -> None:
    test: Any
    for test in unittest.TestLoader().loadTestsFromTestCase(cls):
        result = unittest.TestResult()

        def thunk(test: Any = test, result: unittest.TestResult = result) -> None:
            test.run(result)
            problems = result.errors + result.failures
            if problems:
                raise AssertionError(problems[0][1].strip().splitlines()[-1])
            if result.skipped:
                raise _SkippedTest()

        timed(outcome, seed, test.id().rsplit(".", 1)[-1], thunk)


class _SkippedTest(Exception):
    _codegym_skip = True


def _signature(fn: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None
