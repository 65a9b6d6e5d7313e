"""Every adapter sends $CODEGYM_AUTH_TOKEN as a bearer token: a server started with --auth-token
refuses an adapter without it and serves one with it."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator

import anyio
import gymnasium
import pytest
import skyrl_gym
import uvicorn

from codegym_mcp.servers import ServerFailure
from codegym_mcp.servers.mcp._sessions import AUTH_TOKEN_ENV
from codegym_mcp.servers.trainers import gymnasium_env, skyrl_env  # noqa: F401  (register the ids)
from codegym_mcp.servers.trainers.openenv_env import CallToolAction, CodeGymOpenEnvClient, create_codegym_app

from ._harness import catalog_server, health

TOKEN = "-" + secrets.token_urlsafe(16)  # a leading dash, as 1 in 64 random tokens have
TASK = "Fixture_vowels"


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[str, str]]:
    """(catalog server started with --auth-token, OpenEnv server over it in a thread)."""
    with catalog_server(extra_args=(f"--auth-token={TOKEN}",)) as url:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        uv = uvicorn.Server(uvicorn.Config(create_codegym_app(url), log_level="critical"))
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not uv.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield url, f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            uv.should_exit = True
            thread.join(timeout=30)
            sock.close()
        status = health(url)
        assert status is not None and status["sessions"] == 0, f"MCP sessions left open: {status}"


def _gymnasium(url: str, _: str) -> str:
    env = gymnasium.make("codegym/CodeGym-v0", catalog_url=url, task_id=TASK)
    try:
        env.reset(seed=0)
        return str(env.step({"name": "task", "arguments": {}})[0])
    finally:
        env.close()


def _skyrl(url: str, _: str) -> str:
    env = skyrl_gym.make("codegym", env_config={"catalog_url": url}, extras={"task_id": TASK, "seed": 0})
    try:
        env.init([])
        call = json.dumps({"name": "task", "arguments": {}})
        out = env.step(f"<tool_call>{call}</tool_call>")
        assert not out["metadata"]["infra_error"], out
        return str(out["observations"][0]["content"])
    finally:
        env.close()


def _openenv(_: str, openenv_url: str) -> str:
    async def run() -> str:
        async with CodeGymOpenEnvClient(base_url=openenv_url) as client:
            result = await client.reset(task_id=TASK, seed=0)
            if result.observation.infra:
                raise ServerFailure(result.observation.text, task_id=TASK)
            result = await client.step(CallToolAction(tool_name="task", arguments={}))
            return str(result.observation.text)

    return anyio.run(run)


ADAPTERS: dict[str, Callable[[str, str], str]] = {
    "gymnasium": _gymnasium,
    "skyrl": _skyrl,
    "openenv": _openenv,
}


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_an_adapter_is_refused_without_the_token_and_plays_with_it(
    adapter: str, guarded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    play = ADAPTERS[adapter]
    monkeypatch.delenv(AUTH_TOKEN_ENV, raising=False)
    with pytest.raises(ServerFailure, match=r"401|nauthorized"):
        play(*guarded)
    monkeypatch.setenv(AUTH_TOKEN_ENV, TOKEN)
    assert play(*guarded)  # the task text: the step ran
