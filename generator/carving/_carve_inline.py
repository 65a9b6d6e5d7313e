"""The "inline" carving: a helper the entry point calls is carved like the entry point itself.

At the other granularities a top-level helper (``is_prime(n)``) is one tool, so a solution whose
work sits in a helper gives a gym of one tool called a few times (``find_next_prime``: observe,
``is_prime`` per candidate, submit). Here such a helper is not offered whole: its body is carved
by the same :class:`PlanRewriter` (its conditions, loop bodies and call chains become tools) and
its rewritten body becomes a plan function of the oracle, defined before the entry point's plan,
so the entry point's calls of the helper run that plan. The helper's tools never bind hidden
input (their arguments are the helper's own values) and never take a schema from the entry
point's parameters (the first replay infers them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import libcst as cst

from ._analysis import FunctionFacts, SolutionFacts, analyse_solution, walk
from ._carve_common import PendingTool
from ._carve_plan import PlanRewriter
from ._segments import SegmentContext, suite_statements

__all__ = ["HelperPlan", "calls_any", "helper_plans", "inlinable_helpers", "passed_through"]


@dataclass(frozen=True)
class HelperPlan:
    """A helper's rewritten definition (a plan function of the oracle) and the tools it calls."""

    name: str
    plan_fn: cst.FunctionDef
    tools: dict[str, PendingTool]


def inlinable_helpers(facts: SolutionFacts) -> list[str]:
    """Top-level helpers the entry point calls by name whose body can be carved as a plan.

    Excluded: helpers with ``*args``/keyword-only parameters, generators, decorated or
    recursive helpers, helpers that mutate an argument, define functions or classes, or use
    ``global``/``nonlocal`` (their rewritten body would not behave as the reference).
    """
    index = facts.index
    called = {
        n.func.value
        for n in walk(facts.entry.node.body)
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value not in index.local_names
    }
    return sorted(name for name, f in facts.helpers.items() if name in called and _plain(f))


def _plain(f: FunctionFacts) -> bool:
    if not f.simple_params or f.is_generator or f.decorators or f.mutated_params:
        return False
    for n in walk(f.node.body):
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Global, cst.Nonlocal)):
            return False
        if isinstance(n, cst.Name) and n.value == f.name:
            return False  # recursive: the plan function would call itself through the reference
    return True


def helper_plans(
    facts: SolutionFacts,
    names: list[str],
    *,
    context: Callable[[SolutionFacts], SegmentContext],
    helper_tools: Callable[[SolutionFacts], dict[str, FunctionFacts]],
    make: Callable[..., PlanRewriter],
) -> list[HelperPlan]:
    """The plan of each helper in ``names`` whose body gives at least one tool.

    ``context`` builds the segment context of a function's facts, ``helper_tools`` its helper
    tools, ``make`` a :class:`PlanRewriter` with the carving's shared settings (names, bodies).
    """
    source = facts.module.code
    plans: list[HelperPlan] = []
    for name in names:
        own = analyse_solution(source, name)
        if isinstance(own, str):
            continue
        tools = {k: v for k, v in helper_tools(own).items() if k not in names}
        plan = make(own, context(own), helper_tools=tools, inlined=frozenset(names))
        params = frozenset(p.name for p in own.entry.params)
        body = plan.block(suite_statements(own.entry.node.body), params, False)
        if not plan.tools:
            continue
        for tool in plan.tools.values():  # the helper's own values: never the hidden input
            tool.sites[:] = [dict.fromkeys(site) for site in tool.sites]
        fn = own.entry.node.with_changes(
            body=own.entry.node.body.with_changes(body=body), leading_lines=[], decorators=[]
        )
        plans.append(HelperPlan(name, fn, dict(plan.tools)))
    return plans


def passed_through(facts: SolutionFacts, params: set[str]) -> set[str]:
    """Of ``params`` (never rebound in the entry point), those every recursive call of the entry
    passes on unchanged (``f(xs, i + 1)`` passes ``xs``): in every frame they hold the input.
    Empty when the entry is referred to other than by a call, or a call unpacks ``*args``."""
    entry = facts.entry
    order = [p.name for p in entry.params]
    names = [n for n in walk(entry.node.body) if isinstance(n, cst.Name) and n.value == entry.name]
    calls = [
        n
        for n in walk(entry.node.body)
        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == entry.name
    ]
    if len(calls) != len(names) or any(a.star for c in calls for a in c.args):
        return set()
    kept = set(params)
    for call in calls:
        given = {
            (a.keyword.value if a.keyword else order[i] if i < len(order) else ""): a.value
            for i, a in enumerate(call.args)
        }
        kept = {
            p
            for p in kept
            if isinstance(given.get(p), cst.Name) and cst.ensure_type(given[p], cst.Name).value == p
        }
    return kept


def calls_any(node: cst.CSTNode, names: Collection[str]) -> bool:
    """Whether ``node`` calls one of the functions ``names`` by name."""
    return any(
        isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in names for n in walk(node)
    )
