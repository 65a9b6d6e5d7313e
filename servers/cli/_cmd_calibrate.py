"""``codegym-mcp calibrate``: measure each episode's pass rate for a model; write a filtered catalog.

Plays ``--samples`` K episodes per instance with the OpenAI policy through a catalog server
(a child process, as ``rollout`` does), journals each as it ends, and writes
``CATALOG/calibration.json``; see :mod:`._calibrate`. ``--write-filtered OUT`` writes the
catalog of the episodes in the ``--min-pass-rate/--max-pass-rate`` range (see
:mod:`._filtered_catalog`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ._main import UsageError
from ._pass_rate_flags import add_pass_rate_arguments, pass_rates_from_args

if TYPE_CHECKING:
    from ...runtime import Catalog
    from ..rollout._calibrate import CalibrationPlan, CalibrationRun, Journal
    from ..rollout._policies import OpenAIPolicy

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add calibrate's flags."""
    parser.add_argument(
        "--catalog", type=Path, metavar="DIR", help="catalog to measure (default: $CODEGYM_CATALOG)"
    )
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="only these gyms (default: every gym)")
    parser.add_argument(
        "--llm-model",
        metavar="M",
        help="the model to measure (without it: only --write-filtered, from calibration.json)",
    )
    parser.add_argument(
        "--llm-base-url",
        metavar="U",
        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (default: OpenAI)",
    )
    parser.add_argument(
        "--samples", type=int, default=4, metavar="K", help="episodes per instance (default 4, the paper's)"
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0, metavar="T", help="sampling temperature (default 1.0)"
    )
    parser.add_argument(
        "--max-turns",
        type=int,
        metavar="N",
        help="model calls per episode (default: the largest step budget of the gyms)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, metavar="N", help="episodes in flight (default 8)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="seconds per model request (default 120)"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=4,
        metavar="N",
        help="retries of a request on HTTP 429/5xx, timeouts and connection errors (default 4; Retry-After honoured)",
    )
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", metavar="VAR", help="variable holding the API key"
    )
    parser.add_argument(
        "--server",
        choices=["subprocess", "inprocess"],
        default="subprocess",
        help="where the catalog server runs",
    )
    parser.add_argument(
        "--no-sandbox", action="store_true", help="run the gyms' code without nsjail (unsafe)"
    )
    parser.add_argument(
        "--write-filtered",
        type=Path,
        metavar="OUT",
        help="write the catalog of the episodes in the pass-rate range to OUT",
    )
    add_pass_rate_arguments(parser)


def _policy(args: argparse.Namespace, max_turns: int) -> OpenAIPolicy:
    from ..rollout._policies import OpenAIPolicy

    key = os.environ.get(args.api_key_env)
    if not args.llm_base_url and not key:
        raise UsageError(
            f"--llm-model without --llm-base-url talks to OpenAI and needs an API key: set ${args.api_key_env}, "
            "or pass --llm-base-url URL of a local OpenAI-compatible server (vLLM, llama.cpp, Ollama)"
        )
    return OpenAIPolicy(
        model=args.llm_model,
        base_url=args.llm_base_url,
        api_key=key,
        max_turns=max_turns,
        temperature=args.temperature,
        timeout=args.timeout,
        max_retries=args.max_retries,
        name=f"openai:{args.llm_model}",
    )


def _check(args: argparse.Namespace) -> None:
    if args.llm_model is None and args.write_filtered is None:
        raise UsageError("nothing to do: give --llm-model M to measure, or --write-filtered OUT")
    for flag, value, low in (
        ("--samples", args.samples, 1),
        ("--concurrency", args.concurrency, 1),
        ("--max-retries", args.max_retries, 0),
    ):
        if value < low:
            raise UsageError(f"{flag} must be at least {low}, got {value}")
    if args.max_turns is not None and args.max_turns < 1:
        raise UsageError(f"--max-turns must be at least 1, got {args.max_turns}")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be above 0 seconds, got {args.timeout}")
    if args.write_filtered is not None and pass_rates_from_args(args) is None:
        raise UsageError("--write-filtered needs --max-pass-rate P (and/or --min-pass-rate P)")


