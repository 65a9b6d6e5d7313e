"""The recording harness: runs a problem's unit tests INSIDE the sandbox worker.

Standard library only and Python 3.11 compatible: the host (``_instances.py``) loads this very
source into a worker as ``codegym_harness_record``, beside ``codegym_state`` (``_harness_state.py``)
and ``pytest`` (the shim in ``_harness_pytest.py``), then calls :func:`record` or
:func:`compute` with one JSON text and gets one JSON text back.

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

import functools
import inspect
import io
import json
import random
import sys
import time
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codegym_mcp.generator import _harness_runner as _run
    from codegym_mcp.generator import _harness_state as _st
    from codegym_mcp.schemas import _values as _cv
else:
    try:
        import codegym_values as _cv
    except ImportError:  # imported on the host (tests)
        from codegym_mcp.schemas import _values as _cv
    try:
        import codegym_state as _st
    except ImportError:  # imported on the host (tests)
        from codegym_mcp.generator import _harness_state as _st
    try:
        import codegym_runner as _run
    except ImportError:  # imported on the host (tests)
        from codegym_mcp.generator import _harness_runner as _run

__all__ = ["compute", "record"]


class _Book:
    """The instances recorded so far, deduplicated, with drop reasons counted."""

    def __init__(self, limits: dict[str, Any]) -> None:
        self.max_instances = int(limits.get("max_instances", 200))
        self.max_value_chars = int(limits.get("max_value_chars", 20000))
        self.max_total_chars = int(limits.get("max_total_chars", 2000000))
        self.items: list[dict[str, Any]] = []
        self.keys: dict[str, int] = {}
        self.conflicts: set[str] = set()
        self.dropped: dict[str, int] = {}
        self.total = 0
        self.chars = 0

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def add(self, wire_input: dict[str, Any], expected: Any, in_place: str | None = None) -> None:
        key = _cv.canonical_json(wire_input)
        out = _cv.canonical_json(expected)
        if key in self.keys:
            first = self.items[self.keys[key]]
            if _cv.canonical_json(first["expected"]) == out:
                self.drop("duplicate input")
            else:
                self.conflicts.add(key)
                self.drop("same input gave different outputs (non-deterministic)")
            return
        if len(key) > self.max_value_chars or len(out) > self.max_value_chars:
            self.drop(f"value larger than {self.max_value_chars} characters")
            return
        if len(self.items) >= self.max_instances:
            self.drop(f"over the cap of {self.max_instances} instances")
            return
        if self.chars + len(key) + len(out) > self.max_total_chars:
            self.drop(f"over the output budget of {self.max_total_chars} characters")
            return
        self.chars += len(key) + len(out)
        self.keys[key] = len(self.items)
        self.items.append({"input": wire_input, "expected": expected, "in_place": in_place})

    def finish(self) -> list[dict[str, Any]]:
        if not self.conflicts:
            return self.items
        kept = [it for it in self.items if _cv.canonical_json(it["input"]) not in self.conflicts]
        self.drop("same input gave different outputs (non-deterministic)", len(self.items) - len(kept))
        return kept


def _small_enough(value: Any, limit: int) -> bool:
    """A cheap upper bound on the encoded size, to skip encoding huge test inputs."""
    stack = [value]
    budget = limit
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > 100000:
            return False
        if isinstance(item, str):
            budget -= len(item) + 2
        elif isinstance(item, dict):
            budget -= 2 * len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            budget -= len(item) + 2
            stack.extend(item)
        else:
            budget -= 2
        if budget < 0:
            return False
    return True


def _encode(value: Any, limit: int, what: str) -> tuple[bool, Any]:
    """(True, wire) or (False, reason)."""
    if not _small_enough(value, limit):
        return False, f"{what} larger than {limit} characters"
    try:
        return True, _cv.encode(value)
    except _cv.UnsupportedValue as exc:
        return False, f"{what} holds a {exc.type_name} (no JSON form)"
    except RecursionError:
        return False, f"{what} is nested too deeply (or cyclic)"


# Node classes with a JSON stand-in: a binary tree as LeetCode's level-order list (None for
# gaps), a singly linked list as the list of its values. Only pure node classes qualify: every
# node of the solution's class with exactly a value attribute and the link attributes.
_VALUE_ATTRS = ("val", "value", "data", "key")
_TREE_LINKS = (("left", "right"), ("left_child", "right_child"))
_LIST_LINKS = ("next", "next_node")


def _shape_of(obj: Any) -> dict[str, str] | None:
    """The node shape of a solution-defined object (tree or linked list), or None."""
    cls = type(obj)
    if cls.__module__ != "solution":
        return None
    try:
        keys = set(vars(obj))
    except TypeError:
        return None
    for val in _VALUE_ATTRS:
        if val not in keys:
            continue
        for left, right in _TREE_LINKS:
            if keys == {val, left, right}:
                return {"kind": "tree", "cls": cls.__name__, "val": val, "left": left, "right": right}
        for nxt in _LIST_LINKS:
            if keys == {val, nxt}:
                return {"kind": "list", "cls": cls.__name__, "val": val, "next": nxt}
    return None


def _flatten(obj: Any, shape: dict[str, str]) -> list[Any]:
    """A tree as its level-order list, a linked list as its values; ValueError for cycles/mixed nodes."""
    links = (shape["left"], shape["right"]) if shape["kind"] == "tree" else (shape["next"],)
    keys = {shape["val"], *links}
    seen: set[int] = set()
    out: list[Any] = []
    queue = [obj]
    while queue:
        node = queue.pop(0)
        if node is None:
            if shape["kind"] == "tree":
                out.append(None)
            continue
        if type(node).__name__ != shape["cls"] or set(vars(node)) != keys:
            raise ValueError(f"a {shape['cls']} structure mixed with other objects")
        if id(node) in seen:
            raise ValueError(f"a cyclic or shared {shape['cls']} structure")
        seen.add(id(node))
        out.append(getattr(node, shape["val"]))
        queue.extend(getattr(node, link) for link in links)
    while out and out[-1] is None:
        out.pop()
    return out


def _encode_shaped(value: Any, limit: int, what: str) -> tuple[bool, Any, dict[str, str] | None]:
    """Like :func:`_encode`, but a tree / linked list of the solution's node class becomes a list."""
    ok, wire = _encode(value, limit, what)
    if ok:
        return True, wire, None
    shape = _shape_of(value)
    if shape is None:
        return False, wire, None
    try:
        flat = _flatten(value, shape)
    except ValueError as exc:
        return False, f"{what} holds {exc}", None
    ok, wire = _encode(flat, limit, what)
    return ok, wire, shape if ok else None


