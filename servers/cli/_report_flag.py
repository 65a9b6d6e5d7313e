"""``--report-html PATH`` of generate, audit and rollout: one flag, one call (see servers/viewer)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._main import UsageError

if TYPE_CHECKING:
    from ...schemas import EpisodeRecord

__all__ = ["add_report_html_argument", "write_report_if_asked"]


def add_report_html_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--report-html PATH``."""
    parser.add_argument(
        "--report-html",
        type=Path,
        metavar="PATH",
        help="also write a self-contained report.html here: the viewer's plots, opens with no network",
    )


def write_report_if_asked(
    args: argparse.Namespace, catalog: Path, *, records: Sequence[tuple[str, Sequence[EpisodeRecord]]] = ()
) -> None:
    """Write the report when ``--report-html`` was given, and say where.

    Raises:
        UsageError: the file cannot be written.
    """
    if args.report_html is None:
        return
    from ..viewer import write_report_html

    try:
        path = write_report_html(args.report_html, catalog, records=records)
    except OSError as exc:
        raise UsageError(f"cannot write --report-html {args.report_html}: {exc.strerror or exc}") from None
    print(f"report: {path}", file=sys.stderr)
