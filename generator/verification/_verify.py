"""Verification: replay the oracle through the tools, in the sandbox, on every instance.

Two passes over the instances, each one ``run_oracle`` call (runtime/jail/oracle.py) per instance in
the worker:

1. *infer* (only when some tool param or result has no type schema yet): the proxy passes the
   unknown values raw and returns their inferred type schemas; the host merges them across
   instances (``merge_schemas``) and completes every :class:`ToolSpec`.
2. *verify*: everything goes through the MCP coercion path; every instance must submit its
   expected output. The trace of each becomes ``Instance.oracle_trace``.

A failure on any instance rejects the gym with the instance id and the reason
(:class:`VerifyFailed`); nothing raises past :func:`verify_gym` but programming errors.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol

from pydantic import JsonValue

from ...runtime import JAIL_PACKAGE, CallFailed, SandboxError, merge_schemas
from ...schemas import Instance, ObservationPolicy, ToolSpec, TraceCall
from ..instances._instances import WorkerLike, instance_id_for

__all__ = [
    "Candidate",
    "SyncWorker",
    "Verification",
    "VerifyFailed",
    "instance_id_for",
    "problem_tool_output_schema",
    "verify_gym",
]

HARNESS_MODULE = f"{JAIL_PACKAGE}.oracle"
"""The oracle harness in a worker: a module of the in-jail package (runtime/jail/oracle.py)."""


class SyncWorker(WorkerLike, Protocol):
    """What the generator needs of a sandbox worker (runtime.Worker satisfies it): recording's
    needs plus loading a carving's modules and unloading those of a rejected one."""

    def load(self, name: str, source: str, *, timeout: float | None = None) -> None: ...

    def unload(self, name: str) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """An instance before verification: hidden input and expected output in wire form."""

    input: dict[str, JsonValue]
    expected: JsonValue
    origin: Literal["test", "augmented"] = "test"
    tier: Literal["test", "easy", "medium", "hard"] = "test"


@dataclass(frozen=True, kw_only=True)
class Verification:
    """A verified gym: tools with complete type schemas, instances with their oracle traces.

    ``dropped`` counts augmented candidates the oracle could not replay (reason -> count): test
    instances must all verify, a derived input that fails is dropped instead.
    """

    tools: list[ToolSpec]
    instances: list[Instance]
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class VerifyFailed:
    """Why a gym did not verify: stage ``verify`` (the code) or ``infra`` (the sandbox)."""

    stage: Literal["verify", "infra", "render"]
    reason: str
    detail: str | None = None


@dataclass(kw_only=True)
class _Slots:
    schemas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def merge(self, found: dict[str, dict[str, Any]]) -> None:
        for tool, slots in found.items():
            mine = self.schemas.setdefault(tool, {})
            for slot, schema in slots.items():
                mine[slot] = merge_schemas(mine[slot], schema) if slot in mine else schema


def problem_tool_output_schema(fields: list[str], schemas: dict[str, dict[str, Any]]) -> dict[str, JsonValue]:
    """The MCP output schema of a problem tool: ``{"result": S}`` or one property per field."""
    props: dict[str, JsonValue] = {f: schemas.get(f, {}) for f in fields}
    return {"type": "object", "properties": props, "required": list(fields), "additionalProperties": False}


def _fields(tool: ToolSpec) -> list[str]:
    return list(tool.result_fields) if tool.result_fields else ["result"]


def _result_schemas(tool: ToolSpec) -> dict[str, dict[str, Any]]:
    props = tool.output_schema.get("properties")
    out: dict[str, dict[str, Any]] = {}
    if isinstance(props, dict):
        for name, schema in props.items():
            if isinstance(schema, dict):
                out[name] = schema
    return out


def _needs_inference(tools: list[ToolSpec]) -> bool:
    for tool in tools:
        if tool.function is None:
            continue
        if any(p.source == "agent" and not p.type_schema for p in tool.params):
            return True
        schemas = _result_schemas(tool)
        if any(not schemas.get(f) for f in _fields(tool)):
            return True
    return False