def run(args: argparse.Namespace) -> int:
    """Measure (with --llm-model), then write the filtered catalog (with --write-filtered).

    Raises:
        UsageError: bad flags, an unknown or empty catalog, a missing API key, no calibration.
    """
    _check(args)
    from ...runtime import Catalog, CatalogError, default_catalog_dir

    catalog = Catalog(args.catalog if args.catalog is not None else default_catalog_dir())
    try:
        task_ids = [catalog.resolve(t) for t in args.tasks] if args.tasks else catalog.task_ids()
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    if not task_ids:
        raise UsageError(f"catalog {catalog.path} holds no gym: build one with `codegym-mcp generate`")
    code = 0
    if args.llm_model is not None:
        code = _measure(args, catalog, task_ids)
    if args.write_filtered is not None:
        from ._filtered_catalog import write_filtered

        rates = pass_rates_from_args(args)
        assert rates is not None
        try:
            print(write_filtered(catalog.path, args.write_filtered, rates))
        except (CatalogError, OSError, ValueError) as exc:
            raise UsageError(str(exc)) from exc
    return code


def _measure(args: argparse.Namespace, catalog: Catalog, task_ids: list[str]) -> int:
    import anyio

    from ...runtime import CatalogError, warn_no_sandbox
    from ..rollout._calibrate import (
        JOURNAL_FILE,
        Journal,
        build_calibration,
        format_calibration,
        plan_calibration,
        write_calibration,
    )

    try:
        budgets = [catalog.load(t).manifest.step_budget for t in task_ids]
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    policy = _policy(args, args.max_turns or max(budgets))
    journal = Journal(catalog.path / JOURNAL_FILE)
    plan = plan_calibration(
        catalog,
        task_ids,
        model=policy.model,
        temperature=policy.temperature,
        samples=args.samples,
        journal=journal,
    )
    if plan.todo:
        if args.no_sandbox and args.server != "inprocess":
            warn_no_sandbox()  # an in-process server warns by itself
        run = anyio.run(_main, args, catalog, plan, policy, journal)
    else:
        run = plan.run
        print(f"calibrate: all {run.planned} samples are in the journal: no model request", file=sys.stderr)
    calibration = build_calibration(
        catalog,
        journal,
        model=policy.model,
        base_url=policy.base_url,
        samples=args.samples,
        temperature=policy.temperature,
        max_turns=policy.max_turns,
    )
    path = write_calibration(catalog.path, calibration)
    print(format_calibration(calibration, run))
    for detail in run.infra_details:
        print(f"  infrastructure error: {detail}", file=sys.stderr)
    print(f"wrote {path} (journal: {journal.path})", file=sys.stderr)
    if run.lost:
        print(
            f"codegym-mcp calibrate: {run.lost} samples ended with their MCP session before a record was made "
            "(not counted); run the same command again to play them",
            file=sys.stderr,
        )
    if run.played and run.infra_errors == run.played:
        print(
            f"codegym-mcp calibrate: all {run.played} samples failed before they could be scored "
            "(infrastructure errors above): nothing was measured",
            file=sys.stderr,
        )
        return 1
    return 0


async def _main(
    args: argparse.Namespace, catalog: Catalog, plan: CalibrationPlan, policy: OpenAIPolicy, journal: Journal
) -> CalibrationRun:
    from contextlib import AsyncExitStack

    from ..rollout._calibrate import run_calibration
    from ..rollout._connectors import (
        catalog_inprocess,
        catalog_subprocess,
        http_connector,
        shared_http_client,
    )

    async with AsyncExitStack() as stack:
        start = catalog_subprocess if args.server == "subprocess" else catalog_inprocess
        base = await stack.enter_async_context(start(catalog.path, no_sandbox=args.no_sandbox))
        http = await stack.enter_async_context(shared_http_client())
        bar = _Bar(sys.stderr)
        try:
            return await run_calibration(
                plan,
                policy=policy,
                connect=http_connector(base, http_client=http),
                journal=journal,
                concurrency=args.concurrency,
                progress=bar,
            )
        finally:
            await policy.aclose()


class _Bar:
    """A one-line progress bar on a terminal's stderr (as generate's); silent otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, run: CalibrationRun, total: int) -> None:
        if not self.tty:
            return
        if total == 0:
            self.stream.write(f"every one of the {run.planned} samples is in the journal: nothing to ask\n")
            return
        width = 30
        filled = width * run.played // total
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {run.played}/{total}  solved {run.solved}  "
            f"infra {run.infra_errors}  (journal {run.cached})"
        )
        if run.played == total:
            self.stream.write("\n")
        self.stream.flush()
