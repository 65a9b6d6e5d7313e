"""One catalog server replica on a Ray node: an actor holding a ``codegym-mcp serve --all`` process.

The actor (:class:`ReplicaProcess`, made remote by _ray_serve.py) starts the server as a child
process on a free port of its node, through this module's ``main``: it leaves (SIGTERM to
itself, so the server drains and writes its records) as soon as the actor's process is gone, so
no replica outlives its actor. The server is the ordinary one (every ``serve`` flag applies:
idle timeout, session limit, auth, drain), so a replica behaves exactly as a single server.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

__all__ = ["KILL_AFTER_DRAIN", "ReplicaFailed", "ReplicaProcess", "drain_timeout", "main"]

START_TIMEOUT = 120.0
"""Seconds a replica may take to answer its first request."""
KILL_AFTER_DRAIN = 60.0
"""Seconds past its drain deadline a stopping replica gets to write its records before SIGKILL.
Thousands of open sessions take a while on a busy machine: with 15 s, a 4,096-session run stopped
mid-episode had written 617 shutdown records of its 3,548 unfinished sessions when its replicas ended."""


class ReplicaFailed(RuntimeError):
    """A replica's server exited, or did not answer in time (the message holds its stderr's end)."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def drain_timeout(serve_args: Sequence[str]) -> float:
    """The ``--drain-timeout`` in ``serve_args`` (serve's own default when absent), read with
    serve's own flag definition."""
    from ._serve_limits import add_session_arguments

    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_session_arguments(parser)
    known, _ = parser.parse_known_args(list(serve_args))
    return float(known.drain_timeout)


class ReplicaProcess:
    """A ``serve --all`` child process on this node, listening on ``host`` and a free port.

    Args:
        serve_args: the arguments after ``serve --all`` (catalog, workers, limits...).
        host: the interface to listen on (the node's address, or 127.0.0.1 on the front's node).
        env: variables added to the child's environment (auth token, harness key).
    """

    def __init__(self, serve_args: Sequence[str], host: str, env: dict[str, str]) -> None:
        self.drain_timeout = drain_timeout(serve_args)
        """The server's own ``--drain-timeout``: :meth:`stop` waits that long, plus
        :data:`KILL_AFTER_DRAIN`, before it kills."""
        port = _free_port(host)
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        argv = [sys.executable, "-m", __name__, str(os.getpid())]  # this module's main
        argv += ["serve", "--all", "--host", host, "--port", str(port), *serve_args]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop): the server's stderr
        self._process = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def ready(self, timeout: float = START_TIMEOUT) -> str:
        """Wait until the server answers ``GET /tasks``; returns its base URL.

        Raises:
            ReplicaFailed: the server exited, or did not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ReplicaFailed(
                    f"the replica server exited with {self._process.returncode}: {self._stderr_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/tasks", timeout=2.0):
                    return self.url
            except urllib.error.HTTPError:
                return self.url  # it answers (auth or another error is the client's business)
            except OSError:
                time.sleep(0.2)
        raise ReplicaFailed(
            f"the replica at {self.url} did not answer in {timeout:.0f} s: {self._stderr_tail()}"
        )

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self._process.poll() is None

    def pid(self) -> int:
        return self._process.pid

    def stop(self) -> int | None:
        """SIGTERM (the server drains its episodes for its ``--drain-timeout``, then writes the
        records of those still running), then SIGKILL :data:`KILL_AFTER_DRAIN` seconds after that
        deadline; its exit code."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(self.drain_timeout + KILL_AFTER_DRAIN)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        return self._process.returncode

    def _stderr_tail(self) -> str:
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        return text[-2000:] or "(no output)"


def _leave_with(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)  # the server's own graceful stop
            return


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m codegym_mcp.servers._ray_replica PARENT_PID serve ...``: the CLI, watched."""
    args = list(sys.argv[1:] if argv is None else argv)
    threading.Thread(target=_leave_with, args=(int(args[0]),), daemon=True).start()
    from ._main import main as cli_main

    return cli_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
