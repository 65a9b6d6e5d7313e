"""The official MCP Inspector CLI (npm) against `codegym-mcp serve` over stdio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .._serve_helpers import FIXTURE, serve_env

NPX = shutil.which("npx")
CLI = str(Path(sys.executable).parent / "codegym-mcp")

pytestmark = [
    pytest.mark.npm,
    pytest.mark.skipif(
        NPX is None, reason="npx (Node.js) is not installed: the MCP Inspector CLI cannot run"
    ),
]


def inspector(*args: str) -> Any:
    assert NPX is not None
    command = [NPX, "-y", "@modelcontextprotocol/inspector", "--cli", CLI, "serve", "Fixture_maxsub"]
    command += ["--catalog", str(FIXTURE), "--no-sandbox", *args]
    done = subprocess.run(
        command, capture_output=True, encoding="utf-8", timeout=300, env=serve_env(), check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def call_tool(name: str, **arguments: str) -> Any:
    """``tools/call`` through the Inspector CLI, arguments as its ``--tool-arg key=value`` strings."""
    pairs = [item for key, value in arguments.items() for item in ("--tool-arg", f"{key}={value}")]
    return inspector("--method", "tools/call", "--tool-name", name, *pairs)


def test_inspector_lists_the_tools_with_input_and_output_schemas() -> None:
    listed = {t["name"]: t for t in inspector("--method", "tools/list")["tools"]}
    assert {"observe", "submit", "task", "subarray_sum", "kadane_step"} <= set(listed)
    assert "reset" not in listed  # episodes are the harness's to start
    assert listed["kadane_step"]["outputSchema"]["properties"] == {
        "best": {"type": "integer"},
        "current": {"type": "integer"},
    }
    assert set(listed["subarray_sum"]["inputSchema"]["properties"]) == {"start", "end"}


def test_inspector_with_allow_reset_lists_and_calls_reset_for_manual_play() -> None:
    listed = {t["name"] for t in inspector("--method", "tools/list", "--allow-reset")["tools"]}
    assert "reset" in listed
    result = inspector(
        "--method", "tools/call", "--tool-name", "reset", "--tool-arg", "instance=2", "--allow-reset"
    )
    assert result["structuredContent"]["instance"] == 2


def test_inspector_calls_a_problem_tool_and_gets_structured_content() -> None:
    result = call_tool("subarray_sum", start="3", end="6")
    assert result["structuredContent"] == {"result": 6}
    assert result["_meta"]["codegym/episode"]["step"] == 1


def test_inspector_sees_a_bad_argument_as_a_tool_error() -> None:
    result = call_tool("subarray_sum", start="0.5", end="2")
    assert result["isError"] is True
    assert result["content"][0]["text"] == "invalid argument start: expected int, got 0.5"


def test_inspector_submits_a_correct_answer_for_reward_1() -> None:
    result = call_tool("submit", answer="6")
    assert result["structuredContent"] == {"reward": 1}
