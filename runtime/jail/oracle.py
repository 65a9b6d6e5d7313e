"""The oracle harness: runs a gym's ``oracle(tools)`` INSIDE the sandbox worker.

Standard library only and Python 3.11 compatible: the generator calls :func:`run_oracle`
(``codegym_jail.oracle`` in a worker) once per instance, beside the gym's tools and oracle
modules it loaded. The proxy handed to the oracle does exactly what the MCP
path does (runtime/server), so a verified trace is one an agent can replay: the rules of a call
(arguments, binding, the stateful pair, result fields, answers and scoring) are the runtime's
own, from ``tool_rules``, and the observation rules from ``observation``:

- ``observe()`` -> what the gym's observation policy shows of the hidden input (``full``: every
  value; ``partial``: scalars and ``{"length": N}`` per collection; ``observation``), as
  plain JSON coerced back by observe's output schema;
- ``read_<p>(start=, count=)`` (partial) -> the window ``observation`` computes, as an
  agent would see it, recorded in the trace; the proxy returns its ``items`` (coerced by the
  read tool's output schema) or its ``text``; bad arguments raise ``ToolCallError``;
- a problem tool -> agent kwargs to plain, checked and coerced by ``agent_arguments``; hidden
  params bound by ``bind`` (a fresh copy per call); the state of stateful tools kept from the
  ``split_state`` pair; the result by ``result_values`` (a tuple per ``result_fields``) to plain,
  coerced back by the output schema; an argument that breaks the rules is a ``HarnessError``
  (the oracle's bug), one whose value does not fit its type a ``CoercionError``;
- ``submit(answer)`` -> the answer to plain, ``answer_argument`` (lenient) and ``score``;
  returns ``{"reward": 0|1}`` and ends the episode.

With ``infer=True`` (pass 1 of verification) a param or result whose type schema is still
unknown (``{}``) is passed raw instead, and the raw values are summarised as inferred type
schemas for the host to merge across instances.

Exceptions::

    Exception
     +-- HarnessError     the oracle broke the tool contract (unknown tool, call after submit...)
     +-- ToolCallError    a tool's code raised: what an agent would see as an isError result
"""

from __future__ import annotations

import copy
import sys
import types
from typing import Any

from . import observation as _obs
from . import tool_rules as _rules
from . import values as _cv
from .inference import infer_schema

__all__ = ["HarnessError", "ToolCallError", "run_oracle"]

_GENERIC = ("observe", "submit", "task")


class HarnessError(Exception):
    """The oracle used the tools in a way the MCP path would not allow."""


class ToolCallError(Exception):
    """A tool's code raised; the message is what the agent would see (``ExcType: message``)."""


def _result_schema(tool: dict[str, Any], field: str) -> dict[str, Any]:
    props = tool.get("output_schema", {}).get("properties", {})
    schema = props.get(field, {})
    return schema if isinstance(schema, dict) else {}


