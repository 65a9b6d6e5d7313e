"""``codegym-mcp audit``: measure a catalog's training value and honesty; writes audit.json."""

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
    parser.add_argument("--json", action="store_true", help="print audit.json's content instead of the table")
    parser.add_argument(
        "--findings",
        type=int,
        default=20,
        metavar="N",
        help="list the first N honesty findings under the table (default 20; all are in audit.json)",
    )


def run(args: argparse.Namespace) -> int:
    from ...generator import NoCatalog, audit_catalog, render_audit, write_audit
    from ...runtime import default_catalog_dir

    catalog: Path = args.catalog if args.catalog is not None else default_catalog_dir()
    try:
        report = audit_catalog(catalog)
    except NoCatalog as exc:
        raise UsageError(str(exc)) from None
    try:
        path = write_audit(catalog, report)
    except OSError as exc:
        raise UsageError(f"cannot write audit.json in {catalog}: {exc}") from None
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    print(render_audit(report))
    shown = report.findings[: max(0, args.findings)]
    if shown:
        print(f"honesty findings ({len(report.findings)}; first {len(shown)}):")
        for finding in shown:
            print(f"  - [{finding.check}] {finding.message}")
    print(f"written: {path}")
    return 0
