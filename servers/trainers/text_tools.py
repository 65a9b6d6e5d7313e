"""Tool calls written as text: the Hermes / Qwen ``<tool_call>`` format that text-in/text-out trainers use.

A model trained with a Hugging Face chat template that supports tools (Qwen2.5, Hermes, Llama 3.1
...) writes each call as ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``; the tool's
answer goes back wrapped in ``<tool_response>...</tool_response>``. SkyRL-gym's text envs get the
model's raw text (``step(action: str)``), so the adapter parses it here; verl and TRL recipes
use the same shape (docs/trainers.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from ..rollout._env import DEFAULT_SYSTEM_PROMPT, ToolCall, ToolInfo

__all__ = ["ParsedCalls", "parse_tool_calls", "tool_response", "tools_system_prompt"]

_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_UNCLOSED = re.compile(r"<tool_call>\s*(\{.*\})\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedCalls:
    """The calls found in a model's text, and what could not be read (one message per bad block)."""

    calls: tuple[ToolCall, ...]
    errors: tuple[str, ...]


def parse_tool_calls(text: str) -> ParsedCalls:
    """Every ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` of ``text``, in order.

    A final block left unclosed (generation stopped at the closing tag) is read too. ``arguments``
    may be a dict or a JSON string of one (OpenAI style); a block that is not such an object is
    reported in ``errors`` with what was expected.
    """
    blocks = _CALL.findall(text)
    tail = text[text.rfind("<tool_call>") :] if "<tool_call>" in text else ""
    if tail and "</tool_call>" not in tail:
        unclosed = _UNCLOSED.search(tail)
        if unclosed:
            blocks.append(unclosed.group(1))
    calls: list[ToolCall] = []
    errors: list[str] = []
    for block in blocks:
        call, error = _one_call(block)
        if call is not None:
            calls.append(call)
        if error is not None:
            errors.append(error)
    return ParsedCalls(tuple(calls), tuple(errors))


def _one_call(block: str) -> tuple[ToolCall | None, str | None]:
    expected = 'expected <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>'
    try:
        value = json.loads(block)
    except json.JSONDecodeError as exc:
        return None, f"tool call is not JSON ({exc.msg} at {exc.pos}): {block[:120]!r}; {expected}"
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None, f"tool call has no string name: {block[:120]!r}; {expected}"
    arguments = value.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None, f"the arguments of {value['name']} are a string that is not JSON; {expected}"
    if not isinstance(arguments, dict):
        return None, f"the arguments of {value['name']} must be an object, got {json.dumps(arguments)[:80]}"
    args: dict[str, JsonValue] = arguments
    return ToolCall(value["name"], args), None


def tool_response(text: str) -> str:
    """A tool's result as the next user turn reads it (Hermes / Qwen)."""
    return f"<tool_response>\n{text}\n</tool_response>"


def tools_system_prompt(tools: Sequence[ToolInfo], *, system: str = DEFAULT_SYSTEM_PROMPT) -> str:
    """A system prompt listing the tools as OpenAI function tools and the ``<tool_call>`` format.

    Use it when the chat template does not render ``tools`` itself.
    """
    listed = "\n".join(json.dumps(t.to_openai(), ensure_ascii=False) for t in tools)
    return (
        f"{system}\n\n# Tools\n\nThe functions you can call are described in JSON inside <tools></tools>:\n"
        f"<tools>\n{listed}\n</tools>\n\n"
        "Call a function by writing one JSON object with its name and arguments inside "
        '<tool_call></tool_call> tags:\n<tool_call>\n{"name": "<function-name>", "arguments": {...}}\n</tool_call>'
    )
