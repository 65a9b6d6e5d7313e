"""No argument an agent sends ends an episode unscored: a sweep over every gym of the HumanEval catalog.

The catalog is built in the test session with the default flags (``codegym-mcp generate
--dataset humaneval``); every tool of every gym but ``task`` is then called over MCP with extreme and
ill-typed arguments (see ``_extreme_sweep``) under a 1-second per-call limit, in nsjail.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from codegym_mcp.runtime import Catalog, SandboxConfig, SandboxUnavailable, WorkerPool

from .._extreme_sweep import EXTREMES, sweep_catalog
from .._serve_helpers import serve_env

pytestmark = pytest.mark.slow


def _humaneval_catalog(root: Path) -> Catalog:
    command = [sys.executable, "-m", "codegym_mcp.servers", "generate", "--dataset", "humaneval"]
    command += ["--out", str(root), "--workers", "2"]
    done = subprocess.run(
        command, capture_output=True, encoding="utf-8", timeout=900, env=serve_env(), check=False
    )
    if done.returncode != 0 and "nsjail" in done.stderr and "doctor" in done.stderr:
        pytest.skip(f"nsjail cannot run here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    return Catalog(root)


def test_extreme_arguments_to_every_tool_of_every_humaneval_gym_never_end_an_episode_unscored(
    tmp_path: Path,
) -> None:
    catalog = _humaneval_catalog(tmp_path / "humaneval")
    gyms = len(catalog.task_ids())
    assert gyms >= 100

    async def sweep() -> None:
        config = SandboxConfig(call_timeout=1.0, cpu_seconds=1)
        try:
            async with WorkerPool(config, size=2) as pool:
                result = await sweep_catalog(catalog, pool, concurrency=2)
        except SandboxUnavailable as exc:
            pytest.skip(f"nsjail cannot run here: {exc}")
        print(result.format())
        assert result.unscored == [], result.format()
        assert result.gyms == gyms
        assert result.calls >= gyms * len(EXTREMES)  # most gyms have a tool taking arguments
        assert 0 < result.tool_errors < result.calls

    anyio.run(sweep)
