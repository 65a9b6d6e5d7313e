"""Every `codegym-mcp ...` command shown in the README and docs/ is one the CLI accepts.

The commands are parsed by the real argument parser (nothing runs): a renamed verb or flag, or a
doc that drifts from the code, fails here. Their behaviour is covered by the tests of each verb.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from codegym_mcp.servers.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _commands(page: Path) -> list[str]:
    out: list[str] = []
    for lang, block in _BLOCK.findall(page.read_text(encoding="utf-8")):
        if lang not in ("", "bash", "console", "sh"):
            continue
        joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
        for line in joined.splitlines():
            line = line.strip().removeprefix("$ ")
            line = re.sub(r"\s+#.*$", "", line)  # trailing comments
            m = re.search(r"(?:^|\s)(?:\.venv/bin/)?codegym-mcp\s+(.*)$", line)
            if m and not line.startswith(("#", "npx")) and "[--" not in line:  # not a usage synopsis
                out.append(m.group(1))
    return out


COMMANDS = [(page.name, cmd) for page in PAGES for cmd in _commands(page)]


def test_the_readme_shows_commands_to_check() -> None:
    assert sum(1 for page, _ in COMMANDS if page == "README.md") >= 6


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}:{c[:40]}" for p, c in COMMANDS])
def test_every_documented_command_parses(page: str, command: str) -> None:
    argv = [a for a in shlex.split(command) if a != "..."]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{page}: `codegym-mcp {command}` does not parse (exit {exc.code})")
