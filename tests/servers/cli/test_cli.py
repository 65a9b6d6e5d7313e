"""The command line's own behaviour: help on every verb, usage errors, a closed pipe."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codegym_mcp.servers.cli import VERBS, main


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([verb, "--help"])
    assert info.value.code == 0
    assert verb in capsys.readouterr().out


def test_an_unknown_verb_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice" in err[0] and "--help" in err[0]


def test_an_unknown_dataset_exits_2_with_one_line_saying_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["load", "--dataset", "nosuch:thing"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "humaneval" in err[0]


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "codegym_mcp.servers", "load", "--dataset", "humaneval", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before the command has written anything
        stderr = proc.stderr.read().decode("utf-8")
        code = proc.wait(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert code in (0, 141)
