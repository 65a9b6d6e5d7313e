"""`codegym-mcp calibrate` against a scripted OpenAI-compatible server on 127.0.0.1: pass rates, tool
use, the journal (resume, cache, a changed gym), infrastructure failures reported apart."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from codegym_mcp.runtime import Catalog, episode_count, gym_sha256
from codegym_mcp.schemas import Calibration, ToolUseStats
from codegym_mcp.servers import Agent, EpisodeContext, Observation, ToolCall
from codegym_mcp.servers.cli import main
from codegym_mcp.servers.rollout._calibrate import (
    JOURNAL_FILE,
    CalibrationRun,
    Journal,
    plan_calibration,
    run_calibration,
)
from codegym_mcp.servers.rollout._connectors import catalog_inprocess, http_connector
from codegym_mcp.servers.rollout._policies import OpenAIPolicy
from codegym_mcp.servers.rollout._tool_use import GENERIC_KINDS

from .._serve_helpers import FIXTURE
from ..scripted_openai import Behaviour, Fault, oracle_plan, scripted_server

SAMPLES = 2


def script(task_id: str, instance: int, seed: int) -> Behaviour:
    """maxsub: right when instance + sample is even, else a wrong answer after the oracle's calls;
    vowels: the right answer at once on instance 0 (no tool), a wrong one at once elsewhere."""
    if task_id == "Fixture_vowels":
        return "skip_right" if instance == 0 else "skip_wrong"
    return "right" if (instance + seed) % 2 == 0 else "wrong"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(FIXTURE, root)
    return root


def calibrate(catalog: Path, url: str, *extra: str, timeout: float = 30.0) -> int:
    """The CLI through an in-process catalog server; ``timeout`` per model request (short only where
    a scripted hang must time out)."""
    return main(
        [
            "calibrate",
            "--catalog",
            str(catalog),
            "--llm-model",
            "scripted",
            "--llm-base-url",
            url,
            "--samples",
            str(SAMPLES),
            "--server",
            "inprocess",
            "--no-sandbox",
            "--timeout",
            str(timeout),
            "--max-retries",
            "2",
            *extra,
        ]
    )


def expected_tool_use(catalog: Path) -> ToolUseStats:
    """What the script implies, from the oracle plans and the manifests' tool kinds."""
    cat = Catalog(catalog)
    episodes = used = problem_calls = solved = bare = calls = 0
    for task_id in cat.task_ids():
        gym = cat.load(task_id)
        kinds = {t.name: t.kind for t in gym.manifest.tools}
        for instance in range(episode_count(gym)):
            plan = oracle_plan(cat, task_id, instance)
            for seed in range(SAMPLES):
                behaviour = script(task_id, instance, seed)
                episodes += 1
                n_calls = 1 if behaviour.startswith("skip") else len(plan)
                n_problem = (
                    0 if behaviour.startswith("skip") else sum(kinds[n] not in GENERIC_KINDS for n, _ in plan)
                )
                calls += n_calls
                problem_calls += n_problem
                used += n_problem > 0
                if behaviour in ("right", "skip_right"):
                    solved += 1
                    bare += n_problem == 0
    return ToolUseStats(
        episodes=episodes,
        used_problem_tools=used,
        used_problem_tools_share=used / episodes,
        problem_tool_calls=problem_calls,
        mean_problem_tool_calls=problem_calls / episodes,
        solved=solved,
        solved_without_tools=bare,
        solved_without_tools_share=bare / solved,
        tool_calls=calls,
        tool_errors=0,
        tool_error_rate=0.0,
    )


