"""What can go wrong when untrusted code runs in a sandbox worker.

Two channels, never mixed:

- :class:`CallFailed`: the *code* raised (a bug the agent or the dataset owns). The worker is
  healthy and keeps its loaded modules.
- :class:`SandboxError`: the *sandbox* stopped the code or broke (time, memory, a signal,
  too much output, a dead worker, no nsjail). The worker was killed and is replaced on the
  next call, so the next call works.

Who caused a SandboxError: ``caused_by_call`` is True when the call's own work hit a limit
(time, memory, output, a signal such as SIGSEGV from a deep recursion): another call with other
arguments works. It is False when the infrastructure failed (nsjail cannot start, the worker
exited or broke its protocol): no call can be trusted until that is fixed.

Exceptions::

    Exception
     +-- CallFailed                 the code raised; carries exc_type, message, traceback
     +-- RuntimeError
          +-- SandboxError          infrastructure; carries ``kind`` and ``detail``
               +-- SandboxUnavailable   nsjail cannot start here (binary, libnl, namespaces)
               +-- CallTimeout          wall-clock (host timer) or CPU-seconds limit
               +-- MemoryLimitExceeded  MemoryError in the jail or the cgroup OOM killer
               +-- KilledBySignal       the worker died by signal N
               +-- OutputTooLarge       stdout/stderr or the result went over its cap
               +-- WorkerCrashed        the worker exited (os._exit, a broken pipe, a bad reply)
"""

from __future__ import annotations

import signal
from typing import Literal

__all__ = [
    "CallFailed",
    "CallTimeout",
    "KilledBySignal",
    "MemoryLimitExceeded",
    "OutputTooLarge",
    "SandboxError",
    "SandboxUnavailable",
    "WorkerCrashed",
]


class CallFailed(Exception):
    """The untrusted code raised an exception; the worker stays healthy.

    ``str(exc)`` is ``"ExcType: message"``, the form an agent sees as a tool error.
    """

    def __init__(self, exc_type: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{exc_type}: {message}" if message else exc_type)
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback


class SandboxError(RuntimeError):
    """The sandbox stopped or lost the worker; the worker is replaced before the next call."""

    kind: str = "sandbox"
    caused_by_call: bool = False
    """True when the call's own work hit a limit (time, memory, output, a fatal signal)."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail

    def call_reason(self) -> str:
        """Why the call was stopped, in words for whoever made the call (no sandbox internals)."""
        return str(self)


class SandboxUnavailable(SandboxError):
    """nsjail (or the interpreter inside it) cannot start on this machine.

    The message says why and how to fix it (install libnl, enable user namespaces, or run with
    ``--no-sandbox``). ``codegym-mcp doctor`` prints the same diagnosis.
    """

    kind = "unavailable"


class CallTimeout(SandboxError):
    """A call ran past its wall-clock limit (host timer) or its CPU-seconds limit (SIGXCPU)."""

    kind = "timeout"
    caused_by_call = True

    def __init__(self, seconds: float, *, limit: Literal["wall", "cpu"] = "wall", detail: str = "") -> None:
        what = "wall-clock" if limit == "wall" else "CPU-time"
        super().__init__(
            f"timeout: the call ran past its {what} limit of {seconds:g} s and the worker was killed",
            detail=detail,
        )
        self.seconds = seconds
        self.limit = limit

    def call_reason(self) -> str:
        """Why the call was stopped, in words for whoever made the call."""
        what = "time" if self.limit == "wall" else "CPU-time"
        return f"it ran past the per-call {what} limit of {self.seconds:g} s"


class MemoryLimitExceeded(SandboxError):
    """The code ran out of memory: MemoryError under the address-space limit, or an OOM kill."""

    kind = "memory"
    caused_by_call = True

    def __init__(self, limit_mb: int, *, how: str, detail: str = "") -> None:
        super().__init__(f"memory: the call went over the {limit_mb} MB memory limit ({how})", detail=detail)
        self.limit_mb = limit_mb
        self.how = how

    def call_reason(self) -> str:
        """Why the call was stopped, in words for whoever made the call."""
        return f"it went over the per-call memory limit of {self.limit_mb} MB"


class KilledBySignal(SandboxError):
    """The worker process died by a signal (SIGSEGV from a C-stack overflow, SIGKILL...)."""

    kind = "signal"
    caused_by_call = True

    def __init__(self, signum: int, *, detail: str = "") -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        super().__init__(f"killed by signal {signum} ({name})", detail=detail)
        self.signum = signum

    def call_reason(self) -> str:
        """Why the call was stopped, in words for whoever made the call."""
        return f"its process died ({self}), as a too deep recursion or a wild allocation does"


class OutputTooLarge(SandboxError):
    """The code printed, or returned, more bytes than the cap allows."""

    kind = "output"
    caused_by_call = True

    def __init__(self, what: str, limit: int, *, detail: str = "") -> None:
        super().__init__(f"output too large: {what} went over the cap of {limit} bytes", detail=detail)
        self.what = what
        self.limit = limit

    def call_reason(self) -> str:
        """Why the call was stopped, in words for whoever made the call."""
        return f"{self.what} went over the per-call cap of {self.limit} bytes"


class WorkerCrashed(SandboxError):
    """The worker exited or broke its protocol (``os._exit`` in a call, a closed pipe)."""

    kind = "crashed"

    def __init__(self, message: str, *, exit_code: int | None = None, detail: str = "") -> None:
        super().__init__(f"worker crashed: {message}", detail=detail)
        self.exit_code = exit_code
