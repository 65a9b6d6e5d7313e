"""A generate run: problems -> gyms in a catalog, in parallel, resumable, nothing lost.

``generate(problems, catalog=..., settings=..., sandbox=..., workers=N)`` fans the problems out
over a ``ProcessPoolExecutor`` (spawned processes, each owning one sync sandbox Worker started
lazily), keeps at most ``2 * workers`` problems in flight (bounded memory), and writes each
result as it arrives: the gym folder atomically, then its report entry (journal, then
report.json). ``workers=1`` runs in this process. Problems the catalog's report already holds
(same dataset and settings) are skipped. Duplicates (same solution and tests as an earlier
problem, _dedup.py) are not generated: each is reported as a ``dedup`` rejection. A pool process that dies costs only the problems in
flight (rejected as ``infra``, retried by a rerun); the run goes on with a new pool.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.util import Finalize
from pathlib import Path

from ...runtime import SandboxConfig, SandboxUnavailable, Worker
from ...schemas import GenerationReport, LoadIssue, Problem, Rejection
from .._results import Generated, GenerateSettings, Rejected
from ..llm._llm_client import LlmClient, LlmSettings
from ..llm._llm_decompose import Proposal, ProposalRejected, decompose_all
from ._catalog_write import ReportBook, write_gym
from ._dedup import duplicate_rejection, find_duplicates
from ._pipeline import build_gym, internal_error

__all__ = ["Progress", "RunResult", "generate"]

Progress = Callable[[int, int, Generated | Rejected | None], None]
"""Called with (done, total, the result just finished or None at the start)."""

type _Proposal = Proposal | ProposalRejected | None
type _Proposals = Mapping[str, Proposal | ProposalRejected]

REPORT_EVERY = 2.0
"""Seconds between two rewrites of report.json (entries are journaled at once in between)."""

_child_config: SandboxConfig | None = None
_child_worker: Worker | None = None


def _child_init(config: SandboxConfig, parent: int) -> None:
    global _child_config
    _child_config = config
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A parent killed by SIGKILL leaves pool processes idle forever; leave with it (our jailed
    # worker sees its pipe close and exits too).
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _child_job(problem: Problem, settings: GenerateSettings, proposal: _Proposal) -> Generated | Rejected:
    global _child_worker
    if _child_worker is None:
        _child_worker = Worker(_child_config)
        _child_worker.start()  # SandboxUnavailable here stops the run with the fix, not per problem
        # multiprocessing runs its finalizers when the pool process exits: no jail outlives it
        Finalize(_child_worker, _child_worker.close, exitpriority=10)
    return _guarded(problem, settings, _child_worker, proposal)


def _guarded(
    problem: Problem, settings: GenerateSettings, worker: Worker, proposal: _Proposal
) -> Generated | Rejected:
    try:
        return build_gym(problem, settings, worker, proposal=proposal)
    except SandboxUnavailable:
        raise
    except Exception as exc:  # a bug of ours on one problem must not lose the others: reported
        return internal_error(problem, "infra", exc)


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a run did: the report written, how many problems it skipped as already done, ran, and
    found to duplicate another (not generated)."""

    report: GenerationReport
    skipped: int
    ran: int
    duplicates: int = 0


def _in_process(
    todo: Sequence[Problem], settings: GenerateSettings, sandbox: SandboxConfig, proposals: _Proposals
) -> Iterator[Generated | Rejected]:
    with Worker(sandbox) as worker:
        for problem in todo:
            yield _guarded(problem, settings, worker, proposals.get(problem.task_id))


def _in_pool(
    todo: Sequence[Problem],
    settings: GenerateSettings,
    sandbox: SandboxConfig,
    workers: int,
    proposals: _Proposals,
) -> Iterator[Generated | Rejected]:
    queue = iter(todo)
    while True:
        broken = yield from _pool_round(queue, settings, sandbox, workers, proposals)
        if not broken:
            return
        # a pool process died (not the jail: ours, e.g. killed by the host's OOM killer): the
        # problems in flight were rejected as infra (a rerun retries them); go on with a new pool


