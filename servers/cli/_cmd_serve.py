"""``codegym-mcp serve``: one gym over stdio or streamable HTTP, or a whole catalog over HTTP.

Start-up is kept short (one stdio server per episode is common): only argparse is imported
at module level; the sandbox pool starts in the background while the server already answers
``initialize`` and ``tools/list``, and the first tool call waits for it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._main import UsageError

if TYPE_CHECKING:
    from anyio import CancelScope

    from ...runtime import Catalog, Gym, Recorder, SandboxConfig, SandboxError, WorkerPool
    from ...schemas import EndReason, EpisodeRecord
    from ..mcp._server import ServeOptions

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add serve's arguments and flags."""
    parser.add_argument(
        "task", nargs="?", metavar="TASK_ID", help="task id or dataset id (HumanEval_0 or HumanEval/0)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="catalog mode: serve every gym of the catalog over HTTP at /<task_id>/mcp",
    )
    parser.add_argument(
        "--catalog", type=Path, help="catalog folder (default: $CODEGYM_CATALOG or the user data dir)"
    )
    first = parser.add_mutually_exclusive_group()
    first.add_argument(
        "--instance", type=int, metavar="K", help="first episode plays instance K (then K+1, ...)"
    )
    first.add_argument("--seed", type=int, metavar="S", help="episodes play instances drawn from seed S")
    parser.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--record", type=Path, metavar="FILE.jsonl", help="append one EpisodeRecord line per episode"
    )
    parser.add_argument(
        "--max-steps", type=int, metavar="N", help="step budget of an episode (default: the manifest's)"
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="sandbox workers (default 1 for stdio, up to 4 for HTTP)"
    )
    parser.add_argument(
        "--no-sandbox", action="store_true", help="run tool code WITHOUT nsjail (unsafe; warns every time)"
    )
    parser.add_argument(
        "--allow-reset",
        action="store_true",
        help="manual play: list a `reset` tool any client may call to end the episode and start the next "
        "one (off by default: an agent must not abandon a losing episode unscored)",
    )
    parser.add_argument(
        "--harness-key",
        metavar="KEY",
        help="secret a harness puts in a reset request's _meta['codegym/harness-key'] to start the next "
        "episode in the same session (default: $CODEGYM_HARNESS_KEY, which other local users cannot read "
        "in the process list; with no key no client can reset: each new session is a new episode)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the gym (or the catalog) until the client goes away or SIGINT/SIGTERM arrives.

    Raises:
        UsageError: conflicting or out-of-range flags, an unknown or broken gym, an empty
            catalog, a ``--record`` file that cannot be opened, or a port that cannot be bound.
    """
    transport = args.transport or ("http" if args.all else "stdio")
    if args.all and args.task:
        raise UsageError(f"give either a TASK_ID ({args.task}) or --all, not both")
    if args.all and transport != "http":
        raise UsageError("--all (catalog mode) serves over HTTP: drop --transport stdio")
    if args.all and args.instance is not None:
        raise UsageError(
            "--instance numbers the instances of one gym: in catalog mode add ?instance=K to a session's "
            "URL (http://HOST:PORT/<task_id>/mcp?instance=K), or use --seed S for every gym"
        )
    if not args.all and not args.task:
        raise UsageError(
            "name the gym to serve (codegym-mcp serve TASK_ID) or pass --all for the whole catalog"
        )
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError(f"--max-steps must be at least 1, got {args.max_steps}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")

    from ...runtime import Catalog, CatalogError, SandboxConfig, default_catalog_dir, default_isolation

    catalog = Catalog(args.catalog if args.catalog is not None else default_catalog_dir())
    gym: Gym | None = None
    try:
        if args.all:
            if not catalog.task_ids():
                raise UsageError(
                    f"catalog {catalog.path} holds no gym: build one with `codegym-mcp generate`"
                )
        else:
            gym = catalog.load(args.task)
            from ...runtime import episode_count

            n = episode_count(gym)  # a batched gym numbers its episodes (batches of instances)
            if args.instance is not None and not 0 <= args.instance < n:
                raise UsageError(
                    f"--instance {args.instance} does not exist: {gym.task_id} has instances 0..{n - 1}"
                )
            _warn_if_edited(gym)
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    config = SandboxConfig(isolation=default_isolation(no_sandbox=args.no_sandbox))

    import anyio

    if transport == "stdio":
        assert gym is not None
        if sys.stdin.isatty():  # started by hand, not by an MCP client: say what it is waiting for
            print(
                f"codegym-mcp serve: {gym.task_id} over stdio, waiting for an MCP client on stdin "
                "(start it from a client such as the MCP Inspector, or use --transport http); Ctrl-C stops",
                file=sys.stderr,
            )
        anyio.run(_serve_stdio, gym, config, args)
    else:
        anyio.run(_serve_http, gym if gym is not None else catalog, config, args)
    return 0


def _warn_if_edited(gym: Gym) -> None:
    """Say so on stderr when the gym's tools module is not the one its manifest was verified with."""
    import hashlib

    if hashlib.sha256(gym.tools_source.encode("utf-8")).hexdigest() != gym.manifest.tools_sha256:
        print(
            f"codegym-mcp serve: warning: {gym.manifest.tools_module} of {gym.task_id} differs from the one "
            f"the generator verified (tools_sha256): `codegym-mcp check --tasks {gym.task_id}` tells whether "
            "the gym still works",
            file=sys.stderr,
        )


def _options(args: argparse.Namespace) -> ServeOptions:
    from ..mcp._server import HARNESS_KEY_ENV, ServeOptions

    key = args.harness_key if args.harness_key is not None else os.environ.get(HARNESS_KEY_ENV)
    return ServeOptions(
        instance=args.instance,
        seed=args.seed,
        max_steps=args.max_steps,
        harness_key=key or None,
        allow_reset=args.allow_reset,
    )


def _recorder(args: argparse.Namespace) -> Recorder | None:
    if args.record is None:
        return None
    from ...runtime import Recorder

    try:
        return Recorder(args.record)
    except OSError as exc:
        raise UsageError(f"cannot open --record file {args.record}: {exc.strerror}") from exc


@contextlib.asynccontextmanager
async def _pool_and_recorder(
    config: SandboxConfig, args: argparse.Namespace, *, workers: int
) -> AsyncIterator[tuple[_StartingPool, Callable[[EpisodeRecord], None] | None]]:
    """The sandbox pool (starting in the background) and the ``--record`` writer; both closed on exit.

    Raises:
        UsageError: the ``--record`` file cannot be opened.
    """
    from ...runtime import WorkerPool

    recorder = _recorder(args)
    pool = WorkerPool(config, size=workers)
    try:
        yield _StartingPool(pool), (recorder.write if recorder is not None else None)
    finally:
        await pool.aclose()
        if recorder is not None:
            recorder.close()


async def _serve_stdio(gym: Gym, config: SandboxConfig, args: argparse.Namespace) -> None:
    import anyio
    from mcp.server.stdio import stdio_server

    from ..mcp._server import GymServer
    from ..mcp._stdio import cancellable_stdin

    closing = _Closing()
    async with _pool_and_recorder(config, args, workers=args.workers or 1) as (runner, on_end):
        server = GymServer(
            gym, runner, options=_options(args), on_end=on_end, closing_reason=closing.reason
        ).server
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.start)
            tg.start_soon(closing.watch_signals, tg.cancel_scope)
            stdin = cancellable_stdin()
            try:
                async with stdio_server(stdin=stdin) as (read_stream, write_stream):
                    await server.run(read_stream, write_stream, server.create_initialization_options())
            finally:
                if stdin is not None:
                    await stdin.aclose()
            tg.cancel_scope.cancel()


