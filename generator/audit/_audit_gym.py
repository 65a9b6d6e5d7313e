"""One gym read as files for the audit: manifest.json, tools.py, instances.jsonl, problem.json.

Nothing here runs the gym's code; tools.py is parsed with ``ast``. Works on a gym written by any
branch as long as the files follow the schemas (``problem.json`` may be missing).

Exceptions::

    GymUnreadable (ValueError)  a file is missing or does not validate; the message says which
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ...schemas import GymManifest, Instance, Problem, ToolSpec
from ._audit_code import functions_of

__all__ = ["GymFiles", "GymUnreadable", "read_gym"]


class GymUnreadable(ValueError):
    """A gym folder whose files cannot be read as a gym."""


@dataclass(frozen=True)
class GymFiles:
    """A gym's files, parsed: the manifest, tools.py's functions, the instances, the problem if present."""

    task_id: str
    manifest: GymManifest
    tools_source: str
    functions: dict[str, ast.FunctionDef]
    instances: list[Instance]
    problem: Problem | None

    def problem_tools(self) -> list[tuple[ToolSpec, ast.FunctionDef]]:
        """Tools with a function in tools.py (helper, segment, method, getter), with that function."""
        out = []
        for tool in self.manifest.tools:
            func = self.functions.get(tool.function or "")
            if tool.function is not None and func is not None:
                out.append((tool, func))
        return out


def read_gym(folder: Path) -> GymFiles:
    """Read one gym folder.

    Raises:
        GymUnreadable: manifest.json, tools.py or instances.jsonl is missing or invalid.
    """
    try:
        manifest = GymManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
        tools_source = (folder / manifest.tools_module).read_text(encoding="utf-8")
        lines = (folder / manifest.instances_file).read_text(encoding="utf-8").splitlines()
        instances = [Instance.model_validate_json(line) for line in lines if line.strip()]
        functions = functions_of(tools_source)
    except (OSError, ValidationError, SyntaxError) as exc:
        raise GymUnreadable(f"{folder.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    problem: Problem | None = None
    problem_path = folder / "problem.json"
    if problem_path.is_file():
        try:
            problem = Problem.model_validate_json(problem_path.read_text(encoding="utf-8"))
        except ValidationError:
            problem = None
    return GymFiles(
        task_id=manifest.task_id,
        manifest=manifest,
        tools_source=tools_source,
        functions=functions,
        instances=instances,
        problem=problem,
    )
