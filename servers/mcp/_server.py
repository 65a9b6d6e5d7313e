"""One gym as an MCP server: a low-level ``mcp.server.lowlevel.Server`` built from its manifest.

Every ToolSpec becomes an MCP tool with the manifest's exact input and output JSON Schemas; the
server adds ``task`` when the manifest has none. Results are structured content (with the same
JSON as text for clients that only read text) and carry the episode's bookkeeping in
``_meta["codegym/episode"]``. The task statement is the server's instructions.

Episode control belongs to the harness: ``reset`` (end the episode, start the next one) is not
listed in tools/list and a call to it is an unknown tool, unless the request's ``_meta`` carries
``"codegym/harness-key"`` equal to the server's harness key. The key is a secret of whoever
starts the server (``ServeOptions.harness_key``, ``serve --harness-key`` or
``$CODEGYM_HARNESS_KEY``; a random one otherwise, readable as ``GymServer.harness_key``); an
agent connected to the same server never sees it. ``ServeOptions(allow_reset=True)`` (``serve
--allow-reset``) lists ``reset`` and accepts it from anyone, for manual play.

A session (``runtime.Session``: its episodes, one scored attempt each) follows the MCP connection:

- stdio and in-process connections: one Session per connection, created by the
  server's lifespan (entered once per connection) and closed as ``disconnected`` when the
  client goes away;
- streamable HTTP: one per MCP session (the ``Mcp-Session-Id`` handshake), kept in the
  connection's state and closed with the session. A catalog server picks the first instance
  from the session URL's ``?instance=K`` or ``?seed=S``.

Error channels: what the agent can fix (bad arguments, a tool's exception, a call after the end)
is an ``isError`` result; a sandbox failure is also ``isError`` text, flagged ``infra`` in
``_meta`` and ending the episode as ``infra_error``; a request this server cannot serve at all
(a 2026 stateless HTTP request, which has no session to hold an episode) is a protocol error.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import JsonValue

from ...runtime import (
    EPISODE_META_KEY,
    BadReset,
    Gym,
    InstancePicker,
    Session,
    StepOutcome,
    ToolFailed,
    ToolOk,
    ToolRunner,
    episode_count,
    plain_schema,
    published_tools,
)
from ...schemas import EndReason, EpisodeRecord
from ._sessions import step_index

__all__ = [
    "EPISODE_META_KEY",
    "HARNESS_KEY_ENV",
    "HARNESS_KEY_META",
    "GymServer",
    "ServeOptions",
    "SessionSlot",
    "gym_instructions",
    "json_safe_schema",
]

_STATE_KEY = "codegym.episode"

HARNESS_KEY_META = "codegym/harness-key"
"""Key of the harness key in a ``reset`` request's ``_meta``."""
HARNESS_KEY_ENV = "CODEGYM_HARNESS_KEY"
"""Environment variable holding the harness key (read by ``serve`` and by ``CodeGymEnv``)."""

