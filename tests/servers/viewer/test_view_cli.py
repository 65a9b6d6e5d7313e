"""``codegym-mcp view``: usage errors exit 2 with one line; the records argument names a policy."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from codegym_mcp.servers.cli import main
from codegym_mcp.servers.viewer import parse_records_arg


def test_a_missing_records_file_is_a_usage_error_naming_the_command_that_writes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", "--catalog", str(tmp_path), "--records", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"no records file {tmp_path / 'none.jsonl'}" in err and "rollout --out" in err


def test_a_port_in_use_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["view", "--catalog", str(tmp_path), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_records_are_labelled_by_their_name_or_by_the_file_stem() -> None:
    assert parse_records_arg("runs/oracle.jsonl") == ("oracle", Path("runs/oracle.jsonl"))
    assert parse_records_arg("qwen=runs/a.jsonl") == ("qwen", Path("runs/a.jsonl"))
    assert parse_records_arg("runs/x=1.jsonl") == ("x=1", Path("runs/x=1.jsonl"))
