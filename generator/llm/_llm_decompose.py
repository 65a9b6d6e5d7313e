"""LLM-assisted decomposition: ask a model to split a reference solution into typed helpers.

Most reference solutions are one monolithic function, from which libcst alone carves few
meaningful tools. This stage asks a model (through :class:`~._llm_client.LlmClient`) to
rewrite the solution as small, pure, typed helper functions plus an entry point with the
same name and signature that only orchestrates them. The reply's fenced python block is
read and checked statically (:mod:`._llm_checks`: it parses; helpers are fully typed, free of I/O,
globals and module-level mutable state; every name is defined; the entry point keeps the
reference's parameters and calls at least two helpers).

A :class:`Proposal` that passes these checks is still untrusted: the pipeline carves tools
from it and replays its oracle plan on every instance in the sandbox, exactly as for any
gym, and falls back to the deterministic carving when that fails. Nothing here executes the
model's code.

Results are values: :func:`decompose` returns ``Proposal | ProposalRejected`` and never
raises for a bad reply or a failed request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from ...schemas import Problem
from ._llm_checks import check_proposal, strip_main_guard
from ._llm_client import ChatMessage, LlmClient, LlmRequestFailed

__all__ = [
    "Proposal",
    "ProposalRejected",
    "build_messages",
    "check_proposal",
    "decompose",
    "decompose_all",
    "extract_python_block",
    "strip_main_guard",
]

_FENCE = re.compile(r"```[ \t]*(python3?|py)?[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)

_SYSTEM = (
    "You are a senior Python engineer. You refactor working code into small, pure, fully typed "
    "functions without changing its behaviour in any way."
)

_INSTRUCTIONS = """\
Refactor the reference solution below into small helper functions plus a rewritten entry point.

Rules:
1. Write 3 to 6 helper functions at module level. Each performs one meaningful step of the
   algorithm (a check, a transformation, a search, a count), so that calling the helpers one
   by one is a natural way to solve the problem.
2. Every helper is pure: no print, input, open, files, os, sys, subprocess, random or time;
   no global or nonlocal; no module-level mutable state; it returns new values instead of
   mutating its arguments.
3. Every helper is fully typed: annotate every parameter and the return value with built-in
   types only (int, float, str, bool, None, list[...], dict[...], tuple[...], set[...]).
   Parameters and return values are plain data: no functions, iterators, generators or objects.
4. Rewrite `{entry}` with exactly the same name, parameters and defaults. It only orchestrates:
   it calls at least two helpers, combines their results and returns exactly what the
   reference returns for every valid input (same type, same value, same edge cases).
5. Give every helper a descriptive name, descriptive parameter names and a one-line docstring
   saying what it returns: they are shown to agents as the tool's name, arguments and description.
6. Keep the imports the code needs at the top of the module. Define every name you use.
7. Reply with one fenced ```python block holding the complete module.
"""


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """A decomposition that passed the static checks (still unverified until the replay).

    ``source`` is the complete module (helpers + entry point), ``helpers`` the names of its
    top-level helper functions in source order, ``reply`` the model's full answer.
    """

    source: str
    reply: str
    entry_point: str
    helpers: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ProposalRejected:
    """Why no proposal could be used; ``reply`` is the model's answer, if there was one."""

    reason: str
    reply: str | None = None


def build_messages(problem: Problem) -> list[ChatMessage]:
    """The chat messages that ask for a decomposition of ``problem``'s reference solution.

    Raises:
        ValueError: the problem has no entry point (class-based problems are not decomposed).
    """
    if problem.entry_point is None:
        raise ValueError(f"{problem.problem_id} is class-based (no entry point): not decomposed")
    question = problem.question.strip()
    if question and question in problem.solution:
        # HumanEval: the statement is the solution's own signature + docstring; say it once
        question = "(stated in the docstring of the reference solution below)"
    user = (
        _INSTRUCTIONS.format(entry=problem.entry_point)
        + f"\nProblem {problem.problem_id}:\n{question}\n\n"
        + f"Reference solution (entry point `{problem.entry_point}`):\n"
        + f"```python\n{problem.solution.strip()}\n```\n"
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def extract_python_block(reply: str) -> str | None:
    """The code of the reply's fenced python block, or None when there is none.

    With several blocks, the last one tagged ``python`` wins (models tend to show fragments
    first and the complete module last); untagged blocks count only if none is tagged.
    """
    blocks = [(match.group(1), match.group(2)) for match in _FENCE.finditer(reply)]
    tagged = [code for tag, code in blocks if tag]
    chosen = tagged or [code for _, code in blocks]
    if not chosen:
        return None
    code = chosen[-1].strip("\n")
    return code + "\n" if code.strip() else None


def decompose(problem: Problem, client: LlmClient) -> Proposal | ProposalRejected:
    """Ask the model for a decomposition of ``problem`` and check it statically.

    Never raises for what the model or the network does: a failed request, a reply without a
    python block, or a block that fails a check all come back as :class:`ProposalRejected`
    with the reason (and the reply when there is one).
    """
    if problem.entry_point is None:
        return ProposalRejected(reason="class-based problem (no entry point): the LLM stage skips it")
    try:
        reply = client.complete(build_messages(problem))
    except LlmRequestFailed as exc:
        return ProposalRejected(reason=f"request failed: {exc}")
    code = extract_python_block(reply.text)
    if code is None:
        if reply.finish_reason == "length":
            reason = (
                f"the reply was cut off at max_tokens ({client.settings.max_tokens}) before a complete "
                "```python code block"
            )
        else:
            reason = "the reply has no fenced ```python code block"
        return ProposalRejected(reason=reason, reply=reply.text)
    code = strip_main_guard(code)
    checked = check_proposal(code, entry_point=problem.entry_point, reference=problem.solution)
    if isinstance(checked, str):
        return ProposalRejected(reason=checked, reply=reply.text)
    return Proposal(source=code, reply=reply.text, entry_point=problem.entry_point, helpers=checked)


def decompose_all(
    problems: Sequence[Problem],
    client: LlmClient,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Proposal | ProposalRejected]:
    """:func:`decompose` for many problems, ``client.settings.max_concurrency`` at a time.

    Returns a dict keyed by ``problem.task_id`` in the order of ``problems``. Run it in the
    parent process before fanning problems out to workers: proposals are picklable values,
    the client is not. ``progress(done, total)`` is called from this thread after each answer.
    """
    total = len(problems)
    results: dict[str, Proposal | ProposalRejected] = {}
    with ThreadPoolExecutor(max_workers=client.settings.max_concurrency) as pool:
        futures = {pool.submit(decompose, p, client): p.task_id for p in problems}
        if progress is not None:
            progress(0, total)
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, total)
    return {p.task_id: results[p.task_id] for p in problems}
