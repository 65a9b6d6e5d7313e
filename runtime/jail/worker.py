"""The worker loop that runs inside the jail: standard library only, Python 3.11 compatible.

The host starts ``python3 -I -S -c <boot.py>``; boot installs this package (as ``codegym_jail``)
from the first request and calls :func:`main`, which talks JSON lines over the process's
stdin/stdout. The first thing it does is move the protocol onto private file descriptors and
point fds 0, 1 and 2 at ``/dev/null``: nothing the code writes to the real stdout can corrupt
the protocol, and ``sys.stdout``/``sys.stderr`` become capped in-memory sinks.

Requests (one JSON object a line)::

    {"op": "init", "package": {module: source}, "cpu_seconds": int, "max_output": int,
     "recursion_limit": int, "rlimits": {"as_mb": int | null}}
    {"op": "load", "name": str, "source": str}
    {"op": "unload", "name": str}
    {"op": "call", "module": str, "function": str, "args": [wire], "kwargs": {str: wire}}
    {"op": "ping"}

Replies: ``{"ok": true, "result": wire}`` or ``{"ok": false, "kind": "exception" | "output" |
"memory", "exc_type": str, "message": str, "traceback": str}``. The first reply, to ``init``,
is ``{"ok": true, "result": {"pid": int, "python": str}}``.

A ``call`` names a loaded module, or a module of this package (``codegym_jail.record``,
``codegym_jail.oracle``...), imported on its first call under the call's limits. Loaded code
can import the package's modules too (``from codegym_jail import values``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import linecache
import os
import sys
import threading
import time
import traceback
import types
from typing import Any, BinaryIO

from . import values as _values
from .process import be_init, exit_when_host_goes, read_int

try:
    import resource
except ImportError:  # pragma: no cover - every Linux python has it
    resource = None  # type: ignore[assignment]


ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""The protocol's JSON settings, on both sides (the host's runtime/_protocol.py uses it too)."""
_SELF = __file__  # codegym_jail/worker.py in a worker (boot.py sets it)
_SELF_ENCODED = frozenset((str, int, bool))  # exact types that values.encode returns as they are
_PACKAGE = __name__.rpartition(".")[0]  # codegym_jail in a worker
_QUIET_FOR = 100e-6  # reap(): longest gap between two last-pid readings that can skip kill(-1)
_QUIET_PID_MAX = 32768  # reap(): the shortcut needs this many pids to wrap around


def c_encoder() -> tuple[Any, dict[int, Any]] | None:
    """``ENCODER``'s own C encoder, built once, and its circular-reference markers (None without
    the C module). ``JSONEncoder.encode`` builds a new one (and a closure) on every call; this one
    has the same settings, so the output is the same. It leaves its markers behind when it
    raises: the caller clears them then, or a later object with a recycled id would read as
    circular. The worker's replies and the host's requests are encoded with it.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has _json
        return None
    e = ENCODER
    markers: dict[int, Any] = {}
    encoder = make(
        markers,
        e.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,
        e.key_separator,
        e.item_separator,
        e.sort_keys,
        e.skipkeys,
        e.allow_nan,
    )
    return encoder, markers


def _make_dumps() -> Any:
    """``ENCODER.encode`` for the protocol's dicts, without its per-call set-up (see :func:`c_encoder`)."""
    built = c_encoder()
    if built is None:  # pragma: no cover - CPython always has _json
        return ENCODER.encode
    encoder, markers = built

    def dumps(obj: Any) -> str:
        try:
            return "".join(encoder(obj, 0))
        except BaseException:
            markers.clear()
            raise

    return dumps


_dumps = _make_dumps()
_scan = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 - what json.loads uses, minus 2 regexes


def _loads(line: bytes) -> Any:
    """``json.loads(line)`` for one request line (ending in a newline), fast when it is plain.

    A line that is valid UTF-8 holding one JSON value followed by just the newline parses to
    the same value either way; anything else (other encodings, a BOM, whitespace, trailing
    data, errors) goes through ``json.loads`` itself, so errors and edge cases are unchanged.
    """
    try:
        text = line.decode("utf-8")
        value, end = _scan(text, 0)
    except Exception:
        return json.loads(line)
    if end != len(text) - 1 or text[end] != "\n":
        return json.loads(line)
    return value


