"""A Gymnasium-style async environment over one gym's MCP server, for trainers.

``CodeGymEnv`` drives the same MCP server an agent would (streamable HTTP, stdio, or an
in-process server in tests) through ``mcp.Client``; nothing bypasses the protocol::

    env = await CodeGymEnv.connect("http://127.0.0.1:8000/HumanEval_0/mcp")
    obs, info = await env.reset(seed=0)              # obs.text = task, obs.tools = tool list
    obs, reward, terminated, truncated, info = await env.step(ToolCall("observe", {}))
    messages = env.chat_messages()                   # OpenAI / TRL / verl chat format
    await env.close()

Episode bookkeeping the server publishes in ``CallToolResult._meta["codegym/episode"]``
(step, budget, done, end reason, reward, infrastructure flag) is used when present; the env
falls back to what it can see itself (the submit result's ``reward``, its own step count).

The types (ToolCall, Observation, infos, chat messages) and the exception tree (EnvError:
EnvClosed, EpisodeOver, ServerFailure) live in :mod:`._env_types` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Self, cast

import anyio
import httpx2
from mcp import Client
from mcp.client import Transport
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, RequestParamsMeta, TextContent
from pydantic import JsonValue

from ...schemas import EndReason, EpisodeRecord
from ..mcp._server import HARNESS_KEY_ENV, HARNESS_KEY_META
from ..mcp._sessions import AUTH_TOKEN_ENV, STEP_META
from ._env_export import ClientEpisode, ClientStep, chat_messages, episode_record, update_end
from ._env_types import (
    DEFAULT_SYSTEM_PROMPT,
    EPISODE_META_KEY,
    ChatMessage,
    ChatStyle,
    ChatToolCall,
    EnvClosed,
    EnvError,
    EnvTarget,
    EpisodeOver,
    Observation,
    ResetInfo,
    ServerFailure,
    StepInfo,
    ToolCall,
    ToolInfo,
    describe_target,
    episode_meta,
    opt_int,
    result_text,
    task_text,
    transport_failure,
)

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "EPISODE_META_KEY",
    "ChatMessage",
    "ChatStyle",
    "ChatToolCall",
    "CodeGymEnv",
    "EnvClosed",
    "EnvError",
    "EnvTarget",
    "EpisodeOver",
    "Observation",
    "ResetInfo",
    "ServerFailure",
    "StepInfo",
    "ToolCall",
    "ToolInfo",
]

# How mcp.client.session words a result that breaks the tool's output schema (a RuntimeError).
_SCHEMA_VIOLATIONS = (
    "Invalid structured content returned by tool",
    "has an output schema but did not return",
)
_HIDDEN_FROM_AGENTS = frozenset({"reset"})


class CodeGymEnv:
    """One gym's MCP server seen as an async Gymnasium-style environment.

    Build it with :meth:`connect` (or ``async with await CodeGymEnv.connect(...) as env``).
    One env = one MCP session = a sequence of episodes: the server starts the first one with
    the session, ``reset`` reuses it while untouched and otherwise calls the server's
    ``reset`` with the harness key (agents never see that tool nor the key).
    """

    def __init__(
        self,
        client: Client,
        stack: AsyncExitStack,
        *,
        task_id: str | None,
        tools: Sequence[ToolInfo],
        instructions: str | None = None,
        harness_key: str | None = None,
        scope: anyio.CancelScope | None = None,
        close_timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._scope = scope
        self.close_timeout = close_timeout
        self._harness_key = harness_key
        self._stack = stack
        self._instructions = instructions
        self.task_id = task_id
        self.tools: tuple[ToolInfo, ...] = tuple(tools)
        self.system_prompt = DEFAULT_SYSTEM_PROMPT
        self._episode: ClientEpisode | None = None
        self._fresh = True  # the session's first episode has not been touched yet
        self._next_step = 0  # the server's index of this episode's next call (_meta codegym/step)
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def connect(
        cls,
        target: EnvTarget,
        *,
        task_id: str | None = None,
        read_timeout: float = 120.0,
        connect_timeout: float = 60.0,
        http_client: httpx2.AsyncClient | None = None,
        harness_key: str | None = None,
        auth_token: str | None = None,
        close_timeout: float = 10.0,
    ) -> Self:
        """Open an MCP session with the gym server and list its tools.

        Args:
            target: a streamable HTTP URL (one gym, or a catalog server's per-task URL),
                ``StdioServerParameters`` (launches ``codegym-mcp serve ...``), or an
                in-process ``Server``/``MCPServer`` (tests).
            task_id: the gym's task id, recorded in trajectories (taken from the server's
                episode metadata when it sends one).
            read_timeout: seconds to wait for any one answer of the server.
            connect_timeout: seconds to wait for the session to open and list its tools.
            http_client: an HTTP client shared by many envs (connection pooling, and no TLS
                context built per session: ~25 ms each); the caller closes it.
            harness_key: the server's harness key (``serve --harness-key``, ``GymServer.harness_key``),
                needed to start a second episode in this session; default ``$CODEGYM_HARNESS_KEY``.
            auth_token: the HTTP server's bearer token (``serve --auth-token``); default
                ``$CODEGYM_AUTH_TOKEN``. Added to ``http_client``'s headers when it has none.
            close_timeout: seconds :meth:`close` waits for the server to end the session before
                it abandons the connection (a hung server).

        Raises:
            ServerFailure: the server could not be reached, or did not answer in time.
        """
        if harness_key is None:
            harness_key = os.environ.get(HARNESS_KEY_ENV) or None
        stack = AsyncExitStack()
        # A scope around everything the session opens, exited last: close() gives it a deadline, so
        # a session whose server hangs is cut (its DELETE and task groups cancelled) instead of waited on.
        scope = stack.enter_context(anyio.CancelScope())
        # Episodes live in a stateful MCP session: the legacy handshake gives one (Mcp-Session-Id).
        server: EnvTarget | Transport = target
        token = auth_token if auth_token is not None else os.environ.get(AUTH_TOKEN_ENV)
        if isinstance(target, str) and (http_client is not None or token):
            if http_client is None:
                headers = {"authorization": f"Bearer {token}"}
                timeout = httpx2.Timeout(30.0, read=300.0)  # the SDK's own client's
                http_client = await stack.enter_async_context(
                    httpx2.AsyncClient(headers=headers, timeout=timeout)
                )
            elif token and "authorization" not in http_client.headers:
                http_client.headers["authorization"] = f"Bearer {token}"
            server = streamable_http_client(target, http_client=http_client)
        client = Client(server, mode="legacy", read_timeout_seconds=read_timeout, cache=None)
        try:
            # The client's task groups must not open inside a cancel scope that closes here:
            # the handshake is bounded by read_timeout, the listing by connect_timeout.
            await stack.enter_async_context(client)
            with anyio.fail_after(connect_timeout):
                listed = await client.list_tools(meta=_harness_meta(harness_key))
        except Exception as exc:
            # The transport may fail again while it is torn down (the same broken connection): the
            # first failure is the one to report.
            with contextlib.suppress(Exception):
                await stack.aclose()
            cause = transport_failure(exc)
            if cause is None:
                raise
            raise ServerFailure(
                f"could not open an MCP session with {describe_target(target)}: {type(cause).__name__}: {cause}; "
                "check that the server is running and the URL or command is right",
                task_id=task_id,
            ) from exc
        except BaseException:
            await stack.aclose()
            raise
        tools = [
            ToolInfo(
                name=t.name,
                description=t.description or "",
                input_schema=dict(t.input_schema),
                output_schema=dict(t.output_schema) if t.output_schema is not None else None,
            )
            for t in listed.tools
        ]
        return cls(
            client,
            stack,
            task_id=task_id,
            tools=tools,
            instructions=client.instructions,
            harness_key=harness_key,
            scope=scope,
            close_timeout=close_timeout,
        )

    async def close(self) -> None:
        """End the MCP session (the server records an unfinished episode as disconnected).

        Bounded: after ``close_timeout`` seconds (a hung server) the session's requests and tasks
        are cancelled and its connection dropped. A server that is gone (its connection refused or
        broken) is not an error here: the session is over either way.

        Raises:
            Exception: a failure that is not the transport's (a bug) propagates.
        """
        if self._closed:
            return
        self._closed = True
        if self._scope is not None:
            self._scope.deadline = anyio.current_time() + self.close_timeout
        try:
            await self._stack.aclose()
        except Exception as exc:
            if transport_failure(exc) is None:
                raise

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ properties

    @property
    def agent_tools(self) -> tuple[ToolInfo, ...]:
        """The tools an agent should be offered (everything but ``reset``)."""
        return tuple(t for t in self.tools if t.name not in _HIDDEN_FROM_AGENTS)

    @property
    def started(self) -> bool:
        """Whether reset() has started an episode in this session."""
        return self._episode is not None

    @property
    def done(self) -> bool:
        """Whether the current episode has ended (or none was started)."""
        return self._episode is None or self._episode.end_reason is not None

    # ------------------------------------------------------------------ gym API

    async def reset(
        self, *, seed: int | None = None, options: Mapping[str, JsonValue] | None = None
    ) -> tuple[Observation, ResetInfo]:
        """Start an episode; return the task text with the tool list, and its info.

        The session's first episode (chosen by the server or the URL) is used as is when
        neither ``seed`` nor ``options["instance"]`` asks for another one; otherwise the
        server's ``reset`` tool starts the next episode.

        Raises:
            EnvClosed: the env was closed.
            ServerFailure: the server failed to start an episode.
        """
        self._check_open()
        instance = options.get("instance") if options else None
        meta: Mapping[str, Any] = {}
        text = self._instructions or ""
        if not (self._fresh and seed is None and instance is None):
            arguments: dict[str, JsonValue] = {}
            if seed is not None:
                arguments["seed"] = seed
            if instance is not None:
                arguments["instance"] = instance
            result = await self._call("reset", arguments, meta=_harness_meta(self._harness_key))
            if result.is_error:
                hint = (
                    ""
                    if self._harness_key
                    else ": only the harness may reset; give the env the server's harness key "
                    "(CodeGymEnv.connect(..., harness_key=KEY) or $CODEGYM_HARNESS_KEY, as the server got it), "
                    "or open a new session per episode"
                )
                raise ServerFailure(
                    f"the server refused to reset ({result_text(result)}){hint}", task_id=self.task_id
                )
            meta = episode_meta(result)
            text = task_text(result) or text
        self._fresh = False
        self._next_step = opt_int(meta.get("step")) or 0
        if not text:
            text = await self._task_statement()
        self._episode = ClientEpisode(
            episode_id=str(meta.get("episode_id") or uuid.uuid4().hex[:16]),
            task_text=text,
            instance_id=_opt_str(meta.get("instance_id")),
            step_budget=opt_int(meta.get("step_budget")),
        )
        if isinstance(meta.get("task_id"), str):
            self.task_id = str(meta["task_id"])
        obs = Observation(text=text, tools=self.tools)
        info: ResetInfo = {
            "task_id": self.task_id,
            "instance_id": self._episode.instance_id,
            "episode_id": self._episode.episode_id,
            "step_budget": self._episode.step_budget,
        }
        return obs, info

    async def step(self, action: ToolCall) -> tuple[Observation, float, bool, bool, StepInfo]:
        """Call one tool; return (observation, reward, terminated, truncated, info).

        ``reward`` is 1.0 only on the step whose submit scored 1; ``terminated`` is True once
        the answer was submitted, ``truncated`` once the step budget ran out. A bad argument is
        an observation with ``is_error`` (it costs a step), never an exception.

        Raises:
            EnvClosed: the env was closed.
            EpisodeOver: the episode already ended: call reset().
            ServerFailure: a protocol error or a broken connection (infrastructure).
        """
        self._check_open()
        episode = self._episode
        if episode is None:
            raise EpisodeOver("no episode started: call reset() first", task_id=self.task_id)
        if episode.end_reason is not None:
            raise EpisodeOver(
                f"the episode ended ({episode.end_reason}); call reset() to start the next one",
                task_id=self.task_id,
            )
        self._fresh = False
        started = time.perf_counter()
        if action.name in _HIDDEN_FROM_AGENTS:
            # Forwarding it would silently start another episode under this one: answer it here.
            result = CallToolResult(
                content=[
                    TextContent(
                        text=f"{action.name} is not one of your tools: episodes are reset by the trainer"
                    )
                ],
                is_error=True,
            )
        else:
            # The step index makes a retry of this call (same index) idempotent on the server.
            step_meta = cast(RequestParamsMeta, {STEP_META: self._next_step})
            result = await self._call(action.name, action.arguments, meta=step_meta)
            served = opt_int(episode_meta(result).get("step"))
            self._next_step = served if served is not None else self._next_step + 1
        latency_ms = (time.perf_counter() - started) * 1000.0
        meta = episode_meta(result)
        infra = bool(meta.get("infra", False))
        obs = Observation(
            text=result_text(result),
            structured=cast(JsonValue, result.structured_content),
            is_error=result.is_error,
            tools=self.tools,
        )
        episode.steps.append(ClientStep(call=action, obs=obs, latency_ms=latency_ms, infra=infra))
        if isinstance(meta.get("instance_id"), str):
            episode.instance_id = str(meta["instance_id"])
        if isinstance(meta.get("episode_id"), str):
            episode.episode_id = str(meta["episode_id"])
        if meta.get("step_budget") is not None:
            episode.step_budget = opt_int(meta.get("step_budget"))
        if isinstance(meta.get("task_id"), str):
            self.task_id = str(meta["task_id"])
        end = update_end(episode, action, result, meta)
        reward = float(episode.reward or 0) if end is not None else 0.0
        info: StepInfo = {
            "task_id": self.task_id,
            "instance_id": episode.instance_id,
            "episode_id": episode.episode_id,
            "step": len(episode.steps),
            "step_budget": episode.step_budget,
            "latency_ms": latency_ms,
            "tool_error": obs.text if obs.is_error else None,
            "infra": infra,
            "end_reason": end,
        }
        truncated = end == "step_budget"
        terminated = end is not None and not truncated
        return obs, reward, terminated, truncated, info

    def end_episode(self, reason: EndReason, *, detail: str | None = None) -> None:
        """Mark the current episode ended by the caller (a policy gave up, an infra failure).

        ``step_budget`` counts as an agent failure (reward 0); ``infra_error`` and
        ``disconnected`` leave the reward unset.
        """
        episode = self._episode
        if episode is None or episode.end_reason is not None:
            return
        episode.end_reason = reason
        episode.reward = 0 if reason == "step_budget" else None
        episode.ended_at = time.time()
        episode.detail = detail

    # ------------------------------------------------------------------ exports

    def episode_record(
        self, *, expected: JsonValue | None = None, detail: str | None = None
    ) -> EpisodeRecord:
        """The current episode as an EpisodeRecord (client-side view, latencies as seen by the client).

        Raises:
            EpisodeOver: no episode was started.
        """
        return episode_record(self._started_episode(), self.task_id, expected=expected, detail=detail)

    def chat_messages(self, *, style: ChatStyle = "openai", system: str | None = None) -> list[ChatMessage]:
        """The current episode as chat messages: system, user (task), then assistant tool calls and tool results.

        ``style="openai"`` writes tool-call arguments as JSON strings (OpenAI API, verl);
        ``style="hf"`` as dicts (Hugging Face chat templates, TRL's SFT/GRPO trainers). Pair
        it with ``[t.to_openai() for t in env.agent_tools]`` as the ``tools`` of the template.

        Raises:
            EpisodeOver: no episode was started.
        """
        prompt = system if system is not None else self.system_prompt
        return chat_messages(self._started_episode(), system=prompt, style=style)

    def _started_episode(self) -> ClientEpisode:
        if self._episode is None:
            raise EpisodeOver("no episode started: call reset() first", task_id=self.task_id)
        return self._episode

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._closed:
            raise EnvClosed("the env is closed: connect a new one", task_id=self.task_id)

    async def _call(
        self, name: str, arguments: Mapping[str, JsonValue], *, meta: RequestParamsMeta | None = None
    ) -> CallToolResult:
        try:
            return await self._client.call_tool(name, dict(arguments), meta=meta)
        except RuntimeError as exc:
            if not any(words in str(exc) for words in _SCHEMA_VIOLATIONS):
                raise
            # The client rejects a result outside the tool's own output schema: a gym defect.
            raise ServerFailure(
                f"gym defect: {exc}".splitlines()[0]
                + " (the tool's output schema is narrower than its results)",
                task_id=self.task_id,
            ) from exc
        except Exception as exc:
            cause = transport_failure(exc)
            if cause is None:
                raise  # a bug, not the server's failure: let it surface
            raise ServerFailure(
                f"tool call {name} failed at the protocol level: {type(cause).__name__}: {cause}",
                task_id=self.task_id,
            ) from exc

    async def _task_statement(self) -> str:
        if not any(t.name == "task" for t in self.tools):
            return ""
        # The task tool is free to read, but some servers count it as a step: only used as a fallback.
        result = await self._call("task", {})
        return task_text(result) or result_text(result)


def _harness_meta(key: str | None) -> RequestParamsMeta | None:
    """The ``_meta`` of a request that only the harness may make (reset, and a listing that shows it)."""
    return None if not key else cast(RequestParamsMeta, {HARNESS_KEY_META: key})


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
