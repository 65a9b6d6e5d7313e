"""The per-problem pipeline: ``build_gym(problem, settings, worker) -> Generated | Rejected``.

A pure function of (problem, settings) up to the sandbox it is given, returning a picklable
value (it runs in a local process pool, and could run as a Ray task):

1. instances: the dataset's tests run against a recording wrapper of the reference (sandbox);
2. schemas of the hidden input and the answer (annotations when they fit, else inferred);
3. augmentation (``settings.augment``): mutated inputs along a size ladder, outputs by the
   reference (sandbox);
4. carving (libcst) at the finest granularity first; each carving is verified (two passes, see
   _verify.py) and the first one that reproduces every instance wins: fine -> helpers -> getters;
5. quality filters per instance and per gym, the degenerate cap, a spread of at most
   ``settings.max_instances`` instances (_filters.py);
6. batching: the batch size K against blind guesses, and the episode order (_batching.py);
7. rendering: manifest, task statement, instances, summary.

Every outcome is a value; a stage's failure becomes ``Rejected(Rejection(stage, reason))``.
Only :class:`~codegym_mcp.runtime.SandboxUnavailable` (no sandbox at all) propagates: no
problem could succeed and the run must stop with the fix.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from typing import Any

from ...runtime import SandboxError, SandboxUnavailable, decode
from ...schemas import GymManifest, Instance, Problem, Rejection, Stage, ToolSpec
from .._results import Generated, GenerateSettings, GymFiles, Rejected
from ..carving._carving_types import Carving
from ..carving._schemas_pick import input_schema_for, pick_schema
from ..instances._adapters import ADAPTER_PREFIX
from ..instances._batching import plan_batches
from ..instances._filters import apply_filters, fit_episodes
from ..instances._handles import handle_problem
from ..instances._inplace import inplace_problem
from ..llm._llm_decompose import Proposal, ProposalRejected
from ..statements._task_text import Statement, compose_statement
from ..statements._worked_example import worked_examples
from ..verification._ladder import Refill, verify_by_rungs
from ..verification._one_call import one_call_answers
from ..verification._stages import (
    FINER,
    GRANULARITIES,
    Recorded,
    augment_candidates,
    carve,
    derive_candidates,
    inferred_input_schema,
    record,
)
from ..verification._verify import Candidate, SyncWorker, Verification, VerifyFailed
from ._generic_tools import GENERIC_TOOL_NAMES, generic_tools, step_budget_for
from ._gym_files import gym_manifest, gym_summary

__all__ = ["GENERIC_TOOL_NAMES", "build_gym", "generic_tools", "step_budget_for"]


def _reject(problem: Problem, stage: Stage, reason: str, detail: str | None = None) -> Rejected:
    return Rejected(
        rejection=Rejection(
            task_id=problem.task_id, problem_id=problem.problem_id, stage=stage, reason=reason, detail=detail
        )
    )


def build_gym(
    problem: Problem,
    settings: GenerateSettings,
    worker: SyncWorker,
    *,
    proposal: Proposal | ProposalRejected | None = None,
) -> Generated | Rejected:
    """Turn one problem into a verified gym, or say at which stage and why it could not be.

    With an LLM ``proposal`` (a decomposition of the reference), tools are also carved from the
    proposal and verified against the ORIGINAL problem's instances; its gym is kept unless it
    fails or the deterministic carving has more problem tools, and the summary then keeps
    ``llm_fallback_reason``.

    Raises:
        SandboxUnavailable: the sandbox cannot start at all (the message names the fix).
    """
    try:
        result = _build(problem, settings, worker, proposal)
    except SandboxUnavailable:
        raise
    except SandboxError as exc:
        result = _reject(problem, "infra", f"the sandbox failed: {exc}")
    if isinstance(result, Rejected) and proposal is not None and proposal.reply:
        detail = (result.rejection.detail or "") + "\n\nLLM reply (start):\n" + proposal.reply[:2000]
        result = Rejected(rejection=result.rejection.model_copy(update={"detail": detail.strip()}))
    return result


def _build(
    problem: Problem,
    settings: GenerateSettings,
    worker: SyncWorker,
    proposal: Proposal | ProposalRejected | None,
) -> Generated | Rejected:
    recorded = record(problem, worker, settings)
    if isinstance(recorded, Rejected):
        return recorded
    inferred = inferred_input_schema(recorded)
    candidates = list(recorded.candidates)
    dropped = dict(recorded.dropped)
    if len(candidates) > settings.max_instances:  # the filters pick among the rest (_filters.py)
        dropped["over --max-instances"] = len(candidates) - settings.max_instances
        candidates = candidates[: settings.max_instances]
    if settings.augment > 0:
        more, lost = augment_candidates(recorded.raw.adapted or problem, recorded, inferred, settings, worker)
        candidates.extend(more)
        for reason, count in lost.items():
            dropped[reason] = dropped.get(reason, 0) + count
    run = _Attempt(problem, settings, worker, recorded, inferred, candidates, dropped)
    if proposal is None:
        return run.ladder()
    llm = run.proposal(proposal)
    result = run.ladder()
    if isinstance(llm, Generated):
        mine, theirs = (
            llm.summary.n_problem_tools,
            (result.summary.n_problem_tools if isinstance(result, Generated) else -1),
        )
        if theirs <= mine:
            return llm
        llm_reason = f"deterministic carving had more tools ({theirs} > {mine})"
    else:
        llm_reason = llm
    if isinstance(result, Generated):
        summary = result.summary.model_copy(update={"llm_fallback_reason": llm_reason})
        files = replace(result.files, llm_reply=proposal.reply)
        return Generated(files=files, summary=summary)
    return result


@dataclass(frozen=True)
class _Attempt:
    """One problem's recorded instances, ready to be carved and verified in several ways."""

    problem: Problem
    settings: GenerateSettings
    worker: SyncWorker
    recorded: Recorded
    inferred: dict[str, Any]
    candidates: list[Candidate]
    dropped: dict[str, int]

    def verify(self, carving: Carving) -> Generated | Rejected:
        return _verified(
            self.problem, self.settings, self.worker, self.recorded, carving, self.candidates, self.dropped
        )

    def ladder(self) -> Generated | Rejected:
        """The deterministic carvings, finest first; the first that verifies wins."""
        failures: list[str] = []
        tried: set[str] = set()
        stage: Stage = "analyse"
        # a class problem carves the same at every granularity: one try
        for granularity in GRANULARITIES[:1] if self.recorded.is_class else GRANULARITIES:
            # trees / linked lists: the recorder adapted the entry point to JSON lists; carve that
            source = self.recorded.raw.adapted or self.problem
            carving = carve(source, self.recorded, granularity, self.inferred, self.settings.observe)
            if isinstance(carving, Rejected):
                why = carving.rejection
                failures.append(
                    f"{granularity}: {why.reason}" + (f" ({why.detail[:300]})" if why.detail else "")
                )
                continue
            if carving.granularity in tried:
                continue  # the carver fell back to a rung already verified
            tried.add(carving.granularity)
            result = self.verify(carving)
            answers = (
                one_call_answers(result.files.manifest.tools, result.files.instances)
                if isinstance(result, Generated)
                else []
            )
            if answers and granularity == "fine":
                finer = self.finer()  # the answering piece statement by statement, when that verifies
                if finer is not None:
                    return finer
            if answers:  # not offered: the next rung, and the reason in the report
                failures.append(
                    f"{carving.granularity}: tool {answers[0]} returns the answer in one call on the hidden input"
                )
                continue
            if isinstance(result, Rejected) and result.rejection.stage == "filter" and granularity == "fine":
                finer = self.finer()  # fewer, larger tools fell short: smaller pieces, when they verify
                return finer if finer is not None else result
            if isinstance(result, Rejected) and result.rejection.stage == "filter":
                finer = self.finer(numbered_only=True)  # trees, linked lists: node numbers
                return finer if finer is not None else result
            if isinstance(result, Generated):
                return result
            stage = result.rejection.stage
            failures.append(f"{carving.granularity}: {result.rejection.reason}")
        reason = failures[-1] if failures else "no carving"
        return _reject(self.problem, stage, reason, detail="\n".join(failures))

    def finer(self, *, numbered_only: bool = False) -> Generated | None:
        """The first of the finer carvings, "split" (loop bodies statement by statement),
        "inline" (the helpers the entry calls carved as plans), then for trees and linked lists
        the reference walking node numbers through accessor tools, that makes a gym passing the
        filters with no one-call-answer tool, else None. ``numbered_only``: the last one only."""
        source = self.recorded.raw.adapted or self.problem
        numbered = self.numbered()
        tries = [] if numbered_only else [(source, g) for g in FINER]
        tries += [(numbered, "fine")] if numbered is not None else []
        for source, granularity in tries:
            if granularity == "inline" and self.recorded.is_class:
                break
            carving = carve(source, self.recorded, granularity, self.inferred, self.settings.observe)
            if isinstance(carving, Rejected) or carving.granularity != granularity:
                continue
            result = self.verify(carving)
            if isinstance(result, Generated) and not one_call_answers(
                result.files.manifest.tools, result.files.instances
            ):
                return result
        return None

    def numbered(self) -> Problem | None:
        """An adapted problem rewritten so that its work is in reach of the carving: a tree or
        linked-list reference walking node numbers (``_handles``), an in-place reference as the
        entry point itself (``_inplace``)."""
        raw = self.recorded.raw
        if raw.adapted is None or self.recorded.is_class:
            return None
        target = raw.target.name.removeprefix(ADAPTER_PREFIX)
        params = [(p.name, p.kind) for p in raw.params]
        if raw.shapes:
            out = handle_problem(self.problem, target, params, raw.shapes, in_place=raw.answer_is_argument)
        elif raw.answer_is_argument is not None:
            out = inplace_problem(self.problem, target, params, raw.answer_is_argument)
        else:
            return None
        return out if isinstance(out, Problem) else None

    def proposal(self, proposal: Proposal | ProposalRejected) -> Generated | str:
        """A gym carved from the LLM's decomposition, or why not (the fallback reason)."""
        if isinstance(proposal, ProposalRejected):
            return proposal.reason
        if self.recorded.is_class:
            return "class-based problems are not decomposed"
        if self.recorded.raw.adapted is not None:
            return "problems over trees or linked lists are not decomposed"
        proposed = self.problem.model_copy(update={"solution": proposal.source})
        why = "analyse: no helper of the proposal became a tool"
        for granularity in ("fine", "helpers"):  # the proposal's helpers, plus its segments if they verify
            carving = carve(proposed, self.recorded, granularity, self.inferred, self.settings.observe)
            if isinstance(carving, Rejected):
                why = f"analyse: {carving.rejection.reason}"
                continue
            if carving.granularity == "getters":
                continue
            result = self.verify(carving)
            answers = (
                one_call_answers(result.files.manifest.tools, result.files.instances)
                if isinstance(result, Generated)
                else []
            )
            if answers:
                why = f"verify: tool {answers[0]} returns the answer in one call on the hidden input"
                continue
            if isinstance(result, Generated):
                break
            why = f"{result.rejection.stage}: {result.rejection.reason}"
        else:
            return why
        manifest = result.files.manifest.model_copy(update={"llm_model": self.settings.llm_model})
        files = replace(result.files, manifest=manifest, llm_reply=proposal.reply)
        return Generated(files=files, summary=result.summary.model_copy(update={"llm": True}))


