"""OpenEnv: an environment server and client for a catalog, in two modes.

Direct mode (the default choice: one process, no second hop): the OpenEnv server serves a catalog
directory itself, with its own sandbox pool (see :mod:`._openenv_direct`)::

    python -m codegym_mcp.servers.trainers.openenv_env --catalog DIR --port 8001

Relay mode (a catalog server elsewhere: another machine, the Ray front, ``--auth-token``): each
OpenEnv environment plays through an MCP session with that server over streamable HTTP::

    python -m codegym_mcp.servers.trainers.openenv_env --catalog-url http://127.0.0.1:8000 --port 8001

Client (OpenEnv's ``EnvClient``, the same for both modes; ``.sync()`` for synchronous code)::

    async with CodeGymOpenEnvClient(base_url="http://127.0.0.1:8001") as client:
        result = await client.reset(task_id="HumanEval_0", seed=0)   # observation.text: the task
        result = await client.step(CallToolAction(tool_name="observe", arguments={}))
        print(result.observation.text, result.reward, result.done)

Actions are OpenEnv's MCP ``CallToolAction`` (``ListToolsAction`` lists the tools). ``reset`` takes
``task_id`` (default: the server's ``--task-id``), ``seed`` (the same seed, the same instance) or
``instance``. Each reset opens a new MCP session (see :mod:`._bridge`); the environment's calls run
on the OpenEnv server's own loop and are awaited, never blocking it. An infrastructure failure is
an observation with ``infra=True`` and ``reward=None``: not a 0. OpenEnv's protocol has no
authentication: bind the server to a private address (the relay sends ``$CODEGYM_AUTH_TOKEN`` to
its catalog server).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from ..rollout._env import EnvError, ServerFailure, ToolCall
from ._bridge import AsyncSession, missing_extra, open_sessions
from ._openenv_direct import DirectGyms, DirectSession

try:
    from openenv.core.client_types import StepResult
    from openenv.core.env_client import EnvClient
    from openenv.core.env_server.http_server import create_fastapi_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.mcp_types import CallToolAction, ListToolsAction
    from openenv.core.env_server.types import Action, Observation, State
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise missing_extra("openenv-core", "openenv") from exc

__all__ = [
    "STATUS_PATH",
    "CallToolAction",
    "CodeGymObservation",
    "CodeGymOpenEnv",
    "CodeGymOpenEnvClient",
    "CodeGymState",
    "ListToolsAction",
    "create_codegym_app",
    "main",
]


STATUS_PATH = "/codegym/status"
"""The route of the server's session count (see :func:`create_codegym_app`)."""


class CodeGymObservation(Observation):  # type: ignore[misc]
    """What the agent reads: the task (after reset) or a tool's result, with the episode's bookkeeping."""

    text: str = Field(default="", description="The task after reset; a tool's result text after a step")
    structured: Any = Field(default=None, description="The tool's structured result")
    is_error: bool = Field(default=False, description="The call failed (bad arguments, ...): it cost a step")
    infra: bool = Field(default=False, description="Infrastructure failed: the episode is unscored")
    tools: list[dict[str, Any]] = Field(
        default_factory=list, description="OpenAI function tools (after reset)"
    )
    info: dict[str, Any] = Field(default_factory=dict, description="The env API's reset/step info")


class CodeGymState(State):  # type: ignore[misc]
    """The episode: ids and step count."""

    task_id: str | None = None
    instance_id: str | None = None


