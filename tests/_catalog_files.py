"""A catalog's files as bytes, and a default-settings run of the generic fixture dataset: the pieces
of the byte-identity checks (determinism, resume, Ray against a local run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codegym_mcp.generator import GenerateSettings
from codegym_mcp.runtime import SandboxConfig, default_isolation

GENERIC = Path(__file__).parent / "fixtures" / "datasets" / "generic.jsonl"


def catalog_files(catalog: Path) -> dict[str, bytes]:
    """Every file of a catalog by relative path, report.json without its ``seconds``."""
    files = {str(p.relative_to(catalog)): p.read_bytes() for p in sorted(catalog.rglob("*")) if p.is_file()}
    files["report.json"] = re.sub(rb'\n  "seconds": [0-9.e+-]+,?', b"", files["report.json"])
    return files


def generate_arguments(**more: Any) -> dict[str, Any]:
    """``generate``'s arguments for the generic fixture dataset (:data:`GENERIC`), default settings,
    sandbox on (plus ``more``)."""
    return {
        "dataset": "generic",
        "settings": GenerateSettings(),
        "sandbox": SandboxConfig(isolation=default_isolation(no_sandbox=False)),
        **more,
    }
