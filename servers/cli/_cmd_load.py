"""``codegym-mcp load --dataset SPEC [--json]``: read a dataset, count its problems, list unreadable rows.

Nothing runs: the loader only parses the rows (the solutions and tests are checked for
syntax, never executed). Exit status 0 when at least one problem was read (unreadable rows
are listed, not fatal), 1 when none was, 2 on a usage error (unknown spec, missing file).
"""

from __future__ import annotations

import argparse
import json

from ._main import UsageError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add load's flags."""
    parser.add_argument(
        "--dataset",
        required=True,
        metavar="SPEC",
        help="humaneval | kodcode:PATH (.jsonl, .json array, .parquet or a directory of them) | jsonl:PATH",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    """Load the dataset and print counts per source and every unreadable row.

    Raises:
        UsageError: the spec names no loader, the path does not exist, the file is not a dataset,
            or a parquet file needs pyarrow.
    """
    from ...generator import DatasetError, load_dataset

    try:
        result = load_dataset(args.dataset)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "dataset": result.spec,
                    "problems": len(result.problems),
                    "without_entry_point": sum(p.entry_point is None for p in result.problems),
                    "sources": [
                        {"source": s.source, "rows": s.rows, "problems": s.problems} for s in result.sources
                    ],
                    "issues": [i.model_dump(mode="json") for i in result.issues],
                    "problem_ids": [p.problem_id for p in result.problems],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        no_entry = sum(p.entry_point is None for p in result.problems)
        print(
            f"{result.spec}: {len(result.problems)} problems ({no_entry} without an entry point: class-based), "
            f"{len(result.issues)} unreadable rows"
        )
        for s in result.sources:
            print(f"  {s.source}: {s.rows} rows, {s.problems} problems")
        for issue in result.issues:
            where = f"{issue.file} row {issue.row}" if issue.file else f"row {issue.row}"
            field = f" field {issue.field!r}" if issue.field else ""
            ident = f" ({issue.problem_id})" if issue.problem_id else ""
            print(f"  unreadable: {where}{ident}{field}: {issue.reason}")
    return 0 if result.problems else 1
