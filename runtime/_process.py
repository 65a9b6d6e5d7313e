"""Starting and stopping a worker's process: argv, environment, pipes, signals (no protocol).

Split from ``_worker`` so that module holds the request/reply exchange and its locking.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile

from ._config import PYTHON_FLAGS, SandboxConfig
from ._errors import SandboxUnavailable
from ._nsjail import JailSetup, prepare_jail
from ._protocol import boot_source

__all__ = ["drain_tail", "launch", "send_signal", "terminate"]


def launch(cfg: SandboxConfig) -> tuple[subprocess.Popen[bytes], JailSetup | None, select.poll]:
    """Start the worker program (under nsjail when ``cfg.isolation == "nsjail"``), pipes non-blocking.

    Returns the process, its jail (None unjailed) and a poller of its stdout and stderr.

    Raises:
        SandboxUnavailable: the jail cannot be prepared or the program cannot start here.
    """
    # PYTHONHASHSEED: see PYTHON_FLAGS.
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MALLOC_ARENA_MAX": "2",
        "HOME": "/tmp",
        "PYTHONHASHSEED": "0",
    }
    cwd: str | None = None
    jail: JailSetup | None = None
    if cfg.isolation == "nsjail":
        jail = prepare_jail(cfg)
        argv = [*jail.argv, cfg.python, *PYTHON_FLAGS, "-c", boot_source()]
        env = {}
    else:
        cwd = tempfile.gettempdir()
        argv = [cfg.python, *PYTHON_FLAGS, "-c", boot_source()]
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
    poller = select.poll()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        if stream is not proc.stdin:
            poller.register(stream.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    return proc, jail, poller


def send_signal(proc: subprocess.Popen[bytes], sig: int, *, jailed: bool) -> None:
    """Signal the worker: a plain one's whole session (its code's children too), or nsjail."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if jailed:
            proc.send_signal(sig)  # nsjail kills the jail's pid namespace and removes cgroups
        else:
            os.killpg(proc.pid, sig)


def terminate(proc: subprocess.Popen[bytes], *, jailed: bool) -> None:
    """Stop the process (SIGTERM to nsjail, SIGKILL to a plain worker), wait, close the pipes."""
    if proc.poll() is None:
        send_signal(proc, signal.SIGTERM if jailed else signal.SIGKILL, jailed=jailed)
        try:
            proc.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            send_signal(proc, signal.SIGKILL, jailed=jailed)
            proc.wait(timeout=3.0)
    elif not jailed:
        send_signal(proc, signal.SIGKILL, jailed=jailed)  # reap stray children of a dead plain worker
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def drain_tail(fd: int, tail: bytearray, keep: int, poller: select.poll) -> None:
    """Read what the worker's stderr holds into ``tail`` (its last ``keep`` bytes); at EOF stop polling it."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # BlockingIOError: nothing more now
            return
        if not chunk:
            with contextlib.suppress(KeyError):
                poller.unregister(fd)
            return
        tail += chunk
        if len(tail) > keep:
            del tail[: len(tail) - keep]
