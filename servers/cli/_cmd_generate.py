"""``codegym-mcp generate``: turn a dataset's problems into verified gyms in a catalog."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._main import UsageError
from ._report_flag import add_report_html_argument, write_report_if_asked

if TYPE_CHECKING:
    from ...generator import Generated, Rejected
    from ...schemas import GenerationReport, GymSummary, Problem

__all__ = ["add_arguments", "run", "select_problems"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _at_least_one(text: str) -> int:
    value = _positive(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _batch(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        return _at_least_one(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 1, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="SPEC",
        help="humaneval | kodcode:PATH | jsonl:PATH (a file or folder)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="CATALOG",
        help="catalog folder (default: $CODEGYM_CATALOG or the user data dir)",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        metavar="ID",
        help="only these problems: dataset ids as written (HumanEval/0) or task ids",
    )
    parser.add_argument(
        "--limit", type=_at_least_one, metavar="N", help="only the first N problems (after --tasks)"
    )
    parser.add_argument(
        "--workers", type=_positive, default=None, metavar="N", help="parallel processes (default: CPU count)"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run the problems on a Ray cluster: alone, a local one; auto, HOST:PORT or ray://HOST:10001 "
        "to join one (--workers N: N actors, default the cluster's CPUs; needs codegym-mcp[ray])",
    )
    from ...generator import GenerateSettings  # its defaults are the CLI's

    defaults = GenerateSettings()
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of augmentation (default 0)")
    parser.add_argument(
        "--augment",
        type=_positive,
        default=defaults.augment,
        metavar="N",
        help=f"derive N new instances per problem along a size ladder of 8..256 elements "
        f"(default {defaults.augment}; 0 = the tests' instances only)",
    )
    parser.add_argument(
        "--min-steps",
        type=_positive,
        default=defaults.min_steps,
        metavar="N",
        help=f"keep instances whose oracle makes >= N tool calls (default {defaults.min_steps}; 0 = off)",
    )
    parser.add_argument(
        "--max-steps",
        type=_positive,
        default=defaults.max_steps,
        metavar="N",
        help=f"keep instances whose oracle makes <= N tool calls (default {defaults.max_steps}; 0 = off)",
    )
    parser.add_argument(
        "--min-tools",
        type=_positive,
        default=defaults.min_tools,
        metavar="N",
        help=f"keep instances/gyms whose oracle uses >= N distinct tools, observe and submit included "
        f"(default {defaults.min_tools}; 0 = off)",
    )
    parser.add_argument(
        "--no-filters",
        action="store_true",
        help="keep every verified instance: no step or tool filter, no cap on degenerate instances",
    )
    parser.add_argument(
        "--max-instances",
        type=_at_least_one,
        default=defaults.max_instances,
        metavar="N",
        help=f"at most N instances per gym, a spread over oracle steps (default {defaults.max_instances})",
    )
    parser.add_argument(
        "--observe",
        choices=("partial", "full"),
        default="partial",
        help=(
            "observation policy (default partial): observe shows scalars and each collection's length, "
            "contents are read through read_<param>(start, count) windows; full: observe shows every value"
        ),
    )
    parser.add_argument(
        "--batch",
        type=_batch,
        default=None,
        metavar="auto|K",
        help=(
            "instances (cases) per episode: auto (default) picks per gym the smallest K <= 8 with which "
            "the best constant answer is right on <= 5%% of episodes; 1 = one instance per episode; "
            "K is capped at n_instances // 2 so every gym keeps 2 episodes"
        ),
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="generate every selected problem again, even those the catalog's report already holds",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run untrusted code WITHOUT nsjail (loudly warned; throwaway machines)",
    )
    from ._llm_flags import add_llm_arguments

    add_llm_arguments(parser)
    add_report_html_argument(parser)


def select_problems(problems: list[Problem], wanted: list[str] | None, limit: int | None) -> list[Problem]:
    """The problems named by ``--tasks`` (dataset ids or task ids), in dataset order, then ``--limit``.

    Raises:
        UsageError: a name matches no problem (the message suggests the nearest ids).
    """
    from ...schemas import task_id_for

    chosen = problems
    if wanted:
        by_name: dict[str, Problem] = {}
        for p in problems:
            by_name.setdefault(p.problem_id, p)
            by_name.setdefault(p.task_id, p)
        unknown = [w for w in wanted if w not in by_name and task_id_for(w) not in by_name]
        if unknown:
            import difflib

            near = difflib.get_close_matches(unknown[0], list(by_name), n=3)
            examples = ", ".join(p.problem_id for p in problems[:3])
            hint = f" (did you mean {', '.join(near)}?)" if near else f" (its ids look like {examples})"
            raise UsageError(f"--tasks: no problem {unknown[0]!r} in the dataset{hint}")
        ids = {(by_name.get(w) or by_name[task_id_for(w)]).task_id for w in wanted}
        chosen = [p for p in problems if p.task_id in ids]
    return chosen[:limit] if limit is not None else chosen


class _Bar:
    """A one-line progress bar on a terminal's stderr; silent otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.gyms = 0
        self.rejected = 0

    def llm(self, done: int, total: int) -> None:
        """Progress of the LLM stage (it runs before the problems are fanned out)."""
        if self.tty and total:
            self.stream.write(f"\rasking the model: {done}/{total}" + ("\n" if done == total else ""))
            self.stream.flush()

    def __call__(self, done: int, total: int, result: Generated | Rejected | None) -> None:
        from ...generator import Generated

        if result is not None:
            if isinstance(result, Generated):
                self.gyms += 1
            else:
                self.rejected += 1
        if not self.tty or total == 0:
            return
        width = 30
        filled = width * done // total
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  gyms {self.gyms}  rejected {self.rejected}"
        self.stream.write(line)
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def _summary(
    report: GenerationReport,
    *,
    catalog: Path,
    selected: set[str],
    skipped: int,
    ran: int,
    duplicates: int = 0,
) -> str:
    """The end-of-run summary, over the problems this command selected (the catalog may hold more)."""
    from collections import Counter

    gyms = [g for g in report.gyms if g.task_id in selected]
    rejections = [r for r in report.rejections if r.task_id in selected]
    total = len(selected)
    pct = 100.0 * len(gyms) / total if total else 0.0
    two = sum(g.n_problem_tools >= 2 for g in gyms)
    steps = [g.oracle_steps_mean for g in gyms]
    lines = [
        f"problems: {total} selected ({ran} this run, {skipped} already done)   "
        f"load issues: {len(report.load_issues)}",
        f"gyms verified: {len(gyms)} of {total} ({pct:.1f}%)   rejected: {len(rejections)}",
    ]
    if duplicates:
        distinct = total - duplicates
        lines.append(
            f"duplicates: {duplicates} problems have the same solution and tests as an earlier one "
            f"(one gym each; duplicate_of in report.json)   gyms of distinct problems: {len(gyms)} of "
            f"{distinct} ({100.0 * len(gyms) / distinct if distinct else 0.0:.1f}%)"
        )
    if gyms:
        lines.append(
            f"gyms with >= 2 problem tools: {two} ({100.0 * two / len(gyms):.1f}%)   "
            f"mean oracle steps: {sum(steps) / len(steps):.1f}"
        )
    if report.settings.get("llm_model"):
        from_llm = sum(g.llm for g in gyms)
        fell_back = sum(g.llm_fallback_reason is not None for g in gyms)
        lines.append(
            f"LLM: {from_llm} gyms from the model's decomposition, {fell_back} fell back (reasons in report.json)"
        )
    filtered = sum(v for g in gyms for k, v in g.instances_dropped.items() if k.startswith("filter"))
    if filtered or any(r.stage == "filter" for r in rejections):
        gone = sum(r.stage == "filter" for r in rejections)
        lines.append(f"filters: {filtered} instances dropped from kept gyms, {gone} gyms rejected")
    lines.extend(_batch_lines(gyms))
    stages = Counter(r.stage for r in rejections)
    if stages:
        lines.append("rejections by stage: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    lines.append(
        f"catalog: {catalog} holds {report.gyms_verified} gyms   report: {catalog / 'report.json'}   "
        f"time: {report.seconds:.1f} s"
    )
    return "\n".join(lines)


