"""Recipes for trainers without an adapter here: verl's tool config file, TRL's chat data.

- verl (multi-turn rollouts with tools) reads a YAML ``tools_config_file``: a list of tools, each
  a ``class_name`` (the tool class verl instantiates), its ``config`` and an OpenAI function
  ``tool_schema``. :func:`verl_tool_config` writes that list from a gym's tools as the server
  lists them (``CodeGymEnv.agent_tools``).
- TRL trains on chat data: :func:`trl_conversation` turns an episode's chat export
  (``CodeGymEnv.chat_messages(style="hf")``) into one ``{"messages", "tools"}`` row, the shape
  ``tokenizer.apply_chat_template(messages, tools=tools)`` renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..rollout._env import ChatMessage, ToolInfo

__all__ = ["trl_conversation", "verl_tool_config"]


def verl_tool_config(
    tools: Sequence[ToolInfo], *, class_name: str, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """verl's ``tools_config_file`` content for these tools (dump it as YAML or JSON).

    ``class_name`` is the verl tool class that forwards each call to the gym (one MCP session
    per trajectory, see docs/trainers.md); ``config`` its settings (default ``{"type": "native"}``).
    """
    settings = dict(config or {"type": "native"})
    return {
        "tools": [
            {"class_name": class_name, "config": settings, "tool_schema": tool.to_openai()} for tool in tools
        ]
    }


def trl_conversation(messages: Sequence[ChatMessage], tools: Sequence[ToolInfo]) -> dict[str, Any]:
    """One conversational row for TRL (``messages`` + ``tools``) from a ``style="hf"`` chat export.

    Raises:
        ValueError: the export was written in the OpenAI style (arguments as JSON strings).
    """
    for message in messages:
        for call in message.get("tool_calls") or []:
            if not isinstance(call["function"]["arguments"], dict):
                raise ValueError(
                    "TRL's chat templates take tool-call arguments as dicts: export with "
                    "env.chat_messages(style='hf')"
                )
    return {"messages": [dict(m) for m in messages], "tools": [t.to_openai() for t in tools]}
