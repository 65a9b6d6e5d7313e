"""How a rollout reaches gym servers: one catalog server over HTTP, a stdio server per episode, or in-process.

- :func:`catalog_subprocess` starts ``codegym-mcp serve --catalog DIR --transport http --port 0``
  as a child process and yields its base URL once it listens (its own cores: the server's
  event loop does not share the rollout's GIL);
- :func:`catalog_inprocess` runs the same catalog server inside this process;
- :func:`http_connector` opens one MCP session per episode at ``BASE/<task_id>/mcp?instance=K``;
- :func:`stdio_connector` launches ``codegym-mcp serve TASK --instance K`` per episode (stdio);
- :func:`memory_connector` serves a gym in-process through the MCP SDK's memory transport
  (tests and the benchmark's breakdown).

Exceptions::

    RuntimeError
     +-- EnvError (servers._env)
          +-- ServerStartFailed   the catalog server did not come up (carries its last output lines)
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from urllib.parse import quote

import anyio
import httpx2
from anyio.abc import ByteReceiveStream, Process
from mcp.client.stdio import StdioServerParameters

from ..runtime import Catalog, WorkerPool
from ._env import CodeGymEnv, EnvError
from ._rollout import Connector, EpisodeSpec

__all__ = [
    "ServerStartFailed",
    "catalog_inprocess",
    "catalog_subprocess",
    "http_connector",
    "listening_socket",
    "memory_connector",
    "server_subprocess",
    "shared_http_client",
    "stdio_connector",
    "task_url",
]

_URL = re.compile(r"https?://[\w.\-\[\]:]+:\d+")


class ServerStartFailed(EnvError):
    """The catalog server process exited or did not print its URL in time."""

    def __init__(self, message: str, output: Sequence[str]) -> None:
        tail = "\n".join(output[-20:])
        super().__init__(f"{message}\n--- last server output ---\n{tail}" if tail else message)
        self.output = list(output)


def task_url(base_url: str, task_id: str, *, instance: int | None = None, seed: int | None = None) -> str:
    """The per-task MCP endpoint of a catalog server: ``BASE/<task_id>/mcp[?instance=K|?seed=S]``."""
    url = f"{base_url.rstrip('/')}/{quote(task_id, safe='')}/mcp"
    if instance is not None:
        return f"{url}?instance={instance}"
    if seed is not None:
        return f"{url}?seed={seed}"
    return url


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
) -> AsyncIterator[str]:
    """Run a catalog server as a child process; yield its base URL (``http://HOST:PORT``).

    Raises:
        ServerStartFailed: the process exited, or printed no URL within ``startup_timeout``.
    """
    command = _serve_command(catalog, no_sandbox=no_sandbox, host=host, extra=extra_args)
    async with server_subprocess(command, startup_timeout=startup_timeout, echo=echo) as url:
        yield url


@asynccontextmanager
async def server_subprocess(
    command: Sequence[str], *, startup_timeout: float = 60.0, echo: bool = False
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
    process: Process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

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
            with anyio.move_on_after(startup_timeout):
                await ready.wait()
            if not found:
                tg.cancel_scope.cancel()
                raise ServerStartFailed(
                    f"the server ({' '.join(command[2:])}) did not print its URL within "
                    f"{startup_timeout:.0f}s (exit code {process.returncode})",
                    list(output),
                )
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
    catalog: Path, *, no_sandbox: bool = False, host: str = "127.0.0.1", workers: int | None = None
) -> AsyncIterator[str]:
    """Run the catalog server inside this process (same event loop); yield its base URL.

    Raises:
        ServerStartFailed: the port could not be bound.
        SandboxError: the sandbox workers could not start.
    """
    import os

    import uvicorn

    from ..runtime import SandboxConfig, default_isolation
    from ._catalog_server import HttpGyms

    try:
        sock = listening_socket(host, 0)
    except OSError as exc:
        raise ServerStartFailed(f"cannot listen on {host}: {exc.strerror}", []) from exc
    config = SandboxConfig(isolation=default_isolation(no_sandbox=no_sandbox))
    pool = WorkerPool(config, size=workers or max(1, min(4, os.cpu_count() or 1)))
    bound_host, port = sock.getsockname()[:2]
    base = f"http://[{bound_host}]:{port}" if ":" in bound_host else f"http://{bound_host}:{port}"
    try:
        async with pool:
            gyms = HttpGyms(Catalog(catalog), pool, host=host)
            server = uvicorn.Server(uvicorn.Config(gyms.app(), log_level="warning", lifespan="on"))
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(server.serve, sockets=[sock]))
                try:
                    yield base
                finally:
                    # A graceful exit (not a cancel): uvicorn closes the app's lifespan itself.
                    server.should_exit = True
    finally:
        sock.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one) whose connections get TCP_NODELAY.

    asyncio sets TCP_NODELAY on accepted sockets only when the listening socket's ``proto`` is
    IPPROTO_TCP; without it every HTTP response waits ~40 ms on Nagle and delayed ACKs.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def http_connector(
    base_url: str, *, http_client: httpx2.AsyncClient | None = None, read_timeout: float = 120.0
) -> Connector:
    """Connector opening one MCP session per episode on a catalog server.

    Pass one ``http_client`` (see :func:`shared_http_client`) for the whole run: sessions then
    reuse its connection pool instead of building an HTTP client (and a TLS context) each.
    """

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        url = task_url(base_url, spec.task_id, instance=spec.instance)
        return await CodeGymEnv.connect(url, task_id=spec.task_id, read_timeout=read_timeout, http_client=http_client)

    return connect


def shared_http_client(*, max_connections: int = 256) -> httpx2.AsyncClient:
    """An HTTP client for many MCP sessions (the SDK's default timeouts); use it as ``async with``."""
    timeout = httpx2.Timeout(30.0, read=300.0)
    limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx2.AsyncClient(timeout=timeout, limits=limits)


def stdio_connector(catalog: Path, *, no_sandbox: bool = False, read_timeout: float = 120.0) -> Connector:
    """Connector launching one stdio server process per episode (what desktop agents do)."""

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        args = ["-m", "codegym_mcp.servers", "serve", spec.task_id, "--catalog", str(catalog)]
        args += ["--instance", str(spec.instance), "--transport", "stdio"]
        if no_sandbox:
            args.append("--no-sandbox")
        params = StdioServerParameters(command=sys.executable, args=args)
        return await CodeGymEnv.connect(params, task_id=spec.task_id, read_timeout=read_timeout)

    return connect


def memory_connector(catalog: Catalog, pool: WorkerPool) -> Connector:
    """Connector serving each episode's gym in-process (MCP over memory streams, same sandbox pool)."""
    from ._server import GymServer, ServeOptions

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        server = GymServer(catalog.load(spec.task_id), pool, options=ServeOptions(instance=spec.instance))
        return await CodeGymEnv.connect(server.server, task_id=spec.task_id)

    return connect
