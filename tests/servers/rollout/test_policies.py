"""Policies: the oracle replays to reward 1, random guesses validly, the openai agent loops over tools."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_mcp.runtime import Catalog, CoercionError, coerce
from codegym_mcp.servers.rollout._env import CodeGymEnv
from codegym_mcp.servers.rollout._policies import (
    EpisodeContext,
    OpenAIPolicy,
    OraclePolicy,
    PolicyError,
    RandomPolicy,
    random_value,
)
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, plan_episodes, play_in_new_session, run_rollouts

from .._rollout_fakes import INPUTS, TASK_ID, RecordedOpenAI, toy_server, write_toy_catalog

pytestmark = pytest.mark.anyio


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(write_toy_catalog(tmp_path / "catalog"))


def _connector(*, with_meta: bool = True) -> Any:
    async def connect(spec: EpisodeSpec) -> CodeGymEnv:
        fake = toy_server(first_instance=spec.instance, with_meta=with_meta)
        return await CodeGymEnv.connect(fake.server, task_id=spec.task_id)

    return connect


async def test_oracle_scores_one_on_every_instance(catalog: Catalog) -> None:
    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=len(INPUTS))
    records, summary = await run_rollouts(
        specs, connect=_connector(), policy=OraclePolicy(catalog), catalog=catalog
    )
    assert [r.reward for r in records] == [1] * len(INPUTS)
    assert summary.success_rate == 1.0
    assert summary.tool_errors == 0
    assert [r.instance_id for r in records] == [i.instance_id for i in catalog.load(TASK_ID).instances]


async def test_oracle_finds_its_instance_by_observing_when_not_told(catalog: Catalog) -> None:
    env = await CodeGymEnv.connect(toy_server(first_instance=2, with_meta=False).server, task_id=TASK_ID)
    async with env:
        obs, _ = await env.reset()
        agent = OraclePolicy(catalog).agent(
            EpisodeContext(task_id=TASK_ID, task_text=obs.text, tools=env.tools)
        )
        reward = 0.0
        while (action := await agent.act(obs)) is not None:
            obs, reward, terminated, _, _ = await env.step(action)
            if terminated:
                break
        assert reward == 1.0
        assert env.episode_record().steps[0].tool == "observe"


async def test_oracle_on_a_task_its_catalog_lacks_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=f"no gym {TASK_ID} in the catalog"):
        OraclePolicy(Catalog(tmp_path)).agent(EpisodeContext(task_id=TASK_ID, task_text="t", tools=()))


def test_a_policy_is_given_what_an_agent_gets_never_the_gym() -> None:
    fields = {f.name for f in dataclasses.fields(EpisodeContext)}
    assert fields == {"task_id", "task_text", "tools", "seed", "instance_id", "instance_index", "step_budget"}


SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer"},
    {"type": "array", "items": {"type": "number"}},
    {"type": "array", "x-python": "tuple", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
    {"type": "array", "x-python": "set", "uniqueItems": True, "items": {"type": "integer"}},
    {"type": "object", "additionalProperties": {"type": "boolean"}, "x-python-keys": {"type": "integer"}},
    {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}},
        "required": ["xs"],
        "additionalProperties": False,
    },
    {},
]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_values_fit_their_type_schema(seed: int) -> None:
    rng = random.Random(seed)
    for schema in SCHEMAS:
        value = random_value(schema, rng)
        try:
            coerce(value, schema)
        except CoercionError as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"random value {value!r} does not fit {schema}: {exc}")


async def test_random_policy_makes_valid_calls_and_scores_near_zero(catalog: Catalog) -> None:
    specs = plan_episodes([(TASK_ID, len(INPUTS))], episodes=24, seed=3)
    records, summary = await run_rollouts(
        specs, connect=_connector(), policy=RandomPolicy(), catalog=catalog, concurrency=4
    )
    assert summary.episodes == 24
    assert summary.tool_errors == 0
    assert summary.success_rate <= 0.35  # guesses in -10..10 for sums in 5..16
    assert all(r.steps[-1].tool == "submit" for r in records)


async def test_random_policy_is_reproducible_from_the_seed(catalog: Catalog) -> None:
    spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=0, seed=11)
    first = await play_in_new_session(
        spec, connect=_connector(), policy=RandomPolicy(), gym=catalog.load(TASK_ID)
    )
    second = await play_in_new_session(
        spec, connect=_connector(), policy=RandomPolicy(), gym=catalog.load(TASK_ID)
    )
    assert [(s.tool, s.arguments) for s in first.steps] == [(s.tool, s.arguments) for s in second.steps]


async def test_openai_agent_calls_tools_until_submit_against_a_recorded_endpoint(catalog: Catalog) -> None:
    with RecordedOpenAI("toy_sum.json") as endpoint:
        policy = OpenAIPolicy(model="recorded-model", base_url=endpoint.base_url, api_key="test", max_turns=8)
        spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=0, seed=0)
        record = await play_in_new_session(
            spec, connect=_connector(), policy=policy, gym=catalog.load(TASK_ID)
        )
        await policy.aclose()
    assert record.reward == 1
    assert record.end_reason == "submitted"
    assert [s.tool for s in record.steps] == ["observe", "add", "add", "add", "submit"]
    assert record.steps[3].error is not None  # "one" is not an int: a tool error fed back to the model
    first, *_, last = endpoint.requests
    assert {t["function"]["name"] for t in first["tools"]} == {"observe", "add", "submit", "task"}
    assert first["messages"][1]["content"].startswith("Return the sum")
    roles = [m["role"] for m in last["messages"]]
    assert roles[:3] == ["system", "user", "assistant"]
    tool_ids = [m["tool_call_id"] for m in last["messages"] if m["role"] == "tool"]
    assert tool_ids == ["call_obs", "call_add1", "call_add2", "call_bad", "call_reset"]
    refused = next(m for m in last["messages"] if m.get("tool_call_id") == "call_reset")
    assert "no tool 'reset'" in refused["content"]  # answered by the agent loop, never sent to the server
    nudges = [m for m in last["messages"] if m["role"] == "user"][1:]
    assert len(nudges) == 1 and "submit" in nudges[0]["content"]


async def test_openai_agent_out_of_turns_stops_with_reward_zero(catalog: Catalog) -> None:
    with RecordedOpenAI("toy_sum.json") as endpoint:
        policy = OpenAIPolicy(model="recorded-model", base_url=endpoint.base_url, api_key="test", max_turns=2)
        spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=0, seed=0)
        record = await play_in_new_session(
            spec, connect=_connector(), policy=policy, gym=catalog.load(TASK_ID)
        )
        await policy.aclose()
    assert record.reward == 0
    assert record.end_reason == "step_budget"
    assert record.detail is not None and "stopped without submitting" in record.detail


async def test_a_failing_llm_endpoint_is_an_infra_error_not_a_zero(catalog: Catalog) -> None:
    with RecordedOpenAI("toy_sum.json") as endpoint:
        endpoint.replies.clear()
        policy = OpenAIPolicy(model="recorded-model", base_url=endpoint.base_url, api_key="test")
        spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=0, seed=0)
        record = await play_in_new_session(
            spec, connect=_connector(), policy=policy, gym=catalog.load(TASK_ID)
        )
        await policy.aclose()
    assert record.reward is None
    assert record.end_reason == "infra_error"
    assert record.detail is not None and "endpoint failed" in record.detail


def test_run_episode_is_a_deprecated_alias_of_play_in_new_session() -> None:
    import codegym_mcp.servers as servers

    with pytest.warns(DeprecationWarning, match="use play_in_new_session"):
        old = servers.run_episode
    assert old is servers.play_in_new_session


async def test_openai_agent_sends_what_chat_completions_create_sends_without_calling_it(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openai import AsyncOpenAI
    from openai.resources.chat import AsyncCompletions

    real_create = AsyncCompletions.create

    async def refuse(*args: object, **kwargs: object) -> None:
        # create() walks every message's typed dict on every call: quadratic in the episode's length
        raise AssertionError("the agent must post its prebuilt body, not call chat.completions.create")

    monkeypatch.setattr(AsyncCompletions, "create", refuse)
    with RecordedOpenAI("toy_sum.json") as endpoint:
        policy = OpenAIPolicy(model="recorded-model", base_url=endpoint.base_url, api_key="test", max_turns=8)
        spec = EpisodeSpec(index=0, task_id=TASK_ID, instance=0, seed=0)
        record = await play_in_new_session(
            spec, connect=_connector(), policy=policy, gym=catalog.load(TASK_ID)
        )
        await policy.aclose()
    assert record.reward == 1
    sent = endpoint.requests[-1]
    monkeypatch.setattr(AsyncCompletions, "create", real_create)
    with RecordedOpenAI("toy_sum.json") as reference:
        client = AsyncOpenAI(base_url=reference.base_url, api_key="test", max_retries=0)
        await client.chat.completions.create(
            model=sent["model"],
            messages=sent["messages"],
            tools=sent["tools"],
            temperature=sent["temperature"],
        )
        await client.close()
    assert reference.requests == [sent]


@pytest.mark.parametrize(
    "answer",
    [{"choices": []}, {"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}, ["not", "a", "dict"]],
)
def test_an_answer_that_is_not_a_chat_completion_is_a_policy_error(answer: object) -> None:
    from codegym_mcp.servers.rollout._policies import _read_reply

    with pytest.raises(PolicyError, match="openai: the endpoint"):
        _read_reply(answer)


def test_a_chat_completion_answer_gives_its_text_function_calls_and_usage() -> None:
    from codegym_mcp.servers.rollout._policies import _read_reply

    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    other = {"id": "c2", "type": "custom", "custom": {"name": "x", "input": ""}}
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "hm", "tool_calls": [call, other]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }
    assert _read_reply(answer) == ("hm", [call], (7, 3))
