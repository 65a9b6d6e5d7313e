"""Policies that play gyms through the env: oracle (replay), random (baseline), openai (an LLM agent).

A :class:`Policy` makes one :class:`Agent` per episode; the rollout loop feeds the agent
each observation and sends the :class:`~codegym_mcp.servers.ToolCall` it returns (``None``
= the agent gives up). Every call goes through the MCP server, so the oracle scoring 1 on
every verified gym is the end-to-end check of the whole system.

Exceptions::

    RuntimeError
     +-- PolicyError           the policy cannot act (not the gym's fault: no score)
          +-- PolicyUnavailable  an optional dependency is missing (names the install command)
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from ...runtime import Catalog, CatalogError, Gym, canonical_json
from ...schemas import Instance, TraceCall
from ._env import Observation, ToolCall, ToolInfo
from ._policy_types import Agent, EpisodeContext, Policy, PolicyError, PolicyName, PolicyUnavailable

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = [
    "Agent",
    "EpisodeContext",
    "OpenAIPolicy",
    "OraclePolicy",
    "Policy",
    "PolicyError",
    "PolicyName",
    "PolicyUnavailable",
    "RandomPolicy",
    "random_value",
]

# --------------------------------------------------------------------------- oracle


def _find_instance(gym: Gym, ctx: EpisodeContext) -> Instance | None:
    if ctx.instance_id is not None:
        for inst in gym.instances:
            if inst.instance_id == ctx.instance_id:
                return inst
    if ctx.instance_index is not None and 0 <= ctx.instance_index < len(gym.instances):
        return gym.instances[ctx.instance_index]
    return None


@dataclass
class OracleAgent:
    """Replays an instance's ``oracle_trace``.

    The instance is the one the harness knows (``EpisodeContext.instance_id``, from the episode
    status the server publishes, or the index the rollout asked for). When not told, the agent
    narrows the gym's instances down by what it observes: under partial observation ``observe``
    shows only sizes and scalars, so several instances may share it; the oracle is deterministic,
    so their traces agree call for call until a result tells them apart, and the agent replays
    the common calls meanwhile.
    """

    gym: Gym
    instance: Instance | None
    position: int = 0
    divergences: int = 0
    _last: TraceCall | None = None
    _candidates: list[Instance] | None = None

    async def act(self, obs: Observation) -> ToolCall | None:
        """The trace's next call.

        Raises:
            PolicyError: the observed results match no instance of the gym, or two instances
                that look alike so far would call different tools next.
        """
        if (
            self._last is not None
            and obs.structured is not None
            and not obs.is_error
            and canonical_json(obs.structured) != canonical_json(self._last.result)
        ):
            self.divergences += 1
        step = self._narrow(obs) if self.instance is None else None
        if self.instance is not None:
            trace = self.instance.oracle_trace
            if self.position >= len(trace):
                return None
            step = trace[self.position]
        assert step is not None
        self._last = step
        self.position += 1
        return ToolCall(step.tool, dict(step.arguments), call_id=f"oracle_{self.position - 1}")

    def _narrow(self, obs: Observation) -> TraceCall | None:
        """The next call common to every instance still consistent with the results seen (None
        once one instance is left: it is then ``self.instance``)."""
        if self._candidates is None:
            self._candidates = [inst for inst in self.gym.instances if inst.oracle_trace]
        else:
            seen = canonical_json(obs.structured) if obs.structured is not None else None
            at = self.position - 1
            self._candidates = [
                inst for inst in self._candidates if canonical_json(inst.oracle_trace[at].result) == seen
            ]
        if not self._candidates:
            raise PolicyError(
                f"oracle: the observed results of {self.gym.task_id} match none of its "
                f"{len(self.gym.instances)} instances (last seen {obs.text[:80]!r}); is the catalog the server's?"
            )
        if len(self._candidates) == 1:
            self.instance = self._candidates[0]
            return None
        nexts = {
            canonical_json(inst.oracle_trace[self.position].model_dump(include={"tool", "arguments"}))
            for inst in self._candidates
            if self.position < len(inst.oracle_trace)
        }
        if len(nexts) != 1 or any(self.position >= len(i.oracle_trace) for i in self._candidates):
            raise PolicyError(
                f"oracle: {len(self._candidates)} instances of {self.gym.task_id} look alike so far but call "
                "different tools next; pass the episode's instance id (EpisodeContext.instance_id)"
            )
        return self._candidates[0].oracle_trace[self.position]


@dataclass(frozen=True)
class OraclePolicy:
    """Replays the oracle plan recorded in ``catalog`` for the episode's instance: must score 1.

    The one policy that reads answers: it is handed the catalog the server serves; the episode
    context it gets is an agent's (:class:`EpisodeContext`).
    """

    catalog: Catalog
    name: str = "oracle"

    def agent(self, ctx: EpisodeContext) -> Agent:
        """An agent replaying the catalog's recorded trace for the episode's instance.

        Raises:
            PolicyError: the catalog has no (readable) gym ``ctx.task_id``.
        """
        try:
            gym = self.catalog.load(ctx.task_id)
        except CatalogError as exc:
            raise PolicyError(
                f"oracle: no gym {ctx.task_id} in the catalog {self.catalog.path} ({exc}); "
                "pass the catalog the server serves"
            ) from exc
        if gym.manifest.batch_size > 1:
            from ._batch_oracle import BatchOracleAgent

            return BatchOracleAgent.for_episode(gym, ctx)
        return OracleAgent(gym=gym, instance=_find_instance(gym, ctx))


# --------------------------------------------------------------------------- random


_ALPHABET = string.ascii_lowercase + string.digits


def random_value(schema: dict[str, Any], rng: random.Random, *, depth: int = 0) -> JsonValue:
    """A random plain JSON value that fits ``schema`` (a JSON Schema / type schema subset)."""
    if "const" in schema:
        return schema["const"]  # type: ignore[no-any-return]
    if "enum" in schema:
        return rng.choice(schema["enum"])  # type: ignore[no-any-return]
    if "anyOf" in schema or "oneOf" in schema:
        return random_value(rng.choice(schema.get("anyOf") or schema["oneOf"]), rng, depth=depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind is None:
        kind = rng.choice(["integer", "string", "boolean", "null"] if depth < 3 else ["integer"])
    if kind == "integer":
        lo, hi = int(schema.get("minimum", -10)), int(schema.get("maximum", 10))
        return rng.randint(lo, max(lo, hi))
    if kind == "number":
        return round(rng.uniform(-10.0, 10.0), 3)
    if kind == "string":
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 6)))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "array":
        if "prefixItems" in schema:
            return [random_value(s, rng, depth=depth + 1) for s in schema["prefixItems"]]
        low = int(schema.get("minItems", 0))
        high = max(low, 4 if depth < 2 else 1)
        if "maxItems" in schema:  # a batch's answer list has exactly K items
            high = max(low, min(high, int(schema["maxItems"])))
        size = rng.randint(low, high)
        items = [random_value(schema.get("items", {}), rng, depth=depth + 1) for _ in range(size)]
        if schema.get("uniqueItems") or schema.get("x-python") == "set":
            unique: dict[str, JsonValue] = {canonical_json(v): v for v in items}
            items = list(unique.values())
        return items
    if kind == "object":
        return _random_object(schema, rng, depth=depth)
    return None


def _random_object(schema: dict[str, Any], rng: random.Random, *, depth: int) -> JsonValue:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    out: dict[str, JsonValue] = {
        name: random_value(sub, rng, depth=depth + 1)
        for name, sub in props.items()
        if name in required or rng.random() < 0.5
    }
    extra = schema.get("additionalProperties", {} if not props else False)
    if isinstance(extra, dict) and depth < 3:
        key_schema = schema.get("x-python-keys", {"type": "string"})
        for _ in range(rng.randint(0, 3)):
            key = random_value(key_schema, rng, depth=depth + 1)
            out[key if isinstance(key, str) else json.dumps(key)] = random_value(extra, rng, depth=depth + 1)
    return out


@dataclass
class RandomAgent:
    """A few random valid calls of the problem tools, then a random guess of the answer's type."""

    tools: Sequence[ToolInfo]
    rng: random.Random
    explore: int
    done: bool = False

    async def act(self, obs: Observation) -> ToolCall | None:
        """A random tool call (valid against its input schema), and finally submit."""
        if self.done:
            return None
        helpers = [t for t in self.tools if t.name not in ("submit", "task", "reset")]
        if self.explore > 0 and helpers:
            self.explore -= 1
            tool = self.rng.choice(helpers)
            return ToolCall(tool.name, _arguments(tool.input_schema, self.rng))
        self.done = True
        submit = next((t for t in self.tools if t.name == "submit"), None)
        if submit is None:
            return None
        return ToolCall("submit", _arguments(submit.input_schema, self.rng))