def complete_tool(tool: ToolSpec, inferred: dict[str, dict[str, Any]]) -> ToolSpec:
    """Fill a problem tool's unknown param/result schemas from inferred ones; rebuild its schemas."""
    if tool.function is None:
        return tool
    params = []
    for p in tool.params:
        schema: dict[str, Any] = dict(p.type_schema) or inferred.get("param:" + p.name, {})
        params.append(p.model_copy(update={"type_schema": schema}))
    known = _result_schemas(tool)
    results = {f: known.get(f) or inferred.get("result:" + f, {}) for f in _fields(tool)}
    agent = [p for p in params if p.source == "agent"]
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: p.type_schema for p in agent},
        "required": [p.name for p in agent],
        "additionalProperties": False,
    }
    return tool.model_copy(
        update={
            "params": params,
            "input_schema": input_schema,
            "output_schema": problem_tool_output_schema(_fields(tool), results),
        }
    )


def _spec(
    *,
    names: tuple[str, str],
    tools: list[ToolSpec],
    candidate: Candidate,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    infer: bool,
    max_calls: int,
    observation: ObservationPolicy,
) -> dict[str, Any]:
    observe = next((t.name for t in tools if t.kind == "observe"), "observe")
    submit = next((t.name for t in tools if t.kind == "submit"), "submit")
    return {
        "tools_module": names[0],
        "oracle_module": names[1],
        "tools": [t.model_dump(mode="json") for t in tools],
        "observe_name": observe,
        "submit_name": submit,
        "input": candidate.input,  # wire: the worker decodes it to python values
        "input_schema": input_schema,
        "expected": candidate.expected,
        "output_schema": output_schema,
        "infer": infer,
        "max_calls": max_calls,
        "observation": observation,
    }


def _module_names(tools_source: str, oracle_source: str) -> tuple[str, str]:
    digest = hashlib.sha256((tools_source + "\0" + oracle_source).encode("utf-8")).hexdigest()[:16]
    return f"cg_tools_{digest}", f"cg_oracle_{digest}"


def _load(
    worker: SyncWorker, names: tuple[str, str], tools_source: str, oracle_source: str
) -> VerifyFailed | None:
    for name, source, what in ((names[0], tools_source, "tools.py"), (names[1], oracle_source, "oracle.py")):
        try:
            worker.load(name, source)
        except CallFailed as exc:
            return VerifyFailed(stage="render", reason=f"{what} does not import in the sandbox: {exc}")
        except SandboxError as exc:
            return VerifyFailed(stage="infra", reason=f"loading {what} failed in the sandbox: {exc}")
    return None


def _run(worker: SyncWorker, spec: dict[str, Any], timeout: float) -> dict[str, Any] | VerifyFailed:
    try:
        out = worker.call(HARNESS_MODULE, "run_oracle", args=[spec], timeout=timeout)
    except CallFailed as exc:
        return VerifyFailed(stage="verify", reason=f"the oracle harness failed: {exc}", detail=exc.traceback)
    except SandboxError as exc:
        return VerifyFailed(stage="verify", reason=f"sandbox stopped the oracle: {exc}")
    if not isinstance(out, dict):
        return VerifyFailed(stage="infra", reason=f"the harness returned {type(out).__name__}, not a dict")
    return out


def verify_gym(
    *,
    worker: SyncWorker,
    tools_source: str,
    oracle_source: str,
    tools: list[ToolSpec],
    candidates: list[Candidate],
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    timeout: float = 10.0,
    max_calls: int = 1000,
    drop_augmented: bool = True,
    observation: ObservationPolicy = "full",
) -> Verification | VerifyFailed:
    """Infer missing tool schemas, then replay the oracle on every candidate through the MCP path.

    ``tools`` is the gym's full tool list (generic and problem tools). Returns the completed
    tools and the verified instances (ids, steps, traces), or why verification failed: the first
    failing instance's id and the harness's reason. With ``drop_augmented`` an augmented candidate
    that fails, or any candidate whose oracle goes over ``max_calls`` tool calls, is dropped
    (counted in ``Verification.dropped``) instead of failing the gym; at least one must remain.
    ``observation`` is what the harness's ``observe`` shows (the gym's policy; partial: the
    read tools among ``tools`` serve the collections).
    """
    names = _module_names(tools_source, oracle_source)
    failed = _load(worker, names, tools_source, oracle_source)
    if failed is not None:
        return failed
    try:
        return _verify_loaded(
            worker=worker,
            names=names,
            tools=tools,
            candidates=candidates,
            input_schema=input_schema,
            output_schema=output_schema,
            timeout=timeout,
            max_calls=max_calls,
            drop_augmented=drop_augmented,
            observation=observation,
        )
    finally:
        for name in names:
            with contextlib.suppress(SandboxError):  # a dead worker has forgotten them anyway
                worker.unload(name)


