"""The ``codegym-mcp`` command line: ``main(argv) -> int``.

Each verb lives in its own ``_cmd_<verb>.py`` module with ``add_arguments(parser)`` and
``run(args) -> int``; heavy imports (mcp, libcst) happen inside ``run`` so that ``--help``
and usage errors stay fast. A usage error (unknown dataset, missing file) exits 2 with one
line saying what to do: verbs raise :class:`UsageError`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

__all__ = ["UsageError", "main"]

VERBS: dict[str, str] = {
    "doctor": "check that the sandbox (nsjail) works here and show which isolation is active",
    "load": "read a dataset and report its problems and unreadable rows",
    "generate": "turn a dataset's problems into verified gyms in a catalog",
    "check": "run the gym contract checker over a catalog",
    "audit": "measure a catalog's training value and honesty (writes audit.json)",
    "serve": "serve one gym (or a whole catalog) as an MCP server",
    "rollout": "run episodes through the MCP servers with a policy and write trajectories",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _verb_module(verb: str) -> ModuleType:
    return importlib.import_module(f"codegym_mcp.servers.cli._cmd_{verb}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="codegym-mcp",
        description="Turn coding problems into verified, sandboxed MCP gyms for tool-using LLM agents.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb, summary in VERBS.items():
        try:
            module = _verb_module(verb)
        except ModuleNotFoundError as exc:
            if exc.name != f"codegym_mcp.servers.cli._cmd_{verb}":
                raise
            continue
        p = sub.add_parser(verb, help=summary, description=summary)
        module.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        code: int = _verb_module(args.verb).run(args)
    except UsageError as exc:
        print(f"codegym-mcp {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"codegym-mcp {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`codegym-mcp load ... | head`): stop quietly, as Unix tools do;
        # point stdout at /dev/null so the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    raise SystemExit(main())
