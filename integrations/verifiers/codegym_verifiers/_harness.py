"""The harness: the agent loop of one codegym episode, run in-process by verifiers' rollout.

verifiers' contract for a harness is the interception endpoint, not a process: "a harness may run
its loop in-process instead of launching a program, as long as every model call goes through
``endpoint`` + ``secret``" (``Harness.launch``). This one does: it opens the episode's MCP session
itself (``BASE/<task_id>/mcp?instance=K``), offers the gym's tools to the model as OpenAI function
tools through the interception endpoint (so every model call is on the trace), runs each tool
call as one step of the episode, and records the server's reward on the trace as ``codegym``.

- The episode ends on ``submit`` (reward 0/1 from the server), on the step budget (0), or when
  the model answers without a tool call (0: no answer submitted).
- An infrastructure failure (server unreachable, a sandbox failure the server flags ``infra``)
  raises :class:`verifiers.v1.ToolsetError`: verifiers records it as the rollout's error and no
  reward is recorded, so it is never scored as a 0. Drop errored traces from a batch.
- The session is closed when the loop ends, whatever the outcome.
"""

from __future__ import annotations

import json
from typing import Any, cast

import verifiers.v1 as vf
from openai import AsyncOpenAI
from pydantic import Field
from verifiers.v1.runtimes import ProgramResult, Runtime

from ._catalog import task_url
from ._episode import EpisodeSession, ServerFailure
from ._taskset import CodeGymData

__all__ = [
    "IDLE_REPLIES",
    "REWARD_NAME",
    "CodeGymHarness",
    "CodeGymHarnessConfig",
    "ModelReplyError",
    "play_loop",
]

REWARD_NAME = "codegym"
IDLE_REPLIES = 16
"""Replies in a row whose tool calls reach no tool (arguments that are not JSON) after which an
episode ends: such a reply costs no step, so the step budget alone would never end the loop."""


class CodeGymHarnessConfig(vf.HarnessConfig):  # type: ignore[misc]
    """The in-process codegym loop's knobs."""

    max_replies: int | None = Field(None, ge=1)
    """Model replies allowed per episode. None (the default): no cap of the adapter's own, so the
    gym's step budget (up to thousands of steps) ends the episode, as it does over MCP; only
    ``IDLE_REPLIES`` replies in a row that reach no tool (their calls are not JSON) end it early."""
    mcp_timeout: float = Field(300.0, gt=0)
    """Seconds to wait for any one answer of the catalog server."""


