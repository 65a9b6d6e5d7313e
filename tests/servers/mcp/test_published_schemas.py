"""What strict and validating MCP clients see: `required` on every input schema, and output
schemas that the plain form of a dict with non-string keys (a list of [key, value] pairs) fits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client

from codegym_mcp.generator._results import GenerateSettings
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline._run import generate
from codegym_mcp.runtime import Catalog, SandboxConfig, WorkerPool, decode
from codegym_mcp.servers.mcp._server import EPISODE_META_KEY, GymServer, strict_input_schema

from ...generator._recording import GENERIC, isolation

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A gym generated from the fixture problem whose hidden input is an int-keyed dict."""
    out = tmp_path_factory.mktemp("catalog")
    problems = [p for p in load_dataset(f"jsonl:{GENERIC}").problems if p.problem_id == "fx/best_player"]
    generate(
        problems,
        catalog=out,
        dataset="fixtures",
        # full observation shows the dict whole; one instance per episode (no `case` argument);
        # a short gym: unfiltered
        settings=GenerateSettings.unfiltered(observe="full", batch=1),
        sandbox=SandboxConfig(isolation=isolation()),
    )
    return Catalog(out)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    async with WorkerPool(SandboxConfig(isolation=isolation()), size=1) as pool:
        yield pool


async def test_every_published_input_schema_lists_required_and_argumentless_tools_say_none(
    catalog: Catalog, pool: WorkerPool
) -> None:
    gym = catalog.load("fx_best_player")
    async with Client(GymServer(gym, pool).server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert all("required" in t.input_schema for t in listed.values())
    assert listed["observe"].input_schema["required"] == []
    assert listed["task"].input_schema["required"] == []
    assert listed["submit"].input_schema["required"] == ["answer"]


async def test_observe_shows_int_keys_as_ints_in_pairs_and_the_client_accepts_the_result(
    catalog: Catalog, pool: WorkerPool
) -> None:
    gym = catalog.load("fx_best_player")
    async with Client(GymServer(gym, pool).server) as client:
        # the client validates structured content against the published output schema
        observed = await client.call_tool("observe", {})
        assert not observed.is_error, observed
        instance = gym.instances[observed.meta[EPISODE_META_KEY]["instance"]]  # type: ignore[index]
        scores = decode(instance.input["scores"])
        assert observed.structured_content == {"scores": [[k, v] for k, v in scores.items()]}
        assert all(isinstance(k, int) for k, _ in observed.structured_content["scores"])
        scored = await client.call_tool("submit", {"answer": decode(instance.expected)})
    assert scored.structured_content == {"reward": 1}


def test_strict_input_schema_adds_an_empty_required_list_and_keeps_a_given_one() -> None:
    empty = {"type": "object", "properties": {}, "additionalProperties": False}
    assert strict_input_schema(empty) == {**empty, "required": []}
    given = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    assert strict_input_schema(given) is given