class _Episode:
    """One oracle run: the trace, the state, the raw values seen per tool."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.infer = bool(spec.get("infer"))
        self.tools_module = sys.modules[spec["tools_module"]]
        self.input: dict[str, Any] = spec["input"]
        self.trace: list[dict[str, Any]] = []
        self.state: Any = None
        self.reward: int | None = None
        self.errors: list[str] = []
        self.raw: dict[str, dict[str, list[Any]]] = {}

    # ------------------------------------------------------------------ generic tools

    def observe(self) -> Any:
        self._check_open("observe")
        policy = self.spec.get("observation") or "full"
        schema = self.spec["input_schema"]
        plain = _obs.observe_values(self.input, schema, policy)
        self.trace.append({"tool": self.spec["observe_name"], "arguments": {}, "result": plain})
        return _cv.coerce(plain, _obs.observe_output_schema(schema, policy))

    def bind_read(self, tool: dict[str, Any]) -> Any:
        def read(**kwargs: Any) -> Any:
            return self._read(tool, kwargs)

        read.__name__ = tool["name"]
        return read

    def _read(self, tool: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        name = tool["name"]
        self._check_open(name)
        hidden = next((p for p in tool.get("params", []) if p["source"] == "hidden"), None)
        if hidden is None:
            raise HarnessError(f"read tool {name} names no hidden collection")
        key = hidden["hidden_key"]
        kind = _obs.collection_kind(hidden.get("type_schema") or {})
        if kind is None:
            raise HarnessError(f"read tool {name}: `{key}` is not a collection under its type schema")
        arguments = {k: _cv.to_plain(v) for k, v in kwargs.items()}
        try:
            plain = _obs.read_window(key, kind, self.input[key], arguments)
        except _obs.ReadError as exc:
            raise ToolCallError(f"{name}: {exc}") from exc
        self.trace.append({"tool": name, "arguments": arguments, "result": plain})
        ((field, value),) = plain.items()
        return _cv.coerce(value, _result_schema(tool, field), path=f"{name}.{field}")

    def submit(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._check_open("submit")
        if args:  # submit(value): the answer passed by position
            if len(args) > 1 or "answer" in kwargs:
                raise HarnessError(
                    f"submit takes one answer, got {len(args)} positional and {sorted(kwargs)}"
                )
            kwargs["answer"] = args[0]
        plain = {k: _cv.to_plain(v) for k, v in kwargs.items()}
        try:
            value = _rules.answer_argument(self.spec["submit_name"], plain, self.spec["output_schema"])
            self.reward = _rules.score(value, self.spec["expected"])
        except _rules.ArgumentError as exc:
            if exc.coercion is None:
                raise HarnessError(str(exc)) from None
            self.errors.append(f"submit: {exc.coercion}")
            self.reward = 0
        result = {"reward": self.reward}
        self.trace.append({"tool": self.spec["submit_name"], "arguments": plain, "result": result})
        return result

    def _check_open(self, name: str) -> None:
        if self.reward is not None:
            raise HarnessError(f"the oracle called {name} after submit: the episode is over")
        limit = int(self.spec.get("max_calls") or 0)
        if limit and len(self.trace) >= limit:
            raise HarnessError(f"the oracle makes more than {limit} tool calls")

    # ------------------------------------------------------------------ problem tools

    def bind(self, tool: dict[str, Any]) -> Any:
        def call(**kwargs: Any) -> Any:
            return self._call(tool, kwargs)

        call.__name__ = tool["name"]
        return call

    def _call(self, tool: dict[str, Any], kwargs: dict[str, Any]) -> Any:
        name = tool["name"]
        self._check_open(name)
        agent = [p for p in tool.get("params", []) if p["source"] == "agent"]
        raw = self.raw.setdefault(name, {})
        # pass 1: a param whose type is still unknown takes the oracle's raw value (to infer it)
        uncoerced = [p["name"] for p in agent if self.infer and not p.get("type_schema")]
        try:
            _rules.check_arguments(name, kwargs, [p["name"] for p in agent])
            plain_args = {k: _cv.to_plain(v) for k, v in kwargs.items()}
            given = {**plain_args, **{k: kwargs[k] for k in uncoerced if k in kwargs}}
            values_in = _rules.agent_arguments(tool, given, raw=uncoerced)
            args = _rules.bind(tool, values_in, lambda key: copy.deepcopy(self.input[key]), self.state)
        except _rules.ArgumentError as exc:
            if exc.coercion is not None:  # reported as a value that does not survive the MCP path
                raise exc.coercion from None
            raise HarnessError(f"the oracle's call broke the tool rules: {exc}") from None
        except _rules.HiddenMissing as exc:
            raise HarnessError(str(exc)) from None
        for k in uncoerced:
            raw.setdefault("param:" + k, []).append(values_in[k])
        fn = getattr(self.tools_module, tool["function"])
        try:
            out = fn(*args)
        except Exception as exc:  # the agent would see this as an isError result
            raise ToolCallError(f"{type(exc).__name__}: {exc}") from exc
        try:
            if tool.get("stateful"):
                state, out = _rules.split_state(tool, out)
                # the runtime keeps the state in wire form between calls: mimic the round trip
                self.state = _cv.decode(_cv.encode(state))
            values = _rules.result_values(tool, out)
        except _rules.ResultError as exc:
            raise HarnessError(str(exc)) from None
        fields = tool.get("result_fields")
        structured = _rules.structured_result(values)
        self.trace.append({"tool": name, "arguments": plain_args, "result": structured})
        back: dict[str, Any] = {}
        for field, value in values.items():
            schema = _result_schema(tool, field)
            if self.infer and not schema:
                raw.setdefault("result:" + field, []).append(value)
                back[field] = value
            else:
                back[field] = _cv.coerce(structured[field], schema, path=f"{name}.{field}")
        if fields:
            return tuple(back[f] for f in fields)
        return back["result"]


def _proxy(episode: _Episode, tools: list[dict[str, Any]]) -> types.SimpleNamespace:
    members: dict[str, Any] = {}
    for tool in tools:
        kind = tool["kind"]
        if kind == "observe":
            members[tool["name"]] = episode.observe
        elif kind == "submit":
            members[tool["name"]] = episode.submit
        elif kind == "read":
            members[tool["name"]] = episode.bind_read(tool)
        elif tool.get("function"):
            members[tool["name"]] = episode.bind(tool)
    # the oracle always speaks of observe/submit, whatever the manifest names them
    members.setdefault("observe", episode.observe)
    members.setdefault("submit", episode.submit)
    return types.SimpleNamespace(**members)


def _inferred(episode: _Episode) -> tuple[dict[str, dict[str, Any]], list[str]]:
    schemas: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for tool, slots in sorted(episode.raw.items()):
        for slot, values in sorted(slots.items()):
            try:
                schemas.setdefault(tool, {})[slot] = infer_schema(values)
            except _cv.UnsupportedValue as exc:
                problems.append(f"tool {tool} {slot.replace(':', ' ')}: {exc}")
    return schemas, problems


def run_oracle(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``oracle(tools)`` on one instance; never raises for what the oracle or tools do.

    ``spec`` keys: tools_module, oracle_module (names loaded in this worker), tools (ToolSpec
    dicts), observe_name, submit_name, input (python values by param), input_schema,
    expected (python value), output_schema, infer (bool), max_calls (0 = no limit),
    observation ("partial" or "full"; default full).

    Returns a dict: ok, error (str or None), reward, trace (TraceCall dicts), schemas
    (tool -> "param:NAME"/"result:FIELD" -> inferred type schema; only with infer).
    """
    episode = _Episode(spec)
    error: str | None = None
    try:
        oracle = sys.modules[spec["oracle_module"]].oracle
        oracle(_proxy(episode, spec["tools"]))
        # the oracle's return value is ignored on purpose: only what went through submit counts
    except ToolCallError as exc:
        error = f"a tool raised {exc}"
    except HarnessError as exc:
        error = str(exc)
    except (_cv.CoercionError, _cv.UnsupportedValue) as exc:
        error = f"a value does not survive the MCP path: {exc}"
    except RecursionError:
        error = "the oracle recursed too deeply"
    except Exception as exc:  # the oracle's own code failed: reported as the rejection reason
        error = f"the oracle raised {type(exc).__name__}: {exc}"
    if error is None and episode.reward is None:
        error = "the oracle never called submit"
    elif error is None and episode.reward != 1:
        detail = "; ".join(episode.errors)
        error = "the oracle's answer differs from the expected output" + (f" ({detail})" if detail else "")
    schemas, problems = _inferred(episode) if episode.infer else ({}, [])
    if error is None and problems:
        error = problems[0]
    return {
        "ok": error is None,
        "error": error,
        "reward": episode.reward,
        "trace": episode.trace,
        "schemas": schemas,
    }