async def _serve_http(source: Gym | Catalog, config: SandboxConfig, args: argparse.Namespace) -> None:
    import anyio

    from ...runtime import Gym
    from ..mcp._catalog_server import HttpGyms, base_url, bind_socket, serve_http

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; pick another --port"
        ) from exc
    workers = args.workers or max(1, min(4, os.cpu_count() or 1))
    with sock:
        async with _pool_and_recorder(config, args, workers=workers) as (runner, on_end):
            gyms = HttpGyms(source, runner, options=_options(args), on_end=on_end, host=args.host)
            base = base_url(sock)
            if isinstance(source, Gym):
                print(f"codegym-mcp serve: {source.task_id} on {base}/mcp", file=sys.stderr, flush=True)
            else:
                where = f"catalog {source.path} on {base}/<task_id>/mcp"
                print(f"codegym-mcp serve: {where}", file=sys.stderr, flush=True)
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.start)
                await serve_http(gyms.app(), sock)
                tg.cancel_scope.cancel()


class _Closing:
    """Turns SIGTERM/SIGINT into a clean stop whose unfinished episodes end as ``shutdown``."""

    def __init__(self) -> None:
        self.signalled = False

    def reason(self) -> EndReason:
        return "shutdown" if self.signalled else "disconnected"

    async def watch_signals(self, scope: CancelScope) -> None:
        import signal

        import anyio

        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                self.signalled = True
                scope.cancel()
                return


class _StartingPool:
    """A WorkerPool whose workers start in the background; calls wait until they are up.

    A pool that cannot start (nsjail unavailable) turns every call into that SandboxError, so
    the agent sees the cause (and the episode ends as infra_error) instead of a dead server.
    """

    def __init__(self, pool: WorkerPool) -> None:
        import anyio

        self._pool = pool
        self._ready = anyio.Event()
        self._error: SandboxError | None = None

    async def start(self) -> None:
        from ...runtime import SandboxError

        try:
            await self._pool.start()
        except SandboxError as exc:  # reported on every call and once on stderr
            self._error = exc
            print(f"codegym-mcp serve: the sandbox failed to start: {exc}", file=sys.stderr, flush=True)
        finally:
            self._ready.set()

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        await self._ready.wait()
        if self._error is not None:
            raise self._error
        return await self._pool.call(source=source, function=function, args=args)
