"""A sandbox worker: one long-lived python process (jailed by nsjail, or not), JSON lines.

Sync methods (``load``/``call``) for threads and worker processes (the generator), ``a*``
methods (``aload``/``acall``) that wait on the pipes in an anyio event loop (the pool).

The host keeps every limit that matters to it in its own hands: the wall-clock deadline of a
call (a poll timer), the size of a reply, and the classification of a death (exit status and
who pulled the trigger). nsjail's own result flags are not trusted (see SANDBOX.md).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread

from ._config import PYTHON_FLAGS, SandboxConfig, module_name_for
from ._errors import (
    CallTimeout,
    SandboxError,
    SandboxUnavailable,
    WorkerCrashed,
)
from ._nsjail import JailSetup, prepare_jail
from ._protocol import (
    READ_CHUNK,
    call_encoder,
    classify_exit,
    observation_source,
    parse_reply,
    reply_outcome,
    request_encoder,
    take_reply,
    tool_rules_source,
    values_source,
    worker_source,
)

__all__ = ["Worker"]

_STDERR_TAIL = 8192


class Worker:
    """One sandboxed python process that loads modules and calls their functions.

    Use it as a context manager (or call :meth:`close`). The process starts on first use.
    When a call ends in a :class:`SandboxError`, the process is killed; the next
    :meth:`load`/:meth:`call` starts a new one and re-loads the modules loaded so far, so
    callers do not need to track worker deaths. Thread-safe (one call at a time).

    Example::

        with Worker(SandboxConfig()) as w:
            w.load("m", "def add(a, b): return a + b")
            assert w.call("m", "add", args=[1, 2]) == 3
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config if config is not None else SandboxConfig()
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._jail: JailSetup | None = None
        self._buf = bytearray()
        self._stderr_tail = bytearray()
        self._poller: select.poll | None = None
        self._sources: dict[str, str] = {}
        self._closed = False
        self._doomed = False  # kill() was called from another thread: respawn on next use
        self._encode = request_encoder()  # this worker's own: its requests go one at a time
        self._encode_call = call_encoder()
        self.starts = 0
        self.worker_python = ""

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """True while the worker process runs."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The host pid of the worker process (nsjail's pid under nsjail), or None."""
        return None if self._proc is None else self._proc.pid

    @property
    def loaded(self) -> frozenset[str]:
        """Names of the modules loaded (and re-loaded after a restart) in this worker."""
        return frozenset(self._sources)

    def start(self) -> None:
        """Start the process if it is not running and re-load the remembered modules.

        Raises:
            SandboxUnavailable: nsjail (or the interpreter) cannot start here; the message has the fix.
            SandboxError: the worker died while starting or re-loading.
            CallFailed: a remembered module no longer loads (it did before).
        """
        with self._lock:
            if self._closed:
                raise WorkerCrashed("the worker was closed; create a new Worker")
            if self.alive and not self._doomed:
                return
            self._spawn()
            for name, source in list(self._sources.items()):
                self._request({"op": "load", "name": name, "source": source}, self.config.call_timeout)

    def _spawn(self) -> None:
        cfg = self.config
        self._kill()
        # PYTHONHASHSEED: see PYTHON_FLAGS.
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MALLOC_ARENA_MAX": "2",
            "HOME": "/tmp",
            "PYTHONHASHSEED": "0",
        }
        cwd: str | None = None
        if cfg.isolation == "nsjail":
            self._jail = prepare_jail(cfg)
            argv = [*self._jail.argv, cfg.python, *PYTHON_FLAGS, "-c", worker_source()]
            env = {}
        else:
            self._jail = None
            cwd = tempfile.gettempdir()
            argv = [cfg.python, *PYTHON_FLAGS, "-c", worker_source()]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                close_fds=True,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as exc:
            raise SandboxUnavailable(
                f"cannot start {argv[0]!r}: {exc}; run `codegym-mcp doctor` for the fix"
            ) from exc
        assert proc.stdout is not None and proc.stderr is not None
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
        self._proc = proc
        self._buf.clear()
        self._stderr_tail.clear()
        poller = select.poll()
        poller.register(proc.stdout.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        poller.register(proc.stderr.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        self._poller = poller
        self.starts += 1
        init = {
            "op": "init",
            "values_source": values_source(),
            "observation_source": observation_source(),
            "tool_rules_source": tool_rules_source(),
            "cpu_seconds": cfg.cpu_seconds,
            "max_output": cfg.max_output_bytes,
            "recursion_limit": cfg.recursion_limit,
            "rlimits": {"as_mb": cfg.address_space_mb if cfg.isolation == "none" else None},
        }
        try:
            info = self._request(init, cfg.start_timeout, starting=True)
        except SandboxError as exc:
            if cfg.isolation == "nsjail" and not isinstance(exc, SandboxUnavailable):
                raise SandboxUnavailable(
                    f"the jailed worker did not start ({exc}); nsjail said: {exc.detail.strip()[-600:]!r}. "
                    "Run `codegym-mcp doctor` for the fix",
                    detail=exc.detail,
                ) from exc
            raise
        self.worker_python = str(info.get("python", "")) if isinstance(info, dict) else ""

    def close(self) -> None:
        """Stop the worker process (SIGTERM to nsjail, so it removes its cgroups) and wait for it."""
        self.stop()  # before the lock: a call in flight in another thread ends now, no restart
        with self._lock:
            self._kill()

    def __del__(self) -> None:
        # A Worker dropped without close(): do not leave a jail running until the host exits.
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                self._closed = True
                self._kill()  # SIGTERM, wait, close the pipes

    def stop(self) -> None:
        """Kill the process now and refuse restarts (non-blocking; :meth:`close` still waits)."""
        self._closed = True
        self.kill()

    def reset(self) -> None:
        """Forget every loaded module and kill the process (non-blocking); next use starts fresh."""
        self._sources.clear()
        self.kill()

    def kill(self) -> None:
        """Kill the process now (from any thread); the next call starts a new one."""
        proc = self._proc
        self._doomed = True
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGKILL if self._jail is None else signal.SIGTERM)

    def _signal(self, proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self._jail is None:
                os.killpg(proc.pid, sig)  # the whole session: the code's children too
            else:
                proc.send_signal(sig)  # nsjail kills the jail's pid namespace and removes cgroups

    def _kill(self) -> None:
        proc = self._proc
        self._doomed = False
        if proc is None:
            return
        if proc.poll() is None:
            self._signal(proc, signal.SIGKILL if self._jail is None else signal.SIGTERM)
            try:
                proc.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=3.0)
        elif self._jail is None:
            self._signal(proc, signal.SIGKILL)  # reap stray children of a dead plain worker
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._proc = None
        self._poller = None
        self._jail = None

    # ----------------------------------------------------------------- calls

    def load(self, name: str, source: str, *, timeout: float | None = None) -> None:
        """Execute ``source`` as module ``name`` in the worker (kept across worker restarts).

        Raises:
            CallFailed: the source does not compile or raised at import time.
            SandboxError: the sandbox stopped the import (timeout, memory...); the worker is replaced.
        """
        with self._lock:
            self.start()
            self._request({"op": "load", "name": name, "source": source}, self._timeout(timeout))
            self._sources[name] = source

    def load_source(self, source: str, *, timeout: float | None = None) -> str:
        """Load ``source`` under its hash-derived name (if not loaded yet) and return the name.

        Raises:
            CallFailed: the source does not compile or raised at import time.
            SandboxError: the sandbox stopped the import; the worker is replaced.
        """
        name = module_name_for(source)
        with self._lock:
            if name not in self._sources:
                self.load(name, source, timeout=timeout)
        return name

    def unload(self, name: str) -> None:
        """Forget module ``name`` in the worker (frees memory in long-lived pools).

        Raises:
            SandboxError: the worker died.
        """
        with self._lock:
            if self._sources.pop(name, None) is not None and self.alive:
                self._request({"op": "unload", "name": name}, self.config.call_timeout)

    def call(
        self,
        module: str,
        function: str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call ``module.function(*args, **kwargs)`` in the worker; args and result in wire form.

        Raises:
            CallFailed: the code raised (also SystemExit); the worker stays healthy.
            CallTimeout: past ``timeout`` (default ``config.call_timeout``) or the CPU limit.
            MemoryLimitExceeded, KilledBySignal, OutputTooLarge, WorkerCrashed: the worker is replaced.
        """
        with self._lock:
            proc = self._proc  # _ready() and _timeout(), inline: this is the hot path
            if proc is None or proc.returncode is not None or self._doomed:
                self.start()
            return self._request(
                self._encode_call(module, function, args, kwargs),
                self.config.call_timeout if timeout is None else timeout,
            )

    def _ready(self) -> bool:
        # No waitpid per call: a dead process shows up as EOF on its pipe.
        proc = self._proc
        return proc is not None and proc.returncode is None and not self._doomed

    def ping(self) -> float:
        """Round-trip an empty request; returns the seconds it took.

        Raises:
            SandboxError: the worker is dead or hung.
        """
        with self._lock:
            self.start()
            t0 = time.perf_counter()
            self._request({"op": "ping"}, self.config.call_timeout)
            return time.perf_counter() - t0

    def _timeout(self, timeout: float | None) -> float:
        return self.config.call_timeout if timeout is None else timeout

    # ----------------------------------------------------------------- protocol

    def _request(self, msg: dict[str, Any] | bytes, timeout: float, *, starting: bool = False) -> Any:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise WorkerCrashed("the worker is not running")
        data = msg if isinstance(msg, bytes) else self._encode(msg)
        deadline = time.monotonic() + timeout
        try:
            fd = proc.stdin.fileno()
            try:
                sent = os.write(fd, data)  # the common case: the whole request at once
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                view = memoryview(data)[sent:]
                while view:
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:  # a big load: wait until the worker drains the pipe
                        if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
                            raise self._timed_out(timeout, starting=starting) from None
            # The common case inline: an empty buffer, one poll that finds only the reply pipe
            # readable, one read that holds exactly one whole line. Anything else goes on in
            # _read_reply (poll is level-triggered: it sees the same events again).
            poller = self._poller
            out = proc.stdout
            remaining = deadline - time.monotonic()
            if not self._buf and poller is not None and out is not None and remaining > 0:
                out_fd = out.fileno()
                events = poller.poll(int(remaining * 1000) + 1)  # >= 1 ms: remaining > 0
                if len(events) == 1 and events[0][0] == out_fd:
                    try:
                        chunk = os.read(out_fd, READ_CHUNK)
                    except BlockingIOError:
                        chunk = None
                    if chunk is not None:
                        if not chunk:
                            raise self._died(starting=starting)
                        if chunk.find(b"\n") == len(chunk) - 1:
                            reply = parse_reply(chunk[:-1])
                            if reply.get("ok") is True:  # reply_outcome()'s first case
                                return reply.get("result")
                            return reply_outcome(reply, self.config)
                        self._buf += chunk
            return reply_outcome(self._read_reply(deadline, timeout, starting), self.config)
        except (BrokenPipeError, ConnectionResetError):
            raise self._died(starting=starting) from None
        except SandboxError:
            self._kill()
            raise

    def _timed_out(self, timeout: float, *, starting: bool) -> SandboxError:
        if starting:
            return SandboxUnavailable(
                f"the worker did not come up within {timeout:g} s", detail=self._stderr_text()
            )
        return CallTimeout(timeout, limit="wall")

    def _read_reply(self, deadline: float, timeout: float, starting: bool) -> dict[str, Any]:
        proc = self._proc
        poller = self._poller
        assert proc is not None and proc.stdout is not None and proc.stderr is not None and poller is not None
        out_fd = proc.stdout.fileno()
        err_fd = proc.stderr.fileno()
        buf = self._buf
        scanned = 0
        while True:
            if buf:  # nothing to cut from an empty buffer (the common case)
                reply = take_reply(buf, scanned, self.config.max_message_bytes)
                if reply is not None:
                    return reply
                scanned = len(buf)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(timeout, starting=starting)
            line: bytes | None = None
            for fd, _event in poller.poll(int(remaining * 1000) + 1):  # >= 1 ms: remaining > 0
                if fd == out_fd:
                    try:
                        chunk = os.read(out_fd, READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        raise self._died(starting=starting)
                    if not buf and chunk.find(b"\n") == len(chunk) - 1:
                        line = chunk  # exactly one whole reply: no buffering
                    else:
                        buf += chunk
                elif fd == err_fd:
                    self._drain_stderr()
            if line is not None:
                return parse_reply(line[:-1])

    # ----------------------------------------------------------------- async (used by WorkerPool)

    async def acall(
        self,
        module: str,
        function: str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the sandbox's limit: it kills the worker
    ) -> Any:
        """:meth:`call` for anyio code: waits on the pipe in the event loop, no thread per call.

        One task at a time per Worker (the pool leases workers exclusively); starting a process
        runs in a thread. Cancelling the caller kills the process (it restarts on next use).

        Raises:
            CallFailed: the code raised; the worker stays healthy.
            SandboxError: timeout, memory, signal N, output too large, crash; the worker is replaced.
        """
        return await self._arequest(self._encode_call(module, function, args, kwargs), self._timeout(timeout))

    async def aload_source(self, source: str, *, timeout: float | None = None) -> str:  # noqa: ASYNC109
        """:meth:`load_source` for anyio code; returns the module name.

        Raises:
            CallFailed: the source does not compile or raised at import time.
            SandboxError: the sandbox stopped the import; the worker is replaced.
        """
        name = module_name_for(source)
        if name not in self._sources:
            await self.aload(name, source, timeout=timeout)
        return name

    async def aload(self, name: str, source: str, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """:meth:`load` for anyio code.

        Raises:
            CallFailed: the source does not compile or raised at import time.
            SandboxError: the sandbox stopped the import; the worker is replaced.
        """
        await self._arequest({"op": "load", "name": name, "source": source}, self._timeout(timeout))
        self._sources[name] = source

    async def astart(self) -> None:
        """:meth:`start` in a thread, skipped when the process is up.

        Raises:
            SandboxUnavailable: nsjail cannot start here.
            SandboxError: the worker died while starting.
        """
        if not self._ready():
            await anyio.to_thread.run_sync(self.start)

    async def _arequest(self, msg: dict[str, Any] | bytes, limit_s: float) -> Any:
        await self.astart()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        data = msg if isinstance(msg, bytes) else self._encode(msg)
        deadline = time.monotonic() + limit_s
        try:
            in_fd = proc.stdin.fileno()
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(in_fd, view) :]
                except BlockingIOError:
                    with anyio.move_on_after(deadline - time.monotonic()):
                        await anyio.wait_writable(in_fd)
                    if time.monotonic() >= deadline:
                        raise CallTimeout(limit_s, limit="wall") from None
            out_fd = proc.stdout.fileno()
            buf = self._buf
            scanned = 0
            reply: dict[str, Any] | None = None
            # one cancel scope per call, not per wait: the deadline is the call's
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                while True:
                    if buf:  # nothing to cut from an empty buffer (the common case)
                        reply = take_reply(buf, scanned, self.config.max_message_bytes)
                        if reply is not None:
                            break
                        scanned = len(buf)
                    try:
                        chunk = os.read(out_fd, READ_CHUNK)
                    except BlockingIOError:
                        await anyio.wait_readable(out_fd)
                        if proc.stdout.closed:  # close() from another thread got there first
                            raise WorkerCrashed(
                                "the worker was stopped while a call was running (closed)"
                            ) from None
                        continue
                    if not chunk:
                        raise await anyio.to_thread.run_sync(partial(self._died, starting=False))
                    if not buf and chunk.find(b"\n") == len(chunk) - 1:
                        reply = parse_reply(chunk[:-1])  # exactly one whole reply: no buffering
                        break
                    buf += chunk
            if reply is None:
                raise CallTimeout(limit_s, limit="wall")
            return reply_outcome(reply, self.config)
        except (BrokenPipeError, ConnectionResetError):
            raise await anyio.to_thread.run_sync(partial(self._died, starting=False)) from None
        except SandboxError:
            self.kill()  # SIGTERM now; the wait and clean-up happen in a thread on next start/close
            raise
        except anyio.get_cancelled_exc_class():
            self.kill()  # the call is still running in there: never reuse this process
            raise

    def _drain_stderr(self) -> None:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return
        fd = proc.stderr.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                if self._poller is not None:
                    with contextlib.suppress(KeyError):
                        self._poller.unregister(fd)
                return
            self._stderr_tail += chunk
            if len(self._stderr_tail) > _STDERR_TAIL:
                del self._stderr_tail[: len(self._stderr_tail) - _STDERR_TAIL]

    def _stderr_text(self) -> str:
        self._drain_stderr()
        return self._stderr_tail.decode("utf-8", "replace")

    def _died(self, *, starting: bool) -> SandboxError:
        """The worker's stdout closed: wait for the exit status, classify it, clean up."""
        proc = self._proc
        if proc is None:  # close() from another task or thread got there first
            return WorkerCrashed("the worker was stopped while a call was running (closed)")
        try:
            code = proc.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            self._kill()
            return WorkerCrashed("the worker closed its pipe but did not exit")
        detail = self._stderr_text()
        jailed = self._jail is not None
        cgroup_memory = self._jail is not None and self._jail.cgroup_memory
        self._kill()
        return classify_exit(code, jailed=jailed, cgroup_memory=cgroup_memory, cfg=self.config, detail=detail)