class CodeGymOpenEnv(Environment):  # type: ignore[misc]
    """An OpenEnv ``Environment`` playing the gyms of a catalog server (relay) or of ``gyms`` (direct).

    Args:
        catalog_url: base URL of ``codegym-mcp serve --all --transport http`` (relay mode).
        task_id: the gym of a reset that names none.
        gyms: the catalog served in this process (direct mode; ``catalog_url`` is then ignored).

    Raises:
        ValueError: neither ``catalog_url`` nor ``gyms`` given.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(
        self, catalog_url: str | None = None, task_id: str | None = None, *, gyms: DirectGyms | None = None
    ) -> None:
        super().__init__()
        if gyms is None and not catalog_url:
            raise ValueError("CodeGymOpenEnv needs catalog_url (relay mode) or gyms (direct mode)")
        self.catalog_url = catalog_url
        self.gyms = gyms
        self.default_task = task_id
        self._session: AsyncSession | None = None
        self._state = CodeGymState()

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any
    ) -> CodeGymObservation:
        """Not used by the server (it awaits :meth:`reset_async`).

        Raises:
            RuntimeError: always: this environment only runs on an event loop.
        """
        raise RuntimeError("CodeGymOpenEnv is asynchronous: the OpenEnv server calls reset_async")

    def step(self, action: Action, timeout_s: float | None = None, **kwargs: Any) -> CodeGymObservation:
        """Not used by the server (it awaits :meth:`step_async`).

        Raises:
            RuntimeError: always: this environment only runs on an event loop.
        """
        raise RuntimeError("CodeGymOpenEnv is asynchronous: the OpenEnv server calls step_async")

    async def reset_async(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        task_id: str | None = None,
        instance: int | None = None,
        **kwargs: Any,
    ) -> CodeGymObservation:
        """Start an episode of ``task_id`` on ``instance``, else on the instance of ``seed``.

        Raises:
            ValueError: no task given and the server has no default; in direct mode, no such gym
                or instance in the catalog.
        """
        task = task_id or self.default_task
        if not task:
            raise ValueError("reset needs task_id (the server was started without --task-id)")
        if self._session is None or self._session.task_id != task:
            if self._session is not None:
                await self._session.aclose()
            self._session = self._new_session(task)
        try:
            obs, info = await self._session.reset(seed=seed, instance=instance)
        except EnvError as exc:
            return CodeGymObservation(text=str(exc), is_error=True, infra=True, done=True, reward=None)
        self._state = CodeGymState(
            episode_id=info["episode_id"], step_count=0, task_id=task, instance_id=info["instance_id"]
        )
        tools = [t.to_openai() for t in self._session.tools]
        return CodeGymObservation(text=obs.text, tools=tools, info=dict(info))

    def _new_session(self, task: str) -> AsyncSession:
        if self.gyms is not None:
            return DirectSession(self.gyms, task)
        assert self.catalog_url is not None
        return AsyncSession(self.catalog_url, task)

    async def step_async(
        self, action: Action, timeout_s: float | None = None, **kwargs: Any
    ) -> CodeGymObservation:
        """Call one tool (``CallToolAction``), or list the tools (``ListToolsAction``)."""
        if self._session is None:
            return CodeGymObservation(text="no episode: call reset first", is_error=True)
        if isinstance(action, ListToolsAction):
            return CodeGymObservation(tools=[t.to_openai() for t in self._session.tools])
        if not isinstance(action, CallToolAction):
            return CodeGymObservation(
                text=f"unsupported action {type(action).__name__}: send CallToolAction", is_error=True
            )
        try:
            obs, reward, terminated, truncated, info = await self._session.step(
                ToolCall(action.tool_name, dict(action.arguments))
            )
        except ServerFailure as exc:
            return CodeGymObservation(text=str(exc), is_error=True, infra=True, done=True, reward=None)
        except EnvError as exc:  # the episode is over, or the session closed
            return CodeGymObservation(text=str(exc), is_error=True)
        self._state.step_count = info["step"]
        self._state.instance_id = info["instance_id"] or self._state.instance_id
        infra = bool(info["infra"])
        return CodeGymObservation(
            text=obs.text,
            structured=obs.structured,
            is_error=obs.is_error,
            infra=infra,
            info=dict(info),
            done=terminated or truncated or infra,
            reward=None if infra else reward,
        )

    @property
    def state(self) -> CodeGymState:
        """The current episode's ids and step count."""
        return self._state

    def close(self) -> None:
        """Close the MCP session (OpenEnv calls it from a worker thread when the client leaves)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()


class CodeGymOpenEnvClient(EnvClient):  # type: ignore[misc]
    """OpenEnv's WebSocket client for a :class:`CodeGymOpenEnv` server."""

    def _step_payload(self, action: Action) -> dict[str, Any]:
        payload: dict[str, Any] = action.model_dump()
        return payload

    def _parse_result(self, payload: dict[str, Any]) -> StepResult:
        return StepResult(
            observation=CodeGymObservation(**payload.get("observation", {})),
            reward=payload.get("reward"),
            done=bool(payload.get("done", False)),
        )

    def _parse_state(self, payload: dict[str, Any]) -> CodeGymState:
        return CodeGymState(**payload)