def _arguments(schema: dict[str, Any], rng: random.Random) -> dict[str, JsonValue]:
    value = random_value({**schema, "type": "object"}, rng)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class RandomPolicy:
    """Valid random tool calls, then a random guess: the baseline that should score near 0."""

    max_explore: int = 3
    name: str = "random"

    def agent(self, ctx: EpisodeContext) -> Agent:
        """A random agent seeded by the episode's seed (reproducible)."""
        rng = random.Random(ctx.seed)
        cap = (
            self.max_explore
            if ctx.step_budget is None
            else max(0, min(self.max_explore, ctx.step_budget - 1))
        )
        return RandomAgent(tools=ctx.tools, rng=rng, explore=rng.randint(0, cap))


# --------------------------------------------------------------------------- openai


@dataclass
class OpenAIAgent:
    """A function-calling chat loop: every gym tool is a function tool; one API call per turn."""

    policy: OpenAIPolicy
    client: AsyncOpenAI
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    episode_tag: str = ""
    turns: int = 0
    pending: list[ToolCall] = field(default_factory=list)
    awaiting: str | None = None  # id of the call whose result the model has not seen yet
    prompt_tokens: int = 0
    completion_tokens: int = 0

    async def act(self, obs: Observation) -> ToolCall | None:
        """Feed the last tool result back and return the model's next tool call.

        Raises:
            PolicyError: the endpoint failed or answered something unusable.
        """
        if self.awaiting is not None:
            self.messages.append({"role": "tool", "tool_call_id": self.awaiting, "content": obs.text})
            self.awaiting = None
        while not self.pending:
            if self.turns >= self.policy.max_turns:
                return None
            self.turns += 1
            await self._turn()
        call = self.pending.pop(0)
        self.awaiting = call.call_id
        return call

    async def _turn(self) -> None:
        import openai

        # The body goes as built through the client's public ``post`` (its retries, auth and
        # headers): the JSON ``chat.completions.create`` sends, without the SDK's per-call walk of
        # every message's typed dict (its cost grows with the conversation: one-call-per-reply
        # episodes went quadratic); the answer is read as plain JSON, not built into models.
        body = {
            "model": self.policy.model,
            "messages": self.messages,
            "tools": self.tools,
            "temperature": self.policy.temperature,
        }
        try:
            data = await self.client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                options={"headers": {EPISODE_HEADER: self.episode_tag}} if self.episode_tag else {},
            )
        except openai.OpenAIError as exc:
            raise PolicyError(f"openai: the endpoint failed: {type(exc).__name__}: {exc}") from exc
        content, calls, (prompt, completion) = _read_reply(data)
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.messages.append(
            {"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})}
        )
        if not calls:
            self.messages.append({"role": "user", "content": _NUDGE})
            return
        offered = {t["function"]["name"] for t in self.tools}
        for call in calls:
            name, raw = call["function"]["name"], call["function"]["arguments"]
            if name not in offered:
                error = f"error: no tool {name!r}; the tools are {', '.join(sorted(offered))}"
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": error})
                continue
            try:
                arguments = json.loads(raw or "{}")
            except (TypeError, ValueError):
                arguments = None
            if not isinstance(arguments, dict):
                # Answer the call ourselves: the model learns its arguments were not a JSON object.
                error = f"error: arguments must be a JSON object, got {str(raw)[:80]!r}"
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": error})
                continue
            self.pending.append(ToolCall(name, arguments, call_id=call["id"]))


def _read_reply(data: Any) -> tuple[str | None, list[dict[str, Any]], tuple[int, int]]:
    """A chat completion's JSON: the first choice's text, its function calls (as the conversation
    keeps them) and the token usage.

    Raises:
        PolicyError: the answer has no choice, or is not shaped as a chat completion.
    """
    try:
        if not data["choices"]:
            raise PolicyError("openai: the endpoint answered with no choices")
        message = data["choices"][0]["message"]
        calls = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["function"]["name"], "arguments": c["function"].get("arguments")},
            }
            for c in message.get("tool_calls") or []
            if c.get("type", "function") == "function"
        ]
        usage = data.get("usage") or {}
        return (
            message.get("content"),
            calls,
            (usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise PolicyError(
            f"openai: the endpoint's answer is not a chat completion ({type(exc).__name__}: {exc}): {str(data)[:200]}; "
            "is the base URL an OpenAI-compatible /v1 endpoint?"
        ) from exc


EPISODE_HEADER = "X-Codegym-Episode"
"""Request header naming the episode a model request belongs to (for endpoint logs, proxies, scripted
test servers): ``task=<task_id>; instance=<index>; seed=<seed>``. It names no input and no answer."""

_NUDGE = "Continue by calling a tool. When you know the answer, call `submit` with it."


@dataclass
class OpenAIPolicy:
    """An LLM agent over any OpenAI-compatible endpoint, with a turn budget (API calls per episode).

    The openai client retries HTTP 429, 5xx, timeouts and connection errors ``max_retries`` times
    (exponential backoff, ``Retry-After`` honoured); ``requests`` counts every HTTP request sent,
    retries included. Each request carries the :data:`EPISODE_HEADER` of its episode.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    max_turns: int = 20
    temperature: float = 0.0
    system_prompt: str | None = None
    timeout: float = 120.0
    name: str = "openai"
    max_retries: int = 1
    requests: int = field(default=0, init=False)
    _client: AsyncOpenAI | None = field(default=None, init=False, repr=False)

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            try:
                from openai import AsyncOpenAI
            except ImportError as exc:  # pragma: no cover - openai is a dev dependency
                raise PolicyUnavailable(
                    "the openai policy needs the openai package: pip install 'codegym-mcp[llm]'"
                ) from exc
            import os

            from openai import DefaultAsyncHttpxClient

            key = self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
            self._client = AsyncOpenAI(
                base_url=self.base_url,
                api_key=key,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=DefaultAsyncHttpxClient(event_hooks={"request": [self._count_request]}),
            )
        return self._client

    async def _count_request(self, request: object) -> None:
        """httpx event hook: every HTTP request the client sends, its own retries included."""
        self.requests += 1

    def agent(self, ctx: EpisodeContext) -> Agent:
        """A chat agent seeing the task and the gym's tools (``reset`` excluded).

        Raises:
            PolicyUnavailable: the openai package is not installed.
        """
        from ._env import DEFAULT_SYSTEM_PROMPT

        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.system_prompt or DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": ctx.task_text},
        ]
        tools = [t.to_openai() for t in ctx.tools if t.name != "reset"]
        tag = f"task={ctx.task_id}; instance={ctx.instance_index}; seed={ctx.seed}"
        return OpenAIAgent(
            policy=self, client=self._get_client(), messages=messages, tools=tools, episode_tag=tag
        )

    async def aclose(self) -> None:
        """Close the HTTP client shared by this policy's agents."""
        if self._client is not None:
            await self._client.close()
            self._client = None
