"""Sessions and their episodes, independent of MCP: reset, step(tool, arguments), scoring, records.

A *session* (one MCP connection) holds *episodes*, one scored attempt each. A :class:`Session`
is the state of one session with a gym: its current episode (the instance, the steps taken, the
state value of stateful tools, how and whether it ended) and how the next one starts.
``reset`` starts the next episode; the server maps MCP tool calls onto :meth:`Session.step`.

Two outcomes per step, never an exception for the agent's mistakes:

- :class:`ToolOk`: the structured result (what the tool's output schema describes);
- :class:`ToolFailed`: an error the agent sees as ``isError`` text. A failure caused by the
  call (bad arguments, the tool's code raised, the call hit the per-call time, memory or
  output limit, a result outside the tool's output schema or one that cannot be shown) costs
  a step and has no effect: the episode goes on, its state unchanged. ``infra=True`` marks a
  fault of the infrastructure itself (nsjail cannot start a worker, a worker broke its
  protocol, a gym whose hidden input is missing): the episode then ends as ``infra_error``,
  reward None, never a score of 0.

Counting: every call of a manifest tool costs a step (bad arguments and unknown tools too),
except ``task``, which only repeats the statement. When the step budget is used up without
a submission the episode ends with reward 0 (``step_budget``). Calls after the end cost
nothing and say the episode is over. Who starts the next episode is the server's business
(``reset_offered``: whether the agent has a ``reset`` tool); the messages say it either way.

Exceptions::

    ValueError
     +-- BadReset        reset() asked for an instance that does not exist
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from pydantic import JsonValue

from ..schemas import EndReason, EpisodeRecord, Instance, StepRecord, ToolSpec
from ._batch import Batch, episode_count, episode_instances
from ._catalog import Gym
from ._errors import CallFailed, SandboxError
from ._step_types import (
    EPISODE_META_KEY,
    BadReset,
    EpisodeStatus,
    InstancePicker,
    StepOutcome,
    ToolFailed,
    ToolOk,
    ToolRunner,
)
from .jail import tool_rules as rules
from .jail.observation import ReadError, collection_kind, observe_values, read_window
from .jail.values import UnsupportedValue, decode, encode

__all__ = [
    "EPISODE_META_KEY",
    "BadReset",
    "EpisodeStatus",
    "InstancePicker",
    "Session",
    "StepOutcome",
    "ToolFailed",
    "ToolOk",
    "ToolRunner",
]

_UNSCORED: frozenset[EndReason] = frozenset({"reset", "disconnected", "shutdown", "idle_timeout"})


class Session:
    """One session's episodes with a gym: the current one and how to start the next.

    Args:
        gym: the loaded gym.
        runner: runs the gym's tool functions (a sandbox ``WorkerPool``).
        picker: chooses the instance of each episode (default: 0, 1, 2, ...).
        max_steps: step budget; default the manifest's ``step_budget``.
        on_end: called with the record of every episode that ends (``--record``); episodes that
            end by reset, disconnection or shutdown before any step are not reported.
        reset_offered: whether the agent itself has a ``reset`` tool (manual play); the
            messages after an episode's end say how the next one starts accordingly.

    Raises:
        ValueError: ``max_steps`` is below 1.
    """

    def __init__(
        self,
        gym: Gym,
        runner: ToolRunner,
        *,
        picker: InstancePicker | None = None,
        max_steps: int | None = None,
        on_end: Callable[[EpisodeRecord], None] | None = None,
        reset_offered: bool = False,
    ) -> None:
        if max_steps is not None and max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.gym = gym
        self.budget = max_steps if max_steps is not None else gym.manifest.step_budget
        self._runner = runner
        self._picker = picker or InstancePicker(episode_count(gym))
        self._on_end = on_end
        self.reset_offered = reset_offered
        self._tools: dict[str, ToolSpec] = {t.name: t for t in gym.manifest.tools}
        self._specs: dict[str, dict[str, Any]] = {t.name: t.model_dump() for t in gym.manifest.tools}
        self.lock = anyio.Lock()
        """Held by :meth:`step`; hold it around :meth:`reset` when calls may be in flight."""
        self._start(self._picker.next())

    # ------------------------------------------------------------------ state

    def _start(self, index: int) -> None:
        self.index = index
        # a batched gym (batch_size K > 1) plays K instances per episode: see _batch.py
        cases = episode_instances(self.gym, index)
        self.batch: Batch | None = Batch(cases) if len(cases) > 1 else None
        self.instance: Instance = cases[0]
        self.episode_id = uuid.uuid4().hex[:16]
        self.started_at = time.time()
        self.steps: list[StepRecord] = []
        self.state: Any = None  # wire form of the stateful tools' value
        self.submission: JsonValue | None = None
        self.reward: int | None = None
        self.end_reason: EndReason | None = None
        self.detail: str | None = None
        self.infra = False
        self._scored: int | None = None
        self.record: EpisodeRecord | None = None
        self._outcomes: list[StepOutcome] = []  # what each recorded step returned (for retries)

    @property
    def done(self) -> bool:
        """Whether the current episode has ended."""
        return self.end_reason is not None

    def status(self) -> EpisodeStatus:
        """Where the current episode stands (published with every result)."""
        return EpisodeStatus(
            task_id=self.gym.task_id,
            episode_id=self.episode_id,
            instance=self.index,
            instance_id=self.batch.instance_id if self.batch else self.instance.instance_id,
            step=len(self.steps),
            step_budget=self.budget,
            done=self.done,
            end_reason=self.end_reason,
            reward=self.reward,
            infra=self.infra,
        )

    def reset(self, *, instance: int | None = None, seed: int | None = None) -> EpisodeStatus:
        """End the current episode (as ``reset`` if it was still running) and start the next.

        Raises:
            BadReset: ``instance`` is not an index of this gym's instances.
        """
        n = episode_count(self.gym)
        if instance is not None and not 0 <= instance < n:
            raise BadReset(f"instance {instance} does not exist: this gym has instances 0..{n - 1}")
        self.close("reset")
        if instance is not None:
            index = instance
        elif seed is not None:
            index = self._picker.for_seed(seed)
        else:
            index = self._picker.next()
        self._start(index)
        return self.status()

    def close(self, reason: EndReason, detail: str | None = None) -> EpisodeRecord | None:
        """End the current episode unscored (reset, disconnected, shutdown, idle_timeout) if still running."""
        if self.done:
            return self.record
        quiet = not self.steps and reason in _UNSCORED
        return self._end(reason, None, detail, report=not quiet)

    async def aclose(self, reason: EndReason, *, wait: float = 4.0) -> EpisodeRecord | None:
        """:meth:`close` once a call in flight is recorded (waiting for it at most ``wait`` seconds)."""
        with anyio.move_on_after(wait):
            async with self.lock:
                return self.close(reason)
        return self.close(reason)

    def _end(
        self, reason: EndReason, reward: int | None, detail: str | None, *, report: bool = True
    ) -> EpisodeRecord:
        self.end_reason, self.reward, self.detail = reason, reward, detail
        self.record = EpisodeRecord(
            episode_id=self.episode_id,
            task_id=self.gym.task_id,
            instance_id=self.batch.instance_id if self.batch else self.instance.instance_id,
            started_at=self.started_at,
            ended_at=time.time(),
            steps=list(self.steps),
            submission=self.submission,
            expected=self.batch.expected if self.batch else self.instance.expected,
            reward=reward,
            end_reason=reason,
            detail=detail,
        )
        if report and self._on_end is not None:
            self._on_end(self.record)
        return self.record

    # ------------------------------------------------------------------ steps

    def task_result(self) -> dict[str, JsonValue]:
        """What the ``task`` tool returns: the statement."""
        return {"task": self.gym.manifest.task}

    async def step(
        self, tool: str, arguments: Mapping[str, JsonValue], *, index: int | None = None
    ) -> StepOutcome:
        """Call one tool of the gym in this episode.

        ``index`` (the harness's ``_meta["codegym/step"]``) makes the call idempotent: the next
        step's index runs it; the index of a step already taken with the same tool and arguments
        returns that step's outcome again, without running anything or costing a step; any other
        index is a tool error naming the expected one (and costs nothing). A call whose caller is
        cancelled still runs to its end, costs its step and is recorded.

        Never raises for what the agent sent: bad arguments, unknown tools, errors raised by the
        tool's code and sandbox failures all come back as :class:`ToolFailed`.
        """
        async with self.lock:
            spec = self._tools.get(tool)
            if spec is not None and spec.kind == "task":
                return ToolOk(self.task_result())
            if index is not None and index != len(self.steps):
                return self._replay(index, tool, arguments)
            outcome = await self._step(spec, tool, arguments)
            if len(self._outcomes) < len(self.steps):
                self._outcomes.append(outcome)
            return outcome

    def _replay(self, index: int, tool: str, arguments: Mapping[str, JsonValue]) -> StepOutcome:
        """The outcome of step ``index`` for a retried call, or the tool error saying why not."""
        expected = len(self.steps)
        if 0 <= index < expected:
            taken = self.steps[index]
            if taken.tool == tool and taken.arguments == dict(arguments):
                return self._outcomes[index]
            return ToolFailed(
                f"step {index} of this episode was a call of {taken.tool} with other arguments: a retry must "
                f"repeat that call exactly; the next call of this episode is step {expected}"
            )
        return ToolFailed(
            f"step index {index} (_meta codegym/step) is not the next step of this episode: send {expected} "
            f"for a new call, or the index of an earlier step to retry it"
        )

    async def _step(
        self, spec: ToolSpec | None, tool: str, arguments: Mapping[str, JsonValue]
    ) -> StepOutcome:
        """One counted call (under the lock): run it, record it, end the episode when it must."""
        if self.done:
            return ToolFailed(self._over_message())
        started = time.perf_counter()
        # Shielded: a call the client gives up on still costs its step, keeps the tool's state
        # consistent and is recorded (the sandbox's per-call limit bounds the wait).
        with anyio.CancelScope(shield=True):
            if spec is None:
                outcome: StepOutcome = ToolFailed(
                    f"unknown tool {tool!r}: this gym's tools are {', '.join(sorted(self._tools))}"
                )
            elif self.batch is not None:
                outcome = await self._dispatch_case(self.batch, spec, dict(arguments))
            else:
                outcome = await self._dispatch(spec, dict(arguments))
        if self.record is not None:  # closed while the call ran, without waiting for it: its record is out
            return outcome
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.steps.append(
            StepRecord(
                index=len(self.steps),
                tool=tool,
                arguments=dict(arguments),
                result=outcome.structured if isinstance(outcome, ToolOk) else None,
                error=outcome.message if isinstance(outcome, ToolFailed) else None,
                latency_ms=latency_ms,
            )
        )
        if self._scored is not None:
            self._end("submitted", self._scored, None)
            return outcome
        if isinstance(outcome, ToolFailed) and outcome.infra:
            self.infra = True
            self._end("infra_error", None, outcome.message)
            return ToolFailed(
                f"{outcome.message}. This is a failure of the sandbox or the gym, not your mistake: "
                f"the episode ended unscored. {self._next_episode()}",
                infra=True,
            )
        if not self.done and len(self.steps) >= self.budget:
            self._end("step_budget", 0, f"step budget of {self.budget} used up without a submission")
            notice = (
                f"The step budget of {self.budget} calls is used up: the episode ended with reward 0. "
                f"{self._next_episode()}"
            )
            if isinstance(outcome, ToolOk):
                return ToolOk(outcome.structured, notice=notice)
            return ToolFailed(f"{outcome.message}\n{notice}")
        return outcome

    def _over_message(self) -> str:
        why = {
            "submitted": f"an answer was submitted (reward {self.reward})",
            "step_budget": f"the step budget of {self.budget} calls was used up (reward 0)",
            "infra_error": "a sandbox failure ended it unscored",
        }.get(self.end_reason or "", f"it ended ({self.end_reason})")
        return f"The episode is over: {why}. {self._next_episode()}"

    def _next_episode(self) -> str:
        if self.reset_offered:
            return "Call reset to start the next one."
        return "No call counts any more: the next episode is started for you, not by a tool."

    async def _dispatch_case(
        self, batch: Batch, spec: ToolSpec, arguments: dict[str, JsonValue]
    ) -> StepOutcome:
        """A call of a batched episode: submit scores all K answers; any other tool runs on the
        case its ``case`` argument names, with that case's input and state."""
        if spec.kind == "submit":
            scored = batch.score(arguments, self.gym.manifest.output_schema)
            if isinstance(scored, str):
                return ToolFailed(scored)
            self.submission = arguments["answer"]
            self._scored = scored  # the episode ends once this step is recorded
            return ToolOk({"reward": scored})
        routed = batch.route(spec, arguments)
        if isinstance(routed, str):
            return ToolFailed(routed)
        case, rest = routed
        self.instance, self.state = batch.cases[case], batch.states[case]
        try:
            return await self._dispatch(spec, rest)
        finally:
            batch.states[case] = self.state

    async def _dispatch(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> StepOutcome:
        try:
            if spec.kind == "observe":
                rules.check_arguments(spec.name, arguments, ())
                values = {k: decode(v) for k, v in self.instance.input.items()}
                manifest = self.gym.manifest
                return ToolOk(observe_values(values, manifest.input_schema, manifest.observation))
            if spec.kind == "read":
                return self._read(spec, arguments)
            if spec.kind == "submit":
                answer = rules.answer_argument(spec.name, arguments, self.gym.manifest.output_schema)
                self.submission = arguments["answer"]
                self._scored = rules.score(answer, decode(self.instance.expected))  # ends after the record
                return ToolOk({"reward": self._scored})
            return await self._call(spec, arguments)
        except rules.ArgumentError as exc:
            return ToolFailed(str(exc))

    def _read(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> StepOutcome:
        """A window of one hidden collection (partial observation); bad arguments are tool errors."""
        hidden = next((p for p in spec.params if p.source == "hidden"), None)
        key = (hidden.hidden_key or hidden.name) if hidden is not None else None
        kind = collection_kind(hidden.type_schema) if hidden is not None else None
        if key is None or kind is None or key not in self.instance.input:
            return ToolFailed(
                f"gym bug: read tool {spec.name} names no collection of instance {self.instance.instance_id}",
                infra=True,
            )
        try:
            return ToolOk(read_window(key, kind, decode(self.instance.input[key]), dict(arguments)))
        except ReadError as exc:
            return ToolFailed(f"{spec.name}: {exc}")

    async def _call(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> StepOutcome:
        """A problem tool's call by the rules (runtime/jail/tool_rules.py); args go in wire form.

        Raises:
            ArgumentError: the agent's arguments break the rules (the caller's tool error).
        """
        tool = self._specs[spec.name]
        agent = {k: encode(v) for k, v in rules.agent_arguments(tool, arguments).items()}
        try:
            args = rules.bind(tool, agent, self.instance.input.__getitem__, self.state)
        except rules.HiddenMissing as exc:
            return ToolFailed(
                f"gym bug: tool {spec.name} reads hidden input {exc.key!r}, but instance "
                f"{self.instance.instance_id} holds only {', '.join(sorted(self.instance.input))}",
                infra=True,
            )
        try:
            wire = await self._runner.call(
                source=self.gym.tools_source, function=spec.function or spec.name, args=args
            )
        except CallFailed as exc:
            return ToolFailed(str(exc))
        except SandboxError as exc:
            if exc.caused_by_call:  # the worker was killed and is replaced; the state is kept here
                return ToolFailed(_stopped(spec.name, exc))
            return ToolFailed(f"sandbox failure in {spec.name}: {exc}", infra=True)
        return self._shape(spec, decode(wire))

    def _shape(self, spec: ToolSpec, value: Any) -> StepOutcome:
        """The structured result of a call; the new state of a stateful tool is kept only when
        the whole result is well formed. Arguments the oracle never used can take a tool's code
        down a path its inferred types do not cover: that is the call's failure (a tool error
        that costs a step), not the end of the episode."""
        tool = self._specs[spec.name]
        new_state: Any = self.state
        try:
            if spec.stateful:
                state, value = rules.split_state(tool, value)
                new_state = encode(state)
            structured = rules.structured_result(rules.result_values(tool, value))
            rules.check_output(tool, structured)
        except rules.ResultError as exc:
            return ToolFailed(f"{exc}{_NO_EFFECT}")
        except UnsupportedValue as exc:
            return ToolFailed(f"{spec.name} returned a value that cannot be shown ({exc}){_NO_EFFECT}")
        self.state = new_state
        return ToolOk(structured)


_NO_EFFECT = (
    ". The call had no effect and cost one step; the episode goes on: try arguments in the range "
    "the task's input can lead to."
)


def _stopped(tool: str, exc: SandboxError) -> str:
    """The agent's message for a call the sandbox stopped because of its own work."""
    return f"{tool} was stopped by the sandbox with these arguments: {exc.call_reason()}{_NO_EFFECT}"
