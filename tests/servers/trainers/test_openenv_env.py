"""The OpenEnv adapter: OpenEnv's own server (create_fastapi_app) and EnvClient, in both modes.

Every episode test runs against a direct server (the fixture catalog served in the OpenEnv app's
own process) and a relay server (each step relayed to the catalog server).
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn

from codegym_mcp.runtime import Catalog
from codegym_mcp.servers import Observation, OraclePolicy, RandomPolicy, ToolInfo
from codegym_mcp.servers.rollout._connectors import http_connector
from codegym_mcp.servers.rollout._policies import Policy
from codegym_mcp.servers.rollout._rollout import EpisodeSpec, run_rollouts
from codegym_mcp.servers.trainers import openenv_env
from codegym_mcp.servers.trainers._bridge import open_sessions
from codegym_mcp.servers.trainers.openenv_env import (
    STATUS_PATH,
    CallToolAction,
    CodeGymOpenEnvClient,
    ListToolsAction,
    create_codegym_app,
)

from ._harness import FIXTURE, SyncAgent, fixture_episodes


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    """``app`` under uvicorn in a thread (lifespan on); yields its URL, stops it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not uv.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "the OpenEnv server did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(timeout=60)
        sock.close()


@pytest.fixture(scope="module", params=["direct", "relay"])
def servers(request: pytest.FixtureRequest, server: str) -> Iterator[tuple[str, str]]:
    """(catalog server URL, OpenEnv server URL): OpenEnv's app in direct or relay mode."""
    if request.param == "direct":
        app = create_codegym_app(catalog=FIXTURE, workers=2)
    else:
        app = create_codegym_app(server)
    with _uvicorn(app) as url:
        yield server, url


async def _episode(url: str, task_id: str, k: int, policy: Policy, seed: int = 0) -> float:
    gym = Catalog(FIXTURE).load(task_id)
    async with CodeGymOpenEnvClient(base_url=url) as client:
        result = await client.reset(task_id=task_id, instance=k)
        obs = result.observation
        tools = tuple(
            ToolInfo(t["function"]["name"], t["function"]["description"], t["function"]["parameters"], None)
            for t in obs.tools
        )
        agent = SyncAgent.start(
            policy,
            gym,
            text=obs.text,
            tools=tools,
            instance=k,
            seed=seed,
            step_budget=gym.manifest.step_budget,
        ).agent
        seen = Observation(text=obs.text)
        while (call := await agent.act(seen)) is not None:
            result = await client.step(CallToolAction(tool_name=call.name, arguments=call.arguments))
            obs = result.observation
            seen = Observation(text=obs.text, structured=obs.structured, is_error=obs.is_error)
            if result.done:
                break
        assert not obs.infra
        return float(result.reward or 0.0)


def test_the_oracle_scores_1_on_every_fixture_instance_played_at_once_through_openenv_clients(
    servers: tuple[str, str],
) -> None:
    _, url = servers
    episodes = fixture_episodes()
    rewards: dict[tuple[str, int], float] = {}

    async def one(task_id: str, k: int) -> None:
        rewards[task_id, k] = await _episode(url, task_id, k, OraclePolicy(Catalog(FIXTURE)))

    async def all_at_once() -> None:
        async with anyio.create_task_group() as group:
            for gym, k in episodes:
                group.start_soon(one, gym.task_id, k)

    anyio.run(all_at_once)
    assert rewards == {(gym.task_id, k): 1.0 for gym, k in episodes}


def test_the_random_policy_scores_what_it_scores_through_the_env_api(servers: tuple[str, str]) -> None:
    catalog_url, url = servers
    episodes = [(gym.task_id, k, 300 + i) for i, (gym, k) in enumerate(fixture_episodes())]
    adapter = [anyio.run(_episode, url, t, k, RandomPolicy(), seed) for t, k, seed in episodes]
    specs = [EpisodeSpec(index=i, task_id=t, instance=k, seed=s) for i, (t, k, s) in enumerate(episodes)]
    records, _ = anyio.run(
        lambda: run_rollouts(
            specs, connect=http_connector(catalog_url), policy=RandomPolicy(), catalog=Catalog(FIXTURE)
        )
    )
    assert adapter == [float(r.reward or 0) for r in records]


async def _instance_of(url: str, seed: int) -> str:
    """The instance id a reset with ``seed`` plays (after checking the tool list and the state)."""
    async with CodeGymOpenEnvClient(base_url=url) as client:
        await client.reset(task_id="Fixture_maxsub", seed=seed)
        listed = await client.step(ListToolsAction())
        assert {t["function"]["name"] for t in listed.observation.tools} >= {"observe", "submit"}
        step = await client.step(CallToolAction(tool_name="task", arguments={}))
        state = await client.state()
        assert state.step_count == 1 and state.task_id == "Fixture_maxsub"
        return str(step.observation.info["instance_id"])


def test_seeds_pick_instances_repeatably_and_the_state_names_the_episode(servers: tuple[str, str]) -> None:
    _, url = servers
    seen = {seed: anyio.run(_instance_of, url, seed) for seed in range(6)}
    assert len(set(seen.values())) > 1
    assert all(anyio.run(_instance_of, url, seed) == expected for seed, expected in seen.items())


def test_a_seed_plays_the_same_instance_in_direct_and_in_relay_mode(server: str) -> None:
    with (
        _uvicorn(create_codegym_app(catalog=FIXTURE, workers=1)) as direct,
        _uvicorn(create_codegym_app(server)) as relay,
    ):
        for seed in range(6):
            assert anyio.run(_instance_of, direct, seed) == anyio.run(_instance_of, relay, seed), seed


def test_without_openenv_the_import_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "openenv" or m.startswith("openenv.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, openenv_env.__name__)
    with pytest.raises(ImportError, match=r"pip install 'codegym-mcp\[openenv\]'"):
        importlib.import_module(openenv_env.__name__)


def _children() -> set[int]:
    kids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        kids |= {int(k) for k in (task / "children").read_text(encoding="utf-8").split()}
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_direct_server_leaves_no_session_nor_sandbox_worker_once_stopped() -> None:
    before = _children()
    with _uvicorn(create_codegym_app(catalog=FIXTURE, workers=2)) as url:
        workers = _children() - before
        assert len(workers) == 2, workers
        gym, k = fixture_episodes()[0]
        assert anyio.run(_episode, url, gym.task_id, k, OraclePolicy(Catalog(FIXTURE))) == 1.0
        deadline = time.monotonic() + 30  # OpenEnv closes a left environment in a worker thread
        while open_sessions() and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"{url}{STATUS_PATH}", timeout=10) as response:
            status = json.loads(response.read())
        assert status["mode"] == "direct" and status["open_sessions"] == 0 and status["workers"] == 2
    assert not [pid for pid in workers if _alive(pid)], "a sandbox worker outlived the direct server"


def test_a_direct_server_refuses_an_unknown_task_and_a_missing_instance() -> None:
    with pytest.raises(ValueError, match="exactly one of catalog_url"):
        create_codegym_app()
    with _uvicorn(create_codegym_app(catalog=FIXTURE, workers=1)) as url:

        async def reset_error(**kwargs: Any) -> str:
            async with CodeGymOpenEnvClient(base_url=url) as client:
                with pytest.raises(RuntimeError) as caught:
                    await client.reset(**kwargs)
                return str(caught.value)

        assert "Nope_1" in anyio.run(lambda: reset_error(task_id="Nope_1"))
        assert "instance 99 does not exist" in anyio.run(
            lambda: reset_error(task_id="Fixture_maxsub", instance=99)
        )
