"""Run the async env API from synchronous trainer code: one shared background event loop.

Gymnasium's ``Env`` and SkyRL-gym's ``BaseTextEnv`` are synchronous; the env API
(:class:`~codegym_mcp.servers.CodeGymEnv`) is async. :class:`SyncSession` runs every call on a
background event loop (an anyio blocking portal, a daemon thread shared by all sync envs of
the process and stopped when the last one closes), so a sync ``step`` waits for its answer
without owning a loop. Calling it from inside a running event loop would block that loop for
the whole tool call: that is refused with :class:`BlockingCallInLoop` (use the async env API
there).

One episode is one MCP session: ``reset`` closes the previous session and opens one at the
catalog server's ``BASE/<task_id>/mcp?seed=S`` (or ``?instance=K``), so the same seed gives the
same instance, no harness key is needed, and nothing outlives ``close()``.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import anyio
import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal

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

__all__ = ["BlockingCallInLoop", "SyncSession", "missing_extra", "portal_users"]

T = TypeVar("T")

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_portal_cm: AbstractContextManager[BlockingPortal] | None = None
_users = 0


class BlockingCallInLoop(RuntimeError):
    """A synchronous env method was called from a thread that runs an event loop."""


def missing_extra(package: str, extra: str) -> ImportError:
    """The ImportError raised when a trainer's package is not installed (names the install command)."""
    return ImportError(
        f"{package} is not installed: the {extra} adapter needs it; "
        f"install it with: pip install 'codegym-mcp[{extra}]'"
    )


def portal_users() -> int:
    """How many sync sessions hold the shared background loop (0: its thread is stopped)."""
    return _users


def _acquire() -> BlockingPortal:
    global _portal, _portal_cm, _users
    with _lock:
        if _portal is None:
            _portal_cm = start_blocking_portal(backend="asyncio", name="codegym-sync-env")
            _portal = _portal_cm.__enter__()
        _users += 1
        return _portal


def _release() -> None:
    global _portal, _portal_cm, _users
    with _lock:
        _users -= 1
        if _users > 0 or _portal_cm is None:
            return
        cm, _portal, _portal_cm = _portal_cm, None, None
    cm.__exit__(None, None, None)


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


_Request = tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], "Future[Any]"]


async def _awaited[R](func: Callable[..., Awaitable[R]], *args: Any) -> R:
    return await func(*args)


class _Actor:
    """One task on the background loop that runs a session's calls in order.

    The MCP client's task groups must be entered and left by the same task: every call of a
    session (connect, step, close) therefore runs in this one long-lived task. Requests are
    handed over with ``call_soon_threadsafe`` and answered through a ``concurrent.futures``
    future, so an async caller on another loop awaits it without blocking that loop.
    """

    def __init__(self, portal: BlockingPortal) -> None:
        send, receive = anyio.create_memory_object_stream[_Request](math.inf)
        self._send, self._receive = send, receive
        self._loop: asyncio.AbstractEventLoop = portal.call(asyncio.get_running_loop)
        self._task = portal.start_task_soon(self._serve)

    async def _serve(self) -> None:
        async with self._receive:
            async for func, args, future in self._receive:
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(await func(*args))
                except BaseException as exc:  # handed to the caller's thread, re-raised there
                    future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise

    def submit(self, func: Callable[..., Awaitable[T]], *args: Any) -> Future[T]:
        future: Future[Any] = Future()
        self._loop.call_soon_threadsafe(self._send.send_nowait, (func, args, future))
        return future

    def run_soon(self, func: Callable[..., Awaitable[T]], *args: Any) -> Future[T]:
        """Run ``func`` in a task of its own on the loop: one hop less than :meth:`submit`, for
        calls that need not be made by the session's own task (tool calls)."""
        return asyncio.run_coroutine_threadsafe(_awaited(func, *args), self._loop)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._send.close)
        self._task.result()


class SyncSession:
    """Synchronous episodes of one gym of a catalog server, each in its own MCP session.

    Args:
        catalog_url: the catalog server's base URL (``codegym-mcp serve --all --transport http``).
        task_id: the gym to play.
        instance: the instance of a reset given neither a seed nor ``options["instance"]``
            (default: the server's order, 0, 1, 2, ...).
        read_timeout: seconds to wait for any one answer of the server.

    Raises:
        ServerFailure: the server cannot be reached (at construction: the tools are listed then).
    """

    def __init__(
        self,
        catalog_url: str,
        task_id: str,
        *,
        instance: int | None = None,
        read_timeout: float = 120.0,
        connect: bool = True,
    ) -> None:
        if connect:
            _refuse_in_loop("SyncSession()")
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
        self._actor = _Actor(_acquire())
        if connect:  # the tools are listed now (a gymnasium action space needs them up front)
            try:
                self._run(self._start_first)
            except BaseException:
                self.close()
                raise
            self._fresh = True

    # ------------------------------------------------------------------ sync API

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
        """
        _refuse_in_loop("reset()")
        return self._actor.submit(self._start, *self._plan(seed, instance)).result()

    async def areset(
        self, *, seed: int | None = None, instance: int | None = None
    ) -> tuple[Observation, ResetInfo]:
        """:meth:`reset` for async callers: awaits the background loop without blocking the caller's.

        Raises:
            EnvClosed: the session was closed.
            ServerFailure: the server could not start the episode.
        """
        return await asyncio.wrap_future(self._actor.submit(self._start, *self._plan(seed, instance)))

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

    def step(self, call: ToolCall) -> tuple[Observation, float, bool, bool, StepInfo]:
        """One tool call (the env API's step, on the background loop).

        Raises:
            EnvClosed: the session was closed.
            EpisodeOver: no episode is running: call reset().
            ServerFailure: a protocol error or a broken connection.
        """
        _refuse_in_loop("step()")
        self._check_open()
        return self._actor.run_soon(self._step, call).result()

    async def astep(self, call: ToolCall) -> tuple[Observation, float, bool, bool, StepInfo]:
        """:meth:`step` for async callers: awaits the background loop without blocking the caller's.

        Raises:
            EnvClosed: the session was closed.
            EpisodeOver: no episode is running: call reset().
            ServerFailure: a protocol error or a broken connection.
        """
        self._check_open()
        return await asyncio.wrap_future(self._actor.run_soon(self._step, call))

    async def _step(self, call: ToolCall) -> tuple[Observation, float, bool, bool, StepInfo]:
        if self._env is None:
            raise EpisodeOver("no episode started: call reset() first", task_id=self.task_id)
        return await self._env.step(call)

    @property
    def env(self) -> CodeGymEnv:
        """The async env of the current episode (chat export, episode record)."""
        self._check_open()
        assert self._env is not None
        return self._env

    def close(self) -> None:
        """Close the MCP session and the HTTP client; release the background loop (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            try:
                self._run(self._shutdown)
            finally:
                self._actor.stop()
        finally:
            _release()

    async def aclose(self) -> None:
        """:meth:`close` for async callers (the loop is not blocked while the session closes)."""
        if self._closed:
            return
        self._closed = True
        try:
            try:
                await asyncio.wrap_future(self._actor.submit(self._shutdown))
            finally:
                await asyncio.to_thread(self._actor.stop)
        finally:
            await asyncio.to_thread(_release)

    async def _shutdown(self) -> None:
        env, http, self._env, self._http = self._env, self._http, None, None
        try:
            if env is not None:
                await env.close()
        finally:
            if http is not None:
                await http.aclose()

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise EnvClosed("this env is closed: make a new one", task_id=self.task_id)

    def _run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self._actor.submit(func, *args).result()

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
