"""How a rollout reaches gym servers: one catalog server over HTTP, a stdio server per episode, or in-process.

- :func:`catalog_subprocess` starts ``codegym-mcp serve --catalog DIR --transport http --port 0``
  as a child process and yields its base URL once it listens (its own cores: the server's
  event loop does not share the rollout's GIL);
- :func:`catalog_inprocess` runs the same catalog server inside this process;
- :func:`http_connector` opens one MCP session per episode at ``BASE/<task_id>/mcp?instance=K``;
- :func:`stdio_connector` launches ``codegym-mcp serve TASK --instance K`` per episode (stdio);
- :func:`memory_connector` serves a gym in-process through the MCP SDK's memory transport
  (tests and the benchmark's breakdown).

Servers are started with a harness key (``$CODEGYM_HARNESS_KEY`` in the child's environment, or
``ServeOptions.harness_key``) that the connectors hand to each ``CodeGymEnv``: only the harness
can start a session's next episode (a GRPO group), never the agent.

Exceptions::

    RuntimeError
     +-- EnvError (servers._env)
          +-- ServerStartFailed   the catalog server did not come up (carries its last output lines)
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import ssl
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
from anyio.abc import ByteReceiveStream, Process
from mcp.client.stdio import StdioServerParameters

from ...runtime import CalibratedCatalog, Catalog, PassRateRange, WorkerPool
from ..mcp._catalog_server import catalog_task_url
from ..mcp._server import HARNESS_KEY_ENV
from ._env import CodeGymEnv, EnvError
from ._rollout import Connector, EpisodeSpec

__all__ = [
    "ServerStartFailed",
    "catalog_inprocess",
    "catalog_subprocess",
    "http_connector",
    "memory_connector",
    "pass_rate_args",
    "server_subprocess",
    "shared_http_client",
    "stdio_connector",
]

_URL = re.compile(r"https?://[\w.\-\[\]:]+:\d+")


class ServerStartFailed(EnvError):
    """The catalog server process exited or did not print its URL in time."""

    def __init__(self, message: str, output: Sequence[str]) -> None:
        tail = "\n".join(output[-20:])
        super().__init__(f"{message}\n--- last server output ---\n{tail}" if tail else message)
        self.output = list(output)


def _serve_command(catalog: Path, *, no_sandbox: bool, host: str, extra: Sequence[str]) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "codegym_mcp.servers",
        "serve",
        "--all",
        "--catalog",
        str(catalog),
        "--transport",
        "http",
        "--host",
        host,
        "--port",
        "0",
        "--drain-timeout",  # stopped at the end of a run: whatever still runs is cut short
        "5",
    ]
    if no_sandbox:
        command.append("--no-sandbox")
    return [*command, *extra]


@asynccontextmanager
async def catalog_subprocess(
    catalog: Path,
    *,
    no_sandbox: bool = False,
    host: str = "127.0.0.1",
    startup_timeout: float = 60.0,
    extra_args: Sequence[str] = (),
    echo: bool = False,
    harness_key: str | None = None,
    pass_rates: PassRateRange | None = None,
) -> AsyncIterator[str]:
    """Run a catalog server as a child process; yield its base URL (``http://HOST:PORT``).

    ``harness_key`` reaches the child as ``$CODEGYM_HARNESS_KEY`` (not on its command line).
    ``pass_rates``: serve only the episodes whose calibrated pass rate is in range (see
    :class:`~codegym_mcp.runtime.CalibratedCatalog`).

    Raises:
        ServerStartFailed: the process exited, or printed no URL within ``startup_timeout``.
    """
    extra = [*pass_rate_args(pass_rates), *extra_args]
    command = _serve_command(catalog, no_sandbox=no_sandbox, host=host, extra=extra)
    env = None if harness_key is None else {**os.environ, HARNESS_KEY_ENV: harness_key}
    async with server_subprocess(command, startup_timeout=startup_timeout, echo=echo, env=env) as url:
        yield url


@asynccontextmanager
async def server_subprocess(
    command: Sequence[str],
    *,
    startup_timeout: float = 60.0,
    echo: bool = False,
    env: dict[str, str] | None = None,
) -> AsyncIterator[str]:
    """Run an HTTP server command; yield the first ``http://HOST:PORT`` it prints (stdout or stderr).

    The child's output is drained all along (kept for error messages, echoed to stderr with
    ``echo``; warnings are always echoed); on exit the child gets SIGTERM, then SIGKILL after 10 s.

    Raises:
        ServerStartFailed: the process exited, or printed no URL within ``startup_timeout``.
    """
    command = list(command)
    output: deque[str] = deque(maxlen=200)
    found: list[str] = []
    ready = anyio.Event()
    process: Process = await anyio.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )

    async def drain(stream: ByteReceiveStream | None) -> None:
        if stream is None:
            return
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                output.append(line)
                if echo or (ready.is_set() and "WARNING" in line):
                    print(f"[server] {line}", file=sys.stderr)
                match = _URL.search(line)
                if match and not ready.is_set():
                    found.append(match.group(0))
                    ready.set()
        if not ready.is_set():
            ready.set()  # the process ended without a URL: wake the waiter

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain, process.stdout)
            tg.start_soon(drain, process.stderr)
            with anyio.move_on_after(startup_timeout) as waited:
                await ready.wait()
            if not found:
                tg.cancel_scope.cancel()
                if waited.cancelled_caught:
                    why = f"did not print its URL within {startup_timeout:.0f}s"
                else:
                    with anyio.move_on_after(5):
                        await process.wait()
                    why = f"exited (code {process.returncode}) before printing its URL"
                raise ServerStartFailed(f"the server ({' '.join(command[2:])}) {why}", list(output))
            try:
                yield found[0]
            finally:
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await process.aclose()


@asynccontextmanager
async def catalog_inprocess(
    catalog: Path,
    *,
    no_sandbox: bool = False,
    host: str = "127.0.0.1",
    workers: int | None = None,
    harness_key: str | None = None,
    pass_rates: PassRateRange | None = None,
) -> AsyncIterator[str]:
    """Run the catalog server inside this process (same event loop); yield its base URL.

    ``pass_rates``: serve only the episodes whose calibrated pass rate is in range.

    Raises:
        OSError: the address cannot be bound.
        SandboxError: the sandbox workers could not start.
        BadCalibration: ``pass_rates`` given and the catalog has no valid calibration.json.
    """
    from ...runtime import SandboxConfig, default_isolation
    from ..mcp._catalog_server import running_http_server
    from ..mcp._server import ServeOptions

    config = SandboxConfig(isolation=default_isolation(no_sandbox=no_sandbox))
    options = ServeOptions(harness_key=harness_key)
    async with (
        WorkerPool(config, size=workers or max(1, min(4, os.cpu_count() or 1))) as pool,
        running_http_server(
            Catalog(catalog) if pass_rates is None else CalibratedCatalog(catalog, pass_rates),
            pool,
            host=host,
            port=0,
            options=options,
        ) as base,
    ):
        yield base


def pass_rate_args(pass_rates: PassRateRange | None) -> list[str]:
    """``serve`` flags asking for the pass-rate filter (none when ``pass_rates`` is None)."""
    if pass_rates is None:
        return []
    return ["--min-pass-rate", repr(pass_rates.min_rate), "--max-pass-rate", repr(pass_rates.max_rate)]


def http_connector(
    base_url: str,
    *,
    http_client: httpx2.AsyncClient | None = None,
    read_timeout: float = 120.0,
    harness_key: str | None = None,
    auth_token: str | None = None,
) -> Connector:
    """Connector opening one MCP session per episode on a catalog server.

    Pass one ``http_client`` (see :func:`shared_http_client`) for the whole run: sessions then
    reuse its connection pool instead of building an HTTP client (and a TLS context) each.
    ``harness_key``: the server's (default ``$CODEGYM_HARNESS_KEY``), for groups of episodes.
    ``auth_token``: the server's bearer token (default ``$CODEGYM_AUTH_TOKEN``).
    """

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        url = catalog_task_url(base_url, spec.task_id, instance=spec.instance)
        return await CodeGymEnv.connect(
            url,
            task_id=spec.task_id,
            read_timeout=read_timeout,
            http_client=http_client,
            harness_key=harness_key,
            auth_token=auth_token,
        )

    return connect


def shared_http_client(*, max_connections: int = 256, auth_token: str | None = None) -> httpx2.AsyncClient:
    """An HTTP client for many MCP sessions (the SDK's default timeouts); use it as ``async with``.

    ``auth_token``: sent as ``Authorization: Bearer TOKEN`` on every request (``serve --auth-token``).
    """
    timeout = httpx2.Timeout(30.0, read=300.0)
    limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    headers = {"authorization": f"Bearer {auth_token}"} if auth_token else None
    return httpx2.AsyncClient(timeout=timeout, limits=limits, headers=headers, verify=_tls_context())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: building one loads the CA bundle, ~40 ms of
    CPU, which a trainer making an env per episode would otherwise pay each time."""
    return httpx2.create_ssl_context()


def stdio_connector(
    catalog: Path,
    *,
    no_sandbox: bool = False,
    read_timeout: float = 120.0,
    harness_key: str | None = None,
    pass_rates: PassRateRange | None = None,
) -> Connector:
    """Connector launching one stdio server process per episode (what desktop agents do).

    Each server gets ``harness_key`` (a random one by default) in its environment, and serves
    only the episodes in ``pass_rates`` when given.
    """
    key = harness_key or secrets.token_urlsafe(24)

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        args = ["-m", "codegym_mcp.servers", "serve", spec.task_id, "--catalog", str(catalog)]
        args += ["--instance", str(spec.instance), "--transport", "stdio"]
        if no_sandbox:
            args.append("--no-sandbox")
        args += pass_rate_args(pass_rates)
        params = StdioServerParameters(command=sys.executable, args=args, env={HARNESS_KEY_ENV: key})
        return await CodeGymEnv.connect(
            params, task_id=spec.task_id, read_timeout=read_timeout, harness_key=key
        )

    return connect


def memory_connector(catalog: Catalog, pool: WorkerPool) -> Connector:
    """Connector serving each episode's gym in-process (MCP over memory streams, same sandbox pool)."""
    from ..mcp._server import GymServer, ServeOptions

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        server = GymServer(catalog.load(spec.task_id), pool, options=ServeOptions(instance=spec.instance))
        return await CodeGymEnv.connect(server.server, task_id=spec.task_id, harness_key=server.harness_key)

    return connect
