"""Shared pieces of the recording tests: a sandbox worker and the fixture datasets' problems."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.runtime import SandboxConfig, SandboxUnavailable, Worker
from codegym_mcp.schemas import Problem

DATASETS = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"
"""Datasets written for this project's tests (tests/fixtures/datasets/README.md says what each covers)."""
KODCODE = DATASETS / "kodcode"
"""The KodCode-format fixtures: a .json array of functions, a .jsonl of classes, trees, linked lists."""
GENERIC = DATASETS / "generic.jsonl"
KODCODE_MALFORMED = DATASETS / "kodcode_malformed.jsonl"


def isolation() -> Literal["nsjail", "none"]:
    """``nsjail`` when a jailed worker starts on this machine, else ``none``."""
    try:
        with Worker(SandboxConfig(isolation="nsjail")) as w:
            w.ping()
    except SandboxUnavailable:
        return "none"
    return "nsjail"


def sandbox_worker() -> Iterator[Worker]:
    """One worker for a module's tests (use it as the body of a module-scoped fixture)."""
    with Worker(SandboxConfig(isolation=isolation(), call_timeout=20.0)) as w:
        yield w


@functools.cache
def kodcode_problems() -> dict[str, Problem]:
    """The KodCode-format fixture problems by problem id (tests/fixtures/datasets/kodcode)."""
    return {p.problem_id: p for p in load_dataset(f"kodcode:{KODCODE}").problems}