def test_pass_rates_and_tool_use_equal_what_the_script_implies_despite_429_500_and_a_hang(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults: dict[tuple[str, int, int], list[Fault]] = {
        ("Fixture_maxsub", 0, 0): ["429"],
        ("Fixture_maxsub", 2, 1): ["500"],
        ("Fixture_vowels", 1, 0): ["hang"],
    }
    with scripted_server(catalog, script, faults=faults) as server:
        assert calibrate(catalog, server.url, timeout=10.0) == 0
    calibration = Calibration.model_validate_json((catalog / "calibration.json").read_text(encoding="utf-8"))
    rates = {(r.task_id, r.instance): r.pass_rate for r in calibration.instances}
    implied = {
        (task_id, instance): sum(
            script(task_id, instance, s) in ("right", "skip_right") for s in range(SAMPLES)
        )
        / SAMPLES
        for task_id, n in (("Fixture_maxsub", 4), ("Fixture_vowels", 3))
        for instance in range(n)
    }
    assert rates == implied
    assert all(r.samples == SAMPLES and r.infra_errors == 0 for r in calibration.instances)
    assert calibration.tool_use == expected_tool_use(catalog)
    assert calibration.histogram == {"0": 2, "0.5": 4, "1": 1}
    assert (calibration.model, calibration.samples, calibration.temperature) == ("scripted", SAMPLES, 1.0)
    # 3 faults, each answered once more by the openai client's retries
    assert len(server.episodes) == 7 * SAMPLES
    out = capsys.readouterr().out
    assert "solved w/o tools" in out and "pass rate <= 0.25" in out

    with scripted_server(catalog, script) as again:
        assert calibrate(catalog, again.url) == 0
    assert again.requests == 0
    assert Calibration.model_validate_json(
        (catalog / "calibration.json").read_text(encoding="utf-8")
    ).instances == (calibration.instances)


def test_samples_lost_to_the_endpoint_are_reported_apart_and_asked_again(catalog: Path) -> None:
    lost = ("Fixture_maxsub", 1, 0)
    with scripted_server(catalog, script, faults={lost: ["500", "500", "500"]}) as server:
        assert calibrate(catalog, server.url, "--tasks", "Fixture_maxsub") == 0
    calibration = Calibration.model_validate_json((catalog / "calibration.json").read_text(encoding="utf-8"))
    row = next(r for r in calibration.instances if r.instance == 1)
    assert (row.samples, row.infra_errors, row.passes) == (SAMPLES - 1, 1, 1)  # sample 1 is right, 0 lost
    assert calibration.infra_errors == 1
    assert server.requests >= 3

    with scripted_server(catalog, script) as again:
        assert calibrate(catalog, again.url, "--tasks", "Fixture_maxsub") == 0
    assert again.episodes == {lost}
    calibration = Calibration.model_validate_json((catalog / "calibration.json").read_text(encoding="utf-8"))
    row = next(r for r in calibration.instances if r.instance == 1)
    assert (row.samples, row.infra_errors, row.pass_rate) == (SAMPLES, 0, 0.5)


def test_a_changed_gym_is_measured_again_and_the_others_come_from_the_journal(catalog: Path) -> None:
    with scripted_server(catalog, script) as server:
        assert calibrate(catalog, server.url) == 0
    manifest = catalog / "Fixture_vowels" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["task"] += " (edited)"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with scripted_server(catalog, script) as again:
        assert calibrate(catalog, again.url) == 0
    assert {task for task, _, _ in again.episodes} == {"Fixture_vowels"}
    assert len(again.episodes) == 3 * SAMPLES
    calibration = Calibration.model_validate_json((catalog / "calibration.json").read_text(encoding="utf-8"))
    digest = gym_sha256(Catalog(catalog).load("Fixture_vowels"))
    assert {r.gym_sha256 for r in calibration.instances if r.task_id == "Fixture_vowels"} == {digest}
    assert len(calibration.instances) == 7


def test_an_interrupted_run_keeps_every_sample_it_finished(catalog: Path) -> None:
    journal = Journal(catalog / JOURNAL_FILE)

    async def interrupted(url: str) -> int:
        cat = Catalog(catalog)
        plan = plan_calibration(
            cat, cat.task_ids(), model="scripted", temperature=1.0, samples=SAMPLES, journal=journal
        )
        policy = OpenAIPolicy(model="scripted", base_url=url, max_turns=30, temperature=1.0)
        with anyio.CancelScope() as scope:

            def progress(run: object, total: int) -> None:
                if len(journal.entries) >= 3:
                    scope.cancel()

            async with catalog_inprocess(catalog, no_sandbox=True) as base:
                await run_calibration(
                    plan,
                    policy=policy,
                    connect=http_connector(base),
                    journal=journal,
                    concurrency=1,
                    progress=progress,
                )
        await policy.aclose()
        return len(journal.entries)

    with scripted_server(catalog, script) as server:
        finished = anyio.run(interrupted, server.url)
    assert 3 <= finished < 7 * SAMPLES
    assert len(Journal(catalog / JOURNAL_FILE).entries) == finished  # on disk, not only in memory
    with scripted_server(catalog, script) as again:
        assert calibrate(catalog, again.url) == 0
    assert len(again.episodes) == 7 * SAMPLES - finished


class CancelledAgent:
    async def act(self, obs: Observation) -> ToolCall | None:
        raise anyio.get_cancelled_exc_class()()  # what a broken MCP session's task group leaks


@dataclass
class LeakingPolicy(OpenAIPolicy):
    """Leaks a cancellation into the episode of instance 1 and plays the others with the model."""

    def agent(self, ctx: EpisodeContext) -> Agent:
        return CancelledAgent() if ctx.instance_index == 1 else super().agent(ctx)


def test_a_sample_whose_session_leaks_a_cancellation_is_lost_alone_and_asked_again(catalog: Path) -> None:
    journal = Journal(catalog / JOURNAL_FILE)

    async def calibrate_maxsub(url: str) -> CalibrationRun:
        cat = Catalog(catalog)
        plan = plan_calibration(
            cat, ["Fixture_maxsub"], model="scripted", temperature=1.0, samples=1, journal=journal
        )
        policy = LeakingPolicy(model="scripted", base_url=url, max_turns=30, temperature=1.0)
        async with catalog_inprocess(catalog, no_sandbox=True) as base:
            run = await run_calibration(
                plan, policy=policy, connect=http_connector(base), journal=journal, concurrency=1
            )
        await policy.aclose()
        return run

    with scripted_server(catalog, script) as server:
        run = anyio.run(calibrate_maxsub, server.url)
    assert (run.played, run.lost) == (3, 1)
    assert sorted(e.instance for e in journal.entries.values()) == [0, 2, 3]