def _verify_loaded(
    *,
    worker: SyncWorker,
    names: tuple[str, str],
    tools: list[ToolSpec],
    candidates: list[Candidate],
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    timeout: float,
    max_calls: int,
    drop_augmented: bool,
    observation: ObservationPolicy,
) -> Verification | VerifyFailed:
    spec = partial(
        _spec,
        names=names,
        input_schema=input_schema,
        output_schema=output_schema,
        max_calls=max_calls,
        observation=observation,
    )
    dropped: dict[str, int] = {}

    def failed(cand: Candidate, out: dict[str, Any] | VerifyFailed, infer: bool) -> VerifyFailed | None:
        return _failure(cand, out, infer, drop_augmented=drop_augmented, max_calls=max_calls, dropped=dropped)

    if _needs_inference(tools):
        slots = _Slots()
        kept: list[Candidate] = []
        for cand in candidates:
            out = _run(worker, spec(tools=tools, candidate=cand, infer=True), timeout)
            if isinstance(out, VerifyFailed) or not out.get("ok"):
                fatal = failed(cand, out, True)
                if fatal is not None:
                    return fatal
                continue
            kept.append(cand)
            slots.merge(out.get("schemas") or {})
        candidates = kept
        tools = [complete_tool(t, slots.schemas.get(t.name, {})) for t in tools]
    else:
        tools = [complete_tool(t, {}) for t in tools]
    instances: list[Instance] = []
    for cand in candidates:
        out = _run(worker, spec(tools=tools, candidate=cand, infer=False), timeout)
        if isinstance(out, VerifyFailed) or not out.get("ok"):
            fatal = failed(cand, out, False)
            if fatal is not None:
                return fatal
            continue
        instances.append(_instance(cand, [TraceCall.model_validate(c) for c in out.get("trace") or []]))
    if not instances:
        reasons = ", ".join(f"{k} ({v})" for k, v in sorted(dropped.items()))
        return VerifyFailed(stage="verify", reason=f"no instance could be replayed: {reasons}")
    return Verification(tools=tools, instances=instances, dropped=dropped)


def _failure(
    cand: Candidate,
    out: dict[str, Any] | VerifyFailed,
    infer: bool,
    *,
    drop_augmented: bool,
    max_calls: int,
    dropped: dict[str, int],
) -> VerifyFailed | None:
    """None when the failing candidate is an augmented one: dropped and counted, not fatal."""
    reason = out.reason if isinstance(out, VerifyFailed) else str(out.get("error"))
    if drop_augmented and "tool calls" in reason:  # too long for an episode, not wrong: drop it
        key = f"oracle makes more than {max_calls} tool calls"
        dropped[key] = dropped.get(key, 0) + 1
        return None
    if cand.origin == "augmented" and drop_augmented:
        key = "augment: " + _short(reason)
        dropped[key] = dropped.get(key, 0) + 1
        return None
    stage = out.stage if isinstance(out, VerifyFailed) else "verify"
    where = " (infer pass)" if infer else ""
    detail = out.detail if isinstance(out, VerifyFailed) else None
    return VerifyFailed(
        stage=stage, reason=f"instance {instance_id_for(cand.input)}{where}: {reason}", detail=detail
    )


def _instance(cand: Candidate, trace: list[TraceCall]) -> Instance:
    """The verified candidate as an instance, with the oracle's trace on it."""
    return Instance(
        instance_id=instance_id_for(cand.input),
        input=cand.input,
        expected=cand.expected,
        origin=cand.origin,
        tier=cand.tier,
        oracle_steps=len(trace),
        oracle_trace=trace,
    )


def _short(reason: str) -> str:
    if "tool calls" in reason:
        return "the oracle goes over the step cap"
    if "sandbox" in reason:
        return "the sandbox stopped the oracle"
    return "the oracle does not reproduce the reference"
