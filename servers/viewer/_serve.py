"""Run the viewer: in the foreground (``codegym-mcp view``) or in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ._app import build_app

__all__ = ["running_viewer", "serve_viewer"]


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve_viewer(
    catalog: Path, records: list[tuple[str, Path]], *, port: int, announce: Callable[[str], None] = print
) -> None:
    """Serve the viewer on 127.0.0.1:``port`` until interrupted; ``announce`` gets the URL once bound.

    Raises:
        OSError: the port cannot be bound (in use, or privileged).
    """
    import uvicorn

    sock = _bind(port)
    announce(f"http://127.0.0.1:{sock.getsockname()[1]}/")
    server = uvicorn.Server(uvicorn.Config(build_app(catalog, records), log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_viewer(catalog: Path, records: list[tuple[str, Path]], *, port: int = 0) -> Iterator[str]:
    """The viewer served from a background thread; yields its base URL (port 0: a free port).

    Raises:
        OSError: the port cannot be bound.
        TimeoutError: the server did not start within 30 s.
    """
    import uvicorn

    sock = _bind(port)
    server = uvicorn.Server(uvicorn.Config(build_app(catalog, records), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="viewer")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:  # uvicorn offers no event to wait on; a bounded poll
            if not thread.is_alive() or time.monotonic() > deadline:
                raise TimeoutError("the viewer did not start within 30 s (see the log above)")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