def _bind(
    sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any] | str:
    if sig is None:
        return "the target's signature cannot be read"
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        return f"a call does not match the signature ({exc})"
    bound.apply_defaults()
    return dict(bound.arguments)


def _signature(fn: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _params(sig: inspect.Signature | None, skip_first: bool = False) -> list[dict[str, Any]]:
    if sig is None:
        return []
    params = list(sig.parameters.values())
    if skip_first and params:
        params = params[1:]
    return [
        {"name": p.name, "kind": p.kind.name, "has_default": p.default is not inspect.Parameter.empty}
        for p in params
    ]


# --------------------------------------------------------------------------- function targets


class _FunctionRecorder:
    def __init__(self, fn: Any, book: _Book) -> None:
        self.fn = fn
        self.book = book
        self.sig = _signature(fn)
        self.depth = 0
        self.pending: list[tuple[dict[str, Any], bool, Any, dict[str, Any], list[str]]] = []
        self.shapes: dict[str, dict[str, str]] = {}

    def wrapper(self) -> Any:
        rec = self
        fn = self.fn

        def recording(*args: Any, **kwargs: Any) -> Any:
            if rec.depth:
                return fn(*args, **kwargs)
            rec.book.total += 1
            bound = _bind(rec.sig, args, kwargs)
            before: dict[str, Any] = {}
            problem = bound if isinstance(bound, str) else None
            if isinstance(bound, dict):
                for name, value in bound.items():
                    ok, wire, shape = _encode_shaped(value, rec.book.max_value_chars, f"argument {name!r}")
                    if ok and shape is not None:
                        ok, wire = rec.note_shape(name, shape, wire)
                    if not ok:
                        problem = wire
                        break
                    before[name] = wire
            rec.depth += 1
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                rec.book.drop(f"the reference raised {type(exc).__name__}")
                raise
            finally:
                rec.depth -= 1
            if problem is not None:
                rec.book.drop(problem)
            elif isinstance(bound, dict):
                rec.keep(bound, before, result)
            return result

        return functools.update_wrapper(recording, fn)

    def note_shape(self, name: str, shape: dict[str, str], wire: Any) -> tuple[bool, Any]:
        """Remember that ``name`` (a parameter, or "return") holds node structures of ``shape``."""
        known = self.shapes.setdefault(name, shape)
        if known != shape:
            where = "the output" if name == "return" else f"argument {name!r}"
            return False, f"{where} holds different node classes ({known['cls']}, {shape['cls']})"
        return True, wire

    def keep(self, bound: dict[str, Any], before: dict[str, Any], result: Any) -> None:
        """Hold the call until :meth:`finish` knows whether the target works in place."""
        limit = self.book.max_value_chars
        after: dict[str, Any] = {}
        changed: list[str] = []
        for name, value in bound.items():
            ok, wire, _shape = _encode_shaped(value, limit, f"argument {name!r}")
            after[name] = wire if ok else None
            if not ok or _cv.canonical_json(wire) != _cv.canonical_json(before[name]):
                changed.append(name)
        ok, out, shape = _encode_shaped(result, limit, "the output")
        if ok and shape is not None:
            ok, out = self.note_shape("return", shape, out)
        if not ok:
            self.book.drop(str(out))
            return
        self.pending.append((before, result is None, out, after, changed))

    def finish(self) -> None:
        """In place when every call returned None and the calls changed one and the same argument.

        Then that argument's value after the call is the expected output of every call (an
        already-sorted list is left unchanged, but its answer is still the list).
        """
        changed = {name for entry in self.pending for name in entry[4]}
        in_place = len(changed) == 1 and all(entry[1] for entry in self.pending)
        if all(entry[1] for entry in self.pending) and len(changed) > 1:
            self.book.drop("in-place function changed several arguments", len(self.pending))
            return
        name = next(iter(changed)) if in_place else None
        for before, _none, out, after, _changed in self.pending:
            if name is None:
                self.book.add(before, out)
            elif after[name] is None:
                self.book.drop(f"argument {name!r} has no JSON form after the call")
            else:
                self.book.add(before, after[name], name)


# --------------------------------------------------------------------------- class targets


class _Sequence:
    def __init__(self) -> None:
        self.ops: list[str] = []
        self.args: list[list[Any]] = []
        self.results: list[Any] = []
        self.ready = False
        self.closed: str | None = None

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason


def _public_methods(cls: type) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass is object or klass.__module__ != cls.__module__:
            continue
        for name, attr in vars(klass).items():
            if not name.startswith("_") and isinstance(attr, types.FunctionType) and name not in methods:
                methods[name] = attr
    return methods


class _ClassRecorder:
    def __init__(self, cls: Any, book: _Book) -> None:
        self.cls: Any = cls
        self.book = book
        self.depth = 0
        self.seqs: dict[int, _Sequence] = {}
        self.order: list[_Sequence] = []
        self.objects: list[Any] = []  # keeps ids unique while recording
        self.methods = _public_methods(cls)
        self.init_sig = _signature(cls.__init__)
        self.state_issues: dict[str, int] = {}

    def bind_list(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> list[Any] | str:
        sig = _signature(fn)
        if sig is None:
            return f"{what}: signature cannot be read"
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
            return f"{what} takes *args/**kwargs"
        try:
            bound = sig.bind(None, *args, **kwargs)
        except TypeError as exc:
            return f"{what}: call does not match the signature ({exc})"
        bound.apply_defaults()
        values = list(bound.arguments.values())[1:]
        out = []
        for value in values:
            ok, wire = _encode(value, self.book.max_value_chars, f"an argument of {what}")
            if not ok:
                return str(wire)
            out.append(wire)
        return out

    def check_state(self, obj: Any) -> None:
        try:
            _cv.encode(_st.pack_state(dict(vars(obj))))
        except _cv.UnsupportedValue as exc:
            reason = f"the object's state holds a {exc.type_name} at {exc.path.replace('$', 'self', 1)}"
            self.state_issues[reason] = self.state_issues.get(reason, 0) + 1
        except (ValueError, TypeError, RecursionError) as exc:
            reason = f"the object's state cannot be stored: {exc}"
            self.state_issues[reason] = self.state_issues.get(reason, 0) + 1

    def make_class(self) -> type:
        rec = self
        cls: Any = self.cls

        def __init__(self_: Any, *args: Any, **kwargs: Any) -> None:
            if rec.depth:
                cls.__init__(self_, *args, **kwargs)
                return
            rec.book.total += 1
            seq = _Sequence()
            rec.seqs[id(self_)] = seq
            rec.order.append(seq)
            rec.objects.append(self_)
            bound = rec.bind_list(cls.__init__, args, kwargs, "the constructor")
            rec.depth += 1
            try:
                cls.__init__(self_, *args, **kwargs)
            except BaseException as exc:
                seq.close(f"the constructor raised {type(exc).__name__}")
                raise
            finally:
                rec.depth -= 1
            if isinstance(bound, str):
                seq.close(bound)
            else:
                seq.ops.append(cls.__name__)
                seq.args.append(bound)
                seq.results.append(None)
                rec.check_state(self_)
            seq.ready = True

        def __setattr__(self_: Any, key: str, value: Any) -> None:
            if not rec.depth:
                seq = rec.seqs.get(id(self_))
                if seq is not None and seq.ready:
                    seq.close("the test set an attribute of the object directly")
            cls.__setattr__(self_, key, value)

        namespace: dict[str, Any] = {
            "__init__": __init__,
            "__setattr__": __setattr__,
            "__module__": cls.__module__,
        }
        for name, fn in self.methods.items():
            namespace[name] = self._method(name, fn)
        recording = type(cls.__name__, (cls,), namespace)
        recording.__qualname__ = cls.__qualname__
        recording.__doc__ = cls.__doc__
        return recording

    def _method(self, name: str, fn: Any) -> Any:
        rec = self

        def method(self_: Any, *args: Any, **kwargs: Any) -> Any:
            seq = rec.seqs.get(id(self_))
            if rec.depth or seq is None or seq.closed is not None or not seq.ready:
                return fn(self_, *args, **kwargs)
            bound = rec.bind_list(fn, args, kwargs, f"method {name}")
            rec.depth += 1
            try:
                result = fn(self_, *args, **kwargs)
            except BaseException as exc:
                seq.close(f"method {name} raised {type(exc).__name__}")
                raise
            finally:
                rec.depth -= 1
            if isinstance(bound, str):
                seq.close(bound)
                return result
            ok, wire = _encode(result, rec.book.max_value_chars, f"the result of {name}")
            if not ok:
                seq.close(str(wire))
                return result
            seq.ops.append(name)
            seq.args.append(bound)
            seq.results.append(wire)
            rec.check_state(self_)
            return result

        return functools.update_wrapper(method, fn)

    def finish(self) -> None:
        for seq in self.order:
            if len(seq.ops) < 2:
                self.book.drop(seq.closed or "object never used after construction")
                continue
            if seq.closed is not None:
                self.book.drop(f"sequence cut short: {seq.closed}")
            self.book.add({"operations": seq.ops, "arguments": seq.args}, seq.results)


# --------------------------------------------------------------------------- entry points


class _Discard(io.TextIOBase):
    """A text sink that forgets what the code prints (``capsys`` swaps in its own buffer)."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        return len(s)


def _load_solution(source: str) -> types.ModuleType:
    module = types.ModuleType("solution")
    module.__file__ = "solution.py"
    sys.modules["solution"] = module
    exec(compile(source, "solution.py", "exec"), module.__dict__)
    return module


def _facing_module(real: types.ModuleType, target: str, replacement: Any) -> types.ModuleType:
    facing = types.ModuleType("solution")
    facing.__dict__.update(real.__dict__)
    setattr(facing, target, replacement)
    return facing


def record(request: str) -> str:
    """Run the tests of one problem against a recording wrapper of its target; JSON in, JSON out.

    Request: ``{"solution", "tests", "test_style": "humaneval"|"pytest", "target", "kind":
    "function"|"class", "seed", "per_test_seconds", "budget_seconds", "max_instances",
    "max_value_chars", "max_total_chars"}``.
    Reply: ``{"ok": true, "kind", "target", "params", "methods", "calls": [{"input", "expected",
    "in_place"}], "total_calls", "dropped": {reason: n}, "state_issues": {reason: n}, "tests":
    {...}}`` or ``{"ok": false, "error": "..."}`` when the solution or the tests do not load.
    """
    req = json.loads(request)
    book = _Book(req)
    seed = int(req.get("seed", 0))
    target = str(req["target"])
    kind = str(req.get("kind", "function"))
    saved_modules = {name: sys.modules.get(name) for name in ("solution", "test_solution")}
    streams = (sys.stdout, sys.stderr)
    sys.stdout = sys.stderr = _Discard()  # tests may print a lot; that is no reason to fail them
    try:
        random.seed(seed)
        try:
            with _run.time_slice(float(req.get("budget_seconds", 8.0)) / 2):
                real = _load_solution(str(req["solution"]))
        except BaseException as exc:
            return json.dumps(
                {
                    "ok": False,
                    "error": f"the solution does not load: {type(exc).__name__}: {_run.safe_str(exc)}",
                }
            )
        original = getattr(real, target, None)
        reply: dict[str, Any] = {"ok": True, "kind": kind, "target": target, "methods": {}}
        recorder: _FunctionRecorder | _ClassRecorder
        if kind == "class":
            if not inspect.isclass(original):
                return json.dumps({"ok": False, "error": f"the solution defines no class {target!r}"})
            recorder = _ClassRecorder(original, book)
            replacement: Any = recorder.make_class()
            reply["params"] = _params(recorder.init_sig, skip_first=True)
            reply["methods"] = {
                n: _params(_signature(f), skip_first=True) for n, f in recorder.methods.items()
            }
            if hasattr(original, "__slots__"):
                recorder.state_issues["the class uses __slots__ (no __dict__ to store)"] = 1
        else:
            if not callable(original):
                return json.dumps({"ok": False, "error": f"the solution defines no function {target!r}"})
            recorder = _FunctionRecorder(original, book)
            replacement = recorder.wrapper()
            reply["params"] = _params(recorder.sig)
        facing = _facing_module(real, target, replacement)
        outcome = _run.Outcome(float(req.get("per_test_seconds", 2.0)), float(req.get("budget_seconds", 8.0)))
        if req.get("test_style") == "humaneval":
            namespace = dict(facing.__dict__)
            namespace["__name__"] = "__codegym_tests__"
            code = compile(str(req["tests"]), "tests.py", "exec")
            outcome.per_test = outcome.deadline - time.monotonic()
            _run.timed(outcome, seed, "check", lambda: exec(code, namespace))
        else:
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
        recorder.finish()
        reply["state_issues"] = recorder.state_issues if isinstance(recorder, _ClassRecorder) else {}
        reply["shapes"] = recorder.shapes if isinstance(recorder, _FunctionRecorder) else {}
        reply["calls"] = book.finish()
        reply["total_calls"] = book.total
        reply["dropped"] = book.dropped
        reply["tests"] = outcome.as_dict()
        return json.dumps(reply, ensure_ascii=False, separators=(",", ":"))
    finally:
        sys.stdout, sys.stderr = streams
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


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
    results: list[Any] = [None]
    obj = cls(*_cv.decode(arguments[0]))
    for op, args in zip(ops[1:], arguments[1:], strict=False):
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
    saved = sys.modules.get("solution")
    streams = (sys.stdout, sys.stderr)
    sys.stdout = sys.stderr = _Discard()
    try:
        random.seed(seed)
        try:
            with _run.time_slice(float(req.get("budget_seconds", 8.0)) / 2):
                real = _load_solution(str(req["solution"]))
        except BaseException as exc:
            return json.dumps(
                {
                    "ok": False,
                    "error": f"the solution does not load: {type(exc).__name__}: {_run.safe_str(exc)}",
                }
            )
        target = getattr(real, str(req["target"]), None)
        if target is None:
            return json.dumps({"ok": False, "error": f"the solution defines no {req['target']!r}"})
        kind = req.get("kind", "function")
        in_place = req.get("in_place")
        sig = _signature(target)
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
    finally:
        sys.stdout, sys.stderr = streams
        if saved is None:
            sys.modules.pop("solution", None)
        else:
            sys.modules["solution"] = saved
