"""The paper's filters on by default, the degenerate cap, and the spread of kept instances."""

from __future__ import annotations

from typing import Any

from codegym_mcp.generator._results import GenerateSettings
from codegym_mcp.generator.instances._batching import MAX_AUTO_BATCH, plan_batches
from codegym_mcp.generator.instances._filters import (
    apply_filters,
    batch_to_reach,
    degenerate_allowance,
    fit_episodes,
    is_degenerate,
    spread,
)
from codegym_mcp.runtime import encode
from codegym_mcp.schemas import Instance, TraceCall


def _instance(steps: int, *, nums: list[int] | None = None, tools: int = 4, name: str = "") -> Instance:
    names = ["observe", *[f"tool_{k}" for k in range(max(0, tools - 2))], "submit"][:tools]
    trace = [TraceCall(tool=names[k % len(names)], arguments={}, result=None) for k in range(steps)]
    value = nums if nums is not None else list(range(steps))
    return Instance(
        instance_id=f"i{steps}{name}",
        input={"nums": encode(value)},
        expected=0,
        oracle_steps=steps,
        oracle_trace=trace,
    )


def _wire(**values: Any) -> dict[str, Any]:
    return {k: encode(v) for k, v in values.items()}


def test_the_default_settings_are_the_papers_filters_with_augmentation_on() -> None:
    settings = GenerateSettings()
    assert (settings.min_steps, settings.max_steps, settings.min_tools) == (10, 256, 4)
    assert settings.augment > 0 and settings.cap_degenerate
    assert 24 <= settings.max_instances <= 32
    old = GenerateSettings.unfiltered()
    assert (old.augment, old.min_steps, old.max_steps, old.min_tools, old.cap_degenerate) == (
        0,
        None,
        None,
        None,
        False,
    )


def test_instances_outside_the_step_window_or_with_few_tools_are_dropped_and_counted() -> None:
    kept = apply_filters(
        [_instance(9), _instance(10), _instance(256), _instance(257), _instance(40, tools=3)],
        GenerateSettings(),
    )
    assert [i.oracle_steps for i in kept.instances] == [10, 256]
    assert kept.dropped == {
        "filter: oracle steps < 10": 1,
        "filter: oracle steps > 256": 1,
        "filter: distinct tools < 4": 1,
    }


def test_a_gym_whose_instances_all_fall_short_is_rejected_with_the_reasons() -> None:
    kept = apply_filters([_instance(3), _instance(5)], GenerateSettings())
    assert kept.instances == []
    assert kept.rejection == "no instance passes the filters: filter: oracle steps < 10 (2)"


def test_degenerate_means_an_empty_or_one_item_collection_or_every_parameter_trivial() -> None:
    assert is_degenerate(_wire(nums=[], k=7))
    assert is_degenerate(_wire(nums=[5], k=7))
    assert is_degenerate(_wire(word="a"))
    assert is_degenerate(_wire(n=0))
    assert is_degenerate(_wire(a=1, b=0, flag=True))
    assert is_degenerate(_wire(tags=set()))
    assert not is_degenerate(_wire(nums=[3, 1], k=0))
    assert not is_degenerate(_wire(n=2))
    assert not is_degenerate(_wire(word="ab", n=1))


def test_degenerate_instances_are_capped_at_about_a_tenth_and_at_most_two() -> None:
    plain = [_instance(20 + k) for k in range(30)]
    degenerate = [_instance(12 + k, nums=[k], name="d") for k in range(6)]
    kept = apply_filters(degenerate[:3] + plain + degenerate[3:], GenerateSettings(max_instances=32))
    flags = [is_degenerate(i.input) for i in kept.instances]
    assert sum(flags) == 2 and len(kept.instances) == 32
    assert kept.dropped["filter: degenerate input over the cap"] == 4
    assert [degenerate_allowance(n) for n in (1, 9, 10, 19, 20, 32)] == [1, 1, 1, 1, 2, 2]


def test_a_gym_with_only_degenerate_instances_keeps_one_rather_than_none() -> None:
    kept = apply_filters([_instance(12 + k, nums=[], name=str(k)) for k in range(5)], GenerateSettings())
    assert len(kept.instances) == 1 and kept.rejection is None


def test_without_the_cap_degenerate_instances_stay() -> None:
    instances = [_instance(12 + k, nums=[k]) for k in range(5)]
    kept = apply_filters(instances, GenerateSettings(cap_degenerate=False))
    assert kept.instances == instances


