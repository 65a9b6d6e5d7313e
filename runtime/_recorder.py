"""``--record``: one EpisodeRecord JSON line per ended episode, durable as soon as it ends.

Each line is written whole, flushed and fsynced before :meth:`Recorder.write` returns, so a
server killed mid-run loses only the episodes still running. Several servers may append to
the same file: every line goes out in one ``write`` on a file opened with ``O_APPEND``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Self

from ..schemas import EpisodeRecord

__all__ = ["Recorder"]


class Recorder:
    """Appends EpisodeRecords to a JSON-lines file.

    Raises:
        OSError: the file cannot be opened (at construction) or written.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def write(self, record: EpisodeRecord) -> None:
        """Append one record as a line, then flush it to disk.

        Raises:
            ValueError: the recorder was closed.
            OSError: the write failed (disk full...).
        """
        if self._fd is None:
            raise ValueError(f"recorder for {self.path} is closed")
        line = (record.model_dump_json() + "\n").encode("utf-8")
        written = 0
        while written < len(line):
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)
        self.count += 1

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
