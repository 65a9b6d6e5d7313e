"""A catalog's files as bytes, for the byte-identity checks of determinism, resume and Ray runs."""

from __future__ import annotations

import re
from pathlib import Path


def catalog_files(catalog: Path) -> dict[str, bytes]:
    """Every file of a catalog by relative path, report.json without its ``seconds``."""
    files = {str(p.relative_to(catalog)): p.read_bytes() for p in sorted(catalog.rglob("*")) if p.is_file()}
    files["report.json"] = re.sub(rb'\n  "seconds": [0-9.e+-]+,?', b"", files["report.json"])
    return files
