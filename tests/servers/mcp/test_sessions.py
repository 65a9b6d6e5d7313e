"""Long-run serving, in-process over HTTP: idle timeout, session limit, health, auth, retries, cancels."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, cast

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import RequestParamsMeta

from codegym_mcp.runtime import SandboxConfig, ToolRunner, WorkerPool
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY
from codegym_mcp.servers.mcp._sessions import SessionLimits

from .._serve_helpers import text_of
from ._served import serving

pytestmark = pytest.mark.anyio


class SlowRunner:
    """A runner whose calls of ``slow_function`` take ``delay`` seconds before running for real."""

    def __init__(self, runner: ToolRunner, *, slow_function: str, delay: float) -> None:
        self._runner = runner
        self._slow = slow_function
        self._delay = delay
        self.calls = 0

    async def call(self, *, source: str, function: str, args: list[Any]) -> Any:
        self.calls += 1
        if function == self._slow:
            await anyio.sleep(self._delay)
        return await self._runner.call(source=source, function=function, args=args)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def http_post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream"}
        | (headers or {}),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def step(n: int) -> RequestParamsMeta:
    return cast(RequestParamsMeta, {"codegym/step": n})


async def test_an_idle_session_is_closed_and_its_episode_recorded_unscored_as_idle_timeout() -> None:
    async with serving(limits=SessionLimits(idle_timeout=0.5)) as served:
        async with Client(f"{served.base}/Fixture_maxsub/mcp") as client:
            await client.call_tool("observe", {})
            (record,) = await served.wait_records(1)
            assert record.end_reason == "idle_timeout" and record.reward is None
            assert [s.tool for s in record.steps] == ["observe"]
            with pytest.raises(MCPError):  # the session is gone: its id answers 404
                await client.call_tool("observe", {})
        _, health = await anyio.to_thread.run_sync(http_get, f"{served.base}/health")
        assert health["sessions"] == 0 and health["sessions_reaped"] == 1


async def test_a_session_that_keeps_calling_is_not_closed_as_idle() -> None:
    # gaps of 0.5 s under a 2 s timeout (room for a slow call on a loaded machine), 3 s in all
    async with serving(limits=SessionLimits(idle_timeout=2.0)) as served:
        async with Client(f"{served.base}/Fixture_maxsub/mcp?instance=1") as client:
            for _ in range(6):
                await client.call_tool("get_length", {})
                await anyio.sleep(0.5)
            submitted = await client.call_tool("submit", {"answer": 1})
            assert submitted.structured_content == {"reward": 1}
        (record,) = await served.wait_records(1)
        assert record.end_reason == "submitted"


async def test_past_max_sessions_a_new_session_gets_503_naming_the_limit_and_health_reports_it() -> None:
    async with serving(limits=SessionLimits(max_sessions=2)) as served:
        url = f"{served.base}/Fixture_vowels/mcp"
        async with Client(url), Client(url):
            status, body = await anyio.to_thread.run_sync(http_post, url, INIT)
            assert status == 503
            assert body["jsonrpc"] == "2.0" and "--max-sessions 2" in body["error"]["message"]
            status, health = await anyio.to_thread.run_sync(http_get, f"{served.base}/health")
            assert status == 200
            assert health["sessions"] == 2 and health["max_sessions"] == 2 and health["draining"] is False
            assert health["status"] == "ok" and "workers" in health
        async with Client(url) as client:  # closed sessions free their places
            assert not (await client.call_tool("get_length", {})).is_error


async def test_a_retried_step_returns_the_first_result_without_running_or_costing_a_step() -> None:
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        counting = SlowRunner(pool, slow_function="", delay=0)
        async with serving(runner=counting) as served:
            async with Client(f"{served.base}/Fixture_maxsub/mcp?instance=1") as client:
                first = await client.call_tool("track_best", {"value": 5}, meta=step(0))
                again = await client.call_tool("track_best", {"value": 5}, meta=step(0))
                assert again.structured_content == first.structured_content
                assert counting.calls == 1 and again.meta is not None
                assert again.meta[EPISODE_META_KEY]["step"] == 1
                other = await client.call_tool("track_best", {"value": 6}, meta=step(0))
                assert other.is_error and "the next call of this episode is step 1" in text_of(other)
                ahead = await client.call_tool("get_length", {}, meta=step(5))
                assert ahead.is_error and "send 1" in text_of(ahead)
                bad = await client.call_tool(
                    "get_length", {}, meta=cast(RequestParamsMeta, {"codegym/step": "x"})
                )
                assert bad.is_error and "codegym/step" in text_of(bad)
                scored = await client.call_tool("submit", {"answer": 1}, meta=step(1))
                retried = await client.call_tool("submit", {"answer": 1}, meta=step(1))
                assert scored.structured_content == retried.structured_content == {"reward": 1}
            (record,) = await served.wait_records(1)
            assert [s.tool for s in record.steps] == ["track_best", "submit"] and record.reward == 1


async def test_a_call_the_client_cancels_still_costs_its_step_and_is_recorded() -> None:
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        slow = SlowRunner(pool, slow_function="kadane_step", delay=1.5)
        async with serving(runner=slow) as served:
            async with Client(f"{served.base}/Fixture_maxsub/mcp?instance=1") as client:
                with pytest.raises(MCPError):
                    await client.call_tool(
                        "kadane_step", {"best": 0, "current": 0, "x": 1}, read_timeout_seconds=0.3
                    )
                # the next call waits for the cancelled one, which ran, counted and was recorded
                after = await client.call_tool("get_length", {})
                assert after.meta is not None and after.meta[EPISODE_META_KEY]["step"] == 2
                # and a retry of the cancelled step gets its result without running it again
                calls = slow.calls
                retried = await client.call_tool(
                    "kadane_step", {"best": 0, "current": 0, "x": 1}, meta=step(0)
                )
                assert not retried.is_error and slow.calls == calls
            (record,) = await served.wait_records(1)
            assert record.end_reason == "disconnected"
            assert [s.tool for s in record.steps] == ["kadane_step", "get_length"]
            assert record.steps[0].error is None and record.steps[0].result is not None


async def test_a_session_closed_during_a_call_records_that_call_once() -> None:
    async with WorkerPool(SandboxConfig(isolation="none"), size=1) as pool:
        slow = SlowRunner(pool, slow_function="kadane_step", delay=1.5)
        async with serving(runner=slow) as served:
            async with Client(f"{served.base}/Fixture_maxsub/mcp?instance=1") as client:
                await client.call_tool("observe", {})
                with pytest.raises(MCPError):
                    await client.call_tool(
                        "kadane_step", {"best": 0, "current": 0, "x": 1}, read_timeout_seconds=0.3
                    )
            (record,) = await served.wait_records(1)
            assert record.end_reason == "disconnected"
            assert [s.tool for s in record.steps] == ["observe", "kadane_step"]
            with anyio.move_on_after(2.5):  # the call's end must not write a second record
                await served.changed.wait()
            assert len(served.records) == 1


async def test_with_a_token_every_request_but_health_needs_the_bearer_header() -> None:
    async with serving(auth_token="s3cret") as served:
        url = f"{served.base}/Fixture_vowels/mcp"
        status, body = await anyio.to_thread.run_sync(http_post, url, INIT)
        assert status == 401 and "Authorization: Bearer" in body["error"]["message"]
        wrong = {"authorization": "Bearer nope"}
        assert (await anyio.to_thread.run_sync(http_post, url, INIT, wrong))[0] == 401
        assert (await anyio.to_thread.run_sync(http_get, f"{served.base}/tasks"))[0] == 401
        assert (await anyio.to_thread.run_sync(http_get, f"{served.base}/health"))[0] == 200
        headers = {"authorization": "Bearer s3cret"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            assert not (await client.call_tool("get_length", {})).is_error
