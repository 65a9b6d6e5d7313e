"""Recipes for trainers without an adapter here: verl's tool config and rows, TRL's chat data.

- verl (multi-turn rollouts with tools) reads a YAML ``tools_config_file``: a list of tools, each
  a ``class_name`` (the tool class verl instantiates), its ``config`` and an OpenAI function
  ``tool_schema``. :func:`verl_tool_config` writes that list from a gym's tools as the server
  lists them (``CodeGymEnv.agent_tools``), for :class:`~codegym_mcp.servers.trainers.verl_tool.CodeGymTool`
  by default, with every parameter in the shape verl's schema model accepts (each property has a
  ``type``: a union is written as a list of types); :func:`verl_catalog_config` writes one file for
  many gyms. :func:`verl_row` writes a dataset row whose ``extra_info.tools_kwargs`` name the
  episode's task and instance for every tool.
- TRL trains on chat data: :func:`trl_conversation` turns an episode's chat export
  (``CodeGymEnv.chat_messages(style="hf")``) into one ``{"messages", "tools"}`` row, the shape
  ``tokenizer.apply_chat_template(messages, tools=tools)`` renders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..rollout._env import ChatMessage, ToolInfo

__all__ = ["VERL_TOOL_CLASS", "trl_conversation", "verl_catalog_config", "verl_row", "verl_tool_config"]

VERL_TOOL_CLASS = "codegym_mcp.servers.trainers.verl_tool.CodeGymTool"
_JSON_TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]


def verl_tool_config(
    tools: Sequence[ToolInfo],
    *,
    catalog_url: str | None = None,
    class_name: str = VERL_TOOL_CLASS,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """verl's ``tools_config_file`` content for these tools (dump it as YAML or JSON).

    ``class_name`` is the verl tool class that forwards each call to the gym (default ours, which
    needs ``catalog_url``: the catalog server's base URL); ``config`` the class's settings
    (default ``{"type": "native", "catalog_url": catalog_url}``).

    Raises:
        ValueError: neither ``catalog_url`` nor ``config`` was given for the default tool class.
    """
    if config is None and catalog_url is None and class_name == VERL_TOOL_CLASS:
        raise ValueError("verl_tool_config: give catalog_url=URL (CodeGymTool plays at that catalog server)")
    settings = dict(config or {"type": "native", **({"catalog_url": catalog_url} if catalog_url else {})})
    return {
        "tools": [{"class_name": class_name, "config": settings, "tool_schema": _verl_tool(t)} for t in tools]
    }


def _verl_tool(tool: ToolInfo) -> dict[str, Any]:
    schema = tool.to_openai()
    parameters = dict(schema["function"]["parameters"])
    properties = parameters.get("properties") or {}
    parameters["properties"] = {name: _verl_property(p) for name, p in properties.items()}
    schema["function"] = {**schema["function"], "parameters": parameters}
    return schema


def _verl_property(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a ``type`` (verl's property model requires one): a union's branch types."""
    if "type" in schema:
        return schema
    kinds: list[str] = []
    for branch in schema.get("anyOf") or schema.get("oneOf") or [{}]:
        branch_type = branch.get("type") if isinstance(branch, dict) else None
        listed = [branch_type] if isinstance(branch_type, str) else branch_type or _JSON_TYPES
        kinds += [k for k in listed if k not in kinds]
    return {**schema, "type": kinds[0] if len(kinds) == 1 else kinds}


def verl_catalog_config(
    tools_by_task: Mapping[str, Sequence[ToolInfo]], *, catalog_url: str
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One verl tools config for many gyms, and the verl tool names of each gym.

    verl keys tools by name for a whole run, while gyms share names with other schemas (every gym
    has a ``submit`` of its own answer type). A tool identical in two gyms is listed once; a name
    taken by a different tool gets the first free ``_2``, ``_3``... suffix, and its config keeps
    the gym's own name (``tool``) for the call. Each row shows the model only its gym's tools
    (``verl_row(..., tool_names=names[task_id])`` sets verl's ``extra_info.tool_selection``).
    """
    entries: dict[str, dict[str, Any]] = {}
    by_schema: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    for task_id, tools in tools_by_task.items():
        names[task_id] = []
        for tool in tools:
            schema = _verl_tool(tool)
            key = json.dumps(schema, sort_keys=True)
            name = by_schema.get(key)
            if name is None:
                name = tool.name
                suffix = 2
                while name in entries:
                    name, suffix = f"{tool.name}_{suffix}", suffix + 1
                schema["function"]["name"] = name
                config = {"type": "native", "catalog_url": catalog_url, "tool": tool.name}
                entries[name] = {"class_name": VERL_TOOL_CLASS, "config": config, "tool_schema": schema}
                by_schema[key] = name
            names[task_id].append(name)
    return {"tools": list(entries.values())}, names


def verl_row(
    task_text: str,
    tools: Sequence[ToolInfo] | Sequence[str],
    *,
    task_id: str,
    instance: int,
    index: int = 0,
) -> dict[str, Any]:
    """One row of verl's RL dataset (parquet) for an episode of ``task_id`` on ``instance``.

    ``task_text`` is the task as the env's reset shows it (``obs.text``); ``tools`` the gym's tools
    (one gym per run) or their verl names from :func:`verl_catalog_config` (a catalog per run: the
    row then selects them). No expected answer goes into the row (``reward_model.ground_truth``
    is empty: the gym scores the episode).
    """
    names = [t if isinstance(t, str) else t.name for t in tools]
    create = {"create_kwargs": {"task_id": task_id, "instance": instance}}
    extra: dict[str, Any] = {"index": index, "task_id": task_id, "tools_kwargs": {n: create for n in names}}
    if any(isinstance(t, str) for t in tools):
        extra["tool_selection"] = names
    return {
        "data_source": "codegym",
        "agent_name": "tool_agent",
        "prompt": [{"role": "user", "content": task_text}],
        "reward_model": {"style": "codegym", "ground_truth": ""},
        "extra_info": extra,
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
