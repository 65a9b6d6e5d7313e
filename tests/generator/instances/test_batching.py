"""Batch size per gym against blind guesses: K from p, the episode order, the task text."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

import pytest
from pydantic import JsonValue

from codegym_mcp.generator._results import Generated, GenerateSettings
from codegym_mcp.generator.instances._batching import (
    answer_mode_share,
    choose_batch_size,
    episode_mode_share,
    mix_answers,
    plan_batches,
)
from codegym_mcp.generator.pipeline import _pipeline
from codegym_mcp.generator.statements._task_text import batch_paragraph, task_statement
from codegym_mcp.runtime import Worker, canonical_json
from codegym_mcp.schemas import Instance
from codegym_mcp.servers.cli._cmd_generate import add_arguments

from .._pipeline_fakes import getters_carving, sandbox_worker, toy_problem

__all__ = ["sandbox_worker"]


def instances(answers: Sequence[JsonValue]) -> list[Instance]:
    return [
        Instance(instance_id=f"id{i:03d}", input={"x": i}, expected=a, oracle_steps=12)
        for i, a in enumerate(answers)
    ]


def test_half_the_answers_alike_gives_batches_of_five() -> None:
    assert choose_batch_size(0.5, 100) == 5  # 0.5**4 = 6.25% > 5% >= 0.5**5


def test_a_constant_right_on_at_most_five_percent_keeps_one_instance_per_episode() -> None:
    assert choose_batch_size(0.03, 100) == 1
    assert choose_batch_size(0.05, 100) == 1


def test_a_constant_right_almost_always_gets_the_largest_batch() -> None:
    assert choose_batch_size(0.9, 100) == 8
    assert choose_batch_size(1.0, 100) == 8


def test_too_few_instances_cap_the_batch_so_two_episodes_remain() -> None:
    assert choose_batch_size(0.5, 6) == 3
    assert choose_batch_size(0.5, 9) == 4
    assert choose_batch_size(0.5, 3) == 1
    assert choose_batch_size(0.5, 1) == 1


def test_a_fixed_batch_replaces_the_choice_under_the_same_cap() -> None:
    assert choose_batch_size(0.0, 100, fixed=4) == 4
    assert choose_batch_size(0.9, 100, fixed=1) == 1
    assert choose_batch_size(0.9, 10, fixed=9) == 5


@pytest.mark.parametrize(
    ("p", "n", "fixed"), [(-0.1, 10, None), (1.5, 10, None), (0.5, 0, None), (0.5, 10, 0)]
)
def test_impossible_batch_inputs_are_refused(p: float, n: int, fixed: int | None) -> None:
    with pytest.raises(ValueError):
        choose_batch_size(p, n, fixed=fixed)


def test_p_is_the_share_of_instances_with_the_most_common_answer() -> None:
    assert answer_mode_share(instances([True, False, True, True])) == 0.75
    assert answer_mode_share(instances([[1], [1], [2], []])) == 0.5
    with pytest.raises(ValueError):
        answer_mode_share([])


def test_mixing_keeps_every_instance_and_makes_each_list_of_answers_rare() -> None:
    # sorted answers: unmixed, groups of 5 would be all-False then all-True lists
    answers: list[JsonValue] = [*[False] * 20, *[True] * 20]
    given = instances(answers)
    assert episode_mode_share(given, 5) == 0.5
    mixed = mix_answers(given, 5, seed=0, key="T")
    assert sorted(i.instance_id for i in mixed) == sorted(i.instance_id for i in given)
    lists = Counter(tuple(canonical_json(i.expected) for i in mixed[g * 5 : g * 5 + 5]) for g in range(8))
    assert max(lists.values()) == 1
    assert episode_mode_share(mixed, 5) == 1 / 8


def test_mixing_spreads_rare_answers_so_few_groups_are_one_answer_k_times() -> None:
    given = instances([*[True] * 3, *[False] * 32])  # 4 groups of 8, 3 left over
    mixed = mix_answers(given, 8, seed=0, key="T")
    groups = [[i.expected for i in mixed[g * 8 : g * 8 + 8]] for g in range(4)]
    assert sum(True in g for g in groups) == 3  # every True in its own group: one all-False group
    assert episode_mode_share(mixed, 8) == 0.25


def test_mixing_is_deterministic_from_the_seed_and_the_task() -> None:
    given = instances([i % 3 == 0 for i in range(30)])
    first = [i.instance_id for i in mix_answers(given, 4, seed=7, key="T")]
    assert first == [i.instance_id for i in mix_answers(given, 4, seed=7, key="T")]
    assert first != [i.instance_id for i in mix_answers(given, 4, seed=8, key="T")]
    assert [i.instance_id for i in mix_answers(given, 1, seed=7, key="T")] == [i.instance_id for i in given]


def test_the_plan_reports_k_p_and_the_payoff_per_episode() -> None:
    plan = plan_batches(instances([True] * 30 + [False] * 30), batch=None, seed=0, key="T")
    assert plan.size == 5
    assert plan.answer_share == 0.5
    assert plan.episode_share == pytest.approx(1 / 12, abs=1e-6)  # rounded to 6 places
    assert len(plan.instances) == 60
    one = plan_batches(instances(list(range(40))), batch=None, seed=0, key="T")
    assert one.size == 1
    assert one.episode_share == pytest.approx(1 / 40, abs=1e-6)


def test_a_batched_task_statement_says_how_cases_and_the_list_answer_work() -> None:
    text = task_statement(
        question="Is the list sorted?",
        entry_point="is_sorted",
        input_schema={"type": "object", "properties": {"xs": {"type": "array"}}},
        output_schema={"type": "boolean"},
        tools=[],
        batch_size=3,
    )
    assert batch_paragraph(3) in text
    assert "`case` (0..2)" in text and "a list of 3 answers" in text
    assert "only if all 3 answers are correct" in text
    plain = task_statement(
        question="Is the list sorted?",
        entry_point="is_sorted",
        input_schema={"type": "object", "properties": {"xs": {"type": "array"}}},
        output_schema={"type": "boolean"},
        tools=[],
    )
    assert "case" not in plain
    with pytest.raises(ValueError):
        batch_paragraph(1)


@pytest.fixture
def _getters_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pipeline, "carve", getters_carving)


@pytest.mark.usefixtures("_getters_only")
def test_a_generated_gym_records_its_batch_its_budget_and_its_payoffs(sandbox_worker: Worker) -> None:
    auto = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(augment=12), sandbox_worker)
    single = _pipeline.build_gym(
        toy_problem(), GenerateSettings.unfiltered(augment=12, batch=1), sandbox_worker
    )
    assert isinstance(auto, Generated) and isinstance(single, Generated)
    kept = single.files.instances
    p = answer_mode_share(kept)
    assert auto.summary.answer_mode_share == single.summary.answer_mode_share == round(p, 6)
    k = auto.files.manifest.batch_size
    assert k == auto.summary.batch_size == choose_batch_size(p, len(kept)) > 1
    assert single.files.manifest.batch_size == 1
    per_case = single.files.manifest.step_budget
    assert auto.files.manifest.step_budget == k * per_case
    assert sorted(i.instance_id for i in auto.files.instances) == sorted(i.instance_id for i in kept)
    assert auto.summary.episode_mode_share == pytest.approx(
        episode_mode_share(auto.files.instances, k), abs=1e-6
    )
    assert auto.summary.oracle_steps == [i.oracle_steps for i in auto.files.instances]
    assert f"a list of {k} answers" in auto.files.manifest.task
    assert "`case`" not in single.files.manifest.task


def test_the_batch_flag_takes_auto_or_a_whole_number(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--dataset", "humaneval"]).batch is None
    assert parser.parse_args(["--dataset", "humaneval", "--batch", "auto"]).batch is None
    assert parser.parse_args(["--dataset", "humaneval", "--batch", "3"]).batch == 3
    for bad in ("0", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--dataset", "humaneval", "--batch", bad])
        assert "expected auto or a whole number >= 1" in capsys.readouterr().err
