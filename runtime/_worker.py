"""A sandbox worker: one long-lived python process (jailed by nsjail, or not), JSON lines.

Sync methods (``load``/``call``) for threads and worker processes (the generator) wait on the
pipes with poll; ``a*`` methods (``aload``/``acall``) wait in an anyio event loop (the pool).
Both read replies with the one reader, :meth:`Worker._read_reply`, and hold the same lock
while a request is in flight (how the async path takes it: :meth:`Worker._arequest`).

The host keeps every limit that matters to it in its own hands: the wall-clock deadline of a
call (a poll timer), the size of a reply, and the classification of a death (exit status and
who pulled the trigger). nsjail's own result flags are not trusted.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread

from ._config import SandboxConfig, module_name_for
from ._errors import CallTimeout, SandboxError, SandboxUnavailable, WorkerCrashed
from ._nsjail import JailSetup
from ._process import drain_tail, launch, send_signal, terminate
from ._protocol import (
    READ_CHUNK,
    call_encoder,
    classify_exit,
    init_request,
    parse_reply,
    reply_outcome,
    request_encoder,
    take_reply,
)

__all__ = ["Worker"]

_STDERR_TAIL = 8192


class Worker:
    """One sandboxed python process that loads modules and calls their functions.

    Use it as a context manager (or call :meth:`close`). The process starts on first use.
    When a call ends in a :class:`SandboxError`, the process is killed; the next
    :meth:`load`/:meth:`call` starts a new one and re-loads the modules loaded so far, so
    callers do not need to track worker deaths. One request at a time, across threads and tasks.

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
        self._alock: anyio.Lock | None = None  # async tasks queue here before taking _lock
        self._in_async = False  # an acall holds _lock in the event loop's thread
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
        self._proc, self._jail, self._poller = launch(cfg)
        self._buf.clear()
        self._stderr_tail.clear()
        self.starts += 1
        try:
            info = self._request(init_request(cfg), cfg.start_timeout, starting=True)
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
            jailed = self._jail is not None
            send_signal(proc, signal.SIGTERM if jailed else signal.SIGKILL, jailed=jailed)

    def _kill(self) -> None:
        proc = self._proc
        self._doomed = False
        if proc is not None:
            terminate(proc, jailed=self._jail is not None)
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
        """One exchange on the sync path (the caller holds ``_lock``): send, wait with poll, read."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None or self._poller is None:
            raise WorkerCrashed("the worker is not running")
        if self._in_async:  # the RLock let this thread in again: an acall of this thread is in flight
            raise RuntimeError(
                "Worker.call/load ran in the event loop's thread while an acall on the same worker was "
                "waiting for its reply; from async code use acall/aload (or run the sync call in a thread)"
            )
        data = msg if isinstance(msg, bytes) else self._encode(msg)
        deadline = time.monotonic() + timeout
        try:
            in_fd = proc.stdin.fileno()
            try:
                sent = os.write(in_fd, data)  # the common case: the whole request at once
            except BlockingIOError:
                sent = 0
            if sent < len(data):
                view = self._send(in_fd, memoryview(data)[sent:])
                while view:  # a big load: wait until the worker drains the pipe
                    if not select.select([], [in_fd], [], max(0.0, deadline - time.monotonic()))[1]:
                        raise self._timed_out(timeout, starting=starting)
                    view = self._send(in_fd, view)
            poller = self._poller
            out_fd = proc.stdout.fileno()
            reply = self._take_buffered()
            while reply is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timed_out(timeout, starting=starting)
                for fd, _event in poller.poll(int(remaining * 1000) + 1):  # >= 1 ms: remaining > 0
                    if fd != out_fd:
                        self._drain_stderr()
                reply = self._read_reply(out_fd)
            if reply.get("ok") is True:  # reply_outcome()'s first case, inline: the hot path
                return reply.get("result")
            return reply_outcome(reply, self.config)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise self._died(starting=starting) from None
        except SandboxError:
            self._kill()
            raise

    def _send(self, fd: int, data: bytes | memoryview) -> memoryview:
        """Write what the pipe takes now (the whole request, in the common case); returns the rest."""
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            sent = 0
        return memoryview(data)[sent:]

    def _take_buffered(self) -> dict[str, Any] | None:
        # a line left over from a partial read; empty in the common case
        return take_reply(self._buf, 0, self.config.max_message_bytes) if self._buf else None

    def _read_reply(self, out_fd: int) -> dict[str, Any] | None:
        """The one reply reader of both paths: read what the pipe holds, cut one reply line, or
        return None when no whole line is in yet (the caller waits, by poll or anyio, and calls again).

        Raises:
            EOFError: the worker closed its pipe (the caller classifies the death).
            WorkerCrashed: the line is not a JSON object.
            OutputTooLarge: no line end within ``max_message_bytes``.
        """
        try:
            chunk = os.read(out_fd, READ_CHUNK)
        except BlockingIOError:
            return None
        if not chunk:
            raise EOFError
        buf = self._buf
        if not buf and chunk.find(b"\n") == len(chunk) - 1:
            return parse_reply(chunk[:-1])  # exactly one whole reply (the common case): no buffering
        scanned = len(buf)
        buf += chunk
        return take_reply(buf, scanned, self.config.max_message_bytes)

    def _timed_out(self, timeout: float, *, starting: bool) -> SandboxError:
        if not starting:
            return CallTimeout(timeout, limit="wall")
        return SandboxUnavailable(
            f"the worker did not come up within {timeout:g} s", detail=self._stderr_text()
        )

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

        Same locking as :meth:`call` (see :meth:`_arequest`): concurrent ``acall``s on one
        worker run one after the other; starting a process runs in a thread. Cancelling the
        caller kills the process (it restarts on next use).

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
        """One exchange on the async path, under the same ``_lock`` as the sync path.

        ``_lock`` is a thread lock, and every task of an event loop runs in one thread: it cannot
        tell two tasks apart (the RLock would let the second in). So tasks queue on an anyio lock
        (FIFO, cancellable), then the first takes ``_lock`` without blocking the loop and holds
        it in the loop's thread until its reply is read: a call in flight never interleaves with
        another task's, nor with a thread's ``call``/``start``/``close``. A thread holding
        ``_lock`` (sync and async use of one worker; the pool never mixes) is polled for every
        millisecond; a sync call from the loop's thread meanwhile raises RuntimeError instead of
        slipping through the reentrant lock. A process start runs in a thread, which takes ``_lock``.
        """
        alock = self._alock
        if alock is None:
            alock = self._alock = anyio.Lock(fast_acquire=True)  # created in the loop: the backend's own
        try:
            alock.acquire_nowait()  # the common case (the pool leases workers): no trip through the loop
        except anyio.WouldBlock:
            await alock.acquire()
        try:
            while True:
                if self._lock.acquire(blocking=False):
                    if self._ready():
                        break
                    self._lock.release()
                    await anyio.to_thread.run_sync(self.start)  # takes _lock itself, in its thread
                else:
                    await anyio.sleep(0.001)  # a thread's call is in flight on this worker
            self._in_async = True
            try:
                return await self._aexchange(msg, limit_s)
            finally:
                self._in_async = False
                self._lock.release()
        finally:
            alock.release()

    async def _aexchange(self, msg: dict[str, Any] | bytes, limit_s: float) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            in_fd = proc.stdin.fileno()
            out_fd = proc.stdout.fileno()
            reply: dict[str, Any] | None = None
            with anyio.move_on_after(limit_s):  # one cancel scope per call, not per wait
                view = self._send(in_fd, msg if isinstance(msg, bytes) else self._encode(msg))
                while view:
                    await anyio.wait_writable(in_fd)
                    view = self._send(in_fd, view)
                reply = self._take_buffered()
                # read before waiting: a quick reply is often in already, and a wait is a loop trip
                while reply is None and (reply := self._read_reply(out_fd)) is None:
                    await anyio.wait_readable(out_fd)
            if reply is None:
                raise CallTimeout(limit_s, limit="wall")
            return reply_outcome(reply, self.config)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            raise await anyio.to_thread.run_sync(partial(self._died, starting=False)) from None
        except SandboxError:
            self.kill()  # SIGTERM now; the wait and clean-up happen in a thread on next start/close
            raise
        except anyio.get_cancelled_exc_class():
            self.kill()  # the call is still running in there: never reuse this process
            raise

    def _drain_stderr(self) -> None:
        proc = self._proc
        if proc is not None and proc.stderr is not None and self._poller is not None:
            drain_tail(proc.stderr.fileno(), self._stderr_tail, _STDERR_TAIL, self._poller)

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
