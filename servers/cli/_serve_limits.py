"""``serve``'s long-run flags: --idle-timeout, --max-sessions, --drain-timeout, --auth-token, --insecure.

Only argparse is imported at module level (serve's start-up stays short).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ._main import UsageError

if TYPE_CHECKING:
    from ..mcp._sessions import SessionLimits

__all__ = ["add_session_arguments", "auth_token", "session_limits"]


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the HTTP server's session flags."""
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="HTTP: close a session with no request for this long; its running episode ends unscored as "
        "idle_timeout (default 300; 0 = never)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=10_000,
        metavar="N",
        help="HTTP: live sessions at most; past it a new session gets HTTP 503 (default 10000; 0 = no limit)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="HTTP: on SIGTERM/SIGINT, stop opening sessions and give running episodes this long to finish; "
        "the rest end as shutdown (default 30)",
    )
    parser.add_argument(
        "--auth-token",
        metavar="TOKEN",
        help="HTTP: every request but GET /health needs 'Authorization: Bearer TOKEN' "
        "(default: $CODEGYM_AUTH_TOKEN; prefer the variable, a command line is visible to other local users; "
        "write --auth-token=TOKEN when TOKEN starts with '-')",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="HTTP: allow a non-loopback --host without an auth token (anyone who reaches the port can play)",
    )


def session_limits(args: argparse.Namespace) -> SessionLimits:
    """The SessionLimits the flags ask for.

    Raises:
        UsageError: a negative value.
    """
    from ..mcp._sessions import SessionLimits

    for flag, value in (
        ("--idle-timeout", args.idle_timeout),
        ("--max-sessions", args.max_sessions),
        ("--drain-timeout", args.drain_timeout),
    ):
        if value < 0:
            raise UsageError(f"{flag} must be >= 0 (0 turns it off), got {value}")
    return SessionLimits(
        idle_timeout=args.idle_timeout or None,
        max_sessions=args.max_sessions or None,
        drain_timeout=args.drain_timeout,
    )


def auth_token(args: argparse.Namespace, *, host: str) -> str | None:
    """The bearer token (``--auth-token``, else ``$CODEGYM_AUTH_TOKEN``), checked against the host.

    Raises:
        UsageError: a non-loopback host without a token and without ``--insecure``.
    """
    from ..mcp._sessions import AUTH_TOKEN_ENV, LOOPBACK_HOSTS

    token = args.auth_token if args.auth_token is not None else os.environ.get(AUTH_TOKEN_ENV)
    token = token or None
    if token is None and host not in LOOPBACK_HOSTS and not args.insecure:
        raise UsageError(
            f"refusing to serve on {host} without authentication: anyone who reaches the port could play "
            f"and flood it; set ${AUTH_TOKEN_ENV} (or --auth-token TOKEN), or pass --insecure to serve it "
            "open on purpose"
        )
    return token
