"""Abuse suite: hostile code runs in the nsjail worker, is contained every time, and the worker
(and the pool) answers the next call. Skipped where nsjail cannot run (see `codegym-mcp doctor`)."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from codegym_mcp.runtime import (
    CallFailed,
    CallTimeout,
    MemoryLimitExceeded,
    OutputTooLarge,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    Worker,
    WorkerCrashed,
    WorkerPool,
)

HOSTILE = r"""
import ctypes, os, signal, socket, sys, threading, time

def alive():
    # pids in the jail's own pid namespace: init (1) and the worker (2) once a call is over
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

def fork_bomb():
    n = 0
    try:
        while True:
            os.fork()
            n += 1
    except OSError as exc:
        return [n, exc.errno]

def thread_bomb():
    ts = []
    for _ in range(1000):
        t = threading.Thread(target=time.sleep, args=(2,))
        t.start()
        ts.append(t)

def alloc(n_bytes):
    return len(bytearray(n_bytes))

def grow():
    xs = []
    while True:
        b = bytearray(16 * 1024 * 1024)
        for i in range(0, len(b), 4096):
            b[i] = 1
        xs.append(b)

def spin():
    while True:
        pass

def spin_ignoring_sigterm():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass

def sleep_forever():
    time.sleep(10 ** 6)

def stop_self():
    os.kill(os.getpid(), signal.SIGSTOP)

def write(path, n_bytes):
    with open(path, "wb") as f:
        f.write(b"x" * n_bytes)
    return path

def fill_tmp():
    for i in range(100):
        write("/tmp/fill%d" % i, 8 * 1024 * 1024)

def read(path):
    with open(path, "rb") as f:
        return f.read(100).decode("latin-1")

def environ():
    with open("/proc/self/environ", "rb") as f:
        raw = f.read().decode()
    return [dict(os.environ), raw, os.listdir("/proc")]

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.close()
    return "connected"

def shout(n_chunks):
    for _ in range(n_chunks):
        print("x" * 100000)

def shout_fd(n_bytes):
    os.write(1, b"x" * n_bytes)
    os.write(2, b"y" * n_bytes)
    return "written"

def big_result(n):
    return "x" * n

def kill_parent():
    os.kill(os.getppid(), signal.SIGKILL)
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)
    return "still here"

def recurse(n=0):
    return recurse(n + 1)

def recurse_unbounded():
    sys.setrecursionlimit(10 ** 7)
    return recurse()

def exit_(code):
    sys.exit(code)

def hard_exit(code):
    os._exit(code)

def segfault():
    ctypes.string_at(0)

