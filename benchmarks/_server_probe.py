"""Probes of a catalog server process for the soak: its RSS and its workers' (from /proc), its CPU
time, ``GET /health``, and the server itself started in its own process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class RssSample(BaseModel):
    episodes: int
    seconds: float
    rss_kb: int
    workers: int = 0
    workers_rss_kb: int = 0
    processes: int = 0
    health_sessions: int = -1
    health_workers: int = -1


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def descendants(pid: int) -> list[tuple[int, int]]:
    """The processes under ``pid`` as (pid, parent pid): its sandbox workers (each an nsjail
    process and the Python processes in it; without the sandbox, one Python process)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8")
        except OSError:
            continue  # ended meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child in children.get(parent, []):
            found.append((child, parent))
            todo.append(child)
    return found


def sample(pid: int, episodes: int, seconds: float) -> RssSample:
    """The server's RSS, and its workers: the count of its child processes (one per worker), every
    process under it, and the sum of their RSS (pages shared between them counted in each)."""
    children = descendants(pid)
    workers_kb = 0
    for child, _ in children:
        try:
            workers_kb += rss_kb(child)
        except (OSError, RuntimeError):
            continue  # ended meanwhile, or a zombie
    return RssSample(
        episodes=episodes,
        seconds=round(seconds, 1),
        rss_kb=rss_kb(pid),
        workers=sum(1 for _, parent in children if parent == pid),
        workers_rss_kb=workers_kb,
        processes=len(children),
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
        body = json.loads(response.read())
        assert isinstance(body, dict)
        return body


@contextmanager
def server(
    catalog: Path, record: Path, *, workers: int, extra: list[str], key: str
) -> Iterator[tuple[str, int]]:
    """A catalog server process; yields (base URL, pid). SIGTERM (drain) on exit."""
    command = [sys.executable, "-m", "codegym_mcp.servers", "serve", "--all", "--catalog", str(catalog)]
    command += ["--port", "0", "--record", str(record), "--workers", str(workers), *extra]
    env = {**os.environ, "CODEGYM_HARNESS_KEY": key}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    try:
        assert proc.stderr is not None
        line = ""
        while "on http" not in line:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError(f"the server exited before listening: {command}")
        match = re.search(r"(http://\S+?)/<task_id>/mcp", line)
        assert match is not None, line
        yield match.group(1), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
