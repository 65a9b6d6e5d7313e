"""A stdin reader that a cancellation (SIGTERM) can interrupt.

The SDK's stdio transport reads stdin in a worker thread, and a cancelled read waits for the
thread, which waits for the client's next line. A server told to stop would then hang until its
client closes the pipe. When stdin is a pipe or a socket, this reader waits on the event loop
instead (``anyio.wait_readable``), so the server stops at once, and its open episode is still
recorded as ``shutdown``.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import TextIO

import anyio

__all__ = ["CancellableStdin", "cancellable_stdin"]


class CancellableStdin(anyio.AsyncFile[str]):
    """Lines from a non-blocking pipe or socket, read on the event loop (no thread)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._fd = stream.fileno()
        self._blocking = os.get_blocking(self._fd)
        os.set_blocking(self._fd, False)
        self._buffer = bytearray()
        self._eof = False

    async def readline(self) -> str:
        """The next line (with its newline), decoded as UTF-8; "" at end of input."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0 or self._eof:
                cut = end + 1 if end >= 0 else len(self._buffer)
                line = bytes(self._buffer[:cut])
                del self._buffer[:cut]
                return line.decode("utf-8", errors="replace")
            await anyio.wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    async def aclose(self) -> None:
        """Restore the descriptor's blocking mode; the descriptor itself stays open."""
        os.set_blocking(self._fd, self._blocking)


def cancellable_stdin() -> CancellableStdin | None:
    """A :class:`CancellableStdin` when stdin is a pipe or socket, else None (use the SDK's reader)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return None
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return None
    return CancellableStdin(sys.stdin)
