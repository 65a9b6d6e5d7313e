"""Determinism and resume with the default settings (size ladder, paper filters, batching, ladder
of carvings): an interrupted run resumed by the same call writes the uninterrupted run's bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegym_mcp.generator import generate, load_dataset
from codegym_mcp.generator._results import Generated, Rejected

from ..._catalog_files import GENERIC, catalog_files, generate_arguments


def test_an_interrupted_default_run_resumed_writes_the_uninterrupted_catalog_byte_for_byte(
    tmp_path: Path,
) -> None:
    problems = load_dataset(f"jsonl:{GENERIC}").problems
    common = generate_arguments(workers=2)
    whole = generate(problems, catalog=tmp_path / "whole", **common)
    assert len(whole.report.gyms) >= 2, whole.report.rejections

    def stop_after_two(done: int, total: int, result: Generated | Rejected | None) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(problems, catalog=tmp_path / "cut", progress=stop_after_two, **common)
    assert catalog_files(tmp_path / "cut") != catalog_files(tmp_path / "whole")  # really cut short
    again = generate(problems, catalog=tmp_path / "cut", **common)
    assert again.skipped >= 2 and again.skipped + again.ran == len(problems)
    assert catalog_files(tmp_path / "cut") == catalog_files(tmp_path / "whole")
