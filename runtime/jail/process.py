"""The worker process's own plumbing in a jail: the pid-1 reaper, exiting with the host.

Standard library only, Python 3.11 (used by ``worker.py``).
"""

from __future__ import annotations

import os
import select

__all__ = ["be_init", "exit_when_host_goes", "read_int"]


def read_int(path: str) -> int:
    """The integer in file ``path`` (a /proc setting), or 0 when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            return int(os.read(fd, 64))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return 0


def exit_when_host_goes(fd: int) -> None:
    """Exit as soon as the host's end of the request pipe closes, even mid-call.

    A host killed by SIGKILL cannot stop its jails; this makes a worker stuck in a sleeping
    call exit anyway (POLLHUP is reported even with no events requested).
    """
    poller = select.poll()
    poller.register(fd, 0)
    while True:
        for _fd, event in poller.poll():
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(0)


def be_init() -> bool:
    """In a fresh pid namespace, stay PID 1 as a reaper and serve from a child; True in the child.

    The kernel does not deliver default-action signals such as SIGXCPU (the CPU-time limit) to a
    namespace's init, so the code must not run as PID 1. The init reaps orphans and exits with
    the child's status, signals as 128+N (the same convention nsjail uses).
    """
    if os.getpid() != 1:
        return False
    child = os.fork()
    if child == 0:
        return True
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == child:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.waitstatus_to_exitcode(status))
