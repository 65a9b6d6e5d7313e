"""``codegym-mcp check``: run the gym contract checker over a catalog (or some of its gyms)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._main import UsageError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        type=Path,
        metavar="DIR",
        help="catalog folder (default: $CODEGYM_CATALOG or the user data dir)",
    )
    parser.add_argument("--tasks", nargs="+", metavar="ID", help="only these gyms (task ids or dataset ids)")
    parser.add_argument(
        "--no-honesty",
        action="store_true",
        help="check the contract only, not the honesty of names, descriptions and statements",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run the gyms' code WITHOUT nsjail (loudly warned; throwaway machines)",
    )


def _gym_dirs(catalog: Path, tasks: list[str] | None) -> list[Path]:
    from ...schemas import task_id_for

    if not catalog.is_dir():
        raise UsageError(f"no catalog at {catalog}: build one with `codegym-mcp generate --out {catalog}`")
    every = sorted(p for p in catalog.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not every:
        raise UsageError(
            f"catalog {catalog} holds no gym: build one with `codegym-mcp generate --out {catalog}`"
        )
    if not tasks:
        return every
    names = {p.name: p for p in every}
    chosen = []
    for task in tasks:
        path = names.get(task) or names.get(task_id_for(task))
        if path is None:
            import difflib

            near = difflib.get_close_matches(task_id_for(task), list(names), n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise UsageError(f"--tasks: no gym {task!r} in {catalog}{hint}")
        chosen.append(path)
    return chosen


def run(args: argparse.Namespace) -> int:
    from ...generator import check_gym
    from ...runtime import SandboxConfig, SandboxUnavailable, Worker, default_catalog_dir, default_isolation

    catalog: Path = args.catalog if args.catalog is not None else default_catalog_dir()
    gyms = _gym_dirs(catalog, args.tasks)
    sandbox = SandboxConfig(isolation=default_isolation(no_sandbox=args.no_sandbox))
    bad = 0
    try:
        with Worker(sandbox) as worker:
            for gym in gyms:
                problems = check_gym(gym, worker, honesty=not args.no_honesty)
                if problems:
                    bad += 1
                    print(f"FAIL {gym.name}")
                    for problem in problems:
                        print(f"  - {problem}")
    except SandboxUnavailable as exc:
        raise UsageError(f"{exc} (or, on a throwaway machine, rerun with --no-sandbox)") from None
    print(f"checked {len(gyms)} gyms in {catalog}: {len(gyms) - bad} pass, {bad} fail")
    return 1 if bad else 0
