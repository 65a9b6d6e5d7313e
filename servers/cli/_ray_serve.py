"""``serve --all --ray [ADDRESS] --replicas N``: N catalog server replicas on a Ray cluster, one URL.

Each replica is a Ray actor (one CPU, spread over the nodes) holding an ordinary ``serve --all``
process on its node (_ray_replica.py); this process joins the cluster, starts them, and serves
the affinity front (_front.py) on ``--host``/``--port``: clients (``rollout --url``, the env
API, any MCP client) see one catalog server. Every second it asks each actor whether its server
still runs; a replica that is gone is marked so at the front (its sessions get an error saying
so, new sessions go elsewhere) and a new replica takes its place. SIGINT/SIGTERM stop the front,
then every replica (each drains its live episodes, writes their records, and exits).

``--record FILE.jsonl``: replica ``rK`` appends its records to ``FILE.rK.jsonl`` (one writer per
file, also on shared storage).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._main import UsageError

if TYPE_CHECKING:
    from ..mcp._front import Front

__all__ = ["AUTH_TOKEN_ENV", "add_ray_arguments", "replica_serve_args", "serve_on_ray"]

AUTH_TOKEN_ENV = "CODEGYM_AUTH_TOKEN"
_FLAGS: tuple[tuple[str, str], ...] = (
    ("workers", "--workers"),
    ("max_steps", "--max-steps"),
    ("seed", "--seed"),
    ("idle_timeout", "--idle-timeout"),
    ("max_sessions", "--max-sessions"),
    ("drain_timeout", "--drain-timeout"),
)
_SWITCHES: tuple[tuple[str, str], ...] = (
    ("allow_reset", "--allow-reset"),
    ("no_sandbox", "--no-sandbox"),
    ("insecure", "--insecure"),
)


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray [ADDRESS]`` and ``--replicas N`` to serve's arguments."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="with --all: serve the catalog from --replicas servers on a Ray cluster behind one URL "
        "(alone: a local cluster; auto, HOST:PORT or ray://HOST:10001 to join one; needs codegym-mcp[ray])",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        metavar="N",
        help="with --ray: catalog server replicas, one CPU each (default 2)",
    )


def replica_serve_args(args: argparse.Namespace, catalog: Path, key: str) -> list[str]:
    """The ``serve --all`` arguments of replica ``key``: the catalog and every serve flag given
    (secrets go through the environment, not the command line)."""
    out = ["--catalog", str(catalog.resolve())]
    for dest, flag in _FLAGS:
        value = getattr(args, dest, None)
        if value is not None:
            out += [flag, str(value)]
    out += [flag for dest, flag in _SWITCHES if getattr(args, dest, False)]
    record: Path | None = getattr(args, "record", None)
    if record is not None:
        out += ["--record", str(record.resolve().with_name(f"{record.stem}.{key}{record.suffix}"))]
    return out


def _secrets(args: argparse.Namespace) -> dict[str, str]:
    from ..mcp._server import HARNESS_KEY_ENV

    env: dict[str, str] = {}
    token = getattr(args, "auth_token", None) or os.environ.get(AUTH_TOKEN_ENV)
    if token:
        env[AUTH_TOKEN_ENV] = token
    key = getattr(args, "harness_key", None) or os.environ.get(HARNESS_KEY_ENV)
    if key:
        env[HARNESS_KEY_ENV] = key
    return env


@dataclass
class _Fleet:
    """The replica actors, by key, and how to start one more."""

    start_one: Callable[[str], tuple[Any, str]]
    actors: dict[str, Any]
    started: int = 0

    def next_key(self) -> str:
        key = f"r{self.started}"
        self.started += 1
        return key


def serve_on_ray(args: argparse.Namespace, catalog: Path) -> int:
    """Run the replicas and the front until SIGINT/SIGTERM; returns the exit code.

    Raises:
        UsageError: ray is missing, the cluster cannot be joined, the port cannot be bound, or a
            replica cannot start (the message holds its server's error).
    """
    import anyio

    from ...generator import RayNotInstalled, join_cluster

    if args.replicas < 1:
        raise UsageError(f"--replicas must be at least 1, got {args.replicas}")
    address = None if args.ray == "local" else args.ray
    try:
        # a local cluster gets a CPU per replica at least (each replica actor takes one)
        joined = join_cluster(address, num_cpus=max(os.cpu_count() or 1, args.replicas))
    except (RayNotInstalled, ConnectionError) as exc:
        raise UsageError(str(exc)) from None
    try:
        return anyio.run(_serve, args, catalog)
    finally:
        if joined:
            _ray().shutdown()


def _starter(args: argparse.Namespace, catalog: Path) -> Callable[[str], tuple[Any, str]]:
    from ._ray_replica import START_TIMEOUT

    ray = _ray()
    here = ray.util.get_node_ip_address()
    env = _secrets(args)
    actor_class = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_restarts=0)(_ReplicaActor)

    def start_one(key: str) -> tuple[Any, str]:
        actor = actor_class.remote(replica_serve_args(args, catalog, key), here, env)
        try:
            url: str = ray.get(actor.ready.remote(), timeout=START_TIMEOUT + 60)
        except ray.exceptions.GetTimeoutError:
            ray.kill(actor)
            raise UsageError(
                f"replica {key} did not start in {START_TIMEOUT + 60:.0f} s: each replica takes one CPU of "
                "the cluster and none may be free (see `ray status`); give fewer --replicas"
            ) from None
        except Exception as exc:
            ray.kill(actor)
            cause = getattr(exc, "cause", None) or exc
            raise UsageError(f"replica {key} could not start: {cause}") from None
        return actor, url

    return start_one


class _ReplicaActor:
    """The actor's side: the replica process on this node (loopback when the front is here too)."""

    def __init__(self, serve_args: list[str], front_node: str, env: dict[str, str]) -> None:
        from ._ray_replica import ReplicaProcess

        ray = _ray()

        node = ray.util.get_node_ip_address()
        self._replica = ReplicaProcess(serve_args, "127.0.0.1" if node == front_node else node, env)

    def ready(self) -> str:
        return self._replica.ready()

    def alive(self) -> bool:
        return self._replica.alive()

    def pid(self) -> int:
        return self._replica.pid()

    def stop(self) -> int | None:
        return self._replica.stop()


async def _serve(args: argparse.Namespace, catalog: Path) -> int:
    import anyio

    from ..mcp._catalog_server import base_url, bind_socket
    from ..mcp._front import Front, Replica, serve_front

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; pick another --port"
        ) from exc
    sock.listen(4096)  # many sessions may open at once: a deeper backlog than a single server's
    start_one = _starter(args, catalog)
    fleet = _Fleet(start_one=start_one, actors={})
    replicas: list[Replica] = []
    try:
        keys = [fleet.next_key() for _ in range(args.replicas)]
        started: dict[str, tuple[Any, str]] = {}
        failed: list[UsageError] = []

        async def start(key: str) -> None:
            try:
                started[key] = await anyio.to_thread.run_sync(start_one, key)
            except UsageError as exc:
                failed.append(exc)

        async with anyio.create_task_group() as tg:  # side by side: each takes a few seconds
            for key in keys:
                tg.start_soon(start, key)
        fleet.actors.update({key: actor for key, (actor, _) in started.items()})
        if failed:
            raise failed[0]
        replicas += [Replica(key=key, url=started[key][1]) for key in keys]
        front = Front(replicas, auth_token=_secrets(args).get(AUTH_TOKEN_ENV))
        where = ", ".join(f"{r.key} {r.url}" for r in replicas)
        print(
            f"codegym-mcp serve: catalog {catalog} on {base_url(sock)}/<task_id>/mcp over {len(replicas)} "
            f"Ray replicas ({where})",
            file=sys.stderr,
            flush=True,
        )
        # Ray's driver turns SIGTERM into SystemExit; uvicorn re-raises the signal it caught after
        # its graceful stop: let that be a no-op, so the replicas drain too and the exit is clean.
        signal.signal(signal.SIGTERM, _stopped)
        signal.signal(signal.SIGINT, _stopped)
        with sock:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_watch, front, fleet)
                await serve_front(front.app(), sock)
                tg.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(_stop_all, list(fleet.actors.values()))
    return 0


