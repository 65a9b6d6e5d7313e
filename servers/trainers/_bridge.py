"""Run the async env API from synchronous trainer code, and from another server's event loop.

Gymnasium's ``Env`` and SkyRL-gym's ``BaseTextEnv`` are synchronous; the env API
(:class:`~codegym_mcp.servers.CodeGymEnv`) is async. :class:`SyncSession` gives each sync env an
event loop of its own that the calling thread drives for the length of each call
(``run_until_complete``): a step runs in the trainer's own thread, with no hop to a background
thread and back (on a loaded machine each hop waits for the scheduler). Between calls the loop
is idle and holds no thread. Calling a sync method from inside a running event loop would block
that loop for the whole tool call: that is refused with :class:`BlockingCallInLoop` (use the
async env API there, or :class:`AsyncSession`).

:class:`AsyncSession` is the same episodes for code already on an event loop (the OpenEnv
server): its calls run on the caller's loop; only ``close()`` may come from another thread.

One episode is one MCP session: ``reset`` closes the previous session and opens one at the
catalog server's ``BASE/<task_id>/mcp?seed=S`` (or ``?instance=K``), so the same seed gives the
same instance, no harness key is needed, and nothing outlives ``close()``. The MCP client's task
groups must be entered and left by one task, so a session's connects and closes run in one
long-lived task of its loop (:class:`_Actor`); tool calls need not and run in the caller's task.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx2

from ..mcp._catalog_server import catalog_task_url
from ..mcp._sessions import AUTH_TOKEN_ENV
from ..rollout._connectors import shared_http_client
from ..rollout._env import (
    CodeGymEnv,
    EnvClosed,
    EpisodeOver,
    Observation,
    ResetInfo,
    StepInfo,
    ToolCall,
    ToolInfo,
)

__all__ = ["AsyncSession", "BlockingCallInLoop", "SyncSession", "missing_extra", "open_sessions"]

T = TypeVar("T")
StepResult = tuple[Observation, float, bool, bool, StepInfo]

_count_lock = threading.Lock()
_open = 0
_closing: set[asyncio.Task[None]] = set()  # closes scheduled from their own loop's thread


class BlockingCallInLoop(RuntimeError):
    """A synchronous env method was called from a thread that runs an event loop."""


def missing_extra(package: str, extra: str) -> ImportError:
    """The ImportError raised when a trainer's package is not installed (names the install command)."""
    return ImportError(
        f"{package} is not installed: the {extra} adapter needs it; "
        f"install it with: pip install 'codegym-mcp[{extra}]'"
    )


def open_sessions() -> int:
    """How many sync and async sessions are open (made and not closed yet): 0 after every env closed."""
    return _open


def _count(delta: int) -> None:
    global _open
    with _count_lock:
        _open += delta


def _refuse_in_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise BlockingCallInLoop(
        f"{what} was called from a running event loop: a synchronous step would block that loop for the "
        "whole tool call; in async code use the async env API (codegym_mcp.servers.CodeGymEnv), or call "
        "this env from a worker thread (asyncio.to_thread)"
    )


_Request = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], "asyncio.Future[Any]"]