def test_the_kept_instances_spread_over_oracle_steps_in_their_original_order() -> None:
    instances = [_instance(s) for s in (50, 10, 200, 30, 120, 15, 90, 256)]
    picked = spread(instances, 4)
    assert [i.oracle_steps for i in picked] == [10, 30, 120, 256]  # ranks 0, 2, 5, 7 of 8
    assert spread(instances, 20) == instances
    kept = apply_filters(instances, GenerateSettings(max_instances=3))
    assert [i.oracle_steps for i in kept.instances] == [10, 90, 256]  # the lowest, the middle, the highest
    assert kept.dropped == {"over --max-instances": 5}


def test_observe_and_submit_count_as_tools_for_the_gym_as_a_whole() -> None:
    kept = apply_filters([_instance(12, tools=3)], GenerateSettings(min_tools=3))
    assert len(kept.instances) == 1
    refused = apply_filters([_instance(12, tools=3)], GenerateSettings())
    assert refused.rejection is not None and "distinct tools < 4" in refused.rejection


def test_batch_to_reach_is_the_fewest_instances_per_episode_that_reach_the_minimum() -> None:
    assert batch_to_reach(None, [3]) == 1
    assert batch_to_reach(10, [12, 10]) == 1
    assert batch_to_reach(10, [4, 6]) == 3  # 3 * (4 - 1) + 1 = 10 calls
    assert batch_to_reach(10, [5]) == 3  # 2 * 4 + 1 = 9 is short, 3 * 4 + 1 = 13
    assert batch_to_reach(10, [1]) > MAX_AUTO_BATCH  # an instance of one call can never add up
    assert batch_to_reach(10, []) > MAX_AUTO_BATCH


def test_a_gym_of_short_instances_is_kept_when_batching_makes_every_episode_long_enough() -> None:
    kept = apply_filters([_instance(4, name=str(k)) for k in range(6)], GenerateSettings())
    assert kept.rejection is None and kept.min_batch == 3 and len(kept.instances) == 6
    plan = plan_batches(kept.instances, batch=None, seed=0, key="t", min_size=kept.min_batch)
    assert plan.size == 3  # two episodes of 3 * 4 - 2 = 10 calls each
    # too few instances for two such episodes: rejected as before
    assert apply_filters([_instance(4, name=str(k)) for k in range(5)], GenerateSettings()).rejection
    # short and with too few distinct tools: batching does not add tools
    assert apply_filters([_instance(5, tools=3, name=str(k)) for k in range(8)], GenerateSettings()).rejection


def _answered(steps: int, answer: int, name: str) -> Instance:
    return _instance(steps, name=name).model_copy(update={"expected": answer})


def test_cases_too_long_for_a_batched_episode_are_dropped_so_every_episode_stays_within_max_steps() -> None:
    # two answers half and half: K = 5 (0.5 ** 5 <= 5%); 5 cases of 200 calls would make 996
    short = [_answered(40, k % 2, f"s{k}") for k in range(16)]
    long = [_answered(200, k % 2, f"l{k}") for k in range(4)]
    kept = fit_episodes(short + long, apply_filters(short + long, GenerateSettings()), GenerateSettings())
    assert [i.oracle_steps for i in kept.instances] == [40] * 16
    assert kept.dropped["filter: case steps over --max-steps / batch size"] == 4
    plan = plan_batches(kept.instances, batch=None, seed=0, key="t", min_size=kept.min_batch)
    assert plan.size == 5
    groups = [plan.instances[g : g + 5] for g in range(0, len(plan.instances) - 4, 5)]
    assert all(sum(i.oracle_steps for i in g) - 4 <= 256 for g in groups)
    # the spread of at most --max-instances is picked among the cases that fit
    many = [_answered(40 + k % 7, k % 2, f"m{k}") for k in range(40)] + long
    assert (
        len(fit_episodes(many, apply_filters(many, GenerateSettings()), GenerateSettings()).instances) == 32
    )


def test_long_cases_stay_when_dropping_them_would_leave_fewer_than_two_episodes() -> None:
    short = [_answered(40, k % 2, f"s{k}") for k in range(6)]
    long = [_answered(200, k % 2, f"l{k}") for k in range(10)]
    before = apply_filters(short + long, GenerateSettings())
    assert fit_episodes(short + long, before, GenerateSettings()) == before
    # unbatched gyms are left alone: every case is one episode, already within the window
    unbatched = [_answered(200, k, f"u{k}") for k in range(8)]
    single = apply_filters(unbatched, GenerateSettings())
    assert fit_episodes(unbatched, single, GenerateSettings()) == single
