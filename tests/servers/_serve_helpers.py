"""Shared pieces of the serve tests: the fixture catalog, a crashing gym, bounded process helpers."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codegym_mcp.schemas import GymManifest, ToolSpec

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalog"
SERVE = [sys.executable, "-m", "codegym_mcp.servers", "serve"]


def crashing_catalog(root: Path) -> Path:
    """A copy of the fixture catalog whose maxsub gym has an ``explode`` tool killing its worker."""
    catalog = root / "catalog"
    shutil.copytree(FIXTURE, catalog)
    folder = catalog / "Fixture_maxsub"
    with (folder / "tools.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef explode():\n    import os\n\n    os._exit(3)\n")
    manifest = GymManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
    explode = ToolSpec(
        name="explode",
        kind="helper",
        description="Kill the worker (a sandbox failure).",
        function="explode",
        input_schema={"type": "object", "properties": {}, "additionalProperties": False},
        output_schema={"type": "object", "properties": {"result": {}}},
    )
    digest = hashlib.sha256((folder / "tools.py").read_bytes()).hexdigest()
    manifest = manifest.model_copy(update={"tools": [*manifest.tools, explode], "tools_sha256": digest})
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return catalog


def serve_env() -> dict[str, str]:
    """The environment of a spawned server: this interpreter's, with no catalog override."""
    env = {k: v for k, v in os.environ.items() if k != "CODEGYM_CATALOG"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``codegym-mcp serve ARGS`` to completion (for usage errors)."""
    return subprocess.run(
        [*SERVE, *args], capture_output=True, encoding="utf-8", timeout=timeout, env=serve_env(), check=False
    )


@contextmanager
def killed_after(proc: subprocess.Popen[Any], seconds: float = 60.0) -> Iterator[None]:
    """Kill ``proc`` if the block is still running after ``seconds``: a hung server fails the
    test (its pipes close, so blocking reads return) instead of hanging the test run."""
    watchdog = threading.Timer(seconds, proc.kill)
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


def base_url_of(proc: subprocess.Popen[str]) -> str:
    """The base URL a ``serve --all`` process announces on stderr (read until its banner).

    Raises:
        AssertionError: the process exited before listening.
    """
    assert proc.stderr is not None
    banner = ""
    while "on http" not in banner:
        banner = proc.stderr.readline()
        assert banner, "the server exited before listening"
    match = re.search(r"(http://\S+?)/<task_id>/mcp", banner)
    assert match is not None, banner
    return match.group(1)


def text_of(result: Any) -> str:
    """The text of a CallToolResult's first content block."""
    block = result.content[0]
    return str(block.text)