class _OutputLimit(BaseException):
    """Raised out of ``print`` when a call printed more than its cap (not an Exception)."""


class _CappedSink(io.TextIOBase):
    """A text sink for sys.stdout/sys.stderr that counts and stops the call at the cap."""

    def __init__(self) -> None:
        super().__init__()
        self.cap = 1 << 20
        self.written = 0
        self.over = False

    def reset(self, cap: int) -> None:
        self.cap = cap
        self.written = 0
        self.over = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.written += len(s)
        if self.written > self.cap:
            self.over = True
            raise _OutputLimit()
        return len(s)


class _Worker:
    def __init__(self, proto_in: BinaryIO, proto_out: int) -> None:
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.modules: dict[str, types.ModuleType] = {}
        self.sink = _CappedSink()
        self.cpu_seconds = 5
        self.max_output = 1 << 20
        self.recursion_limit = 1000
        self.pid = os.getpid()
        self.jailed = False
        self.cpu_armed_at = -1
        self.forked_child = False
        self.last_pid_fd = -1  # /proc/sys/kernel/ns_last_pid: -1 not opened yet, -2 given up
        self.pid_max = 0  # of this pid namespace, read with it (0: unknown, no shortcut in reap)
        self.quiet_mark = -1  # the namespace's last pid when it was last seen empty, or -1
        self.quiet_since = 0.0  # time.monotonic() just before that reading
        os.register_at_fork(after_in_child=self.after_fork_in_child)

    def send(self, reply: dict[str, Any]) -> None:
        data = (_dumps(reply) + "\n").encode("utf-8")
        sent = os.write(self.proto_out, data)
        if sent != len(data):
            self.send_rest(data, sent)

    def send_rest(self, data: bytes, sent: int) -> None:
        """Write what the first write of ``data`` left (``sent`` bytes went)."""
        view = memoryview(data)[sent:]
        while view:
            view = view[os.write(self.proto_out, view) :]

    def failure(self, kind: str, exc: BaseException) -> dict[str, Any]:
        frames = exc.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename == _SELF:
            frames = frames.tb_next  # drop the worker's own frames: show the code's
        tb = "".join(traceback.format_exception(type(exc), exc, frames))
        if len(tb) > 20000:
            tb = tb[:10000] + "\n...\n" + tb[-10000:]
        message = _safe_str(exc)
        if len(message) > 4000:
            message = message[:4000] + "..."
        return {
            "ok": False,
            "kind": kind,
            "exc_type": type(exc).__name__,
            "message": message,
            "traceback": tb,
        }

    def init(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.cpu_seconds = int(msg.get("cpu_seconds", 5))
        self.max_output = int(msg.get("max_output", 1 << 20))
        self.recursion_limit = int(msg.get("recursion_limit", 1000))
        rl = msg.get("rlimits") or {}
        if resource is not None:
            as_mb = rl.get("as_mb")
            if as_mb:
                limit = int(as_mb) * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        return {"ok": True, "result": {"pid": os.getpid(), "python": sys.version.split()[0]}}

    def load(self, msg: dict[str, Any]) -> dict[str, Any]:
        name = str(msg["name"])
        source = str(msg["source"])
        filename = "<" + name + ">"
        module = types.ModuleType(name)
        module.__file__ = filename
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        sys.modules[name] = module
        try:
            self._run(lambda: exec(compile(source, filename, "exec"), module.__dict__), (), {})
        except BaseException:
            sys.modules.pop(name, None)
            raise
        self.modules[name] = module
        return {"ok": True, "result": None}

    def import_own(self, name: str) -> types.ModuleType:
        """Module ``name`` of this package (``codegym_jail.record``...), imported under the call limits.

        Raises:
            LookupError: ``name`` is neither loaded nor a module of this package.
        """
        if not name.startswith(_PACKAGE + "."):
            raise LookupError("module " + repr(name) + " is not loaded in this worker: load it first")
        module: types.ModuleType = self._run(importlib.import_module, (name,), {})
        self.modules[name] = module
        return module

    def unload(self, msg: dict[str, Any]) -> dict[str, Any]:
        name = str(msg["name"])
        self.modules.pop(name, None)
        sys.modules.pop(name, None)
        linecache.cache.pop("<" + name + ">", None)
        return {"ok": True, "result": None}

    def call(self, msg: dict[str, Any], plain: bool = False) -> dict[str, Any]:
        """Call a loaded function; ``plain``: the request holds no tagged wire value ("$" keys).

        The shortcuts rest on the wire codec (values.py): ``decode`` changes nothing
        but "$"-tagged dicts (a new kind of tag must start with "$" too), and ``encode`` returns
        None, str, int and bool as they are. If either changes, drop the shortcut.
        """
        name = str(msg["module"])
        module = self.modules.get(name)
        if module is None:
            module = self.import_own(name)
        fn = getattr(module, str(msg["function"]))
        decode = _values.decode
        raw = msg.get("args")
        if not raw:
            args = []
        elif plain and type(raw) is list:
            args = raw  # decode() of untagged JSON is a deep copy of it: json's objects will do
        else:
            args = list(map(decode, raw))
        raw = msg.get("kwargs")
        if not raw:
            kwargs = {}
        elif plain and type(raw) is dict:
            kwargs = raw  # str keys already (JSON object keys)
        else:
            kwargs = {str(k): decode(v) for k, v in raw.items()}
        result = self._run(fn, args, kwargs)
        if result is None or type(result) in _SELF_ENCODED:
            return {"ok": True, "result": result}  # what encode() gives back for these
        return {"ok": True, "result": _values.encode(result)}

    def _run(self, fn: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        """Run ``fn(*args, **kwargs)`` with capped stdout/stderr, a fresh CPU budget and the recursion limit."""
        sink = self.sink
        sink.reset(self.max_output)
        sys.stdout = sink
        sys.stderr = sink
        sys.setrecursionlimit(self.recursion_limit)
        if resource is not None and int(time.process_time()) + 1 != self.cpu_armed_at:
            self.arm_cpu_limit()  # the whole seconds spent moved (see arm_cpu_limit)
        try:
            return fn(*args, **kwargs) if kwargs else fn(*args)
        finally:
            if self.forked_child:
                os._exit(0)  # a child the code forked must never reach the protocol loop
            sys.stdout = self.sink
            sys.stderr = self.sink
            sys.setrecursionlimit(max(self.recursion_limit, 1000))
            self.reap()

    def arm_cpu_limit(self) -> None:
        """Give the call ``cpu_seconds`` more CPU time (RLIMIT_CPU is per process, cumulative).

        The soft limit only moves when the whole seconds spent so far changed: one clock read per
        call, a setrlimit now and then. ``time.process_time()`` is the process's user + system
        CPU time (all threads), the sum ``getrusage(RUSAGE_SELF)`` reports and RLIMIT_CPU counts,
        without building a 16-field rusage object on every call.
        """
        spent = int(time.process_time()) + 1
        if spent == self.cpu_armed_at:
            return
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = spent + self.cpu_seconds
        if hard != resource.RLIM_INFINITY and soft > hard:
            soft = hard
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        self.cpu_armed_at = spent

    def reap(self) -> None:
        """Kill whatever the call left running in the jail's pid namespace, and wait until it is gone.

        The worker is pid 2; kill(-1) reaches every process but init (pid 1) and itself. Orphans
        are init's to reap, so wait (bounded) until kill(-1, 0) finds nobody, zombies included:
        the next call then starts with the full pids budget.
        """
        if not self.jailed:
            return  # not in a pid namespace (isolation "none"): kill(-1) would hit the host
        # kill(-1) walks every task on the host (1-2 us in the jail). Skip it when no task can
        # have started in this pid namespace since it was last seen empty: every new process
        # or thread takes a pid here, which moves the namespace's last-pid counter, and the
        # counter only comes back to a value by wrapping around pid_max. That takes >= 32k
        # pid allocations (pid_max >= 32768), each under one kernel-wide lock: not within
        # _QUIET_FOR (100 us, 3 ns each). Nothing in the jail can set the counter (it needs
        # CAP_CHECKPOINT_RESTORE over the namespace and a writable /proc). Any doubt (counter
        # moved, slow call, unreadable) takes the full path below.
        before = time.monotonic()
        mark = self.last_pid()
        if mark >= 0 and mark == self.quiet_mark and time.monotonic() - self.quiet_since < _QUIET_FOR:
            self.quiet_since = before  # still empty at this reading
            return
        self.quiet_mark = -1
        try:
            os.kill(-1, 9)
        except ProcessLookupError:
            # the common case: nothing else runs. Empty now, and the counter was read before.
            if mark >= 0 and self.pid_max >= _QUIET_PID_MAX:
                self.quiet_mark = mark
                self.quiet_since = before
            return
        except OSError:
            pass
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            try:
                os.kill(-1, 0)
            except ProcessLookupError:
                return
            except OSError:
                pass
            time.sleep(0.0005)

    def last_pid(self) -> int:
        """The last pid allocated in this pid namespace (``ns_last_pid``), or -1 when unreadable.

        Once a reading fails (say the code closed or replaced the fd), it stays -1: every
        later reap() then takes the full path, as it did before this shortcut existed.
        """
        fd = self.last_pid_fd
        if fd == -2:
            return -1
        try:
            if fd < 0:
                self.pid_max = read_int("/proc/sys/kernel/pid_max")
                fd = self.last_pid_fd = os.open("/proc/sys/kernel/ns_last_pid", os.O_RDONLY)
            return int(os.pread(fd, 32, 0))
        except (OSError, ValueError):
            self.last_pid_fd = -2  # never close it: the number may be the code's file by now
            return -1

    def after_fork_in_child(self) -> None:
        self.forked_child = True
        for fd in (self.proto_in.fileno(), self.proto_out):
            with contextlib.suppress(OSError):
                os.close(fd)

    def handle(self, msg: dict[str, Any], plain: bool = False) -> dict[str, Any]:
        op = msg.get("op")
        try:
            if op == "call":
                return self.call(msg, plain)
            if op == "load":
                return self.load(msg)
            if op == "unload":
                return self.unload(msg)
            if op == "ping":
                return {"ok": True, "result": None}
            if op == "init":
                return self.init(msg)
            raise ValueError("unknown op " + repr(op))
        except _OutputLimit as exc:
            return self.failure("output", exc)
        except MemoryError as exc:
            return self.failure("memory", exc)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the code's doing
            if self.sink.over:
                return self.failure("output", exc)
            return self.failure("exception", exc)

    def serve(self) -> None:
        while True:
            line = self.proto_in.readline()
            if not line:
                return
            try:
                msg = _loads(line)
            except ValueError as exc:
                self.send(self.failure("exception", exc))
                continue
            # No "$" in the line (nor a \u escape that could spell one): no tagged value in
            # it, and the wire codec's decode() would only copy what json made fresh.
            reply = self.handle(msg, b"$" not in line and b"\\u" not in line)
            if reply.get("ok") and self.sink.over:
                reply = {
                    "ok": False,
                    "kind": "output",
                    "exc_type": "OutputLimit",
                    "message": "",
                    "traceback": "",
                }
            try:
                data = (_dumps(reply) + "\n").encode("utf-8")  # send(), inline
                sent = os.write(self.proto_out, data)
                if sent != len(data):
                    self.send_rest(data, sent)
            except (TypeError, ValueError) as exc:
                self.send(self.failure("exception", exc))


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable " + type(exc).__name__ + ">"


def main(requests: BinaryIO, init: dict[str, Any]) -> None:
    """Serve the protocol: ``requests`` is the worker's buffered stdin, ``init`` its first request (read by boot).

    In a fresh pid namespace the process forks first: the parent stays pid 1 as a reaper
    (:func:`~.process.be_init`) and the child serves.
    """
    jailed = be_init()
    proto_out = os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    worker = _Worker(requests, proto_out)
    worker.jailed = jailed
    threading.Thread(target=exit_when_host_goes, args=(requests.fileno(),), daemon=True).start()
    sys.stdin = io.StringIO("")
    sys.stdout = worker.sink
    sys.stderr = worker.sink
    worker.send(worker.handle(init))
    worker.serve()
