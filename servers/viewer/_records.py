"""Episode record files (``serve --record``, ``rollout --out``), indexed once and read lazily.

Opening 10,000 records must not render 10,000 records: the index keeps, per line, where it starts
and a few figures (task, instance, steps, errors, reward, end reason); a record's steps are read
from the file again only when its page is opened. Each file is one policy: its label is given as
``LABEL=FILE`` or, by default, the file's stem (``oracle.jsonl`` -> ``oracle``).

A line that is not an episode record (not JSON, or missing a field) is kept in the index as a
problem with its line number and reason, shown on the page; it never stops the others.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ...schemas import EpisodeRecord
from ._data import ViewerError

__all__ = [
    "GENERIC_TOOLS",
    "Outcome",
    "RecordFile",
    "RecordIndex",
    "RecordSummary",
    "is_problem_tool",
    "parse_records_arg",
    "summarize",
]

Outcome = Literal["solved", "failed", "unscored"]

GENERIC_TOOLS = frozenset({"observe", "submit", "task", "reset"})


def is_problem_tool(name: str) -> bool:
    """A tool carved from the solution: not observe, submit, task, reset or a ``read_*`` window."""
    return name not in GENERIC_TOOLS and not name.startswith("read_")


@dataclass(frozen=True, slots=True)
class RecordSummary:
    """One indexed record: where it is and what the list pages show of it."""

    file: int
    line: int
    offset: int
    task_id: str
    instance_id: str
    steps: int
    errors: int
    problem_calls: int
    latency_ms: float
    reward: int | None
    end_reason: str
    seconds: float

    @property
    def outcome(self) -> Outcome:
        """solved (reward 1), failed (reward 0) or unscored (reward null)."""
        return "unscored" if self.reward is None else "solved" if self.reward == 1 else "failed"


@dataclass
class RecordFile:
    """One records file, its policy label, and what indexing found."""

    label: str
    path: Path
    records: list[RecordSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None


def parse_records_arg(value: str) -> tuple[str, Path]:
    """``LABEL=FILE`` or ``FILE`` (label: the file's stem)."""
    label, sep, rest = value.partition("=")
    if sep and label and "/" not in label:
        return label, Path(rest)
    path = Path(value)
    return path.stem, path


def _summary(file: int, line: int, offset: int, raw: bytes) -> RecordSummary | str:
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc.msg if isinstance(exc, json.JSONDecodeError) else exc.reason})"
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an episode record object"
    missing = [k for k in ("task_id", "instance_id", "steps", "end_reason", "reward") if k not in data]
    if missing:
        return f"not an episode record: no {', '.join(missing)}"
    steps, reward = data["steps"], data["reward"]
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return "not an episode record: steps is not a list of calls"
    if reward is not None and (not isinstance(reward, int) or isinstance(reward, bool)):
        return f"not an episode record: reward is {reward!r}, not 0, 1 or null"
    started, ended = data.get("started_at"), data.get("ended_at")
    seconds = (
        float(ended - started) if isinstance(started, int | float) and isinstance(ended, int | float) else 0.0
    )
    return RecordSummary(
        file=file,
        line=line,
        offset=offset,
        task_id=str(data["task_id"]),
        instance_id=str(data["instance_id"]),
        steps=len(steps),
        errors=sum(s.get("error") is not None for s in steps),
        problem_calls=sum(is_problem_tool(str(s.get("tool", ""))) for s in steps),
        latency_ms=sum(float(s.get("latency_ms") or 0.0) for s in steps),
        reward=reward,
        end_reason=str(data["end_reason"]),
        seconds=max(0.0, seconds),
    )


def summarize(record: EpisodeRecord, *, file: int = 0, line: int = 0) -> RecordSummary:
    """The index entry of a record held in memory (rollout's report)."""
    found = _summary(file, line, 0, record.model_dump_json().encode())
    assert not isinstance(found, str), found  # a validated EpisodeRecord always has the fields
    return found


class RecordIndex:
    """The index of every given records file, built on first use (in the caller's thread)."""

    def __init__(self, files: list[tuple[str, Path]]) -> None:
        self._given = files
        self._files: list[RecordFile] | None = None
        self._lock = threading.Lock()

    @property
    def given(self) -> bool:
        """Whether any records file was named."""
        return bool(self._given)

    def files(self) -> list[RecordFile]:
        """Every file, indexed (once)."""
        with self._lock:
            if self._files is None:
                self._files = [self._index(i, label, path) for i, (label, path) in enumerate(self._given)]
            return self._files

    def all(self) -> list[RecordSummary]:
        """Every indexed record, file by file, in file order."""
        return [r for f in self.files() for r in f.records]

    @staticmethod
    def _index(number: int, label: str, path: Path) -> RecordFile:
        entry = RecordFile(label=label, path=path)
        try:
            handle = path.open("rb")
        except OSError as exc:
            entry.error = (
                f"cannot read records file {path}: {exc.strerror}; name a file written by "
                "`codegym-mcp rollout --out FILE` or `serve --record FILE`"
            )
            return entry
        with handle:
            offset = 0
            for line_no, raw in enumerate(handle, start=1):
                if raw.strip():
                    found = _summary(number, line_no, offset, raw)
                    if isinstance(found, str):
                        entry.problems.append(f"{path.name} line {line_no}: {found}")
                    else:
                        entry.records.append(found)
                offset += len(raw)
        return entry

    def load(self, file: int, line: int) -> tuple[RecordFile, EpisodeRecord]:
        """The full record at ``line`` of file number ``file``, read from disk and validated.

        Raises:
            ViewerError: no such record, or its line no longer validates as an EpisodeRecord.
        """
        files = self.files()
        if not 0 <= file < len(files):
            raise ViewerError(f"no records file number {file}: the viewer was given {len(files)}")
        entry = files[file]
        found = next((r for r in entry.records if r.line == line), None)
        if found is None:
            raise ViewerError(f"{entry.path.name} has no episode record at line {line}")
        with entry.path.open("rb") as handle:
            handle.seek(found.offset)
            raw = handle.readline()
        try:
            return entry, EpisodeRecord.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "$"
            raise ViewerError(
                f"{entry.path.name} line {line} is not a valid episode record ({where}: {err['msg']})"
            ) from None
