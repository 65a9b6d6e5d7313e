"""A catalog server for synchronous trainer code: ``codegym-mcp serve --all`` as a child process.

    with catalog_server_process("demo-out/catalog") as url:
        env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id="HumanEval_0")

The server gets its own process (its own core, no GIL shared with the trainer), listens on a
free port of 127.0.0.1, and is stopped (SIGTERM, then SIGKILL) when the block ends.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["catalog_server_process", "stop_process"]

_URL = re.compile(r"https?://[\w.\-\[\]:]+:\d+")


@contextmanager
def catalog_server_process(
    catalog: str | Path,
    *,
    no_sandbox: bool = False,
    startup_timeout: float = 120.0,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Serve every gym of ``catalog`` over streamable HTTP in a child process; yield its base URL.

    Raises:
        RuntimeError: the server exited or printed no URL within ``startup_timeout`` (its
            output is in the message).
    """
    command = [sys.executable, "-m", "codegym_mcp.servers", "serve", "--all", "--catalog", str(catalog)]
    command += ["--transport", "http", "--host", "127.0.0.1", "--port", "0", *extra_args]
    if no_sandbox:
        command.append("--no-sandbox")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8")
    watchdog = threading.Timer(startup_timeout, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        url = None
        for line in proc.stdout:
            seen.append(line.rstrip())
            match = _URL.search(line)
            if match:
                url = match.group(0)
                break
        watchdog.cancel()
        if url is None:
            tail = "\n".join(seen[-20:])
            raise RuntimeError(
                f"the catalog server exited (code {proc.poll()}) or printed no URL within "
                f"{startup_timeout:.0f}s; its output:\n{tail}"
            )
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
        yield url
    finally:
        watchdog.cancel()
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; reaps the process."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