class _Actor:
    """One task of a loop that runs a session's connects and closes in order (see the module doc)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="codegym-session")

    async def _serve(self) -> None:
        while (request := await self._queue.get()) is not None:
            func, args, future = request
            try:
                result = await func(*args)
            except Exception as exc:  # handed to the caller, re-raised there
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` in the actor's task; wait for its result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((func, args, future))
        return await future

    async def stop(self) -> None:
        """Let the task finish (after the calls already queued)."""
        self._queue.put_nowait(None)
        await self._task


class _Episodes:
    """The episodes of one gym of a catalog server, each in its own MCP session (the shared logic)."""

    def __init__(self, catalog_url: str, task_id: str, *, instance: int | None, read_timeout: float) -> None:
        self.catalog_url = catalog_url
        self.task_id = task_id
        self._instance = instance
        self._read_timeout = read_timeout
        self._rng: random.Random | None = None
        self._env: CodeGymEnv | None = None
        self._http: httpx2.AsyncClient | None = None
        self._fresh = False
        self._closed = False
        self.tools: tuple[ToolInfo, ...] = ()

    @property
    def env(self) -> CodeGymEnv:
        """The async env of the current episode (chat export, episode record)."""
        self._check_open()
        assert self._env is not None
        return self._env

    def _check_open(self) -> None:
        if self._closed:
            raise EnvClosed("this env is closed: make a new one", task_id=self.task_id)

    def _plan(self, seed: int | None, instance: int | None) -> tuple[bool, int | None, int | None]:
        """(reuse the constructor's session, instance, seed) of the next episode."""
        self._check_open()
        reuse = self._fresh and seed is None and instance is None
        self._fresh = False
        if seed is not None:
            self._rng = random.Random(seed)
        elif instance is None and not reuse:
            if self._instance is not None and self._rng is None:
                instance = self._instance
            else:
                self._rng = self._rng or random.Random()
                seed = self._rng.randrange(2**31)
        return reuse, instance, seed

    async def _start_first(self) -> None:
        self._env = await self._connect(self._instance, None)
        self.tools = self._env.agent_tools

    async def _start(
        self, reuse: bool, instance: int | None, seed: int | None
    ) -> tuple[Observation, ResetInfo]:
        if not reuse:
            self._env = await self._reconnect(instance, seed)
            self.tools = self._env.agent_tools
        assert self._env is not None
        return await self._env.reset()

    async def _step(self, call: ToolCall) -> StepResult:
        self._check_open()
        if self._env is None:
            raise EpisodeOver("no episode started: call reset() first", task_id=self.task_id)
        return await self._env.step(call)

    async def _shutdown(self) -> None:
        env, http, self._env, self._http = self._env, self._http, None, None
        try:
            if env is not None:
                await env.close()
        finally:
            if http is not None:
                await http.aclose()

    async def _connect(self, instance: int | None, seed: int | None) -> CodeGymEnv:
        if self._http is None:
            # a server started with --auth-token: the same token from $CODEGYM_AUTH_TOKEN
            self._http = shared_http_client(max_connections=4, auth_token=os.environ.get(AUTH_TOKEN_ENV))
            await self._http.__aenter__()
        url = catalog_task_url(self.catalog_url, self.task_id, instance=instance, seed=seed)
        return await CodeGymEnv.connect(
            url, task_id=self.task_id, read_timeout=self._read_timeout, http_client=self._http
        )

    async def _reconnect(self, instance: int | None, seed: int | None) -> CodeGymEnv:
        if self._env is not None:
            old, self._env = self._env, None
            await old.close()
        return await self._connect(instance, seed)


class SyncSession(_Episodes):
    """Synchronous episodes of one gym of a catalog server, each in its own MCP session.

    Every call runs on the session's own event loop, driven by the calling thread until the
    answer is in (any thread may call; calls from several threads at once are serialized).

    Args:
        catalog_url: the catalog server's base URL (``codegym-mcp serve --all --transport http``).
        task_id: the gym to play.
        instance: the instance of a reset given neither a seed nor ``options["instance"]``
            (default: the server's order, 0, 1, 2, ...).
        read_timeout: seconds to wait for any one answer of the server.

    Raises:
        ServerFailure: the server cannot be reached (at construction: the tools are listed then).
        BlockingCallInLoop: made from inside a running event loop.
    """

    def __init__(
        self, catalog_url: str, task_id: str, *, instance: int | None = None, read_timeout: float = 120.0
    ) -> None:
        _refuse_in_loop("SyncSession()")
        super().__init__(catalog_url, task_id, instance=instance, read_timeout=read_timeout)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._actor = self._loop.run_until_complete(_started_actor())
        _count(1)
        try:  # the tools are listed now (a gymnasium action space needs them up front)
            self._run(self._actor.call(self._start_first))
        except BaseException:
            self.close()
            raise
        self._fresh = True

    def reset(self, *, seed: int | None = None, instance: int | None = None) -> tuple[Observation, ResetInfo]:
        """Start an episode in a new MCP session: on ``instance``, else the instance of ``seed``.

        ``seed`` S plays the instance the server draws from S (the same seed, the same instance)
        and seeds the draws of later resets given neither; without either, the env's ``instance``
        (from the constructor) is played when set, else the next seed is drawn (from the last
        seed given, or unseeded). The very first reset given neither plays the session opened
        by the constructor.

        Raises:
            EnvClosed: the session was closed.
            ServerFailure: the server could not start the episode.
            BlockingCallInLoop: called from inside a running event loop.
        """
        _refuse_in_loop("reset()")
        plan = self._plan(seed, instance)
        return self._run(self._actor.call(self._start, *plan))

    def step(self, call: ToolCall) -> StepResult:
        """One tool call (the env API's step, on this session's loop, in the calling thread).

        Raises:
            EnvClosed: the session was closed.
            EpisodeOver: no episode is running: call reset().
            ServerFailure: a protocol error or a broken connection.
            BlockingCallInLoop: called from inside a running event loop.
        """
        _refuse_in_loop("step()")
        self._check_open()
        return self._run(self._step(call))

    def close(self) -> None:
        """Close the MCP session and the HTTP client, then the loop (idempotent).

        Raises:
            BlockingCallInLoop: called from inside a running event loop.
        """
        _refuse_in_loop("close()")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop = self._loop
            try:
                try:
                    loop.run_until_complete(self._actor.call(self._shutdown))
                finally:
                    loop.run_until_complete(self._actor.stop())
                    _cancel_left(loop)
                    loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                _count(-1)

    def _run(self, work: Awaitable[T]) -> T:
        with self._lock:
            if self._loop.is_closed():
                if asyncio.iscoroutine(work):
                    work.close()
                raise EnvClosed("this env is closed: make a new one", task_id=self.task_id)
            task = asyncio.ensure_future(work, loop=self._loop)
            # interrupted (Ctrl-C, SIGTERM) the call finishes on a later run of the loop: its error,
            # if any, was already raised to nobody, so it is not logged as never retrieved
            task.add_done_callback(_retrieved)
            return self._loop.run_until_complete(task)


async def _started_actor() -> _Actor:
    return _Actor()


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _cancel_left(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and reap the tasks a closed session left on its loop (none, when its client closed cleanly)."""
    left = asyncio.all_tasks(loop)
    for task in left:
        task.cancel()
    if left:
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))


class AsyncSession(_Episodes):
    """The episodes of :class:`SyncSession` for code on an event loop: calls run on the caller's loop.

    Make it, reset it and step it on one running loop; close it with :meth:`aclose` there, or
    with :meth:`close` from any thread (the OpenEnv server closes its envs from a worker thread).

    Args:
        catalog_url: the catalog server's base URL.
        task_id: the gym to play.
        read_timeout: seconds to wait for any one answer of the server.

    Raises:
        RuntimeError: made outside a running event loop.
    """

    def __init__(self, catalog_url: str, task_id: str, *, read_timeout: float = 120.0) -> None:
        super().__init__(catalog_url, task_id, instance=None, read_timeout=read_timeout)
        self._loop = asyncio.get_running_loop()
        self._actor = _Actor()
        self._stopped = asyncio.Event()
        _count(1)

    async def reset(
        self, *, seed: int | None = None, instance: int | None = None
    ) -> tuple[Observation, ResetInfo]:
        """:meth:`SyncSession.reset`, awaited.

        Raises:
            EnvClosed: the session was closed.
            ServerFailure: the server could not start the episode.
        """
        return await self._actor.call(self._start, *self._plan(seed, instance))

    async def step(self, call: ToolCall) -> StepResult:
        """:meth:`SyncSession.step`, awaited.

        Raises:
            EnvClosed: the session was closed.
            EpisodeOver: no episode is running: call reset().
            ServerFailure: a protocol error or a broken connection.
        """
        return await self._step(call)

    async def aclose(self) -> None:
        """Close the MCP session and the HTTP client (idempotent; waits for a close under way)."""
        if self._closed:
            await self._stopped.wait()
            return
        self._closed = True
        try:
            try:
                await self._actor.call(self._shutdown)
            finally:
                await self._actor.stop()
        finally:
            self._stopped.set()
            _count(-1)

    def close(self) -> None:
        """Close from any thread: waits for :meth:`aclose` on the session's loop; from the loop's own
        thread it is scheduled there instead (that loop cannot be blocked).

        Raises:
            TimeoutError: the loop did not close the session within ``read_timeout`` (it is stopped
                or blocked).
        """
        if self._closed or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            task = self._loop.create_task(self.aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), self._loop).result(timeout=self._read_timeout)