def _tool_message(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


class CodeGymHarness(vf.Harness[CodeGymHarnessConfig]):  # type: ignore[misc]
    """Plays one catalog instance: the gym's MCP tools, the server's reward (see the module doc)."""

    APPENDS_SYSTEM_PROMPT = True
    EXECUTES_CODE = False  # the tools run in the catalog server's sandboxes, not in this runtime
    NEEDS_CONTAINER = False

    async def launch(
        self,
        ctx: vf.ModelContext,
        trace: vf.Trace,
        runtime: Runtime,
        endpoint: str,
        secret: str,
        mcp_urls: dict[str, str],
        data: vf.TaskData,
        tool_interception_url: str | None = None,
    ) -> ProgramResult:
        """Run the episode to its end (see the module doc) and return a synthetic success.

        Raises:
            verifiers.v1.ToolsetError: the catalog server failed (an infrastructure failure).
        """
        row = CodeGymData.model_validate(data.model_dump())
        url = task_url(row.catalog_url, row.task_id, instance=row.instance)
        try:
            async with await EpisodeSession.open(url, read_timeout=self.config.mcp_timeout) as episode:
                trace.info["codegym_url"] = url
                end = await self._play(ctx, endpoint, secret, data, episode)
                trace.info["codegym_instance_id"] = episode.instance_id
                trace.info["codegym_end_reason"] = end
                trace.info["codegym_step_ms"] = episode.step_ms
                trace.record_metric("codegym_steps", episode.steps)
                last = episode.last
                if last is not None and last.infra:
                    raise vf.ToolsetError(
                        f"the catalog server reported an infrastructure failure at {url}: {last.text}"
                    )
                reward = last.reward if last is not None and last.done and last.reward is not None else 0.0
                trace.record_reward(REWARD_NAME, reward)
        except ServerFailure as exc:
            raise vf.ToolsetError(str(exc)) from exc
        return ProgramResult(exit_code=0, stdout="", stderr="")

    async def _play(
        self, ctx: vf.ModelContext, endpoint: str, secret: str, data: vf.TaskData, episode: EpisodeSession
    ) -> str:
        """The agent loop through verifiers' interception endpoint (see :func:`play_loop`)."""
        system, _ = self.resolve_prompt(data)
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        # The live session's statement is the prompt (the dataset row carries the same text).
        messages.append({"role": "user", "content": episode.instructions or data.prompt_text})
        async with AsyncOpenAI(base_url=endpoint, api_key=secret, max_retries=2) as model:
            return await play_loop(model, ctx.model, messages, episode, max_replies=self.config.max_replies)


async def play_loop(
    model: AsyncOpenAI,
    model_name: str,
    messages: list[dict[str, Any]],
    episode: EpisodeSession,
    *,
    max_replies: int | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """Play ``episode`` with ``model`` from ``messages`` on; returns how it ended: the server's end
    reason, or ``no_submit``, ``idle_replies``, ``max_replies`` (the adapter ended it, unscored by
    the server: reward 0). Each tool call of a reply is one step, in order.

    Raises:
        ModelReplyError: the endpoint's answer is not a chat completion.
        ServerFailure: the catalog server failed.
    """
    replies = idle = 0
    while max_replies is None or replies < max_replies:
        replies += 1
        # The request and its answer go as plain JSON through the client's public ``post`` (its
        # retries, auth, headers), as the env API's OpenAI policy does: with the typed
        # ``chat.completions.create``, which walks and rebuilds every message of the growing
        # conversation each turn, the tool calls that followed ran 1.5-2x slower (7.3-9.8 ms vs
        # 4.4-4.8 ms a call on HumanEval, the same with the garbage collector off).
        body = {"model": model_name, "messages": messages, "tools": episode.tools}
        options: Any = {"headers": headers} if headers else {}
        message = _reply_message(
            await model.post("/chat/completions", body=body, cast_to=object, options=options)
        )
        messages.append(message)
        calls = message.get("tool_calls") or []
        if not calls:
            return "no_submit"
        steps = episode.steps
        for call in calls:
            messages.append(_tool_message(str(call.get("id", "")), await _step(episode, call)))
            if episode.last is not None and episode.last.done:
                return episode.last.end_reason or "done"
        idle = idle + 1 if episode.steps == steps else 0
        if idle >= IDLE_REPLIES:
            return "idle_replies"
    return "max_replies"


class ModelReplyError(RuntimeError):
    """The model endpoint answered something that is not a chat completion."""


def _reply_message(data: object) -> dict[str, Any]:
    """The first choice's message of a chat completion (JSON), as the conversation keeps it."""
    try:
        message = cast(dict[str, Any], data)["choices"][0]["message"]
        if not isinstance(message, dict):
            raise TypeError(f"message is a {type(message).__name__}")
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelReplyError(
            f"the model endpoint's answer is not a chat completion ({type(exc).__name__}: {exc}): "
            f"{str(data)[:200]}; is the base URL an OpenAI-compatible /v1 endpoint?"
        ) from exc
    kept = {"role": "assistant", "content": message.get("content")}
    return {**kept, "tool_calls": message["tool_calls"]} if message.get("tool_calls") else kept


async def _step(episode: EpisodeSession, call: dict[str, Any]) -> str:
    function = call.get("function")
    if call.get("type", "function") != "function" or not isinstance(function, dict):
        return "only function tool calls are supported"
    name = str(function.get("name", ""))
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError as exc:
        return f"the arguments of {name} are not JSON ({exc}); send a JSON object"
    if not isinstance(arguments, dict):
        return f"the arguments of {name} must be a JSON object, got {type(arguments).__name__}"
    return (await episode.call(name, arguments)).text
