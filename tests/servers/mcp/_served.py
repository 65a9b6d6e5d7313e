"""A catalog server on the fixture catalog, in-process over HTTP, with the records it writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from codegym_mcp.runtime import Catalog, SandboxConfig, ToolRunner, WorkerPool
from codegym_mcp.schemas import EpisodeRecord
from codegym_mcp.servers.mcp._catalog_server import running_http_server
from codegym_mcp.servers.mcp._sessions import SessionLimits

from .._serve_helpers import FIXTURE


@dataclass
class Served:
    """The server's base URL and the episode records it wrote, in order."""

    base: str
    records: list[EpisodeRecord] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)  # set (and replaced) at each record
    taken: int = 0  # records handed out by next_record

    def on_end(self, record: EpisodeRecord) -> None:
        self.records.append(record)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_records(self, n: int, *, seconds: float = 20.0) -> list[EpisodeRecord]:
        """The records once there are ``n`` of them.

        Raises:
            TimeoutError: fewer than ``n`` within ``seconds``.
        """
        with anyio.fail_after(seconds):
            while len(self.records) < n:
                await self.changed.wait()
        return self.records

    async def next_record(self) -> EpisodeRecord:
        """The newest record, once one was written since the last call.

        Raises:
            TimeoutError: none within 10 seconds.
        """
        await self.wait_records(self.taken + 1, seconds=10.0)
        self.taken = len(self.records)
        return self.records[-1]


@asynccontextmanager
async def serving(
    *,
    runner: ToolRunner | None = None,
    limits: SessionLimits | None = None,
    auth_token: str | None = None,
    workers: int = 1,
) -> AsyncIterator[Served]:
    """Serve the fixture catalog (unsandboxed workers, or ``runner``); yield what it serves and writes."""
    served = Served(base="")
    async with (
        WorkerPool(SandboxConfig(isolation="none"), size=workers) as pool,
        running_http_server(
            Catalog(FIXTURE), runner or pool, on_end=served.on_end, limits=limits, auth_token=auth_token
        ) as base,
    ):
        served.base = base
        yield served
