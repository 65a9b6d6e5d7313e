"""The sandbox worker and pool API, under both isolations (nsjail tests skip where it cannot run)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from codegym_mcp.runtime import (
    CallFailed,
    CallTimeout,
    Isolation,
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    Worker,
    WorkerCrashed,
    WorkerPool,
    default_isolation,
    module_name_for,
    warn_no_sandbox,
)
from codegym_mcp.runtime._doctor import diagnose

SOURCE = """
from codegym_jail import values as codegym_values

def add(a, b):
    return a + b

def pair(xs, *, tag):
    return (tag, set(xs), {1: "one"})

def boom(msg):
    raise ValueError(msg)

def loop():
    while True:
        pass

def die(code):
    import os
    os._exit(code)

def alloc(n):
    return len(bytearray(n))

def plain_of(x):
    return codegym_values.to_plain(x)
"""


def _nsjail_works() -> bool:
    try:
        with Worker(SandboxConfig(isolation="nsjail")) as w:
            w.ping()
    except SandboxUnavailable:
        return False
    return True


NSJAIL = _nsjail_works()
ISOLATIONS = [
    "none",
    pytest.param("nsjail", marks=pytest.mark.skipif(not NSJAIL, reason="nsjail cannot run here")),
]


@pytest.fixture(params=ISOLATIONS, scope="module")
def worker(request: pytest.FixtureRequest) -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation=request.param, call_timeout=2.0)) as w:
        w.load("m", SOURCE)
        yield w


def test_call_returns_the_wire_result_of_the_function(worker: Worker) -> None:
    assert worker.call("m", "add", args=[2, 3]) == 5
    result = worker.call("m", "pair", args=[[3, 1, 3]], kwargs={"tag": {"$tuple": ["t"]}})
    assert result == {"$tuple": [{"$tuple": ["t"]}, {"$set": [1, 3]}, {"$dict": [[1, "one"]]}]}


def test_loaded_code_can_import_the_shared_codec(worker: Worker) -> None:
    assert worker.call("m", "plain_of", args=[{"$tuple": [1, {"$set": [2]}]}]) == [1, [2]]


def test_an_exception_in_the_code_is_call_failed_and_the_worker_stays(worker: Worker) -> None:
    starts = worker.starts
    with pytest.raises(CallFailed) as info:
        worker.call("m", "boom", args=["bad input"])
    assert str(info.value) == "ValueError: bad input"
    assert info.value.exc_type == "ValueError"
    assert "raise ValueError(msg)" in info.value.traceback
    assert worker.call("m", "add", args=[1, 1]) == 2
    assert worker.starts == starts


def test_a_syntax_error_in_a_load_is_call_failed(worker: Worker) -> None:
    with pytest.raises(CallFailed, match="SyntaxError"):
        worker.load("broken", "def f(:\n")
    assert "broken" not in worker.loaded


def test_calling_an_unloaded_module_says_to_load_it(worker: Worker) -> None:
    with pytest.raises(CallFailed, match="load it first"):
        worker.call("nope", "f")


def test_a_timeout_kills_the_worker_and_the_next_call_reloads_modules(worker: Worker) -> None:
    starts = worker.starts
    with pytest.raises(CallTimeout) as info:
        worker.call("m", "loop", timeout=0.3)
    assert info.value.limit == "wall"
    assert worker.call("m", "add", args=[1, 2]) == 3  # module "m" re-loaded in the new process
    assert worker.starts == starts + 1


def test_os_exit_in_a_call_is_a_worker_crash_with_the_exit_code(worker: Worker) -> None:
    with pytest.raises(WorkerCrashed) as info:
        worker.call("m", "die", args=[7])
    assert info.value.exit_code == 7
    assert worker.call("m", "add", args=[1, 2]) == 3


def test_load_source_names_a_module_by_its_hash_and_loads_once(worker: Worker) -> None:
    src = "def f():\n    return 42\n"
    name = worker.load_source(src)
    assert name == module_name_for(src)
    assert worker.load_source(src) == name
    assert worker.call(name, "f") == 42
    worker.unload(name)
    assert name not in worker.loaded


def test_sandbox_config_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="call_timeout"):
        SandboxConfig(call_timeout=0)
    with pytest.raises(ValueError, match="isolation"):
        SandboxConfig(isolation="docker")  # type: ignore[arg-type]


def test_no_sandbox_warns_loudly_every_time() -> None:
    for _ in range(2):
        out = io.StringIO()
        assert default_isolation(no_sandbox=True, stream=out) == "none"
        assert "WITHOUT isolation" in out.getvalue()
    quiet = io.StringIO()
    assert default_isolation(no_sandbox=False, stream=quiet) == "nsjail"
    assert quiet.getvalue() == ""
    out = io.StringIO()
    warn_no_sandbox(out)
    assert "WARNING" in out.getvalue()


def test_a_broken_nsjail_is_sandbox_unavailable_and_doctor_fails_with_a_fix() -> None:
    cfg = SandboxConfig(isolation="nsjail", nsjail_path="/bin/false", start_timeout=3.0)
    with pytest.raises(SandboxUnavailable, match="doctor"), Worker(cfg):
        pass
    report = diagnose(cfg)
    assert not report.ok
    assert "fix:" in report.render()


@pytest.mark.skipif(not NSJAIL, reason="nsjail cannot run here")
def test_doctor_command_passes_when_nsjail_works() -> None:
    from codegym_mcp.servers.cli import main

    assert main(["doctor"]) == 0


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_pool_serves_concurrent_stateless_calls_and_recovers(isolation: str) -> None:
    cfg = SandboxConfig(isolation=isolation, call_timeout=2.0)  # type: ignore[arg-type]

    async def main() -> None:
        results: dict[int, object] = {}
        async with WorkerPool(cfg, size=2) as pool:

            async def one(i: int) -> None:
                results[i] = await pool.call(source=SOURCE, function="add", args=[i, i])

            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(one, i)
            assert results == {i: 2 * i for i in range(50)}
            with pytest.raises(CallTimeout):
                await pool.call(source=SOURCE, function="loop", timeout=0.2)
            with pytest.raises(CallFailed, match="ValueError: x"):
                await pool.call(source=SOURCE, function="boom", args=["x"])
            assert await pool.call(source=SOURCE, function="add", args=[1, 2]) == 3
            async with pool.lease() as w:
                name = await w.load_source(
                    "STATE = []\ndef push(x):\n    STATE.append(x)\n    return len(STATE)\n"
                )
                assert [await w.call(name, "push", args=[i]) for i in range(3)] == [1, 2, 3]
            pids = pool.pids
        assert pids
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

    anyio.run(main)


def test_cancelling_a_pool_call_kills_its_worker_and_the_pool_goes_on() -> None:
    cfg = SandboxConfig(isolation="nsjail" if NSJAIL else "none", call_timeout=30.0)

    async def main() -> None:
        async with WorkerPool(cfg, size=1) as pool:
            with anyio.move_on_after(0.3):
                await pool.call(source=SOURCE, function="loop")
            with anyio.fail_after(10):
                assert await pool.call(source=SOURCE, function="add", args=[2, 2]) == 4
            async with pool.lease() as w:
                assert w.worker.starts == 2  # the cancelled call took its process with it

    anyio.run(main)


def test_closed_pool_refuses_calls() -> None:
    async def main() -> None:
        pool = WorkerPool(SandboxConfig(isolation="none"), size=1)
        async with pool:
            pass
        with pytest.raises(SandboxError, match="not started or already closed"):
            await pool.call(source=SOURCE, function="add", args=[1, 2])

    anyio.run(main)


def test_no_worker_process_outlives_close() -> None:
    w = Worker(SandboxConfig(isolation="nsjail" if NSJAIL else "none"))
    w.start()
    pid = w.pid
    assert pid is not None
    w.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    leftover = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    assert leftover.stdout == ""


def test_closing_the_pool_wakes_callers_waiting_for_a_worker() -> None:
    errors: list[SandboxError] = []

    async def main() -> None:
        pool = WorkerPool(SandboxConfig(isolation="none"), size=1)
        await pool.start()
        held, release = anyio.Event(), anyio.Event()

        async def holder() -> None:
            async with pool.lease():
                held.set()
                await release.wait()

        async def waiter() -> None:
            try:
                await pool.call(source=SOURCE, function="add", args=[1, 2])
            except SandboxError as exc:
                errors.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(holder)
                await held.wait()
                tg.start_soon(waiter)
                while pool._available is None or pool._available.statistics().tasks_waiting == 0:
                    await anyio.lowlevel.checkpoint()
                tg.start_soon(pool.aclose)
                while not errors:
                    await anyio.lowlevel.checkpoint()
                release.set()  # aclose waits for the lease, then stops the worker
        assert pool.pids == []

    anyio.run(main)
    assert len(errors) == 1
    assert "closed" in str(errors[0])


def test_the_rendered_jail_config_is_the_hardened_one() -> None:
    from codegym_mcp.runtime._nsjail import CgroupSupport, render_config

    text = render_config(SandboxConfig(), cgroups=CgroupSupport(memory=True, pids=True, reason="test"))
    srcs = {line.split('"')[1] for line in text.splitlines() if line.strip().startswith("src:")}
    assert srcs <= {"/usr", "/lib", "/lib64", "/bin", "/dev/null", "/dev/urandom"}
    assert "/" not in srcs and "/root" not in srcs
    assert 'inside_id: "65534"' in text and 'outside_id: "65534"' in text
    assert "keep_env: true" not in text and "clone_newnet: false" not in text
    assert "time_limit: 0" in text  # warm worker: wall time is the host's job
    assert "ptrace" in text and "clone3" in text and "DEFAULT ALLOW" in text
    assert "cgroup_mem_max: 536870912" in text and "cgroup_pids_max: 32" in text
    assert "MALLOC_ARENA_MAX=2" in text


def test_closing_the_pool_stops_calls_in_flight() -> None:
    outcomes: list[BaseException] = []

    async def main() -> None:
        pool = WorkerPool(SandboxConfig(isolation="nsjail" if NSJAIL else "none", call_timeout=30.0), size=1)
        await pool.start()

        async def spin() -> None:
            try:
                await pool.call(source=SOURCE, function="loop")
            except SandboxError as exc:
                outcomes.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(spin)
                while not pool.pids or pool._idle:
                    await anyio.lowlevel.checkpoint()
                await pool.aclose()
        assert pool.pids == []

    anyio.run(main)
    assert len(outcomes) == 1


def test_a_worker_dropped_without_close_stops_its_process() -> None:
    import gc

    w = Worker(SandboxConfig(isolation="nsjail" if NSJAIL else "none"))
    w.start()
    pid = w.pid
    assert pid is not None
    del w
    gc.collect()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_huge_allocation_is_a_memory_error_under_both_isolations(worker: Worker) -> None:
    from codegym_mcp.runtime import MemoryLimitExceeded

    with pytest.raises(MemoryLimitExceeded):
        worker.call("m", "alloc", args=[4 * 1024**3])
    assert worker.call("m", "add", args=[1, 2]) == 3


def test_isolation_summary_says_what_isolates_the_code() -> None:
    from codegym_mcp.runtime import isolation_summary

    assert "NONE" in isolation_summary(SandboxConfig(isolation="none"))
    line = isolation_summary(SandboxConfig())
    assert line.startswith("sandbox: nsjail") and "cgroups:" in line


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_separate_workers_iterate_sets_of_strings_in_the_same_order(isolation: Isolation) -> None:
    """An instance recorded in one worker process and verified in another must agree on
    list(set_of_str), so string hashing is seeded the same in every worker."""
    source = "def order(words):\n    return list(set(words))\n"
    words = [f"w{i}" for i in range(40)]
    orders = []
    for _ in range(3):
        with Worker(SandboxConfig(isolation=isolation)) as w:
            name = w.load_source(source)
            orders.append(w.call(name, "order", args=[words]))
    assert orders[0] == orders[1] == orders[2]
