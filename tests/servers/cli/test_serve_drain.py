"""`codegym-mcp serve --all` as a process: graceful SIGTERM drain, the bind guard, the session flags."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from codegym_mcp.schemas import EpisodeRecord

from .._serve_helpers import FIXTURE, SERVE, base_url_of, killed_after, run_cli, serve_env

_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def post(url: str, body: dict[str, Any], session: str | None = None) -> tuple[int, Any, str | None]:
    headers = dict(_HEADERS)
    if session is not None:
        headers |= {"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None), response.headers.get("mcp-session-id")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read()), None


def open_session(url: str) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    status, _, session = post(url, init)
    assert status == 200 and session is not None
    post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session


def call(url: str, session: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    status, reply, _ = post(url, body, session)
    assert status == 200, reply
    result = reply["result"]
    assert isinstance(result, dict)
    return result


def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
        body = json.loads(response.read())
        assert isinstance(body, dict)
        return body


def test_sigterm_drains_lets_running_episodes_finish_ends_the_rest_as_shutdown_and_exits_0(
    tmp_path: Path,
) -> None:
    record = tmp_path / "episodes.jsonl"
    args = ["--all", "--catalog", str(FIXTURE), "--port", "0", "--no-sandbox", "--record", str(record)]
    args += ["--drain-timeout", "3"]
    with (
        subprocess.Popen(
            [*SERVE, *args], stderr=subprocess.PIPE, text=True, encoding="utf-8", env=serve_env()
        ) as proc,
        killed_after(proc, 240),  # a loaded machine starts a server slowly
    ):
        base = base_url_of(proc)
        finishing = f"{base}/Fixture_vowels/mcp?instance=1"
        stalled = f"{base}/Fixture_maxsub/mcp?instance=0"
        a, b = open_session(finishing), open_session(stalled)
        call(finishing, a, "get_length", {})
        call(stalled, b, "get_length", {})
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while not health(base)["draining"]:
            assert time.monotonic() < deadline, "the server never started draining"
        status, refused, _ = post(
            finishing, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        )
        assert status == 503 and "draining" in refused["error"]["message"]
        assert call(finishing, a, "submit", {"answer": 0})["structuredContent"] == {"reward": 1}
        assert proc.wait(timeout=30) == 0
    got = {
        r.task_id: r for r in (EpisodeRecord.model_validate_json(x) for x in record.read_text().splitlines())
    }
    assert got["Fixture_vowels"].end_reason == "submitted" and got["Fixture_vowels"].reward == 1
    assert got["Fixture_maxsub"].end_reason == "shutdown" and got["Fixture_maxsub"].reward is None
    assert [s.tool for s in got["Fixture_maxsub"].steps] == ["get_length"]


def test_serve_refuses_a_non_loopback_host_without_a_token_unless_insecure() -> None:
    done = run_cli("--all", "--catalog", str(FIXTURE), "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "CODEGYM_AUTH_TOKEN" in done.stderr and "--insecure" in done.stderr


def test_negative_session_flags_are_usage_errors() -> None:
    for flag in ("--idle-timeout", "--max-sessions", "--drain-timeout"):
        done = run_cli("--all", "--catalog", str(FIXTURE), flag, "-1")
        assert done.returncode == 2 and flag in done.stderr