def _verified(
    problem: Problem,
    settings: GenerateSettings,
    worker: SyncWorker,
    recorded: Recorded,
    carving: Carving,
    candidates: list[Candidate],
    dropped: dict[str, int],
) -> Generated | Rejected:
    params = ["operations", "arguments"] if recorded.is_class else recorded.params
    inputs = [{k: decode(v) for k, v in c.input.items()} for c in candidates]
    input_schema = input_schema_for(params, carving.input_schema, inputs)
    output_schema = pick_schema(carving.output_schema, [decode(c.expected) for c in candidates])
    generic = generic_tools(input_schema, output_schema, observation=settings.observe)
    names = [t.name for t in carving.tools]
    clash = sorted(set(names) & (GENERIC_TOOL_NAMES | {t.name for t in generic}))
    if clash or len(set(names)) != len(names):
        return _reject(problem, "render", f"tool names clash with the generic tools or repeat: {names}")
    props = input_schema["properties"]
    problem_tools = [_with_hidden_schemas(t.to_tool_spec(), props) for t in carving.tools]
    # observe and the read tools first, then the problem's tools, submit and task
    first = [t for t in generic if t.kind in ("observe", "read")]
    tools = [*first, *problem_tools, *(t for t in generic if t not in first)]
    result = verify_by_rungs(
        worker=worker,
        tools_source=carving.tools_source,
        oracle_source=carving.oracle_source,
        tools=tools,
        candidates=candidates,
        input_schema=input_schema,
        output_schema=output_schema,
        settings=settings,
        refill=_refill(problem, recorded, settings, worker),
        observation=settings.observe,
    )
    if isinstance(result, VerifyFailed):
        return _reject(problem, result.stage, result.reason, result.detail)
    return _render(
        problem,
        settings,
        carving,
        result,
        input_schema,
        output_schema,
        dict(dropped),
        design=recorded.is_class,
        worker=worker,
        recorded=recorded,
    )


