"""Task statements of generated catalogs, measured: code framing, empty goals, dangling headers,
leaked instances, solution lines, missing worked examples.

``python -m benchmarks.statements CATALOG [CATALOG ...] [--list N]`` prints one line of counts
per catalog (a statement counts once per kind of finding) and, with ``--list``, up to N findings
of each kind. Uses the generator's own checks (``codegym_mcp.generator.statements._leaks``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from codegym_mcp.generator.statements._leaks import (
    code_framing_in,
    dangling_headers_in,
    solution_lines_in,
    statement_leaks,
)
from codegym_mcp.schemas import GymManifest, Instance, Problem


def goal_of(task: str) -> str:
    """The goal part of a statement (this format's ``## Goal`` section, or the old format's start)."""
    if task.startswith("## Goal"):
        return task.removeprefix("## Goal").split("\n## ", 1)[0].strip()
    return task.split("How this task works:")[0].strip()


def measure(catalog: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Counts of statements per finding, and the findings (task id: first message)."""
    kinds = (
        "code framing",
        "empty goal",
        "dangling header",
        "leaked instance",
        "solution lines",
        "no example",
    )
    counts = dict.fromkeys(("statements", *kinds), 0)
    found: dict[str, list[str]] = {k: [] for k in kinds}
    for path in sorted(catalog.glob("*/manifest.json")):
        manifest = GymManifest.model_validate_json(path.read_text(encoding="utf-8"))
        lines = (path.parent / "instances.jsonl").read_text(encoding="utf-8").splitlines()
        instances = [Instance.model_validate_json(line) for line in lines if line.strip()]
        problem = Problem.model_validate_json((path.parent / "problem.json").read_text(encoding="utf-8"))
        task = manifest.task
        counts["statements"] += 1
        findings = {
            "code framing": code_framing_in(task),
            "empty goal": [repr(goal_of(task))] if len(goal_of(task).split()) < 3 else [],
            "dangling header": dangling_headers_in(task),
            "leaked instance": statement_leaks(task, instances),
            "solution lines": solution_lines_in(task, problem.solution),
            "no example": ["no worked example"] if "No worked example" in task else [],
        }
        for kind, messages in findings.items():
            if messages:
                counts[kind] += 1
                found[kind].append(f"{manifest.task_id}: {messages[0][:150]}")
    return counts, found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("catalogs", nargs="+", type=Path)
    parser.add_argument("--list", type=int, default=0, metavar="N", help="show up to N findings of each kind")
    args = parser.parse_args(argv)
    for catalog in args.catalogs:
        counts, found = measure(catalog)
        print(f"{catalog}: " + "; ".join(f"{k} {v}" for k, v in counts.items()))
        for kind, items in found.items():
            for item in items[: args.list]:
                print(f"  {kind}: {item}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