def syscall_errno(name, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    rc = getattr(libc, name)(*args)
    return [rc, ctypes.get_errno()]
"""

CFG = SandboxConfig(
    isolation="nsjail",
    call_timeout=1.0,
    memory_mb=256,
    max_output_bytes=64 * 1024,
    max_message_bytes=1024 * 1024,
)


def _start() -> Worker:
    w = Worker(CFG)
    w.load("h", HOSTILE)
    return w


try:
    _start().close()
    NSJAIL = True
except SandboxUnavailable:
    NSJAIL = False

pytestmark = pytest.mark.skipif(not NSJAIL, reason="nsjail cannot run here (run `codegym-mcp doctor`)")


@pytest.fixture(scope="module")
def jail() -> Iterator[Worker]:
    w = _start()
    yield w
    w.close()


def _recovers(w: Worker) -> None:
    """The worker answers again and nothing the abuse started is left running in the jail."""
    assert w.call("h", "alive") == [1, 2]


def test_fork_bomb_is_stopped_by_the_pids_limit(jail: Worker) -> None:
    forks, err = jail.call("h", "fork_bomb")
    assert forks < CFG.max_pids
    assert err == errno.EAGAIN
    _recovers(jail)


def test_thread_bomb_is_stopped_by_the_process_limit(jail: Worker) -> None:
    with pytest.raises(CallFailed, match="can't start new thread"):
        jail.call("h", "thread_bomb")
    _recovers(jail)


def test_a_huge_allocation_is_a_memory_error(jail: Worker) -> None:
    with pytest.raises(MemoryLimitExceeded, match="MemoryError"):
        jail.call("h", "alloc", args=[2 * 1024**3])
    _recovers(jail)


def test_gradual_memory_growth_is_killed_by_the_cgroup(jail: Worker) -> None:
    with pytest.raises(MemoryLimitExceeded):
        jail.call("h", "grow", timeout=5.0)
    _recovers(jail)


@pytest.mark.parametrize("fn", ["spin", "spin_ignoring_sigterm", "sleep_forever", "stop_self"])
def test_a_call_that_never_returns_is_stopped_at_the_wall_limit(jail: Worker, fn: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(CallTimeout):
        jail.call("h", fn, timeout=0.3)
    assert time.monotonic() - t0 < 2.0
    _recovers(jail)


def test_cpu_seconds_are_limited_per_call() -> None:
    with Worker(SandboxConfig(isolation="nsjail", cpu_seconds=1, call_timeout=10.0)) as w:
        w.load("h", HOSTILE)
        with pytest.raises(CallTimeout) as info:
            w.call("h", "spin")
        assert info.value.limit == "cpu"
        assert w.call("h", "alloc", args=[10]) == 10


@pytest.mark.parametrize("path", ["/usr/lib/evil", "/evil", "/proc/evil"])
def test_writes_outside_the_tmpfs_fail(jail: Worker, path: str) -> None:
    with pytest.raises(CallFailed, match=r"OSError|FileNotFoundError|PermissionError"):
        jail.call("h", "write", args=[path, 10])
    assert not Path(path).exists()
    _recovers(jail)


def test_host_paths_do_not_exist_in_the_jail(jail: Worker, tmp_path: Path) -> None:
    target = tmp_path / "escape.txt"
    with pytest.raises(CallFailed, match="FileNotFoundError"):
        jail.call("h", "write", args=[str(target), 10])
    assert not target.exists()


def test_file_size_and_tmpfs_size_are_limited(jail: Worker) -> None:
    with pytest.raises(CallFailed, match="File too large"):
        jail.call("h", "write", args=["/tmp/big", (CFG.file_size_mb + 1) * 1024 * 1024])
    with pytest.raises(CallFailed, match="No space left"):
        jail.call("h", "fill_tmp", timeout=5.0)
    _recovers(jail)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bashrc",
        str(Path(__file__).resolve()),
        str(Path.cwd() / "pyproject.toml"),
    ],
)
def test_host_files_cannot_be_read(jail: Worker, path: str) -> None:
    with pytest.raises(CallFailed, match="FileNotFoundError"):
        jail.call("h", "read", args=[path])


def test_the_host_environment_does_not_reach_the_jail(jail: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGYM_TEST_SECRET", "hunter2")
    jail.kill()  # the next call starts a fresh jail while the secret is in the host's environment
    env, raw, proc = jail.call("h", "environ")
    assert set(env) == {"PATH", "LANG", "HOME", "MALLOC_ARENA_MAX", "PYTHONHASHSEED"}
    assert "hunter2" not in raw
    assert str(os.getpid()) not in proc or os.getpid() == 1


def test_loopback_of_the_host_is_unreachable(jail: Worker) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        with pytest.raises(CallFailed, match=r"ConnectionRefusedError|OSError"):
            jail.call("h", "connect", args=[port])
        with pytest.raises(BlockingIOError):
            server.accept()
    _recovers(jail)


def test_printing_too_much_is_output_too_large(jail: Worker) -> None:
    with pytest.raises(OutputTooLarge):
        jail.call("h", "shout", args=[10_000])
    _recovers(jail)


def test_writing_to_the_real_stdout_cannot_corrupt_the_protocol(jail: Worker) -> None:
    assert jail.call("h", "shout_fd", args=[50 * 1024 * 1024]) == "written"
    _recovers(jail)


def test_a_result_over_the_message_cap_is_output_too_large(jail: Worker) -> None:
    with pytest.raises(OutputTooLarge):
        jail.call("h", "big_result", args=[2 * CFG.max_message_bytes])
    _recovers(jail)


def test_signals_to_the_parent_and_everyone_reach_nobody_outside(jail: Worker) -> None:
    sentinel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result: Any
        try:
            result = jail.call("h", "kill_parent")
        except SandboxError as exc:  # killing its own group may take the worker down: contained too
            result = exc
        assert sentinel.poll() is None  # a host process of the same user survived kill(-1)
        assert result == "still here" or isinstance(result, SandboxError)
    finally:
        sentinel.kill()
        sentinel.wait()
    _recovers(jail)


def test_recursion_is_a_recursion_error(jail: Worker) -> None:
    with pytest.raises(CallFailed, match="RecursionError"):
        jail.call("h", "recurse")
    _recovers(jail)


def test_unbounded_recursion_kills_only_the_worker(jail: Worker) -> None:
    with pytest.raises(SandboxError):
        jail.call("h", "recurse_unbounded", timeout=5.0)
    _recovers(jail)


def test_a_segfault_is_killed_by_signal_11(jail: Worker) -> None:
    with pytest.raises(SandboxError, match="signal 11"):
        jail.call("h", "segfault")
    _recovers(jail)


def test_sys_exit_is_a_call_failure_and_os_exit_a_crash(jail: Worker) -> None:
    with pytest.raises(CallFailed, match="SystemExit: 3"):
        jail.call("h", "exit_", args=[3])
    with pytest.raises(WorkerCrashed) as info:
        jail.call("h", "hard_exit", args=[5])
    assert info.value.exit_code == 5
    _recovers(jail)


@pytest.mark.parametrize(
    ("name", "args"),
    [("unshare", [0x10000000]), ("ptrace", [16, 1, 0, 0]), ("mount", ["none", "/tmp", "tmpfs", 0, 0])],
)
def test_dangerous_syscalls_are_refused_by_seccomp(jail: Worker, name: str, args: list[Any]) -> None:
    assert jail.call("h", "syscall_errno", args=[name, *args]) == [-1, errno.EPERM]


def test_the_pool_contains_every_abuse_and_keeps_serving() -> None:
    abuses: list[tuple[str, list[Any]]] = [
        ("fork_bomb", []),
        ("alloc", [2 * 1024**3]),
        ("spin", []),
        ("hard_exit", [1]),
        ("shout", [10_000]),
        ("segfault", []),
        ("exit_", [0]),
        ("read", ["/etc/shadow"]),
    ]

    async def main() -> None:
        async with WorkerPool(CFG, size=2) as pool:
            outcomes: dict[str, str] = {}

            async def run(fn: str, args: list[Any]) -> None:
                try:
                    await pool.call(source=HOSTILE, function=fn, args=args, timeout=0.5)
                    outcomes[fn] = "returned"
                except (CallFailed, SandboxError) as exc:
                    outcomes[fn] = type(exc).__name__

            async with anyio.create_task_group() as tg:
                for fn, args in abuses:
                    tg.start_soon(run, fn, args)
            assert outcomes["spin"] == "CallTimeout"
            assert outcomes["segfault"] == "KilledBySignal"
            assert outcomes["read"] == "CallFailed"
            for _ in range(4):
                assert await pool.call(source=HOSTILE, function="alive") == [1, 2]
            pids.extend(pool.pids)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

    pids: list[int] = []
    anyio.run(main)
    for pid in pids:  # other programs may run jails too: look only at ours
        assert not Path(f"/sys/fs/cgroup/memory/codegym-mcp/NSJAIL.{pid}").exists()
        assert not Path(f"/sys/fs/cgroup/pids/codegym-mcp/NSJAIL.{pid}").exists()
