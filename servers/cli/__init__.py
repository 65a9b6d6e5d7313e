"""The ``codegym-mcp`` command line (the console script ``codegym_mcp.servers.cli:main``).

The parser and dispatch live in ``_main``; each verb in its own ``_cmd_<verb>`` module.
"""

from ._main import VERBS, UsageError, build_parser, main

__all__ = ["VERBS", "UsageError", "build_parser", "main"]
