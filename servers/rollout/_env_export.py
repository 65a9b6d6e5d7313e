"""The env's client-side view of one episode (its steps as the client saw them) and its exports:
the :class:`~codegym_mcp.schemas.EpisodeRecord` and the chat messages trainers take."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from mcp_types import CallToolResult
from pydantic import JsonValue

from ...schemas import EndReason, EpisodeRecord, StepRecord
from ._env_types import ChatMessage, ChatStyle, Observation, ToolCall, opt_int

_END_REASONS: frozenset[str] = frozenset(get_args(EndReason))

__all__ = ["ClientEpisode", "ClientStep", "chat_messages", "episode_record", "update_end"]


@dataclass(slots=True)
class ClientStep:
    """One call of the episode as the client saw it."""

    call: ToolCall
    obs: Observation
    latency_ms: float
    infra: bool


@dataclass(slots=True)
class ClientEpisode:
    """One episode of the session as the client saw it (the server keeps its own, scored one)."""

    episode_id: str
    task_text: str
    instance_id: str | None
    step_budget: int | None
    started_at: float = field(default_factory=time.time)
    steps: list[ClientStep] = field(default_factory=list)
    reward: int | None = None
    end_reason: EndReason | None = None
    submission: JsonValue | None = None
    ended_at: float | None = None
    detail: str | None = None


def episode_record(
    episode: ClientEpisode,
    task_id: str | None,
    *,
    expected: JsonValue | None = None,
    detail: str | None = None,
) -> EpisodeRecord:
    """The episode as an EpisodeRecord (client-side view, latencies as seen by the client)."""
    steps = [
        StepRecord(
            index=i,
            tool=s.call.name,
            arguments=s.call.arguments,
            result=None
            if s.obs.is_error
            else (s.obs.structured if s.obs.structured is not None else s.obs.text),
            error=s.obs.text if s.obs.is_error else None,
            latency_ms=s.latency_ms,
        )
        for i, s in enumerate(episode.steps)
    ]
    infra = [(i, s) for i, s in enumerate(episode.steps) if s.infra]
    first_infra = (
        f"{len(infra)} infrastructure error(s), first at step {infra[0][0]} ({infra[0][1].call.name}): "
        f"{infra[0][1].obs.text[:300]}"
        if infra
        else None
    )
    notes = [n for n in (detail, episode.detail, first_infra) if n]
    return EpisodeRecord(
        episode_id=episode.episode_id,
        task_id=task_id or "",
        instance_id=episode.instance_id or "",
        started_at=episode.started_at,
        ended_at=episode.ended_at or time.time(),
        steps=steps,
        submission=episode.submission,
        expected=expected,
        reward=episode.reward,
        end_reason=episode.end_reason or "disconnected",
        detail="; ".join(notes) or None,
    )


def chat_messages(episode: ClientEpisode, *, system: str, style: ChatStyle = "openai") -> list[ChatMessage]:
    """The episode as chat messages: system, user (task), then assistant tool calls and tool results."""
    messages: list[ChatMessage] = [
        {"role": "system", "content": system},
        {"role": "user", "content": episode.task_text},
    ]
    for i, s in enumerate(episode.steps):
        call_id = s.call.call_id or f"call_{i}"
        arguments: str | dict[str, JsonValue] = (
            json.dumps(s.call.arguments, ensure_ascii=False) if style == "openai" else dict(s.call.arguments)
        )
        messages.append(
            {
                "role": "assistant",
                "content": None if style == "openai" else "",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": s.call.name, "arguments": arguments},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "name": s.call.name, "content": s.obs.text})
    return messages


def update_end(
    episode: ClientEpisode, action: ToolCall, result: CallToolResult, meta: Mapping[str, Any]
) -> EndReason | None:
    """Note how the call ended the episode, if it did (the server's ``_meta`` first); the end reason."""
    if action.name == "submit" and not result.is_error:
        episode.submission = action.arguments.get("answer")
    if "done" in meta:
        if meta.get("done"):
            reason = meta.get("end_reason")
            episode.end_reason = cast(EndReason, reason) if reason in _END_REASONS else "submitted"
            episode.reward = opt_int(meta.get("reward"))
    elif action.name == "submit" and not result.is_error:
        episode.end_reason = "submitted"
        structured = result.structured_content
        reward = structured.get("reward") if isinstance(structured, dict) else None
        episode.reward = opt_int(reward)
    elif episode.step_budget is not None and len(episode.steps) >= episode.step_budget:
        episode.end_reason, episode.reward = "step_budget", 0
    if episode.end_reason is not None:
        episode.ended_at = time.time()
    return episode.end_reason
