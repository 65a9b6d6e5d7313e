"""The Ray executor of a generate run: problems as calls to Ray actors, one warm sandbox each.

``ray_executor(address, workers=N)`` returns an :data:`Executor` that ``generate`` uses in place
of its local process pool. It connects to a Ray cluster (``address`` ``"auto"``, ``"ray://..."``
or ``HOST:PORT``; None starts a local one, or reuses the one this process already joined), starts
N builder actors (default: the cluster's CPUs; each asks for one CPU, spread over the nodes), each
holding one sandbox ``Worker`` started on its first problem and reused for every later one, and
streams each result back as it finishes. The driver writes the catalog exactly as a local run
does (same journal, same resume), so the catalog is byte-identical apart from ``seconds``.

Each actor runs one problem at a time and is handed the next as soon as it answers (a shared
queue, like the local pool's). An actor that dies (its node lost, its process killed) costs the
problem it held, rejected as ``infra`` (a rerun retries it); a new actor takes its place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ...runtime import SandboxConfig, SandboxUnavailable, Worker
from ...schemas import Problem, Rejection
from .._results import Generated, GenerateSettings, Rejected
from ._pipeline import internal_error
from ._run import Executor, Proposals, guarded_build

if TYPE_CHECKING:
    from ..llm._llm_decompose import Proposal, ProposalRejected

__all__ = ["RAY_INSTALL", "RayNotInstalled", "import_ray", "join_cluster", "ray_executor"]

RAY_INSTALL = "pip install 'codegym-mcp[ray]'"


class RayNotInstalled(ImportError):
    """The ``ray`` package is missing (the message names the install command)."""


def import_ray() -> Any:
    """The ``ray`` module, imported on first use.

    Raises:
        RayNotInstalled: ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalled(
            f"--ray needs the ray package, which is not installed ({exc}): {RAY_INSTALL}"
        ) from None
    return ray


def join_cluster(address: str | None, *, num_cpus: int | None = None) -> bool:
    """Connect this process to the Ray cluster at ``address`` (None: start a local one with
    ``num_cpus`` CPUs) unless it already is; True when this call connected (the caller then
    disconnects with ``ray.shutdown()``).

    Raises:
        RayNotInstalled: ray is not installed.
        ConnectionError: no cluster answers at ``address`` (the message names it and the fix).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "configure_logging": True}
    if address is None:
        kwargs.update(num_cpus=num_cpus, include_dashboard=False)
    try:
        _init(ray, address, kwargs)
    except Exception as exc:  # ray raises plain Exception too (a node that timed out starting)
        if address is None:
            raise ConnectionError(
                f"cannot start a local Ray cluster: {exc}; retry when the machine is less busy, or start "
                "one with `ray start --head` and pass --ray auto"
            ) from None
        raise ConnectionError(
            f"cannot join the Ray cluster at {address}: {exc}; start one with `ray start --head` "
            "and pass its address (HOST:6379, ray://HOST:10001 or auto), or give --ray alone for a local one"
        ) from None
    return True


def _init(ray: Any, address: str | None, kwargs: dict[str, Any]) -> None:
    """``ray.init``; a local node that did not register in Ray's fixed 30 s (a busy machine) is
    started again, up to 3 times.

    Raises:
        Exception: ray.init's own, on the last attempt.
    """
    for attempt in range(3):
        try:
            ray.init(address=address, **kwargs)
            return
        except Exception:
            ray.shutdown()
            if address is not None or attempt == 2:
                raise


class _Builder:
    """A Ray actor's state: one sandbox worker, started on the first problem, reused after."""

    def __init__(self, sandbox: SandboxConfig) -> None:
        self._sandbox = sandbox
        self._worker: Worker | None = None

    def build(
        self, problem: Problem, settings: GenerateSettings, proposal: Proposal | ProposalRejected | None
    ) -> Generated | Rejected:
        if self._worker is None:
            worker = Worker(self._sandbox)
            worker.start()  # SandboxUnavailable stops the run (raised in the driver), not per problem
            self._worker = worker
        return guarded_build(problem, settings, self._worker, proposal)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


def ray_executor(address: str | None, *, workers: int | None = None) -> Executor:
    """An executor running each problem on a Ray actor of the cluster at ``address``.

    ``workers`` actors (default: the cluster's CPU count), one CPU each. Joining the cluster
    happens when the run starts (nothing is started for a run with nothing to do).

    Raises:
        RayNotInstalled: ray is not installed (raised here, before the run starts).
    """
    import_ray()

    def execute(
        todo: Sequence[Problem], settings: GenerateSettings, sandbox: SandboxConfig, proposals: Proposals
    ) -> Iterator[Generated | Rejected]:
        if not todo:
            return
        joined = join_cluster(address, num_cpus=workers)
        try:
            yield from _run_on_actors(todo, settings, sandbox, proposals, workers)
        finally:
            if joined:
                import_ray().shutdown()

    return execute


def _run_on_actors(
    todo: Sequence[Problem],
    settings: GenerateSettings,
    sandbox: SandboxConfig,
    proposals: Proposals,
    workers: int | None,
) -> Iterator[Generated | Rejected]:
    ray = import_ray()
    count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    count = min(count, len(todo))
    actor_class = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_Builder)
    ray_settings = ray.put(settings)
    queue = iter(todo)
    idle: list[Any] = [actor_class.remote(sandbox) for _ in range(count)]
    pending: dict[Any, tuple[Problem, Any]] = {}
    try:
        while True:
            while idle:
                problem = next(queue, None)
                if problem is None:
                    break
                actor = idle.pop()
                ref = actor.build.remote(problem, ray_settings, proposals.get(problem.task_id))
                pending[ref] = (problem, actor)
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)  # all finished
            for ref in sorted(ready, key=lambda r: pending[r][0].task_id):
                problem, actor = pending.pop(ref)
                result, alive = _outcome(ray, ref, problem)
                idle.append(actor if alive else actor_class.remote(sandbox))
                yield result
    finally:
        _stop(ray, [*idle, *(actor for _, actor in pending.values())])


def _outcome(ray: Any, ref: Any, problem: Problem) -> tuple[Generated | Rejected, bool]:
    """The result of one actor call, and whether the actor is still alive.

    Raises:
        SandboxUnavailable: the sandbox cannot start on that node (the run must stop).
    """
    try:
        return ray.get(ref), True
    except ray.exceptions.RayActorError as exc:
        reason = f"the Ray worker died while this problem was in flight ({exc}); a rerun retries it"
        rejection = Rejection(
            task_id=problem.task_id, problem_id=problem.problem_id, stage="infra", reason=reason
        )
        return Rejected(rejection=rejection), False
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, SandboxUnavailable):
            raise cause from None
        return internal_error(problem, "infra", cause if isinstance(cause, Exception) else exc), True


def _stop(ray: Any, actors: list[Any]) -> None:
    """Close every actor's sandbox (a few seconds at most), then end the actors."""
    try:
        ray.wait([a.close.remote() for a in actors], num_returns=len(actors), timeout=10)
    finally:
        for actor in actors:
            ray.kill(actor)
