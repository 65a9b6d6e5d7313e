"""Instances from a problem's unit tests: the host side of the recording harness.

:func:`record_instances` calls the recording harness (``runtime/jail/record.py``, imported in
the worker as ``codegym_jail.record``) in a sandbox worker, which runs the
problem's tests against a recording wrapper of the reference; every outermost call of the
target becomes one (input, expected output) pair.
:func:`compute_outputs` runs the reference on new inputs (augmentation). Both return values,
never raise for a problem's fault: ``RecordedInstances | RecordingFailed``.

:func:`resolve_target` (re-exported from ``_targets.py``) decides what the tests drive.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import JsonValue

from ...runtime import JAIL_PACKAGE, CallFailed, SandboxError, canonical_json
from ...schemas import Problem
from ._adapters import adapt_problem
from ._targets import Target, recording_tests, resolve_target

__all__ = [
    "HARNESS_MODULE",
    "AnswerText",
    "ComputeError",
    "ParamInfo",
    "RecordedCall",
    "RecordedInstances",
    "RecordingFailed",
    "Target",
    "TestRun",
    "WorkerLike",
    "answer_text",
    "compute_outputs",
    "instance_id_for",
    "record_instances",
    "recording_tests",
    "resolve_target",
]

HARNESS_MODULE = f"{JAIL_PACKAGE}.record"
"""The recording harness in a worker: a module of the in-jail package (runtime/jail/record.py)."""


class WorkerLike(Protocol):
    """What recording needs of a sandbox worker (``codegym_mcp.runtime.Worker`` fits)."""

    def call(
        self,
        module: str,
        function: str,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class ParamInfo:
    """One parameter of the target (or of a method), as ``inspect`` saw it in the worker."""

    name: str
    kind: str  # POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD
    has_default: bool


@dataclass(frozen=True)
class RecordedCall:
    """One instance: the input (parameter name -> wire value) and the expected output (wire).

    For a class target the input is ``{"operations": [...], "arguments": [[...], ...]}`` and the
    expected output the list of results (None for the constructor). ``in_place`` names the
    argument whose modified value is the expected output (the function returned None).
    """

    input: dict[str, JsonValue]
    expected: JsonValue
    in_place: str | None = None

    @property
    def instance_id(self) -> str:
        """The stable short id of this input (:func:`instance_id_for`)."""
        return instance_id_for(self.input)


@dataclass(frozen=True)
class TestRun:
    """How the dataset's tests went against the (recording) reference."""

    run: int
    passed: int
    failed: int
    skipped: int
    failures: list[str] = field(default_factory=list)
    budget_exhausted: bool = False


@dataclass(frozen=True)
class RecordedInstances:
    """What the tests' calls of the target gave: deduplicated instances and what was dropped."""

    problem_id: str
    task_id: str
    target: Target
    params: list[ParamInfo]
    calls: list[RecordedCall]
    total_calls: int
    dropped: dict[str, int]
    tests: TestRun
    methods: dict[str, list[ParamInfo]] = field(default_factory=dict)
    state_issues: dict[str, int] = field(default_factory=dict)
    shapes: dict[str, dict[str, str]] = field(default_factory=dict)
    adapted: Problem | None = None
    """When the target takes (or returns) trees / linked lists, or answers by changing an argument
    in place: the problem with an adapter entry point (``codegym_<entry>``) that takes their JSON
    lists and returns the answer; ``target`` then names the adapter. Carve, augment and verify
    this problem instead of the original."""
    answer_is_argument: str | None = None
    """The argument whose final value is the answer (the reference works in place): the task
    statement should say that the answer is the modified input. The adapter returns it."""

    @property
    def tests_passed(self) -> bool:
        """Every test that ran passed with the reference (and at least one ran)."""
        return (
            self.tests.run > self.tests.skipped and self.tests.failed == 0 and not self.tests.budget_exhausted
        )

    @property
    def in_place(self) -> str | None:
        """The argument that is the answer, when the function works in place (returns None)."""
        names = {c.in_place for c in self.calls}
        if len(names) == 1:
            return next(iter(names))
        return None

    @property
    def mixed_in_place(self) -> bool:
        """Some calls returned a value and others modified an argument: no single answer form."""
        return len({c.in_place for c in self.calls}) > 1


@dataclass(frozen=True)
class RecordingFailed:
    """No usable instance: the reason says why (the tests' failures, what was dropped...)."""

    problem_id: str
    task_id: str
    reason: str
    detail: str | None = None
    infra: bool = False
    recorded: RecordedInstances | None = None


@dataclass(frozen=True)
class ComputeError:
    """The reference raised (or timed out) on one input given to :func:`compute_outputs`."""

    reason: str


# --------------------------------------------------------------------------- harness