def _pool_round(
    queue: Iterator[Problem],
    settings: GenerateSettings,
    sandbox: SandboxConfig,
    workers: int,
    proposals: _Proposals,
) -> Generator[Generated | Rejected, None, bool]:
    """Run problems from ``queue`` in one pool; returns True if the pool broke (work remains)."""
    context = multiprocessing.get_context("spawn")
    limit = 2 * workers
    pending: dict[Future[Generated | Rejected], Problem] = {}
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_child_init, initargs=(sandbox, os.getpid())
    ) as pool:
        try:
            while True:
                for problem in queue:
                    future = pool.submit(_child_job, problem, settings, proposals.get(problem.task_id))
                    pending[future] = problem
                    if len(pending) >= limit:
                        break
                if not pending:
                    return False
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: pending[f].task_id):
                    problem = pending.pop(future)
                    try:
                        yield _outcome(future, problem)
                    except BrokenProcessPool as exc:
                        for lost in sorted([problem, *pending.values()], key=lambda p: p.task_id):
                            yield _died(lost, exc)
                        pending.clear()
                        return True
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _died(problem: Problem, exc: BaseException) -> Rejected:
    reason = f"the generator process died while this problem was in flight ({exc}); a rerun retries it"
    return Rejected(
        rejection=Rejection(
            task_id=problem.task_id, problem_id=problem.problem_id, stage="infra", reason=reason
        )
    )


def _outcome(future: Future[Generated | Rejected], problem: Problem) -> Generated | Rejected:
    """The future's result; an exception of ours becomes that problem's rejection.

    Raises:
        SandboxUnavailable: the sandbox cannot start (the run must stop).
        BrokenProcessPool: the pool process died (the caller rejects what was in flight).
    """
    try:
        return future.result()
    except (SandboxUnavailable, BrokenProcessPool):
        raise
    except Exception as exc:  # an exception that did not pickle back, or one of ours: reported
        return internal_error(problem, "infra", exc)


def generate(
    problems: Sequence[Problem],
    *,
    catalog: Path,
    dataset: str,
    settings: GenerateSettings,
    sandbox: SandboxConfig,
    workers: int = 1,
    load_issues: Sequence[LoadIssue] = (),
    progress: Progress | None = None,
    llm: LlmSettings | None = None,
    llm_progress: Callable[[int, int], None] | None = None,
    resume: bool = True,
) -> RunResult:
    """Generate gyms for ``problems`` into ``catalog``; returns the report (also written).

    With ``resume`` (the default) problems the catalog's report already holds are skipped;
    without, they are generated again (their entries and folders replaced), even when the
    catalog was made with other settings (the report then carries the new ones).

    Raises:
        SandboxUnavailable: the sandbox cannot start here (the message names the fix).
        LlmNotInstalled: ``llm`` is given but the openai package is missing.
        CatalogConflict: the catalog holds a report.json of another kind, or one made with other
            settings while ``resume`` is True.
        OSError: the catalog cannot be written.
    """
    started = time.perf_counter()
    book = ReportBook.open(
        catalog, dataset=dataset, settings=settings.as_report(), replace_settings=not resume
    )
    book.load_issues = list(load_issues)
    duplicates = find_duplicates(problems)
    for problem in problems:
        original = duplicates.get(problem.task_id)
        if original is not None:
            _drop_gym(catalog, problem.task_id)  # a gym an earlier run made of it (it was not a twin then)
            book.add(duplicate_rejection(problem, original))
    unique = [p for p in problems if p.task_id not in duplicates]
    todo = [p for p in unique if not (resume and book.done(p.task_id))]
    skipped = len(unique) - len(todo)
    total = len(todo)
    proposals: _Proposals = {}
    if llm is not None and todo:
        # in the parent, before the fan-out: the client is not picklable, the proposals are
        with LlmClient(llm) as client:
            proposals = decompose_all(todo, client, progress=llm_progress)
            book.llm_usage = client.usage
    if progress is not None:
        progress(0, total, None)
    if workers <= 1:
        results = _in_process(todo, settings, sandbox, proposals)
    else:
        results = _in_pool(todo, settings, sandbox, workers, proposals)
    done = 0
    written = time.perf_counter()
    try:
        for result in results:
            if isinstance(result, Generated):
                write_gym(catalog, result)
            book.add(result)  # journaled at once
            if time.perf_counter() - written >= REPORT_EVERY:
                book.write(seconds=time.perf_counter() - started)
                written = time.perf_counter()
            done += 1
            if progress is not None:
                progress(done, total, result)
    finally:
        report = book.write(seconds=time.perf_counter() - started)
    return RunResult(report=report, skipped=skipped, ran=done, duplicates=len(duplicates))


def _drop_gym(catalog: Path, task_id: str) -> None:
    folder = catalog / task_id
    if (folder / "manifest.json").is_file():
        shutil.rmtree(folder)
