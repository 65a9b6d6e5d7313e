"""`generate` flags: the paper's filters and augmentation by default, the old behaviour by flags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from codegym_mcp.servers.cli import main
from codegym_mcp.servers.cli._cmd_generate import add_arguments

DATA = Path(__file__).parents[2] / "fixtures" / "dedup" / "kodcode_pairs.jsonl"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--dataset", "x", *argv])


def test_the_flags_default_to_augmentation_and_the_papers_filters() -> None:
    args = _parse()
    assert (args.augment, args.min_steps, args.max_steps, args.min_tools) == (36, 10, 256, 4)
    assert args.max_instances == 32 and not args.no_filters


@pytest.mark.parametrize(
    ("flags", "cap"),
    [
        (["--augment", "0", "--no-filters"], False),
        (["--augment", "0", "--min-steps", "0", "--max-steps", "0", "--min-tools", "0"], True),
    ],
)
def test_zero_or_no_filters_turns_the_filters_off_in_the_catalogs_settings(
    tmp_path: Path, flags: list[str], cap: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "catalog"
    argv = ["generate", "--dataset", f"kodcode:{DATA}", "--out", str(out), "--workers", "1", "--limit", "1"]
    assert main([*argv, *flags]) == 0
    settings = json.loads((out / "report.json").read_text(encoding="utf-8"))["settings"]
    assert settings["augment"] == 0
    assert (settings["min_steps"], settings["max_steps"], settings["min_tools"]) == (None, None, None)
    assert settings["cap_degenerate"] is cap  # --no-filters also lifts the cap on degenerate instances
    capsys.readouterr()


def test_min_steps_above_max_steps_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--dataset", f"kodcode:{DATA}", "--min-steps", "50", "--max-steps", "20"]) == 2
    assert "--min-steps 50 is above --max-steps 20" in capsys.readouterr().err
