"""The recording harness: runs a problem's unit tests INSIDE the sandbox worker.

Standard library only and Python 3.11 compatible (the in-jail package): the host
(``generator/_instances.py``) calls :func:`record` or :func:`compute` of ``codegym_jail.record``
with one JSON text and gets one JSON text back. While a problem's code runs, ``pytest`` in
``sys.modules`` is the stand-in (``pytest_standin``); the test runner is ``runner``, the
instances go to a ``book``, the wrappers are ``recorders``.

``record``: executes the reference solution as module ``solution``, swaps the target for a
recording wrapper in the module the tests see, and runs the tests (HumanEval's ``check(...)``
code, or a pytest file: every ``test*`` function and the test methods of ``Test*`` classes,
with parametrize and simple fixtures). ``random`` is seeded before each test. Each outermost
call of the target becomes one instance:

- a function: ``input`` = the arguments bound to parameter names (defaults applied), encoded
  before the call; ``expected`` = the return value; if it returns None and changed exactly
  one argument, the changed argument is the expected output (``in_place`` names it);
- a class: each object is one instance in LeetCode's design format, ``input`` =
  ``{"operations": [ClassName, method, ...], "arguments": [[...], ...]}`` and ``expected`` =
  the list of results (None for the constructor).

Values without a JSON form are dropped with the reason; inputs are deduplicated; an input
seen with two different outputs is dropped (non-deterministic). The reply says what was
dropped and why, and how the tests went with the reference.

``compute``: runs the reference on given inputs (same formats), for augmentation.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import random
import sys
import time
import types
from collections.abc import Iterator
from typing import Any

from . import book as _bk
from . import pytest_standin
from . import recorders as _rc
from . import runner as _run
from . import values as _cv

__all__ = ["compute", "record"]


# --------------------------------------------------------------------------- entry points


class _Discard(io.TextIOBase):
    """A text sink that forgets what the code prints (``capsys`` swaps in its own buffer)."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        return len(s)


def _load_solution(source: str, seconds: float) -> types.ModuleType | str:
    """The solution executed as module ``solution`` within ``seconds``, or why it does not load."""
    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    try:
        with _run.time_slice(seconds):
            exec(compile(source, "solution.py", "exec"), module.__dict__)
    except BaseException as exc:  # the reply says why; the worker itself stays healthy
        return f"the solution does not load: {type(exc).__name__}: {_run.safe_str(exc)}"
    return module


def _facing_module(real: types.ModuleType, target: str, replacement: Any) -> types.ModuleType:
    facing = types.ModuleType("solution")
    facing.__dict__.update(real.__dict__)
    setattr(facing, target, replacement)
    return facing


_SWAPPED = ("solution", "test_solution", "pytest")
"""The ``sys.modules`` entries a run sets (the reference, the test file, the pytest stand-in)."""


@contextlib.contextmanager
def _problem_scope() -> Iterator[None]:
    """The pytest stand-in as ``pytest`` and prints discarded; every swapped module restored after."""
    saved = {name: sys.modules.get(name) for name in _SWAPPED}
    streams = (sys.stdout, sys.stderr)
    sys.stdout = sys.stderr = _Discard()  # tests may print a lot; that is no reason to fail them
    sys.modules["pytest"] = pytest_standin
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def record(request: str) -> str:
    """Run the tests of one problem against a recording wrapper of its target; JSON in, JSON out.

    Request: ``{"solution", "tests", "test_style": "humaneval"|"pytest", "target", "kind":
    "function"|"class", "seed", "per_test_seconds", "budget_seconds", "max_instances",
    "max_value_chars", "max_total_chars", "report_tests"}``.
    Reply: ``{"ok": true, "kind", "target", "params", "methods", "calls": [{"input", "expected",
    "in_place"}], "total_calls", "dropped": {reason: n}, "state_issues": {reason: n}, "tests":
    {...}}`` or ``{"ok": false, "error": "..."}`` when the solution or the tests do not load.
    With ``report_tests`` the ``tests`` object also lists each test run, in order, with its
    outcome (``runner.Outcome.as_dict``).
    """
    req = json.loads(request)
    book = _bk.Book(req)
    seed = int(req.get("seed", 0))
    with _problem_scope():
        random.seed(seed)
        real = _load_solution(str(req["solution"]), float(req.get("budget_seconds", 8.0)) / 2)
        if isinstance(real, str):
            return json.dumps({"ok": False, "error": real})
        made = _make_recorder(real, str(req["target"]), str(req.get("kind", "function")), book)
        if isinstance(made, str):
            return json.dumps({"ok": False, "error": made})
        recorder, replacement, reply = made
        outcome = _run.Outcome(
            float(req.get("per_test_seconds", 2.0)),
            float(req.get("budget_seconds", 8.0)),
            report=bool(req.get("report_tests")),
        )
        _run_tests(req, _facing_module(real, str(req["target"]), replacement), outcome, seed)
        recorder.finish()
        reply["state_issues"] = recorder.state_issues if isinstance(recorder, _rc.ClassRecorder) else {}
        reply["shapes"] = recorder.shapes if isinstance(recorder, _rc.FunctionRecorder) else {}
        reply["calls"] = book.finish()
        reply["total_calls"] = book.total
        reply["dropped"] = book.dropped
        reply["tests"] = outcome.as_dict()
        return json.dumps(reply, ensure_ascii=False, separators=(",", ":"))


