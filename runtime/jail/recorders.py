"""The recording wrappers of a problem's target, INSIDE the sandbox worker.

Standard library only and Python 3.11 compatible (the in-jail package): built on ``book`` and
``state``; ``record`` drives it.

- :class:`FunctionRecorder` wraps a function: each outermost call becomes one instance (the
  bound arguments and the return value, or the one argument an in-place function changed).
- :class:`ClassRecorder` subclasses a class: each object becomes one instance in LeetCode's
  design format (the constructor and method calls, with their results).
"""

from __future__ import annotations

import functools
import types
from typing import Any

from . import book as _bk
from . import state as _st
from . import values as _cv

__all__ = ["ClassRecorder", "FunctionRecorder"]


# --------------------------------------------------------------------------- function targets


class FunctionRecorder:
    """Records the outermost calls of a function target into ``book`` (nested calls pass through)."""

    def __init__(self, fn: Any, book: _bk.Book) -> None:
        self.fn = fn
        self.book = book
        self.sig = _bk.signature_of(fn)
        self.depth = 0
        self.pending: list[tuple[dict[str, Any], bool, Any, dict[str, Any], list[str]]] = []
        self.shapes: dict[str, dict[str, str]] = {}

    def wrapper(self) -> Any:
        """The function the tests call instead of the target: records the call, then calls it."""
        rec = self
        fn = self.fn

        def recording(*args: Any, **kwargs: Any) -> Any:
            if rec.depth:
                return fn(*args, **kwargs)
            rec.book.total += 1
            bound = _bk.bind_call(rec.sig, args, kwargs)
            before: dict[str, Any] = {}
            problem = bound if isinstance(bound, str) else None
            if isinstance(bound, dict):
                for name, value in bound.items():
                    ok, wire, shape = _bk.encode_shaped(value, rec.book.max_value_chars, f"argument {name!r}")
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
            ok, wire, _shape = _bk.encode_shaped(value, limit, f"argument {name!r}")
            after[name] = wire if ok else None
            if not ok or _cv.canonical_json(wire) != _cv.canonical_json(before[name]):
                changed.append(name)
        ok, out, shape = _bk.encode_shaped(result, limit, "the output")
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
    """One object's operations so far; ``closed`` says why recording it stopped early."""

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


class ClassRecorder:
    """Records each object of a class target as one operation sequence (LeetCode's design format)."""

    def __init__(self, cls: Any, book: _bk.Book) -> None:
        self.cls: Any = cls
        self.book = book
        self.depth = 0
        self.seqs: dict[int, _Sequence] = {}
        self.order: list[_Sequence] = []
        self.objects: list[Any] = []  # keeps ids unique while recording
        self.methods = _public_methods(cls)
        self.init_sig = _bk.signature_of(cls.__init__)
        self.state_issues: dict[str, int] = {}

    def bind_list(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> list[Any] | str:
        """A method call's arguments as wire values in parameter order, or why they cannot be."""
        sig = _bk.signature_of(fn)
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
            ok, wire = _bk.encode_value(value, self.book.max_value_chars, f"an argument of {what}")
            if not ok:
                return str(wire)
            out.append(wire)
        return out

    def check_state(self, obj: Any) -> None:
        """Count a reason in ``state_issues`` when the object's ``__dict__`` has no wire form."""
        try:
            _cv.encode(_st.pack_state(dict(vars(obj))))
        except _cv.UnsupportedValue as exc:
            reason = f"the object's state holds a {exc.type_name} at {exc.path.replace('$', 'self', 1)}"
        except (ValueError, TypeError, RecursionError) as exc:
            reason = f"the object's state cannot be stored: {exc}"
        else:
            return
        self.state_issues[reason] = self.state_issues.get(reason, 0) + 1

    def unrecorded(self, seq: _Sequence, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with recording off; if it raises, ``seq`` is cut short there."""
        self.depth += 1
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            seq.close(f"{what} raised {type(exc).__name__}")
            raise
        finally:
            self.depth -= 1

    def add_step(self, seq: _Sequence, obj: Any, op: str, args: list[Any], wire_result: Any) -> None:
        """Append one operation to the object's sequence and check that its state stays storable."""
        seq.ops.append(op)
        seq.args.append(args)
        seq.results.append(wire_result)
        self.check_state(obj)

    def make_class(self) -> type:
        """The subclass the tests use instead of the target: records construction and public methods."""
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
            rec.unrecorded(seq, "the constructor", cls.__init__, self_, *args, **kwargs)
            if isinstance(bound, str):
                seq.close(bound)
            else:
                rec.add_step(seq, self_, cls.__name__, bound, None)
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
            result = rec.unrecorded(seq, f"method {name}", fn, self_, *args, **kwargs)
            if isinstance(bound, str):
                seq.close(bound)
                return result
            ok, wire = _bk.encode_value(result, rec.book.max_value_chars, f"the result of {name}")
            if not ok:
                seq.close(str(wire))
                return result
            rec.add_step(seq, self_, name, bound, wire)
            return result

        return functools.update_wrapper(method, fn)

    def finish(self) -> None:
        """Hand every object's sequence to the book (an object never used after construction is dropped)."""
        for seq in self.order:
            if len(seq.ops) < 2:
                self.book.drop(seq.closed or "object never used after construction")
                continue
            if seq.closed is not None:
                self.book.drop(f"sequence cut short: {seq.closed}")
            self.book.add({"operations": seq.ops, "arguments": seq.args}, seq.results)
