"""The OpenEnv server's direct mode: it serves the gyms of a catalog directory itself.

In the relay mode (``--catalog-url``) each OpenEnv environment plays through a second MCP client
that talks streamable HTTP to a catalog server: two hops per step, and the relay's HTTP client
costs CPU on every call. In the direct mode (``--catalog DIR``) the OpenEnv server process holds
the gyms and one sandbox :class:`~codegym_mcp.runtime.WorkerPool`; each episode is still played
through the env API (:class:`~codegym_mcp.servers.CodeGymEnv`, the same MCP calls, step indexes
and episode metadata), over the MCP SDK's in-memory transport to a ``GymServer`` of this process.

The pool lives as long as the app: :meth:`DirectGyms.running` is the FastAPI app's lifespan
(uvicorn starts the workers before it accepts a connection and stops them on shutdown).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ...runtime import (
    BadReset,
    Catalog,
    CatalogError,
    Gym,
    InstancePicker,
    SandboxConfig,
    WorkerPool,
    default_isolation,
    episode_count,
)
from ..mcp._server import GymServer, ServeOptions
from ..rollout._env import CodeGymEnv, ServerFailure
from ._bridge import AsyncSession

__all__ = ["DirectGyms", "DirectSession"]


class DirectGyms:
    """The gyms of one catalog directory and the sandbox pool their tool code runs in.

    Args:
        catalog: the catalog directory (``codegym-mcp generate --out DIR``).
        workers: sandbox workers (default: up to 4, one per core), the bound on tool calls run at once.
        no_sandbox: run tool code in plain subprocesses (trusted catalogs only, as ``serve --no-sandbox``).

    Raises:
        CatalogNotFound: ``catalog`` is not a directory.
    """

    def __init__(self, catalog: Path | str, *, workers: int | None = None, no_sandbox: bool = False) -> None:
        self.catalog = Catalog(Path(catalog))
        self.catalog.task_ids()  # a missing directory fails now, not at the first reset
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._config = SandboxConfig(isolation=default_isolation(no_sandbox=no_sandbox))
        self._pool: WorkerPool | None = None

    @asynccontextmanager
    async def running(self, _app: Any = None) -> AsyncIterator[None]:
        """Start the sandbox pool; stop it (and every worker) on the way out: the app's lifespan.

        Raises:
            SandboxError: the workers could not start.
        """
        async with WorkerPool(self._config, size=self.workers) as pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None

    def gym(self, task_id: str) -> Gym:
        """The loaded gym of ``task_id``.

        Raises:
            ValueError: the catalog has no such gym, or it is broken (the message names the nearest ids).
        """
        try:
            return self.catalog.load(task_id)
        except CatalogError as exc:
            raise ValueError(f"cannot play task {task_id!r}: {exc}") from exc

    async def connect(
        self, task_id: str, *, instance: int | None, seed: int | None, read_timeout: float
    ) -> CodeGymEnv:
        """A new MCP session of ``task_id`` served in this process; its first episode is on
        ``instance``, else on the instance of ``seed`` (as the catalog server's ``?instance=``/``?seed=``).

        Raises:
            ValueError: no such gym, or no such instance.
            ServerFailure: the pool is not running (the app was not started with its lifespan).
        """
        if self._pool is None:
            raise ServerFailure(
                "the direct OpenEnv server's sandbox pool is not running: serve the app with its lifespan "
                "(uvicorn does by default; lifespan='off' disables it)",
                task_id=task_id,
            )
        gym = self.gym(task_id)
        try:
            InstancePicker(episode_count(gym), start=instance, seed=seed)
        except BadReset as exc:
            raise ValueError(f"cannot play {task_id}: {exc}") from exc
        server = GymServer(gym, self._pool, options=ServeOptions(instance=instance, seed=seed))
        return await CodeGymEnv.connect(
            server.server, task_id=task_id, read_timeout=read_timeout, harness_key=server.harness_key
        )


class DirectSession(AsyncSession):
    """:class:`~._bridge.AsyncSession` whose MCP sessions are served in this process by ``gyms``.

    Args:
        gyms: the catalog and sandbox pool of this process.
        task_id: the gym to play.
        read_timeout: seconds to wait for any one answer.
    """

    def __init__(self, gyms: DirectGyms, task_id: str, *, read_timeout: float = 120.0) -> None:
        super().__init__(f"direct:{gyms.catalog.path}", task_id, read_timeout=read_timeout)
        self._gyms = gyms

    async def _connect(self, instance: int | None, seed: int | None) -> CodeGymEnv:
        return await self._gyms.connect(
            self.task_id, instance=instance, seed=seed, read_timeout=self._read_timeout
        )