def _refill(
    problem: Problem, recorded: Recorded, settings: GenerateSettings, worker: SyncWorker
) -> Refill | None:
    """How the size ladder derives more candidates where it stops climbing (None: no augmentation)."""
    if settings.augment <= 0:
        return None
    source, schema = recorded.raw.adapted or problem, inferred_input_schema(recorded)

    def refill(sizes: tuple[int, ...], n: int) -> tuple[list[Candidate], dict[str, int]]:
        return derive_candidates(source, recorded, schema, settings, worker, sizes=sizes, n=n)

    return refill


def _with_hidden_schemas(tool: ToolSpec, props: dict[str, Any]) -> ToolSpec:
    params = [
        p.model_copy(update={"type_schema": props.get(p.hidden_key or "", {})})
        if p.source == "hidden" and not p.type_schema
        else p
        for p in tool.params
    ]
    return tool.model_copy(update={"params": params})


def _render(
    problem: Problem,
    settings: GenerateSettings,
    carving: Carving,
    verified: Verification,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    dropped: dict[str, int],
    *,
    design: bool,
    worker: SyncWorker,
    recorded: Recorded,
) -> Generated | Rejected:
    for reason, count in verified.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + count
    kept = apply_filters(verified.instances, settings)
    if kept.rejection is None:
        kept = fit_episodes(verified.instances, kept, settings)
    for reason, count in kept.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + count
    if kept.rejection is not None:
        return _reject(problem, "filter", kept.rejection)
    batches = plan_batches(
        kept.instances, batch=settings.batch, seed=settings.seed, key=problem.task_id, min_size=kept.min_batch
    )
    instances: list[Instance] = batches.instances
    # a problem tool the oracle never calls on a kept instance was never verified (and its
    # types never inferred): it is not offered
    used = {c.tool for inst in instances for c in inst.oracle_trace}
    tools = [t for t in verified.tools if t.function is None or t.name in used]
    manifest = gym_manifest(
        problem, settings, carving, tools, instances, (input_schema, output_schema), batches.size
    )
    statement = _statement(
        problem, settings, worker, recorded, manifest, instances, verified.instances, design
    )
    manifest = manifest.model_copy(update={"task": statement.text})
    summary = gym_summary(problem, manifest, instances, dropped, batches, statement.notes)
    files = GymFiles(
        manifest=manifest,
        tools_source=carving.tools_source,
        oracle_source=carving.oracle_source,
        instances=instances,
        problem=problem,
    )
    return Generated(files=files, summary=summary)