def _make_recorder(
    real: types.ModuleType, target: str, kind: str, book: _bk.Book
) -> tuple[_rc.FunctionRecorder | _rc.ClassRecorder, Any, dict[str, Any]] | str:
    """The recorder of ``target``, the wrapper the tests get instead, the reply so far; or the error."""
    original = getattr(real, target, None)
    reply: dict[str, Any] = {"ok": True, "kind": kind, "target": target, "methods": {}}
    if kind == "class":
        if not inspect.isclass(original):
            return f"the solution defines no class {target!r} (got {type(original).__name__}): name a class it defines"
        recorder = _rc.ClassRecorder(original, book)
        replacement = recorder.make_class()
        reply["params"] = _bk.params_of(recorder.init_sig, skip_first=True)
        reply["methods"] = {
            n: _bk.params_of(_bk.signature_of(f), skip_first=True) for n, f in recorder.methods.items()
        }
        if hasattr(original, "__slots__"):
            recorder.state_issues["the class uses __slots__ (no __dict__ to store)"] = 1
        return recorder, replacement, reply
    if not callable(original):
        return f"the solution defines no function {target!r} (got {type(original).__name__}): name a function it defines"
    function_recorder = _rc.FunctionRecorder(original, book)
    reply["params"] = _bk.params_of(function_recorder.sig)
    return function_recorder, function_recorder.wrapper(), reply


def _run_tests(req: dict[str, Any], facing: types.ModuleType, outcome: _run.Outcome, seed: int) -> None:
    """Run the problem's tests (HumanEval ``check`` code or a pytest file) against ``facing``."""
    if req.get("test_style") == "humaneval":
        namespace = dict(facing.__dict__)
        namespace["__name__"] = "__codegym_tests__"
        code = compile(str(req["tests"]), "tests.py", "exec")
        outcome.per_test = outcome.deadline - time.monotonic()
        _run.timed(outcome, seed, "check", lambda: exec(code, namespace))
        return
    sys.modules["solution"] = facing
    test_module = types.ModuleType("test_solution")
    test_module.__file__ = "test_solution.py"
    sys.modules["test_solution"] = test_module
    try:
        random.seed(seed)
        with _run.time_slice(outcome.per_test):
            exec(compile(str(req["tests"]), "test_solution.py", "exec"), test_module.__dict__)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome.run += 1
        outcome.fail("<module>", exc)
    else:
        _run.run_pytest_module(test_module.__dict__, outcome, seed)


def _call_function(fn: Any, sig: inspect.Signature | None, values: dict[str, Any]) -> Any:
    if sig is None:
        return fn(**values)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name not in values:
            continue
        value = values[p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(value)
        elif p.kind == p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            kwargs.update(value)
    return fn(*args, **kwargs)


def _run_design(cls: Any, wire_input: Any) -> list[Any]:
    ops = wire_input["operations"]
    arguments = wire_input["arguments"]
    if not ops or ops[0] != cls.__name__:
        raise ValueError(f"operations must start with the constructor {cls.__name__!r}, got {ops[:1]!r}")
    if len(ops) != len(arguments):
        raise ValueError(
            f"{len(ops)} operations but {len(arguments)} argument lists: give one list per operation"
        )
    results: list[Any] = [None]
    obj = cls(*_cv.decode(arguments[0]))
    for op, args in zip(ops[1:], arguments[1:], strict=True):
        if op.startswith("_"):
            raise ValueError(f"operation {op!r} is not a public method")
        results.append(_cv.encode(getattr(obj, op)(*_cv.decode(args))))
    return results


def compute(request: str) -> str:
    """Run the reference on inputs; JSON in, JSON out.

    Request: ``{"solution", "target", "kind", "inputs": [wire input, ...], "in_place": name|null,
    "seed", "per_call_seconds", "budget_seconds"}``.
    Reply: ``{"ok": true, "results": [{"ok": true, "expected": wire} | {"ok": false, "error": str}]}``
    or ``{"ok": false, "error": "..."}`` when the solution does not load.
    """
    req = json.loads(request)
    seed = int(req.get("seed", 0))
    with _problem_scope():
        random.seed(seed)
        real = _load_solution(str(req["solution"]), float(req.get("budget_seconds", 8.0)) / 2)
        if isinstance(real, str):
            return json.dumps({"ok": False, "error": real})
        target = getattr(real, str(req["target"]), None)
        if target is None:
            return json.dumps(
                {
                    "ok": False,
                    "error": f"the solution defines no {req['target']!r}: name a function or class it defines",
                }
            )
        kind = req.get("kind", "function")
        in_place = req.get("in_place")
        sig = _bk.signature_of(target)
        outcome = _run.Outcome(float(req.get("per_call_seconds", 2.0)), float(req.get("budget_seconds", 8.0)))
        results: list[dict[str, Any]] = []
        for wire_input in req["inputs"]:
            slot: dict[str, Any] = {}

            def thunk(wire_input: Any = wire_input, slot: dict[str, Any] = slot) -> None:
                if kind == "class":
                    slot["expected"] = _run_design(target, wire_input)
                    return
                values = _cv.decode(wire_input)
                result = _call_function(target, sig, values)
                slot["expected"] = _cv.encode(values[in_place] if in_place else result)

            outcome.last_error = ""
            _run.timed(outcome, seed, "input", thunk)
            if "expected" in slot:
                results.append({"ok": True, "expected": slot["expected"]})
            elif outcome.exhausted:
                results.append({"ok": False, "error": "time budget exhausted before this input"})
            else:
                results.append({"ok": False, "error": outcome.last_error.removeprefix("input: ") or "failed"})
        return json.dumps({"ok": True, "results": results}, ensure_ascii=False, separators=(",", ":"))
