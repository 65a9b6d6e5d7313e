"""One catalog server (the fixture catalog) for every trainer-adapter test; no session may outlive them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codegym_mcp.servers.trainers._bridge import open_sessions

from ._harness import catalog_server, connections_to, health


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """Base URL of ``codegym-mcp serve --all`` on the fixture catalog (a child process)."""
    with catalog_server() as url:
        yield url
        assert connections_to(url) == 0, "a trainer adapter left an HTTP connection (an MCP session) open"
        status = health(url)  # None until the server has GET /health
        assert status is None or status["sessions"] == 0, f"MCP sessions left open: {status}"
    assert open_sessions() == 0, "an adapter session (its event loop) outlived its env"
