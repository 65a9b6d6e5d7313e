"""The env API when its server fails: a server that cannot be reached, hangs or dies mid-episode
gives a clear ServerFailure or a bounded close, and leaves no task, thread or socket behind."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from codegym_mcp.servers import CodeGymEnv, ServerFailure, ToolCall
from codegym_mcp.servers.rollout._connectors import shared_http_client

from .._serve_helpers import FIXTURE, SERVE, base_url_of, killed_after, serve_env

pytestmark = pytest.mark.anyio


@contextmanager
def server_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A catalog server process on the fixture catalog; yields (process, base URL); killed on exit."""
    args = ["--all", "--catalog", str(FIXTURE), "--port", "0", "--no-sandbox"]
    with (
        subprocess.Popen(
            [*SERVE, *args], stderr=subprocess.PIPE, text=True, encoding="utf-8", env=serve_env()
        ) as proc,
        killed_after(proc, 120),  # a loaded machine starts a server slowly; a hung test ends
    ):
        try:
            yield proc, base_url_of(proc)
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.kill()


def open_sockets() -> set[str]:
    """The sockets this process holds open (``socket:[inode]``)."""
    sockets = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            sockets.add(target)
    return sockets


@contextmanager
def nothing_left_behind() -> Iterator[None]:
    """Fails if the block leaves a new asyncio task, thread or socket open."""
    tasks, threads, sockets = set(asyncio.all_tasks()), set(threading.enumerate()), open_sockets()
    yield
    assert set(asyncio.all_tasks()) - tasks == set()
    assert set(threading.enumerate()) - threads == set()
    assert open_sockets() - sockets == set()


async def test_close_is_bounded_when_the_server_hangs_mid_episode_and_leaves_nothing_open() -> None:
    with server_process() as (proc, base), nothing_left_behind():
        env = await CodeGymEnv.connect(f"{base}/Fixture_maxsub/mcp", close_timeout=1.0)
        await env.reset()
        assert not (await env.step(ToolCall("observe", {})))[0].is_error
        proc.send_signal(signal.SIGSTOP)  # hung: its connections stay open, nothing answers
        started = time.monotonic()
        # No timeout scope around close: the session's scopes must be exited from the connect's own.
        # Without the bound the DELETE waits out its 300 s read timeout, or until the watchdog kills
        # the server (120 s): far past this generous limit.
        await env.close()
        assert time.monotonic() - started < 60


async def test_close_returns_when_the_server_was_killed_mid_episode_and_leaves_nothing_open() -> None:
    with server_process() as (proc, base):
        async with shared_http_client() as http:
            with nothing_left_behind():
                env = await CodeGymEnv.connect(f"{base}/Fixture_vowels/mcp", http_client=http)
                await env.reset()
                assert not (await env.step(ToolCall("get_length", {})))[0].is_error
                proc.kill()
                proc.wait(timeout=30)
                await env.close()  # the DELETE is refused: not an error, the session is over


async def test_connecting_to_no_server_raises_server_failure_naming_the_url_and_leaves_nothing_open() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # a free port: nothing listens there once the probe is closed
    url = f"http://127.0.0.1:{port}/Fixture_maxsub/mcp"
    with nothing_left_behind(), anyio.fail_after(60), pytest.raises(ServerFailure) as failed:
        await CodeGymEnv.connect(url, task_id="Fixture_maxsub")
    message = str(failed.value)
    assert f"could not open an MCP session with {url}" in message and "ConnectError" in message
    assert "check that the server is running" in message
    assert failed.value.task_id == "Fixture_maxsub"