def _statement(
    problem: Problem,
    settings: GenerateSettings,
    worker: SyncWorker,
    recorded: Recorded,
    manifest: GymManifest,
    instances: list[Instance],
    verified: list[Instance],
    design: bool,
) -> Statement:
    """The task statement of a gym: the goal, a worked example on an input that is no instance
    (the reference's answer, computed in the sandbox), how to play under the manifest's policy.

    Raises:
        SandboxUnavailable: the sandbox cannot start.
    """
    known = [dict(i.input) for i in verified] + [dict(c.input) for c in recorded.candidates]
    examples = worked_examples(
        problem, recorded, known=known, input_schema=manifest.input_schema, settings=settings, worker=worker
    )
    return compose_statement(
        question=problem.question,
        entry_point=manifest.entry_point,
        input_schema=manifest.input_schema,
        output_schema=manifest.output_schema,
        tools=manifest.tools,
        instances=instances,
        solution=problem.solution,
        examples=examples,
        observation=manifest.observation,
        batch_size=manifest.batch_size,
        design=design,
        answer_is_argument=recorded.raw.answer_is_argument,
    )


def internal_error(problem: Problem, stage: Stage, exc: BaseException) -> Rejected:
    """A bug of ours met on one problem: reported as that problem's rejection, with the traceback."""
    detail = "".join(traceback.format_exception(exc))
    return _reject(problem, stage, f"internal error: {type(exc).__name__}: {exc}", detail=detail)
