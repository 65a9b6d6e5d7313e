"""``codegym-mcp view``: browse a catalog and episode records in a local web viewer (127.0.0.1)."""

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
    parser.add_argument(
        "--records",
        nargs="+",
        default=[],
        metavar="FILE",
        help="episode record files (rollout --out, serve --record); LABEL=FILE names the policy "
        "(default label: the file name without .jsonl)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, metavar="P", help="port on 127.0.0.1 (default 8765)"
    )


def run(args: argparse.Namespace) -> int:
    from ...runtime import default_catalog_dir
    from ..viewer import parse_records_arg, serve_viewer

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    catalog: Path = args.catalog if args.catalog is not None else default_catalog_dir()
    records = [parse_records_arg(value) for value in args.records]
    for _, path in records:
        if not path.is_file():
            raise UsageError(f"no records file {path}: write one with `codegym-mcp rollout --out {path}`")

    def announce(url: str) -> None:
        print(f"codegym-mcp view: {url}  (catalog {catalog}; Ctrl-C stops)", flush=True)

    try:
        serve_viewer(catalog, records, port=args.port, announce=announce)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; pick another --port"
        ) from None
    return 0
