"""The pytest stand-in runs the fixture datasets' tests as real pytest does (issue 12, item 2).

Each pytest-style problem of ``tests/fixtures/datasets/`` and ``tests/fixtures/parity/`` (a tour of
the pytest features dataset tests use: parametrize, fixtures, raises, approx, marks, classes,
unittest, capsys, monkeypatch, tmp_path) runs twice: through the recording harness in a jailed
worker (the stand-in, as generation runs it) and through real pytest in a subprocess (dataset
tests are untrusted code: never in this process). Per test function, the outcomes of its cases
must agree. The two report in their own terms, mapped here:

- pytest's ``error`` (a fixture raised) is the stand-in's ``failed``;
- ``xfailed`` and ``xpassed`` are the stand-in's ``passed`` (an xfail test never fails a recording);
- a unittest method is named by its method only on the stand-in's side, so tests are keyed by
  their last name (a class's test methods and functions of the same name pool their outcomes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegym_mcp.generator import load_dataset
from codegym_mcp.generator.instances._targets import Target, recording_tests, resolve_target
from codegym_mcp.runtime import SandboxConfig, Worker
from codegym_mcp.runtime.jail.boot import PACKAGE
from codegym_mcp.schemas import Problem

FIXTURES = Path(__file__).parents[2] / "fixtures"
DATASETS = [
    f"kodcode:{FIXTURES / 'datasets' / 'kodcode'}",
    f"jsonl:{FIXTURES / 'datasets' / 'generic.jsonl'}",
    f"jsonl:{FIXTURES / 'parity' / 'pytest_features.jsonl'}",
]

# A conftest for the real run: every test's outcome, as pytest reports it, into results.json.
REPORTER = """
import json

RESULTS = []


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        elif report.when != "call" and report.outcome == "failed":
            outcome = "error"
        RESULTS.append([report.nodeid, outcome])


def pytest_sessionfinish(session, exitstatus):
    with open("results.json", "w") as out:
        json.dump(RESULTS, out)
"""

_AS_STANDIN = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "failed"}
_AS_STANDIN |= {"xfailed": "passed", "xpassed": "passed"}


def _pytest_problems() -> list[tuple[Problem, Target]]:
    out = []
    for spec in DATASETS:
        for problem in load_dataset(spec).problems:
            target = resolve_target(problem)
            if problem.test_style == "pytest" and not isinstance(target, str):
                out.append((problem, target))
    return out


PROBLEMS = _pytest_problems()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    with Worker(SandboxConfig(isolation="nsjail")) as w:
        yield w


def _standin(worker: Worker, problem: Problem, target: Target) -> dict[str, Counter[str]] | str:
    """Outcomes per test name from the recording harness in the jail, or why it did not run."""
    request = {
        "solution": problem.solution,
        "tests": recording_tests(problem)[0],
        "test_style": "pytest",
        "target": target.name,
        "kind": target.kind,
        "per_test_seconds": 2.0,
        "budget_seconds": 20.0,
        "report_tests": True,
    }
    reply = json.loads(worker.call(f"{PACKAGE}.record", "record", args=[json.dumps(request)], timeout=30))
    if not reply["ok"]:
        return str(reply["error"])
    outcomes: dict[str, Counter[str]] = {}
    for name, outcome in reply["tests"]["results"]:
        outcomes.setdefault(name.rpartition(".")[2], Counter())[outcome] += 1
    return outcomes


def _real_pytest(problem: Problem, tmp_path: Path) -> dict[str, Counter[str]]:
    """Outcomes per test name from real pytest in a subprocess, on the same solution and tests."""
    (tmp_path / "solution.py").write_text(problem.solution, encoding="utf-8")
    (tmp_path / "test_solution.py").write_text(recording_tests(problem)[0], encoding="utf-8")
    (tmp_path / "conftest.py").write_text(REPORTER, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "HOME": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", "test_solution.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    outcomes: dict[str, Counter[str]] = {}
    for nodeid, outcome in json.loads((tmp_path / "results.json").read_text(encoding="utf-8")):
        name = nodeid.split("::")[-1].split("[")[0]
        if nodeid.endswith("test_solution.py"):  # the module itself did not import
            name = "<module>"
        outcomes.setdefault(name, Counter())[_AS_STANDIN[outcome]] += 1
    return outcomes


def test_the_parity_run_covers_the_fixture_problems_and_the_feature_tour() -> None:
    ids = {p.problem_id for p, _ in PROBLEMS}
    assert "parity/features" in ids
    assert len(ids) >= 8, sorted(ids)


@pytest.mark.slow
@pytest.mark.parametrize(("problem", "target"), PROBLEMS, ids=[p.problem_id for p, _ in PROBLEMS])
def test_the_pytest_standin_and_real_pytest_agree_on_every_test(
    worker: Worker, problem: Problem, target: Target, tmp_path: Path
) -> None:
    standin = _standin(worker, problem, target)
    if isinstance(standin, str):  # the jail lacks what the solution imports (numpy): no tests ran
        assert "does not load" in standin, standin
        return
    assert _real_pytest(problem, tmp_path) == standin
