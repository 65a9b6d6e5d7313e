"""One Worker, many callers: the sync and async paths share one lock and one reply reader."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from codegym_mcp.runtime import OutputTooLarge, SandboxConfig, Worker

SOURCE = """
import time

def echo(x):
    return x

def nap(tag, seconds):
    time.sleep(seconds)
    return tag

def hold(tag, fifos):
    # two named pipes: tell the test the call runs, then wait until the test opens the gate
    with open(fifos + "/started", "w") as f:
        f.write("1")
    with open(fifos + "/gate") as f:
        f.read()
    return tag

def big(n):
    return "x" * n
"""

CFG = SandboxConfig(isolation="none", max_message_bytes=256 * 1024)


def _fifos(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "started")
    os.mkfifo(tmp_path / "gate")
    return tmp_path


async def _started(fifos: Path) -> None:
    """Wait until ``hold`` runs in the worker (bounded; the thread is abandoned on timeout)."""
    with anyio.fail_after(20):
        await anyio.to_thread.run_sync((fifos / "started").read_text, abandon_on_cancel=True)


async def _open_gate(fifos: Path) -> None:
    with anyio.fail_after(20):
        await anyio.to_thread.run_sync((fifos / "gate").write_text, "", abandon_on_cancel=True)


def test_concurrent_acalls_on_one_worker_run_one_after_another_in_arrival_order() -> None:
    finished: list[int] = []
    results: dict[int, Any] = {}

    async def main() -> None:
        with Worker(CFG) as w:
            await w.aload("m", SOURCE)

            async def one(i: int) -> None:
                results[i] = await w.acall("m", "nap", args=[i, 0.01])
                finished.append(i)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for i in range(6):
                        tg.start_soon(one, i)

    anyio.run(main)
    assert results == {i: i for i in range(6)}
    assert finished == list(range(6))


def test_an_acall_waits_for_a_threads_call_in_flight_on_the_same_worker(tmp_path: Path) -> None:
    fifos = _fifos(tmp_path)
    thread_result: list[Any] = []
    task_result: list[Any] = []

    def in_thread(w: Worker) -> None:
        thread_result.append(w.call("m", "hold", args=["thread", str(fifos)]))

    async def main() -> None:
        with Worker(CFG) as w:
            w.load("m", SOURCE)
            thread = threading.Thread(target=in_thread, args=[w], daemon=True)
            thread.start()
            await _started(fifos)

            async def acaller() -> None:
                task_result.append(await w.acall("m", "echo", args=["task"]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(acaller)
                await anyio.wait_all_tasks_blocked()  # the acall waits while the thread's call runs
                await _open_gate(fifos)
            await anyio.to_thread.run_sync(thread.join, 20)

    anyio.run(main)
    assert thread_result == ["thread"]
    assert task_result == ["task"]


def test_a_sync_call_inside_the_event_loop_during_an_acall_raises_instead_of_interleaving(
    tmp_path: Path,
) -> None:
    fifos = _fifos(tmp_path)
    held: list[Any] = []

    async def main() -> None:
        with Worker(CFG) as w:
            await w.aload("m", SOURCE)

            async def holder() -> None:
                held.append(await w.acall("m", "hold", args=["held", str(fifos)]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(holder)
                await _started(fifos)
                with pytest.raises(RuntimeError, match="use acall"):
                    w.call("m", "echo", args=["sync"])
                await _open_gate(fifos)
            assert await w.acall("m", "echo", args=["after"]) == "after"
            assert w.call("m", "echo", args=["sync after"]) == "sync after"

    anyio.run(main)
    assert held == ["held"]


def _call(w: Worker, path: Literal["sync", "async"], n: int) -> Any:
    if path == "sync":
        return w.call("m", "big", args=[n])

    async def main() -> Any:
        return await w.acall("m", "big", args=[n])

    return anyio.run(main)


@pytest.mark.parametrize("path", ["sync", "async"])
def test_both_paths_read_a_reply_split_over_many_reads_and_refuse_one_past_the_cap(
    path: Literal["sync", "async"],
) -> None:
    with Worker(CFG) as w:
        w.load("m", SOURCE)
        assert _call(w, path, 200_000) == "x" * 200_000  # > one 64 KiB read: the buffered path
        assert _call(w, path, 3) == "xxx"
        with pytest.raises(OutputTooLarge):
            _call(w, path, 2 * CFG.max_message_bytes)
        assert _call(w, path, 5) == "xxxxx"  # the worker was replaced and the modules re-loaded


def test_cancelling_an_acall_still_queued_leaves_the_call_in_flight_and_the_process_alone(
    tmp_path: Path,
) -> None:
    fifos = _fifos(tmp_path)
    held: list[Any] = []

    async def main() -> None:
        with Worker(CFG) as w:
            await w.aload("m", SOURCE)
            starts = w.starts

            async def holder() -> None:
                held.append(await w.acall("m", "hold", args=["held", str(fifos)]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(holder)
                await _started(fifos)
                with anyio.move_on_after(0.05) as scope:
                    await w.acall("m", "echo", args=["queued"])  # waits behind the holder: cancelled there
                assert scope.cancelled_caught
                await _open_gate(fifos)
            assert w.starts == starts
            assert await w.acall("m", "echo", args=["after"]) == "after"

    anyio.run(main)
    assert held == ["held"]
