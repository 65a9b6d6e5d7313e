"""The env API against a long-run catalog server: it sends the step key and the bearer token."""

from __future__ import annotations

import anyio
import pytest

from codegym_mcp.servers import CodeGymEnv, ServerFailure, ToolCall
from codegym_mcp.servers.rollout._connectors import http_connector, shared_http_client
from codegym_mcp.servers.rollout._rollout import EpisodeSpec

from ..mcp._served import serving

pytestmark = pytest.mark.anyio


async def test_the_env_sends_the_step_index_so_a_call_the_server_did_not_expect_is_refused() -> None:
    async with (
        serving() as served,
        await CodeGymEnv.connect(f"{served.base}/Fixture_maxsub/mcp?instance=1") as env,
    ):
        await env.reset()
        obs, *_ = await env.step(ToolCall("observe", {}))
        assert not obs.is_error
        await env.step(ToolCall("task", {}))  # free: the index does not move
        await env.step(ToolCall("reset", {}))  # answered by the env itself
        obs, *_ = await env.step(ToolCall("get_length", {}))
        assert not obs.is_error
        # a call behind the env's back takes step 2: the env's next call (index 2) is refused
        await env._client.call_tool("get_length", {})
        obs, *_ = await env.step(ToolCall("observe", {}))
        assert obs.is_error and "step 2 of this episode was a call of get_length" in obs.text


async def test_the_env_passes_the_bearer_token_and_fails_clearly_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CODEGYM_AUTH_TOKEN", raising=False)
    async with serving(auth_token="s3cret") as served:
        url = f"{served.base}/Fixture_vowels/mcp"
        with anyio.fail_after(30), pytest.raises(ServerFailure):
            await CodeGymEnv.connect(url)
        async with await CodeGymEnv.connect(url, auth_token="s3cret") as env:
            await env.reset()
            obs, *_ = await env.step(ToolCall("get_length", {}))
            assert not obs.is_error
        monkeypatch.setenv("CODEGYM_AUTH_TOKEN", "s3cret")
        async with await CodeGymEnv.connect(url) as env:
            await env.reset()
            assert not (await env.step(ToolCall("get_length", {})))[0].is_error


async def test_rollout_connectors_pass_the_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEGYM_AUTH_TOKEN", raising=False)
    spec = EpisodeSpec(index=0, task_id="Fixture_vowels", instance=1, seed=0)
    async with serving(auth_token="s3cret") as served:
        env = await http_connector(served.base, auth_token="s3cret")(spec)
        async with env:
            await env.reset()
            assert not (await env.step(ToolCall("get_length", {})))[0].is_error
        async with shared_http_client(auth_token="s3cret") as http:
            env = await http_connector(served.base, http_client=http)(spec)
            async with env:
                await env.reset()
                assert not (await env.step(ToolCall("get_length", {})))[0].is_error
