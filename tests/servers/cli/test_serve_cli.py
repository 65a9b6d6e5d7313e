"""`codegym-mcp serve` as a process: stdio through mcp.Client, HTTP over raw JSON, usage errors."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import RequestParamsMeta

from codegym_mcp.schemas import EpisodeRecord

from .._serve_helpers import FIXTURE, SERVE, base_url_of, killed_after, run_cli, serve_env, text_of

pytestmark = pytest.mark.anyio


def records(path: Path) -> list[EpisodeRecord]:
    return [EpisodeRecord.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_stdio_server_plays_episodes_and_records_them(tmp_path: Path) -> None:
    record = tmp_path / "episodes.jsonl"
    options = ["--catalog", str(FIXTURE), "--instance", "1", "--no-sandbox", "--record", str(record)]
    params = StdioServerParameters(
        command=SERVE[0],
        args=[*SERVE[1:], "Fixture/maxsub", *options, "--max-steps", "5"],
        env={**serve_env(), "CODEGYM_HARNESS_KEY": "the-harness-key"},
    )
    harness = cast(RequestParamsMeta, {"codegym/harness-key": "the-harness-key"})
    with anyio.fail_after(60):
        async with Client(params) as client:
            listed = await client.list_tools()
            assert "kadane_step" in {t.name for t in listed.tools} and "reset" not in {
                t.name for t in listed.tools
            }
            assert (await client.call_tool("observe", {})).structured_content == {"nums": [1]}
            bad = await client.call_tool("kadane_step", {"best": 1, "current": [], "x": 1})
            assert bad.is_error and text_of(bad) == "invalid argument current: expected int, got []"
            assert (await client.call_tool("submit", {"answer": 1})).structured_content == {"reward": 1}
            await client.call_tool("reset", {}, meta=harness)
            for _ in range(5):
                last = await client.call_tool("get_length", {})
            assert "step budget of 5 calls is used up" in last.content[-1].text  # type: ignore[union-attr]
    got = records(record)
    assert [(r.end_reason, r.reward) for r in got] == [("submitted", 1), ("step_budget", 0)]
    assert [s.tool for s in got[0].steps] == ["observe", "kadane_step", "submit"]
    assert got[0].steps[1].error is not None and got[0].submission == 1 and got[0].expected == 1


async def test_serve_allow_reset_offers_reset_to_any_client_and_the_help_says_so() -> None:
    help_text = run_cli("--help").stdout
    assert "--allow-reset" in help_text and "--harness-key" in help_text
    params = StdioServerParameters(
        command=SERVE[0],
        args=[*SERVE[1:], "Fixture_vowels", "--catalog", str(FIXTURE), "--no-sandbox", "--allow-reset"],
        env=serve_env(),
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            assert "reset" in {t.name for t in (await client.list_tools()).tools}
            reset = await client.call_tool("reset", {"instance": 2})
            assert not reset.is_error and reset.structured_content is not None
            assert reset.structured_content["instance"] == 2


def test_an_unknown_task_id_exits_2_suggesting_the_nearest() -> None:
    done = run_cli("Fixture_maxsup", "--catalog", str(FIXTURE))
    assert done.returncode == 2
    assert "did you mean Fixture_maxsub" in done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all", "Fixture_maxsub"], "not both"),
        (["--all", "--transport", "stdio"], "serves over HTTP"),
        ([], "name the gym to serve"),
        (["Fixture_maxsub", "--instance", "7"], "has instances 0..3"),
        (["Fixture_maxsub", "--instance", "1", "--seed", "2"], "not allowed with argument"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = run_cli(*args, "--catalog", str(FIXTURE))
    assert done.returncode == 2
    assert message in done.stderr


def test_a_missing_catalog_exits_2_saying_how_to_build_one(tmp_path: Path) -> None:
    done = run_cli("Fixture_maxsub", "--catalog", str(tmp_path / "none"))
    assert done.returncode == 2 and "codegym-mcp generate" in done.stderr


def _post(
    url: str, body: dict[str, Any], session: str | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if session is not None:
        headers |= {"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return (json.loads(raw) if raw else None), response.headers.get("mcp-session-id")


def test_catalog_mode_over_http_and_sigterm_ends_open_episodes_as_shutdown(tmp_path: Path) -> None:
    record = tmp_path / "episodes.jsonl"
    args = ["--all", "--catalog", str(FIXTURE), "--port", "0", "--no-sandbox", "--record", str(record)]
    args += ["--drain-timeout", "0"]  # no grace: the running episode ends as shutdown at once
    with (
        subprocess.Popen(
            [*SERVE, *args], stderr=subprocess.PIPE, text=True, encoding="utf-8", env=serve_env()
        ) as proc,
        killed_after(proc),
    ):
        try:
            url = f"{base_url_of(proc)}/Fixture_vowels/mcp?instance=2"
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
            reply, session = _post(url, init)
            assert reply is not None and "count how many" in reply["result"]["instructions"].lower()
            _post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
            call = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "observe", "arguments": {}},
            }
            reply, _ = _post(url, call, session)
            assert reply is not None and reply["result"]["structuredContent"] == {"s": "AEIOUx"}
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    (got,) = records(record)
    assert got.end_reason == "shutdown" and got.reward is None and got.task_id == "Fixture_vowels"


def test_sigterm_to_a_stdio_server_records_the_open_episode_as_shutdown(tmp_path: Path) -> None:
    record = tmp_path / "episodes.jsonl"
    args = ["Fixture_maxsub", "--catalog", str(FIXTURE), "--no-sandbox", "--record", str(record)]
    with (
        subprocess.Popen(
            [*SERVE, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=serve_env(),
        ) as proc,
        killed_after(proc),
    ):
        assert proc.stdin is not None and proc.stdout is not None
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        for message in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "get_length", "arguments": {}},
            },
        ):
            proc.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        proc.stdin.flush()
        replies = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert replies[1]["result"]["structuredContent"] == {"result": 9}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.stdin.close()
    (got,) = records(record)
    assert (
        got.end_reason == "shutdown" and got.reward is None and [s.tool for s in got.steps] == ["get_length"]
    )
