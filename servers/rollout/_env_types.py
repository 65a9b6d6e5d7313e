"""Types and errors of the env API (:mod:`._env`): actions, observations, infos, chat messages.

Exceptions::

    RuntimeError
     +-- EnvError             anything the env cannot do; carries the task id
          +-- EnvClosed        reset/step after close()
          +-- EpisodeOver      step after the episode ended: call reset()
          +-- ServerFailure    the server answered with a protocol error or the connection broke
                               (infrastructure, never a reward of 0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

import anyio
import httpx2
from mcp.client.stdio import StdioServerParameters
from mcp.server import Server
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import JsonValue

from ...runtime import EPISODE_META_KEY
from ...schemas import EndReason

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "EPISODE_META_KEY",
    "ChatFunction",
    "ChatMessage",
    "ChatStyle",
    "ChatToolCall",
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
    "describe_target",
    "episode_meta",
    "opt_int",
    "result_text",
    "task_text",
    "transport_failure",
]


DEFAULT_SYSTEM_PROMPT = (
    "You solve a programming task by calling tools. The task's input is hidden: call tools to "
    "observe it and to compute with it, then call `submit` with your final answer. Calling "
    "`submit` ends the episode; the answer is checked against the unit tests."
)

EnvTarget = str | StdioServerParameters | Server[Any] | MCPServer
"""What to connect to: a streamable HTTP URL, a stdio server command, or an in-process server."""

ChatStyle = Literal["openai", "hf"]
"""``openai``: tool-call arguments as a JSON string (OpenAI API, verl); ``hf``: as a dict
(Hugging Face chat templates, TRL)."""


class EnvError(RuntimeError):
    """The env could not do what was asked."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class EnvClosed(EnvError):
    """reset() or step() on an env whose connection is closed."""


class EpisodeOver(EnvError):
    """step() after the episode ended (terminated or truncated)."""


class ServerFailure(EnvError):
    """A protocol error, a timeout or a broken connection: infrastructure, not the agent's fault."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One action: call tool ``name`` with ``arguments``; ``call_id`` names it in chat exports."""

    name: str
    arguments: dict[str, JsonValue] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None

    def to_openai(self) -> dict[str, Any]:
        """The tool as an OpenAI function tool (also what TRL/verl chat templates take)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.input_schema},
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """What the agent sees after reset (the task) or after a tool call (its result)."""

    text: str
    structured: JsonValue | None = None
    is_error: bool = False
    tools: tuple[ToolInfo, ...] = field(default=(), repr=False)


class ResetInfo(TypedDict):
    task_id: str | None
    instance_id: str | None
    episode_id: str
    step_budget: int | None


class StepInfo(TypedDict):
    task_id: str | None
    instance_id: str | None
    episode_id: str
    step: int
    step_budget: int | None
    latency_ms: float
    tool_error: str | None
    infra: bool
    end_reason: EndReason | None


class ChatFunction(TypedDict):
    name: str
    arguments: str | dict[str, JsonValue]


class ChatToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: ChatFunction


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None
    tool_calls: NotRequired[list[ChatToolCall]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    MCPError,
    OSError,
    TimeoutError,
    httpx2.HTTPError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


def transport_failure(exc: BaseException) -> BaseException | None:
    """The protocol or connection error inside ``exc`` (task groups wrap them), else None (a bug)."""
    if isinstance(exc, _TRANSPORT_ERRORS):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [transport_failure(e) for e in exc.exceptions]
        if leaves and all(leaf is not None for leaf in leaves):
            return leaves[0]
    return None


def task_text(result: CallToolResult) -> str:
    """The task statement in a reset/task result's structured content, or ""."""
    structured = result.structured_content
    if isinstance(structured, dict):
        for key in ("task", "text", "statement"):
            value = structured.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def opt_int(value: object) -> int | None:
    """An int from metadata (bools and whole floats too), else None."""
    if isinstance(value, bool) or value is None:
        return int(value) if isinstance(value, bool) else None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def describe_target(target: EnvTarget) -> str:
    """A target as shown in error messages."""
    if isinstance(target, str):
        return target
    if isinstance(target, StdioServerParameters):
        return " ".join([target.command, *target.args])
    return f"in-process server {type(target).__name__}"


def result_text(result: CallToolResult) -> str:
    """The text an agent reads from a tool result (text blocks joined, else the structured JSON)."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return ""


def episode_meta(result: CallToolResult) -> Mapping[str, Any]:
    """The episode bookkeeping the server publishes in a result's ``_meta`` (empty when absent)."""
    meta = result.meta or {}
    value = meta.get(EPISODE_META_KEY)
    return value if isinstance(value, Mapping) else {}
