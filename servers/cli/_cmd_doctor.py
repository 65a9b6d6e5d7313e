"""``codegym-mcp doctor``: check that the sandbox works here and show which isolation is active.

Exit status 0 when untrusted code can run isolated (nsjail started a worker and the probes
inside it found no host secrets, no network and a private pid namespace); 1 otherwise, with the
fix printed under each failed check.

``--no-sandbox`` checks the unisolated mode instead: the same worker as a plain subprocess of
``/usr/bin/python3``. That mode keeps only the per-call time limit and the output cap; the code
can read your files and environment and use the network. Every verb that runs untrusted code
accepts ``--no-sandbox`` and prints a loud warning each time it is used.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add doctor's flags."""
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="check the UNISOLATED mode (plain subprocess, no nsjail): what --no-sandbox gives you",
    )


def run(args: argparse.Namespace) -> int:
    """Diagnose the sandbox and print the report; 0 when the chosen isolation works."""
    from ...runtime import SandboxConfig, default_isolation, diagnose

    cfg = SandboxConfig(isolation=default_isolation(no_sandbox=bool(args.no_sandbox)))
    report = diagnose(cfg)
    print(report.render())
    if cfg.isolation == "none" and report.ok:
        print(
            "note: --no-sandbox works here, but nothing isolates the code: run `codegym-mcp doctor` without it."
        )
    return 0 if report.ok else 1
