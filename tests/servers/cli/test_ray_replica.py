"""A Ray replica's own process rules (no Ray needed: the process side of the replica actor)."""

from __future__ import annotations

from codegym_mcp.servers.cli._ray_replica import drain_timeout


def test_a_replica_reads_its_drain_deadline_from_its_own_serve_arguments() -> None:
    assert (
        drain_timeout(["--catalog", "/c", "--workers", "2", "--drain-timeout", "7.5", "--no-sandbox"]) == 7.5
    )
    assert drain_timeout(["--catalog", "/c", "--seed", "3"]) == 30.0  # serve's own default