def _batch_lines(gyms: list[GymSummary]) -> list[str]:
    """Batch sizes and what memorising each gym's most common answer (list) pays, pooled over
    the instances (one per episode, unbatched) and over the episodes as generated."""
    measured = [g for g in gyms if g.answer_mode_share is not None and g.episode_mode_share is not None]
    if not measured:
        return []
    from collections import Counter

    sizes = Counter(g.batch_size for g in measured)
    instances = sum(g.n_instances for g in measured)
    before = sum((g.answer_mode_share or 0.0) * g.n_instances for g in measured) / instances
    episodes = [g.n_instances // g.batch_size for g in measured]
    after = sum((g.episode_mode_share or 0.0) * e for g, e in zip(measured, episodes, strict=True)) / sum(
        episodes
    )
    return [
        f"batches: {sum(g.batch_size > 1 for g in measured)} gyms with K > 1 ("
        + ", ".join(f"K={k}: {n}" for k, n in sorted(sizes.items()))
        + f")   each gym's most common answer right on {after:.1%} of episodes "
        f"({before:.1%} of single instances)"
    ]


def run(args: argparse.Namespace) -> int:
    from ...generator import (
        CatalogConflict,
        DatasetError,
        GenerateSettings,
        LlmNotInstalled,
        RayNotInstalled,
        generate,
        load_dataset,
    )
    from ...runtime import SandboxConfig, SandboxUnavailable, default_catalog_dir, default_isolation
    from ._llm_flags import llm_settings_from_args

    min_steps, max_steps, min_tools = (
        (None, None, None)
        if args.no_filters
        else (args.min_steps or None, args.max_steps or None, args.min_tools or None)
    )
    if min_steps is not None and max_steps is not None and min_steps > max_steps:
        raise UsageError(
            f"--min-steps {min_steps} is above --max-steps {max_steps}: swap them, or give 0 to turn one off"
        )
    try:
        llm = llm_settings_from_args(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        loaded = load_dataset(args.dataset)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    if not loaded.problems:
        print(
            f"codegym-mcp generate: error: no problem could be read from {args.dataset} "
            f"({len(loaded.issues)} unreadable rows): see `codegym-mcp load --dataset {args.dataset}`",
            file=sys.stderr,
        )
        return 1
    problems = select_problems(loaded.problems, args.tasks, args.limit)
    catalog: Path = args.out if args.out is not None else default_catalog_dir()
    try:
        catalog.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot use {catalog} as the catalog folder: {exc.strerror or exc}: give a writable folder with --out"
        ) from None
    settings = GenerateSettings(
        seed=args.seed,
        augment=args.augment,
        min_steps=min_steps,
        max_steps=max_steps,
        min_tools=min_tools,
        cap_degenerate=not args.no_filters,
        max_instances=args.max_instances,
        llm_model=llm.model if llm is not None else None,
        observe="full" if args.observe == "full" else "partial",
        batch=args.batch,
    )
    sandbox = SandboxConfig(isolation=default_isolation(no_sandbox=args.no_sandbox))
    workers = args.workers or os.cpu_count() or 1
    bar = _Bar(sys.stderr)
    try:
        executor = None
        if args.ray is not None:
            from ...generator import ray_executor

            executor = ray_executor(None if args.ray == "local" else args.ray, workers=args.workers)
        result = generate(
            problems,
            catalog=catalog,
            dataset=args.dataset,
            settings=settings,
            sandbox=sandbox,
            workers=min(workers, max(1, len(problems))),
            load_issues=loaded.issues,
            progress=bar,
            llm=llm,
            llm_progress=bar.llm,
            resume=not args.no_resume,
            executor=executor,
        )
    except SandboxUnavailable as exc:
        raise UsageError(f"{exc} (or, on a throwaway machine, rerun with --no-sandbox)") from None
    except (CatalogConflict, LlmNotInstalled, RayNotInstalled, ConnectionError) as exc:
        raise UsageError(str(exc)) from None
    selected = {p.task_id for p in problems}
    print(
        _summary(
            result.report,
            catalog=catalog,
            selected=selected,
            skipped=result.skipped,
            ran=result.ran,
            duplicates=result.duplicates,
        )
    )
    write_report_if_asked(args, catalog)
    return 0