def create_codegym_app(
    catalog_url: str | None = None,
    *,
    catalog: Path | str | None = None,
    task_id: str | None = None,
    max_concurrent_envs: int = 64,
    workers: int | None = None,
    no_sandbox: bool = False,
) -> Any:
    """The OpenEnv FastAPI app (HTTP + WebSocket, no web UI) over a catalog server or a catalog directory.

    Give exactly one of ``catalog_url`` (relay mode) and ``catalog`` (direct mode: the gyms and
    ``workers`` sandbox workers live in this app's process, started and stopped by its lifespan).
    Besides OpenEnv's routes, ``GET /codegym/status`` reports the mode, the MCP sessions open in
    this process (0 once every client left), its event loop's tasks and the sandbox workers.

    Raises:
        ValueError: neither or both of ``catalog_url`` and ``catalog`` given.
        CatalogNotFound: ``catalog`` is not a directory.
    """
    if (catalog_url is None) == (catalog is None):
        raise ValueError(
            "create_codegym_app needs exactly one of catalog_url (a running catalog server) and catalog "
            f"(a catalog directory served in this process); got catalog_url={catalog_url!r}, catalog={catalog!r}"
        )
    gyms = None if catalog is None else DirectGyms(catalog, workers=workers, no_sandbox=no_sandbox)
    factory = functools.partial(CodeGymOpenEnv, catalog_url, task_id, gyms=gyms)
    app = create_fastapi_app(
        factory, CallToolAction, CodeGymObservation, max_concurrent_envs=max_concurrent_envs
    )
    if gyms is not None:
        app.router.lifespan_context = gyms.running

    async def status() -> dict[str, Any]:
        return {
            "mode": "relay" if gyms is None else "direct",
            "open_sessions": open_sessions(),
            "tasks": len(asyncio.all_tasks()),
            "workers": None if gyms is None else gyms.workers,
        }

    # OpenEnv's /health says nothing of sessions: this does (no session should outlive its client)
    app.add_api_route(STATUS_PATH, status, methods=["GET"])
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m codegym_mcp.servers.trainers.openenv_env (--catalog DIR | --catalog-url URL) [--port P]``."""
    import uvicorn

    parser = argparse.ArgumentParser(description="OpenEnv server over a codegym catalog")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalog", type=Path, help="catalog directory served in this process (direct mode)")
    source.add_argument("--catalog-url", help="base URL of codegym-mcp serve --all (relay mode)")
    parser.add_argument("--task-id", default=None, help="gym of a reset that names none")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--max-sessions", type=int, default=64)
    parser.add_argument(
        "--workers", type=int, default=None, help="direct mode: sandbox workers (default <= 4)"
    )
    parser.add_argument("--no-sandbox", action="store_true", help="direct mode: trusted catalogs only")
    args = parser.parse_args(argv)
    app = create_codegym_app(
        args.catalog_url,
        catalog=args.catalog,
        task_id=args.task_id,
        max_concurrent_envs=args.max_sessions,
        workers=args.workers,
        no_sandbox=args.no_sandbox,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
