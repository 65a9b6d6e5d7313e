"""Rollouts: planning, concurrency, summaries, failures as infra errors, and the CLI over real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import EpisodeRecord, StepRecord
from codegym_mcp.servers.cli import main
from codegym_mcp.servers.rollout._env import CodeGymEnv, ServerFailure
from codegym_mcp.servers.rollout._policies import OraclePolicy
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, plan_episodes, run_rollouts, summarize

from .._rollout_fakes import INPUTS, TASK_ID, RecordedOpenAI, ToyGymServer, toy_server, write_toy_catalog

FIXTURE_CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"


def test_episodes_are_planned_round_robin_over_tasks_then_instances() -> None:
    specs = plan_episodes([("a", 2), ("b", 3)], episodes=7, seed=10)
    assert [(s.task_id, s.instance) for s in specs] == [
        ("a", 0),
        ("b", 0),
        ("a", 1),
        ("b", 1),
        ("a", 0),
        ("b", 2),
        ("a", 1),
    ]
    assert [s.seed for s in specs] == list(range(10, 17))
    with pytest.raises(ValueError, match="no gym"):
        plan_episodes([], episodes=1)
    with pytest.raises(ValueError, match="episodes must be"):
        plan_episodes([("a", 1)], episodes=0)


def test_groups_repeat_one_gym_and_instance_with_different_seeds() -> None:
    specs = plan_episodes([("a", 2), ("b", 1)], episodes=8, group_size=3)
    assert [(s.task_id, s.instance, s.group) for s in specs] == [
        ("a", 0, 0),
        ("a", 0, 0),
        ("a", 0, 0),
        ("b", 0, 1),
        ("b", 0, 1),
        ("b", 0, 1),
        ("a", 1, 2),
        ("a", 1, 2),
    ]
    assert len({s.seed for s in specs}) == 8
    with pytest.raises(ValueError, match="group_size"):
        plan_episodes([("a", 1)], episodes=1, group_size=0)


@pytest.mark.anyio
async def test_a_group_shares_one_session_and_resets_to_its_instance(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))
    servers: list[ToyGymServer] = []

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        fake = toy_server(first_instance=spec.instance)
        servers.append(fake)
        return await CodeGymEnv.connect(fake.server, task_id=spec.task_id)

    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=8, group_size=4)
    records, summary = await run_rollouts(
        specs, connect=connect, policy=OraclePolicy(catalog), catalog=catalog
    )
    assert len(servers) == 2  # one MCP session per group of 4
    assert summary.success_rate == 1.0
    ids = [i.instance_id for i in catalog.load(TASK_ID).instances]
    assert [r.instance_id for r in records] == [ids[0]] * 4 + [ids[1]] * 4
    assert len({r.episode_id for r in records[:4]}) == 4  # four episodes in the first session


@pytest.mark.anyio
async def test_a_group_reconnects_after_an_infrastructure_failure(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))
    sessions = 0

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        nonlocal sessions
        sessions += 1
        fake = toy_server(first_instance=spec.instance)
        fake.sandbox_dies_on_add = sessions == 1
        return await CodeGymEnv.connect(fake.server, task_id=spec.task_id)

    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=3, group_size=3)
    records, _ = await run_rollouts(specs, connect=connect, policy=OraclePolicy(catalog), catalog=catalog)
    assert [r.end_reason for r in records] == ["infra_error", "submitted", "submitted"]
    assert sessions == 2


def _record(reward: int | None, latencies: list[float], *, errors: int = 0, task: str = "t") -> EpisodeRecord:
    steps = [
        StepRecord(index=i, tool="x", arguments={}, error="bad" if i < errors else None, latency_ms=ms)
        for i, ms in enumerate(latencies)
    ]
    return EpisodeRecord(
        episode_id="e",
        task_id=task,
        instance_id="i",
        started_at=0.0,
        ended_at=1.0,
        steps=steps,
        reward=reward,
        end_reason="infra_error" if reward is None else "submitted",
    )


def test_the_summary_counts_successes_errors_and_latency_percentiles() -> None:
    records = [
        _record(1, [1.0, 2.0, 3.0]),
        _record(0, [4.0, 5.0], errors=1, task="u"),
        _record(None, [100.0], task="v"),
        _record(1, [6.0, 7.0, 8.0, 9.0]),
    ]
    summary = summarize(records, policy="p", wall_seconds=2.0, concurrency=4)
    assert (summary.episodes, summary.successes, summary.infra_errors) == (4, 2, 1)
    assert summary.success_rate == 0.5
    assert summary.mean_steps == 2.5
    assert (summary.tool_calls, summary.tool_errors) == (10, 1)
    assert summary.episodes_per_second == 2.0
    assert summary.latency_p50_ms == 5.0
    assert summary.latency_p95_ms == 100.0
    assert summary.failed_tasks == ["u", "v"]
    text = summary.format()
    assert "50.0%" in text and "1 infrastructure errors" in text and "u, v" in text


@pytest.mark.anyio
async def test_concurrency_bounds_the_sessions_in_flight_and_records_keep_plan_order(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))
    in_flight = peak = 0
    seen: list[int] = []

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        env = await CodeGymEnv.connect(toy_server(first_instance=spec.instance).server, task_id=spec.task_id)
        original = env.close

        async def close() -> None:
            nonlocal in_flight
            in_flight -= 1
            await original()

        env.close = close  # type: ignore[method-assign]
        return env

    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=12)
    records, summary = await run_rollouts(
        specs,
        connect=connect,
        policy=OraclePolicy(catalog),
        catalog=catalog,
        concurrency=3,
        sink=lambda r: seen.append(1),
    )
    assert peak == 3
    assert len(seen) == 12
    assert [r.instance_id for r in records] == [
        catalog.load(TASK_ID).instances[s.instance].instance_id for s in specs
    ]
    assert summary.success_rate == 1.0 and summary.concurrency == 3


@pytest.mark.anyio
async def test_a_server_that_fails_is_recorded_as_infra_error_never_as_zero(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))

    async def refused(spec: EpisodeSpec) -> CodeGymEnv:
        raise ServerFailure("connection refused", task_id=spec.task_id)

    async def breaks_mid_episode(spec: EpisodeSpec) -> CodeGymEnv:
        return await CodeGymEnv.connect(toy_server(fail_from_call=2).server, task_id=spec.task_id)

    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=2)
    for connect in (refused, breaks_mid_episode):
        records, summary = await run_rollouts(
            specs, connect=connect, policy=OraclePolicy(catalog), catalog=catalog
        )
        assert [r.reward for r in records] == [None, None]
        assert {r.end_reason for r in records} == {"infra_error"}
        assert all("protocol level" in (r.detail or "") or "refused" in (r.detail or "") for r in records)
        assert summary.infra_errors == 2 and summary.successes == 0


@pytest.mark.anyio
async def test_a_sandbox_failure_the_server_reports_ends_the_episode_unscored(tmp_path: Path) -> None:
    catalog = Catalog(write_toy_catalog(tmp_path))

    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        fake = toy_server(first_instance=spec.instance)
        fake.sandbox_dies_on_add = True
        return await CodeGymEnv.connect(fake.server, task_id=spec.task_id)

    records, summary = await run_rollouts(
        plan_episodes([(TASK_ID, len(INPUTS))], episodes=1),
        connect=connect,
        policy=OraclePolicy(catalog),
        catalog=catalog,
    )
    (record,) = records
    assert (record.reward, record.end_reason) == (None, "infra_error")
    assert [s.tool for s in record.steps] == ["observe", "add"]
    assert record.detail is not None and "infrastructure" in record.detail
    assert summary.infra_errors == 1


def _read_records(path: Path) -> list[EpisodeRecord]:
    return [EpisodeRecord.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_cli_oracle_over_http_scores_one_on_every_fixture_gym(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oracle.jsonl"
    summary_file = tmp_path / "summary.json"
    code = main(
        [
            "rollout",
            "--catalog",
            str(FIXTURE_CATALOG),
            "--policy",
            "oracle",
            "--episodes",
            "8",
            "--concurrency",
            "4",
            "--out",
            str(out),
            "--summary-json",
            str(summary_file),
            "--min-success",
            "1.0",
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    records = _read_records(out)
    assert len(records) == 8
    assert all(r.reward == 1 and r.end_reason == "submitted" for r in records)
    assert {r.task_id for r in records} == set(Catalog(FIXTURE_CATALOG).task_ids())
    assert "success rate    100.0%" in printed.out
    assert "end-to-end check passed" in printed.out
    assert json.loads(summary_file.read_text(encoding="utf-8"))["episodes"] == 8


@pytest.mark.slow
def test_cli_random_over_stdio_scores_near_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "random.jsonl"
    code = main(
        [
            "rollout",
            "--catalog",
            str(FIXTURE_CATALOG),
            "--policy",
            "random",
            "--transport",
            "stdio",
            "--episodes",
            "2",
            "--concurrency",
            "2",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    records = _read_records(out)
    assert len(records) == 2
    assert all(r.end_reason == "submitted" and r.reward == 0 for r in records)
    assert "policy random" in printed.out


@pytest.mark.slow
def test_cli_openai_policy_over_http_against_a_recorded_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = write_toy_catalog(tmp_path / "catalog")
    out = tmp_path / "openai.jsonl"
    with RecordedOpenAI("toy_sum.json") as endpoint:
        code = main(
            [
                "rollout",
                "--catalog",
                str(catalog),
                "--policy",
                "openai",
                "--model",
                "recorded-model",
                "--base-url",
                endpoint.base_url,
                "--episodes",
                "1",
                "--out",
                str(out),
            ]
        )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    (record,) = _read_records(out)
    assert (record.reward, record.end_reason) == (1, "submitted")
    assert [s.tool for s in record.steps] == ["observe", "add", "add", "add", "submit"]
    assert record.steps[3].error is not None and "a" in record.steps[3].error
    assert "success rate    100.0%" in printed.out


def test_cli_min_success_fails_the_run_below_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "rollout",
            "--catalog",
            str(FIXTURE_CATALOG),
            "--tasks",
            "Fixture_vowels",
            "--policy",
            "random",
            "--episodes",
            "2",
            "--server",
            "inprocess",
            "--min-success",
            "0.9",
        ]
    )
    assert code == 1
    assert "below --min-success" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tasks", "Fixture_vowls"], "did you mean Fixture_vowels"),
        (["--policy", "openai"], "needs --model"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["rollout", "--catalog", str(FIXTURE_CATALOG)]
    if "--policy" not in argv:
        base += ["--policy", "oracle"]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_missing_catalog_says_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollout", "--catalog", str(tmp_path / "none"), "--policy", "oracle"]) == 2
    assert "codegym-mcp generate" in capsys.readouterr().err


@pytest.mark.slow
def test_make_bench_runs_end_to_end_on_the_fixture_catalog(tmp_path: Path) -> None:
    from benchmarks.run import BenchResult
    from benchmarks.run import main as bench_main

    argv = ["--catalog", str(FIXTURE_CATALOG), "--calls", "10", "--levels", "1,2", "--episodes", "4"]
    argv += ["--repeats", "1", "--gen-limit", "0", "--out", str(tmp_path)]
    assert bench_main(argv) == 0
    result = BenchResult.model_validate_json((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert result.tool_call.ours_http_ms > 0 and result.tool_call.floor_http_ms > 0
    assert [p.concurrency for p in result.throughput] == [1, 2]
    assert all(p.success_rate == 1.0 for p in result.throughput)
    table = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "protocol floor" in table and "not run (--gen-limit 0)" in table


@pytest.mark.anyio
async def test_groups_over_a_real_server_reset_with_the_harness_key_and_never_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codegym_mcp.servers.rollout._connectors import catalog_inprocess, http_connector

    monkeypatch.delenv("CODEGYM_HARNESS_KEY", raising=False)
    catalog = Catalog(FIXTURE_CATALOG)
    gyms = [(t, len(catalog.load(t).instances)) for t in catalog.task_ids()]
    specs = plan_episodes(gyms, episodes=4, group_size=2)
    async with catalog_inprocess(FIXTURE_CATALOG, no_sandbox=True, harness_key="the-key") as base:
        keyed = http_connector(base, harness_key="the-key")
        records, _ = await run_rollouts(specs, connect=keyed, policy=OraclePolicy(catalog), catalog=catalog)
        assert [r.reward for r in records] == [1, 1, 1, 1]
        records, _ = await run_rollouts(
            specs, connect=http_connector(base), policy=OraclePolicy(catalog), catalog=catalog
        )
    # Without the key each group's first episode (its own session) plays; the second cannot start.
    assert [r.reward for r in records] == [1, None, 1, None]
    assert all(r.detail is not None and "only the harness may reset" in r.detail for r in records[1::2])