async def _watch(front: Front, fleet: _Fleet) -> None:
    """Every second: a replica whose actor or server is gone is marked so, and replaced."""
    import anyio

    from ..mcp._front import Replica

    ray = _ray()

    while True:
        await anyio.sleep(1.0)
        for key, actor in list(fleet.actors.items()):
            replica = front.replicas[key]
            try:
                alive = await anyio.to_thread.run_sync(_alive, ray, actor)
                reason = None if alive else "its server process exited"
            except ray.exceptions.GetTimeoutError:
                continue  # a busy actor: ask again next time
            except ray.exceptions.RayActorError as exc:  # the actor died with its node or process
                reason = f"its Ray actor died: {type(exc).__name__}"
            if reason is None and replica.gone is None:
                continue
            front.mark_gone(replica, reason or replica.gone or "gone")
            del fleet.actors[key]
            await anyio.to_thread.run_sync(_stop_all, [actor])  # already gone: nothing to drain
            new_key = fleet.next_key()
            try:
                new_actor, url = await anyio.to_thread.run_sync(fleet.start_one, new_key)
            except UsageError as exc:
                print(f"codegym-mcp serve: {exc}; serving on the others", file=sys.stderr, flush=True)
                continue
            fleet.actors[new_key] = new_actor
            front.add(Replica(key=new_key, url=url), replaces=key)
            print(
                f"codegym-mcp serve: replica {key} is gone ({front.replicas[key].gone}); {new_key} {url} "
                "takes new sessions",
                file=sys.stderr,
                flush=True,
            )


def _ray() -> Any:
    import ray

    return ray


def _alive(ray: Any, actor: Any) -> bool:
    """Whether the actor's server runs.

    Raises:
        ray.exceptions.RayActorError: the actor is gone (with its node or process).
    """
    return bool(ray.get(actor.alive.remote(), timeout=10))


def _stopped(signum: int, frame: Any) -> None:
    """Signal handler after uvicorn's own stop: nothing more to do (the caller cleans up)."""


def _stop_all(actors: list[Any]) -> None:
    """Stop each replica's server (it drains for its own ``--drain-timeout``, then ends what still
    runs as ``shutdown`` and writes the records; ReplicaProcess.stop kills it only after that),
    then end the actors once every stop returned (an actor lost with its node answers at once)."""
    ray = _ray()

    refs = []
    for actor in actors:
        try:
            refs.append(actor.stop.remote())
        except Exception:  # an actor already gone
            continue
    if refs:
        ray.wait(refs, num_returns=len(refs))
    for actor in actors:
        ray.kill(actor)