def instance_id_for(wire_input: Mapping[str, JsonValue]) -> str:
    """A stable short id of an instance input: the first 12 hex digits of its canonical JSON's sha256."""
    return hashlib.sha256(canonical_json(dict(wire_input)).encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- record


def _params(raw: Any) -> list[ParamInfo]:
    return [ParamInfo(str(p["name"]), str(p["kind"]), bool(p["has_default"])) for p in raw or []]


def _top_reasons(counts: Mapping[str, int], n: int = 3) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return "; ".join(f"{reason} (x{count})" for reason, count in ranked)


def record_instances(
    problem: Problem,
    worker: WorkerLike,
    *,
    seed: int = 0,
    timeout: float = 10.0,
    max_instances: int = 200,
    max_value_chars: int = 20000,
    target: Target | None = None,
) -> RecordedInstances | RecordingFailed:
    """Run the problem's tests in ``worker`` against a recording wrapper of the reference.

    Returns :class:`RecordedInstances` when at least one instance was kept (check
    ``tests_passed``: a test that fails with the reference is recorded, the caller decides),
    else :class:`RecordingFailed` with the reason (``infra=True`` when the sandbox, not the
    problem, failed: timeout, memory, crash).
    """
    resolved = target if target is not None else resolve_target(problem)
    if isinstance(resolved, str):
        return _failed(problem, resolved)
    request = {
        "solution": problem.solution,
        "tests": recording_tests(problem)[0],
        "test_style": problem.test_style,
        "target": resolved.name,
        "kind": resolved.kind,
        "seed": seed,
        "per_test_seconds": max(0.5, min(2.0, timeout / 4)),
        "budget_seconds": _budget(worker, timeout),
        "max_instances": max_instances,
        "max_value_chars": max_value_chars,
    }
    reply = _call(worker, "record", request, timeout, problem)
    if isinstance(reply, RecordingFailed):
        return reply
    if not reply.get("ok"):
        return _failed(problem, str(reply.get("error", "the recording harness failed")))
    recorded = RecordedInstances(
        problem_id=problem.problem_id,
        task_id=problem.task_id,
        target=resolved,
        params=_params(reply.get("params")),
        calls=[
            RecordedCall(input=c["input"], expected=c["expected"], in_place=c.get("in_place"))
            for c in reply.get("calls", [])
        ],
        total_calls=int(reply.get("total_calls", 0)),
        dropped={str(k): int(v) for k, v in reply.get("dropped", {}).items()},
        tests=_test_run(reply.get("tests", {})),
        methods={str(k): _params(v) for k, v in reply.get("methods", {}).items()},
        state_issues={str(k): int(v) for k, v in reply.get("state_issues", {}).items()},
        shapes={str(k): {str(a): str(b) for a, b in v.items()} for k, v in reply.get("shapes", {}).items()},
    )
    if recorded.calls and (recorded.shapes or recorded.in_place):
        return _adapted(problem, recorded)
    if recorded.calls:
        return recorded
    return _nothing_kept(problem, resolved, recorded)


def _test_run(tests: dict[str, Any]) -> TestRun:
    """The harness's counts of the dataset's tests."""
    return TestRun(
        run=int(tests.get("tests_run", 0)),
        passed=int(tests.get("tests_passed", 0)),
        failed=int(tests.get("tests_failed", 0)),
        skipped=int(tests.get("tests_skipped", 0)),
        failures=[str(f) for f in tests.get("failures", [])],
        budget_exhausted=bool(tests.get("budget_exhausted", False)),
    )


def _nothing_kept(problem: Problem, resolved: Target, recorded: RecordedInstances) -> RecordingFailed:
    """Why no call of the target became an instance."""
    what = f"{resolved.kind} {resolved.name}"
    if recorded.total_calls == 0:
        why = f"the tests never called the reference {what}"
        if recorded.tests.failures:
            why += f" (tests failed: {recorded.tests.failures[0]})"
        elif recorded.tests.run == 0:
            why += " (no test ran)"
    else:
        why = f"no call of {what} could be kept: {_top_reasons(recorded.dropped)}"
    return RecordingFailed(
        problem_id=problem.problem_id, task_id=problem.task_id, reason=why, recorded=recorded
    )


def _adapted(problem: Problem, recorded: RecordedInstances) -> RecordedInstances | RecordingFailed:
    """Swap the target for an adapter: node parameters as JSON lists, an in-place answer returned."""
    if recorded.mixed_in_place:
        return recorded  # the pipeline rejects it with its own reason
    in_place = recorded.in_place
    adapted = adapt_problem(
        problem,
        recorded.target.name,
        [(p.name, p.kind) for p in recorded.params],
        recorded.shapes,
        in_place=in_place,
    )
    if isinstance(adapted, str):
        return _failed(problem, adapted)
    assert adapted.entry_point is not None
    return replace(
        recorded,
        target=Target("function", adapted.entry_point),
        adapted=adapted,
        calls=[replace(c, in_place=None) for c in recorded.calls],
        answer_is_argument=in_place,
    )


def _budget(worker: WorkerLike, timeout: float) -> float:
    """Seconds the harness may spend running tests: under the host timeout and the CPU limit."""
    config = getattr(worker, "config", None)
    cpu = getattr(config, "cpu_seconds", None)
    limit = min(timeout, float(cpu)) if isinstance(cpu, int | float) else timeout
    return max(0.2, limit * 0.7)


def _failed(
    problem: Problem, reason: str, detail: str | None = None, *, infra: bool = False
) -> RecordingFailed:
    return RecordingFailed(
        problem_id=problem.problem_id, task_id=problem.task_id, reason=reason, detail=detail, infra=infra
    )


def _call(
    worker: WorkerLike, function: str, request: dict[str, Any], timeout: float, problem: Problem
) -> dict[str, Any] | RecordingFailed:
    try:
        raw = worker.call(HARNESS_MODULE, function, args=[json.dumps(request)], timeout=timeout)
    except CallFailed as exc:
        return _failed(problem, f"the recording harness raised {exc}", exc.traceback[-2000:] or None)
    except SandboxError as exc:
        return _failed(
            problem,
            f"the sandbox stopped the tests: {type(exc).__name__}: {exc}",
            exc.detail[-2000:] or None,
            infra=True,
        )
    if not isinstance(raw, str):
        return _failed(
            problem, f"the recording harness replied with a {type(raw).__name__}, expected JSON text"
        )
    try:
        reply = json.loads(raw)
    except json.JSONDecodeError:
        reply = None  # not JSON at all: the problem's code may have patched the worker's json
    if not isinstance(reply, dict):
        return _failed(
            problem,
            f"the recording harness replied with {raw[:200]!r}, expected a JSON object: "
            "the solution or its tests may have replaced the json module",
        )
    return reply


# --------------------------------------------------------------------------- task text


@dataclass(frozen=True)
class AnswerText:
    """What the task statement should say about the answer and the input's form (None/empty: the default)."""

    answer: str | None
    notes: list[str]


def answer_text(recorded: RecordedInstances) -> AnswerText:
    """Phrases for the task statement of gyms whose answer is not simply "what the entry point returns".

    - a design class: the answer is the list of the operations' results;
    - an in-place function: the answer is the argument after the call;
    - trees / linked lists: how they are written as JSON.
    """
    from ._adapters import describe_shape

    name = (
        recorded.target.name.removeprefix("codegym_")
        if recorded.adapted is not None
        else recorded.target.name
    )
    answer: str | None = None
    if recorded.target.kind == "class":
        answer = (
            f"the list of what each operation returns, in order: null for the `{name}` constructor and for "
            "methods that return nothing"
        )
    elif recorded.answer_is_argument is not None:
        answer = f"the value of `{recorded.answer_is_argument}` after `{name}` has changed it in place"
    notes = [
        f"`{key}` is {describe_shape(shape)}."
        if key != "return"
        else f"The answer is {describe_shape(shape)}."
        for key, shape in sorted(recorded.shapes.items())
    ]
    return AnswerText(answer=answer, notes=notes)


# --------------------------------------------------------------------------- compute


def compute_outputs(
    problem: Problem,
    worker: WorkerLike,
    inputs: Sequence[Mapping[str, JsonValue]],
    *,
    target: Target | None = None,
    in_place: str | None = None,
    seed: int = 0,
    timeout: float = 10.0,
) -> list[JsonValue | ComputeError] | RecordingFailed:
    """The reference's expected output (wire) for each input, or why it could not be computed.

    ``inputs`` use the recorded format (parameter name -> wire value; for classes the
    operations/arguments form). ``in_place`` (from :attr:`RecordedInstances.in_place`) makes
    the modified argument the expected output. Returns :class:`RecordingFailed` when nothing
    could run (the solution does not load, the sandbox failed).
    """
    resolved = target if target is not None else resolve_target(problem)
    if isinstance(resolved, str):
        return _failed(problem, resolved)
    request = {
        "solution": problem.solution,
        "target": resolved.name,
        "kind": resolved.kind,
        "inputs": [dict(i) for i in inputs],
        "in_place": in_place,
        "seed": seed,
        "per_call_seconds": max(0.5, min(2.0, timeout / 4)),
        "budget_seconds": _budget(worker, timeout),
    }
    reply = _call(worker, "compute", request, timeout, problem)
    if isinstance(reply, RecordingFailed):
        return reply
    if not reply.get("ok"):
        return _failed(problem, str(reply.get("error", "the compute harness failed")))
    results = reply.get("results")
    if not isinstance(results, list) or len(results) != len(inputs):
        got = f"{len(results)} results" if isinstance(results, list) else repr(results)[:100]
        return _failed(problem, f"the compute harness answered {got} for {len(inputs)} inputs")
    out: list[JsonValue | ComputeError] = []
    for item in results:
        out.append(item["expected"] if item.get("ok") else ComputeError(str(item.get("error", "failed"))))
    return out