_RESET_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "instance": {"type": "integer", "minimum": 0, "description": "Index of the instance to play next"},
        "seed": {"type": "integer", "description": "Pick the next instance at random from this seed"},
    },
    "required": [],
    "additionalProperties": False,
}
_RESET_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string"},
        "instance": {"type": "integer"},
        "instance_id": {"type": "string"},
        "episode_id": {"type": "string"},
        "step_budget": {"type": "integer"},
    },
    "required": ["task", "instance", "instance_id", "episode_id", "step_budget"],
}
_RESET_TOOL = types.Tool(
    name="reset",
    description="End the current episode and start the next one (optionally on a chosen instance or seed).",
    input_schema=_RESET_INPUT,
    output_schema=_RESET_OUTPUT,
)
_TASK_SCHEMAS: tuple[dict[str, Any], dict[str, Any]] = (
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": "object", "properties": {"task": {"type": "string"}}, "required": ["task"]},
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ServeOptions:
    """How episodes start and end: first instance (index or seed), the step budget, who may reset.

    ``harness_key``: the secret a ``reset`` request must carry in ``_meta["codegym/harness-key"]``
    (None: a random key per server, see ``GymServer.harness_key``). ``allow_reset``: list
    ``reset`` as a tool and accept it without the key (manual play only: an agent could then
    abandon a losing episode unscored).
    """

    instance: int | None = None
    seed: int | None = None
    max_steps: int | None = None
    harness_key: str | None = field(default=None, repr=False)
    allow_reset: bool = False


class SessionSlot:
    """Holds the session of one connection (its episodes); created lazily at its first tool call."""

    def __init__(self) -> None:
        self.session: Session | None = None

    def close(self, reason: EndReason) -> None:
        """End the held session's running episode, if any, unscored with ``reason``."""
        if self.session is not None:
            self.session.close(reason)


def gym_instructions(gym: Gym, options: ServeOptions) -> str:
    """What a session of ``gym`` served with ``options`` is told first: the statement, then the rules."""
    manifest = gym.manifest
    budget = options.max_steps or manifest.step_budget
    reset = "; `reset` starts the next instance" if options.allow_reset else ""
    return (
        f"{manifest.task}\n\n"
        f"Episode rules: you have {budget} tool calls. `submit` ends the episode (reward 1 if the "
        f"answer is correct, else 0). `task` repeats this statement{reset}."
    )


class GymServer:
    """Builds and backs the MCP server of one gym.

    Args:
        gym: the loaded gym.
        runner: runs tool code (the shared sandbox ``WorkerPool``).
        options: first instance and step budget of every session.
        on_end: receives every ended episode's record (the ``--record`` writer).
        closing_reason: tells whether the server is shutting down (``shutdown``) or a client
            went away (``disconnected``) when a session closes with its episode running.
        on_session: receives (Mcp-Session-Id, session) when an HTTP session's first tool
            call creates its episodes (the session gate's idle reaping and drain use it).
    """

    def __init__(
        self,
        gym: Gym,
        runner: ToolRunner,
        *,
        options: ServeOptions | None = None,
        on_end: Callable[[EpisodeRecord], None] | None = None,
        closing_reason: Callable[[], EndReason] = lambda: "disconnected",
        on_session: Callable[[str, Session], None] | None = None,
    ) -> None:
        self.gym = gym
        self._on_session = on_session
        self.options = options or ServeOptions()
        self._runner = runner
        self._on_end = on_end
        self._closing_reason = closing_reason
        self.harness_key = self.options.harness_key or secrets.token_urlsafe(24)
        """The secret that lets a ``reset`` request through (give it to the harness only)."""
        self.tools = self._build_tools()
        self.server: Server[SessionSlot] = Server(
            f"codegym-{gym.task_id}",
            version="0.1.0",
            title=f"codegym: {gym.manifest.problem_id}",
            instructions=self.instructions(),
            lifespan=self._lifespan,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    def instructions(self) -> str:
        """The server instructions: the task statement, then the episode's rules in one paragraph."""
        return gym_instructions(self.gym, self.options)

    def _build_tools(self) -> list[types.Tool]:
        tools = [
            types.Tool(
                name=spec.name,
                description=spec.description,
                # Inputs are published as written (plus "required", see strict_input_schema): clients
                # that build arguments from the schema (the MCP Inspector, function-calling templates)
                # need a plain "number" there; the server still accepts "NaN"/"Infinity"/"-Infinity"
                # for it (coerce). Outputs are published in their plain form (plain_schema).
                input_schema=spec.input_schema,
                output_schema=json_safe_schema(plain_schema(spec.output_schema)),
            )
            # a batched gym's tools take `case` (submit a list of answers): see runtime/_batch.py
            for spec in published_tools(self.gym.manifest.tools, self.gym.manifest.batch_size)
        ]
        names = {t.name for t in tools}
        if not any(spec.kind == "task" for spec in self.gym.manifest.tools) and "task" not in names:
            tools.append(
                types.Tool(
                    name="task",
                    description="The task statement: what to compute and submit.",
                    input_schema=_TASK_SCHEMAS[0],
                    output_schema=_TASK_SCHEMAS[1],
                )
            )
        if self.options.allow_reset:
            tools.append(_RESET_TOOL)
        return [t.model_copy(update={"input_schema": strict_input_schema(t.input_schema)}) for t in tools]

    # ------------------------------------------------------------------ episodes

    @asynccontextmanager
    async def _lifespan(self, _: Server[SessionSlot]) -> AsyncIterator[SessionSlot]:
        slot = SessionSlot()
        try:
            yield slot
        finally:
            slot.close(self._closing_reason())

    def new_session(self, *, instance: int | None = None, seed: int | None = None) -> Session:
        """A fresh session (first instance from the arguments or options).

        Raises:
            BadReset: the instance index does not exist.
        """
        if instance is None and seed is None:
            instance, seed = self.options.instance, self.options.seed
        picker = InstancePicker(episode_count(self.gym), start=instance, seed=seed)
        return Session(
            self.gym,
            self._runner,
            picker=picker,
            max_steps=self.options.max_steps,
            on_end=self._on_end,
            reset_offered=self.options.allow_reset,
        )

    def _session_for(self, ctx: ServerRequestContext[SessionSlot, Any]) -> Session:
        if ctx.request is None:  # stdio or in-process: the lifespan is this connection's
            slot = ctx.lifespan_context
            if slot.session is None:
                slot.session = self.new_session()
            return slot.session
        # The per-connection object (state dict + exit stack closed with the session) has no
        # public accessor in mcp 2.3; it is what the SDK itself keeps per Mcp-Session-Id.
        connection = getattr(ctx.session, "_connection", None)
        state = getattr(connection, "state", None)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or not isinstance(state, dict):
            raise MCPError(
                code=types.INVALID_REQUEST,
                message=(
                    "this gym server plays its episodes in an MCP session, and a stateless "
                    f"{ctx.protocol_version} request has none: connect with the initialize handshake "
                    "(mcp.Client(url, mode='legacy'), or any 2025 client)"
                ),
            )
        session = state.get(_STATE_KEY)
        if not isinstance(session, Session):
            session = self._session_from_url(ctx.request)
            state[_STATE_KEY] = session
            exit_stack = getattr(connection, "exit_stack", None)
            if exit_stack is not None:
                # the connection's end waits for its handlers, so a call in flight is recorded first
                exit_stack.callback(lambda s=session: s.close(self._closing_reason()))
            session_id = ctx.request.headers.get("mcp-session-id")
            if self._on_session is not None and session_id:
                self._on_session(session_id, session)
        return session

    def _session_from_url(self, request: Any) -> Session:
        query = getattr(request, "query_params", {})
        try:
            instance = int(query["instance"]) if "instance" in query else None
            seed = int(query["seed"]) if "seed" in query else None
            return self.new_session(instance=instance, seed=seed)
        except (ValueError, BadReset) as exc:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"bad ?instance= or ?seed= in the session URL: {exc}",
            ) from exc

    # ------------------------------------------------------------------ handlers

    async def _list_tools(
        self, ctx: ServerRequestContext[SessionSlot, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if not self.options.allow_reset and self._from_harness(params.meta if params else None):
            # The harness sees reset too, so that its client can check reset's results.
            return types.ListToolsResult(tools=[*self.tools, _RESET_TOOL])
        return types.ListToolsResult(tools=self.tools)

    async def _call_tool(
        self, ctx: ServerRequestContext[SessionSlot, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        session = self._session_for(ctx)
        arguments: dict[str, JsonValue] = dict(params.arguments or {})
        if params.name == "reset" and (self.options.allow_reset or self._from_harness(params.meta)):
            return await self._reset(session, arguments)
        if params.name == "task" and "task" not in {t.name for t in self.gym.manifest.tools}:
            return _result(ToolOk(session.task_result()), session)
        index = step_index(params.meta)
        if isinstance(index, str):  # a harness bug, not the agent's step: costs nothing
            return _result(ToolFailed(index), session)
        outcome = await session.step(params.name, arguments, index=index)
        return _result(outcome, session)

    def _from_harness(self, meta: Mapping[str, Any] | None) -> bool:
        """Whether a request carries the harness key in its ``_meta``.

        Without it a ``reset`` call goes on as an unknown tool (an agent's step like any other).
        """
        given = (meta or {}).get(HARNESS_KEY_META)
        return isinstance(given, str) and hmac.compare_digest(
            given.encode("utf-8"), self.harness_key.encode("utf-8")
        )

    async def _reset(self, session: Session, arguments: dict[str, JsonValue]) -> types.CallToolResult:
        values: dict[str, int | None] = {"instance": None, "seed": None}
        for key, value in arguments.items():
            if key not in values:
                return _result(ToolFailed(f"unexpected argument {key}: reset takes instance, seed"), session)
            if isinstance(value, bool) or not isinstance(value, int):
                return _result(
                    ToolFailed(f"invalid argument {key}: expected int, got {json.dumps(value)}"), session
                )
            values[key] = value
        try:
            async with session.lock:  # never between a call in flight and its record
                status = session.reset(instance=values["instance"], seed=values["seed"])
        except BadReset as exc:
            return _result(ToolFailed(str(exc)), session)
        structured: dict[str, JsonValue] = {
            "task": self.gym.manifest.task,
            "instance": status.instance,
            "instance_id": status.instance_id,
            "episode_id": status.episode_id,
            "step_budget": status.step_budget,
        }
        return _result(ToolOk(structured), session)


_NON_FINITE: dict[str, Any] = {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")


def strict_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema as published: an object schema always says which arguments are
    ``required`` (``[]`` for a tool without arguments, such as ``observe`` and ``task``), which
    strict clients (pydantic-ai) need to call it. Everything else is kept as written."""
    if schema.get("type") == "object" and "required" not in schema:
        return {**schema, "required": []}
    return schema


def json_safe_schema(schema: Any) -> Any:
    """A tool's output schema as published: every ``number`` also admits "NaN"/"Infinity"/"-Infinity".

    Those strings are how non-finite floats look in plain JSON (``to_plain``, and what
    ``coerce`` accepts back), so a tool returning ``float("inf")`` must not fail a client's
    output-schema validation. Everything else is kept exactly; applying it twice changes nothing.
    """
    if not isinstance(schema, dict):
        return schema
    if _NON_FINITE in schema.get("anyOf", ()):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [json_safe_schema(v) for v in value]
        elif key in _SCHEMA_VALUES:
            out[key] = json_safe_schema(value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: json_safe_schema(v) for name, v in value.items()}
        else:
            out[key] = value
    if out.get("type") == "number":
        return {"anyOf": [out, _NON_FINITE]}
    return out


def _result(outcome: StepOutcome, session: Session) -> types.CallToolResult:
    meta: dict[str, Any] = {EPISODE_META_KEY: session.status().as_meta()}
    if isinstance(outcome, ToolOk):
        content: list[types.ContentBlock] = [
            types.TextContent(type="text", text=json.dumps(outcome.structured, ensure_ascii=False))
        ]
        if outcome.notice:
            content.append(types.TextContent(type="text", text=outcome.notice))
        return types.CallToolResult(content=content, structured_content=outcome.structured, _meta=meta)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=outcome.message)], is_error=True, _meta=meta
    )
