"""A local OpenAI-compatible server that replays recorded model replies (tests and measurements).

Serves ``POST /v1/chat/completions`` on 127.0.0.1. The problem a request is about is read from
the prompt's ``Problem <id>:`` line; the reply is ``tests/fixtures/llm/<task_id>.md`` unless a
script for that problem says otherwise (an HTTP error status, a hang, another reply). It never
reaches the network.

Standalone, for measuring the pipeline on the recorded replies::

    .venv/bin/python -m tests.generator.llm_replay --port 8765
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from codegym_mcp.schemas import task_id_for

from .._openai_http import send_json

__all__ = ["FIXTURES", "ReplayServer", "Scripted", "replay_server"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llm"
_PROBLEM_LINE = re.compile(r"^Problem (\S+):$", re.MULTILINE)
_HANG_LIMIT = 30.0  # a hung request is released at shutdown, or after this long at worst


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: an HTTP error ``status``, a ``hang``, a ``raw`` body, or a ``reply`` text
    (else the fixture) with its ``finish_reason``."""

    status: int = 200
    reply: str | None = None
    hang: bool = False
    raw: str | None = None
    finish_reason: str = "stop"


@dataclass
class ReplayServer:
    """State of a running replay server: the requests it saw and what to answer next."""

    fixtures: Path
    script: dict[str, list[Scripted]] = field(default_factory=dict)
    hold_until_in_flight: int = 0
    url: str = ""
    requests: list[str] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _release: threading.Event = field(default_factory=threading.Event)

    def answer(self, body: dict[str, object]) -> tuple[int, dict[str, object] | str | None]:
        """The status and body (JSON, or raw text) for one request (None = hang, then drop the connection)."""
        messages = body.get("messages")
        prompt = ""
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            prompt = str(messages[-1].get("content", ""))
        match = _PROBLEM_LINE.search(prompt)
        task_id = task_id_for(match.group(1)) if match else "?"
        with self._cond:
            self.requests.append(task_id)
            queue = self.script.get(task_id)
            step = queue.pop(0) if queue else Scripted()
        if step.hang:
            self._release.wait(_HANG_LIMIT)
            return 0, None
        if step.raw is not None:
            return step.status, step.raw
        if step.status != 200:
            return step.status, {"error": {"message": f"scripted HTTP {step.status}", "type": "scripted"}}
        text = step.reply
        if text is None:
            path = self.fixtures / f"{task_id}.md"
            if not path.is_file():
                return 404, {"error": {"message": f"no recorded reply for {task_id}", "type": "not_found"}}
            text = path.read_text(encoding="utf-8")
        return 200, {
            "id": f"chatcmpl-replay-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model", "")),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": step.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": len(prompt) // 4,
                "completion_tokens": len(text) // 4,
                "total_tokens": len(prompt) // 4 + len(text) // 4,
            },
        }

    def enter(self) -> None:
        """Count a request in flight; with ``hold_until_in_flight`` set, wait (bounded) for company."""
        with self._cond:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._cond.notify_all()
            if self.hold_until_in_flight:
                self._cond.wait_for(lambda: self._in_flight >= self.hold_until_in_flight, timeout=2.0)

    def leave(self) -> None:
        with self._cond:
            self._in_flight -= 1

    def release(self) -> None:
        """Let hung requests go (at shutdown)."""
        self._release.set()


def _handler(state: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                send_json(self, 404, {"error": {"message": f"no route {self.path}"}})
                return
            state.enter()
            try:
                status, payload = state.answer(json.loads(raw or b"{}"))
            finally:
                state.leave()
            if payload is None:
                self.close_connection = True
                return
            send_json(self, status, payload)

    return Handler


@contextmanager
def replay_server(
    *,
    fixtures: Path = FIXTURES,
    script: dict[str, list[Scripted]] | None = None,
    hold_until_in_flight: int = 0,
    port: int = 0,
) -> Iterator[ReplayServer]:
    """Run a replay server in a thread; ``state.url`` is its base URL (``http://127.0.0.1:P/v1``)."""
    state = ReplayServer(fixtures=fixtures, script=script or {}, hold_until_in_flight=hold_until_in_flight)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Serve the recorded replies until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with replay_server(port=args.port) as state:
        print(f"replaying {FIXTURES} at {state.url}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
