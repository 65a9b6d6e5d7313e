"""Carve a function problem's reference solution into typed atomic tools and an oracle plan.

What becomes a tool (granularity "fine"): the solution's helper functions (top-level, and
nested ones with their closure variables as extra parameters), loop bodies, runs of simple
statements, conditions, comprehension elements and filters, returned expressions - each only
when it can be proven to run on its own (see ``_segments``). The oracle plan is the entry
point's body with each carved piece replaced by ``tools.<name>(kw=..)``. A tool parameter
that is, at every call, an entry parameter the entry never rebinds or mutates is bound to the
hidden input instead of passed by the agent. Nothing extractable -> getters over the input.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import libcst as cst

from ...runtime import read_tool_name
from ...schemas import ObservationPolicy, Problem
from ._analysis import FunctionFacts, SolutionFacts, analyse_solution, walk
from ._carve_common import Namer, PendingTool, entry_schema, input_schema_of, render
from ._carve_inline import HelperPlan, helper_plans, inlinable_helpers, passed_through
from ._carve_nested import basic_ok, nested_helper_tools, write_back_source
from ._carve_plan import PlanRewriter
from ._carving_types import CarvedParam, CarvedTool, CarveRejected, Carving, Granularity
from ._getters import getters_carving
from ._oracle_reads import read_function_source, read_kinds, read_lines
from ._segments import SegmentContext, opaque_names, suite_statements
from ._type_hints import annotation_schema

__all__ = ["carve_function_problem"]

_CACHES = frozenset({"lru_cache", "cache"})


def carve_function_problem(
    problem: Problem,
    *,
    entry_params: Sequence[str],
    input_schema: Mapping[str, Any] | None = None,
    granularity: Granularity = "fine",
    observation: ObservationPolicy = "full",
) -> Carving | CarveRejected:
    """Carve ``problem.solution`` into tools.py, oracle.py and the tool specs.

    ``entry_params`` are the entry point's parameters as the instances name them;
    ``input_schema`` (an object type schema over them) refines parameter types.
    ``granularity`` picks how much is carved: "fine" (atomic pieces), "split" (fine, with a loop
    body's statements as tools of their own rather than one step tool), "inline" (fine, with the
    helpers the entry point calls carved as plans rather than offered whole), "coarse" (whole top-level
    loops), "helpers" (helper functions only) or "getters" (always verifiable). When a finer
    rung finds nothing to carve, the result is the "getters" carving (``Carving.granularity``).
    ``observation`` is how the oracle learns the hidden input: "full" (one ``observe()``) or
    "partial" (``observe()`` then each collection through its ``read_<p>`` tool).

    Returns a :class:`Carving`, or :class:`CarveRejected` with the reason (never raises for a
    bad solution).
    """
    if problem.entry_point is None:
        return CarveRejected("class-based problem", "carve_function_problem needs an entry point function")
    facts = analyse_solution(problem.solution, problem.entry_point)
    if isinstance(facts, str):
        return CarveRejected("analysis failed", facts)
    entry = facts.entry
    names = [p.name for p in entry.params]
    missing = [p.name for p in entry.params if p.default is None and p.name not in entry_params]
    unknown = [p for p in entry_params if p not in names]
    if (
        isinstance(entry.node.params.star_arg, cst.Param)
        or entry.node.params.star_kwarg
        or entry.node.params.posonly_params
    ):
        return CarveRejected(
            "unsupported signature", f"{entry.name} takes *args, **kwargs or positional-only params"
        )
    if missing or unknown:
        return CarveRejected(
            "entry parameters mismatch",
            f"{entry.name}{tuple(names)} vs instance inputs {list(entry_params)}: missing {missing}, unknown {unknown}",
        )
    props = dict(input_schema.get("properties", {})) if input_schema else {}
    schemas = {p.name: props.get(p.name) or annotation_schema(p.annotation) for p in entry.params}
    if granularity != "getters":
        try:
            carved = _carve(
                facts, list(entry_params), schemas, granularity=granularity, observation=observation
            )
        except cst.CSTValidationError:  # a rewrite libcst refuses: fall back to the getters
            carved = None
        if carved is not None:
            return carved
    return getters_carving(facts, list(entry_params), schemas, observation=observation)


def _carve(
    facts: SolutionFacts,
    entry_params: list[str],
    schemas: dict[str, Any],
    *,
    granularity: Granularity,
    observation: ObservationPolicy,
) -> Carving | None:
    entry = facts.entry
    tools_var = "tools" if "tools" not in facts.all_names else "_cg_tools"
    in_var = "_in" if "_in" not in facts.all_names else "_cg_in"
    namer = Namer(facts.all_names | facts.module_names)
    for p in read_kinds(entry_params, schemas, observation):
        namer.claimed.add(read_tool_name(p))  # the generic read tools own these names
    ctx, hoisted = _segment_context(facts)
    made = _plans(facts, ctx, hoisted, namer, granularity=granularity, tools_var=tools_var)
    if made is None:
        return None
    plan, new_body, inlined = made
    tools = {**{k: v for h in inlined for k, v in h.tools.items()}, **plan.tools}
    eligible = _hidden_eligible(facts, entry_params)
    hidden = _hidden_bindings(tools.values(), eligible)
    plan_fn = _plan_fn(entry.node, new_body, tools_var, hidden)
    kinds = read_kinds(entry_params, schemas, observation)
    reader = namer.unique("read_whole") if kinds else ""
    reads = read_lines(kinds, reader=reader, tools_var=tools_var, in_var=in_var)
    before = [h.plan_fn for h in inlined]
    oracle_fn = _oracle_fn(
        plan_fn, reads, tools_var=tools_var, in_var=in_var, entry=entry.name, before=before
    )
    own = {k for h in inlined for k in h.tools} - set(plan.tools)  # the helpers' values, not the entry's
    tools_source, carved = _tools_module(facts, tools.values(), hidden, hoisted, schemas, own)
    prelude = [cst.parse_statement(read_function_source(reader))] if kinds else []
    backs = sorted({t.write_back for t in tools.values() if t.write_back})
    prelude += [cst.parse_statement(write_back_source(name)) for name in backs]
    oracle_source = render(
        facts, [*prelude, oracle_fn], "The oracle plan: the reference solution as tool calls."
    )
    return Carving(
        tools_source=tools_source,
        oracle_source=oracle_source,
        tools=carved,
        entry_point=entry.name,
        granularity=granularity,
        input_schema=input_schema_of(schemas, entry_params),
        output_schema=annotation_schema(entry.returns),
    )


def _plans(
    facts: SolutionFacts,
    ctx: SegmentContext,
    hoisted: set[str],
    namer: Namer,
    *,
    granularity: Granularity,
    tools_var: str,
) -> tuple[PlanRewriter, list[cst.BaseStatement], list[HelperPlan]] | None:
    """The entry point's plan, its rewritten body and the helpers carved as plans ("inline"), or
    None when nothing is worth a tool."""
    nested_tools = (
        nested_helper_tools(facts, ctx, hoisted, namer, _helper_tools(facts)) if not facts.has_global else {}
    )
    segments = granularity in ("fine", "split", "coarse", "inline") and not facts.has_global
    make = partial(
        _rewriter,
        namer=namer,
        tools_var=tools_var,
        granularity=granularity,
        segments=segments,
        bodies={},  # one tool per body across the helpers' plans and the entry's
    )
    names = inlinable_helpers(facts) if granularity == "inline" and segments else []
    inlined = helper_plans(
        facts, names, context=lambda f: _segment_context(f)[0], helper_tools=_helper_tools, make=make
    )
    carved_away = frozenset(h.name for h in inlined)
    helper_tools = {k: v for k, v in _helper_tools(facts).items() if k not in carved_away}
    for single_ops in (False, True):  # single operators only when nothing else is worth a tool
        plan = make(
            facts,
            ctx,
            helper_tools=helper_tools,
            inlined=carved_away,
            single_ops=single_ops,
            nested=nested_tools,
        )
        new_body = plan.block(
            suite_statements(facts.entry.node.body), frozenset(p.name for p in facts.entry.params), False
        )
        if plan.tools or inlined:
            return plan, new_body, inlined
    return None


def _rewriter(
    of: SolutionFacts,
    of_ctx: SegmentContext,
    *,
    namer: Namer,
    tools_var: str,
    granularity: Granularity,
    segments: bool,
    bodies: dict[str, PendingTool],
    helper_tools: dict[str, FunctionFacts],
    inlined: frozenset[str] = frozenset(),
    single_ops: bool = False,
    nested: dict[str, PendingTool] | None = None,
) -> PlanRewriter:
    """A plan rewriter of ``of`` (the entry point's facts, or a helper's) with the carving's settings."""
    return PlanRewriter(
        of,
        of_ctx,
        helper_tools=helper_tools,
        nested_tools=nested or {},
        unique=namer.unique,
        claim=namer.claim,
        tools_var=tools_var,
        segments=segments,
        coarse=granularity == "coarse",
        single_ops=single_ops,
        split=granularity == "split",
        inlined=inlined,
        bodies=bodies,
    )


def _tools_module(
    facts: SolutionFacts,
    tools: Iterable[PendingTool],
    hidden: dict[str, dict[str, str]],
    hoisted: set[str],
    schemas: dict[str, Any],
    inlined: Collection[str] = (),
) -> tuple[str, list[CarvedTool]]:
    """tools.py (local imports, hoisted helpers, the carved functions) and the carved tools; a tool
    named in ``inlined`` (called only by a helper's plan) takes no schema from the entry's inputs."""
    generated: list[cst.BaseStatement] = list(facts.local_imports)
    generated += [facts.nested[n].node.with_changes(leading_lines=[]) for n in sorted(hoisted)]
    carved: list[CarvedTool] = []
    for tool in tools:
        if tool.node is not None and tool.node.name.value not in hoisted:
            generated.append(tool.node)
        carved.append(_carved_tool(tool, hidden[tool.name], facts, {} if tool.name in inlined else schemas))
    return render(facts, generated, "Tools carved from the reference solution (codegym-mcp)."), carved


def _helper_tools(facts: SolutionFacts) -> dict[str, FunctionFacts]:
    """The solution's helper functions that may be tools as they are."""
    return {
        name: f
        for name, f in facts.helpers.items()
        if f.simple_params and not f.is_generator and not f.mutated_params and set(f.decorators) <= _CACHES
    }


def _plan_fn(
    entry: cst.FunctionDef,
    new_body: Sequence[cst.BaseStatement],
    tools_var: str,
    hidden: dict[str, dict[str, str]],
) -> cst.FunctionDef:
    """The entry point with the plan as its body, hidden-bound arguments dropped from its tool calls."""
    plan_fn = entry.with_changes(body=entry.body.with_changes(body=new_body))
    dropped = plan_fn.visit(_DropHidden(tools_var, hidden))
    assert isinstance(dropped, cst.FunctionDef)
    return dropped


def _segment_context(facts: SolutionFacts) -> tuple[SegmentContext, set[str]]:
    """What segments may read (hoisted nested helpers, local imports) and the hoisted helpers."""
    index = facts.index
    body = facts.entry.node.body
    local_import_names = {
        (
            alias.asname.name.value
            if alias.asname and isinstance(alias.asname.name, cst.Name)
            else _first(alias.name)
        )
        for stmt in facts.local_imports
        for small in stmt.body
        if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar)
        for alias in small.names
    }
    opaque = opaque_names(facts)
    hoisted = _hoistable(facts, frozenset(local_import_names))
    available = frozenset(local_import_names | hoisted)
    alias_prone = _alias_prone(facts)
    ctx = SegmentContext(
        index=index,
        all_reads=index.read_nodes(body),
        available=available,
        opaque=frozenset(opaque - available),
        alias_prone=frozenset(alias_prone),
    )
    return ctx, hoisted


def _hidden_bindings(tools: Iterable[PendingTool], eligible: Collection[str]) -> dict[str, dict[str, str]]:
    """Per tool, the parameters bound to the same hidden input key at every call site."""
    hidden: dict[str, dict[str, str]] = {}
    for tool in tools:
        hidden[tool.name] = {}
        for p in tool.params:
            keys = {site.get(p) for site in tool.sites}
            if len(keys) == 1:
                (key,) = keys
                if key is not None and key in eligible:
                    hidden[tool.name][p] = key
    return hidden


def _oracle_fn(
    plan_fn: cst.FunctionDef,
    reads: list[str],
    *,
    tools_var: str,
    in_var: str,
    entry: str,
    before: Sequence[cst.FunctionDef] = (),
) -> cst.FunctionDef:
    """``oracle(tools)``: observe (and read) the input, the plan (after the helpers' plans
    ``before``), then submit its answer."""
    return cst.FunctionDef(
        name=cst.Name("oracle"),
        params=cst.Parameters(params=[cst.Param(cst.Name(tools_var))]),
        body=cst.IndentedBlock(
            body=[
                cst.parse_statement(f"{in_var} = {tools_var}.observe()"),
                *(cst.parse_statement(line) for line in reads),
                *(fn.with_changes(leading_lines=[cst.EmptyLine(indent=False)]) for fn in [*before, plan_fn]),
                cst.parse_statement(f"return {tools_var}.submit(answer={entry}(**{in_var}))").with_changes(
                    leading_lines=[cst.EmptyLine(indent=False)]
                ),
            ]
        ),
    )


def _first(name: cst.Attribute | cst.Name) -> str:
    while isinstance(name, cst.Attribute):
        name = name.value  # type: ignore[assignment]
    return name.value


def _hidden_eligible(facts: SolutionFacts, entry_params: list[str]) -> set[str]:
    """Entry parameters that keep their input value throughout the entry point."""
    body = facts.entry.node.body
    index = facts.index
    name = facts.entry.name
    changed = index.writes(body) | set(index.mutated(body)) | index.deletes(body)
    stable = {p for p in entry_params if p not in changed}
    if any(isinstance(n, cst.Name) and n.value == name for n in walk(body)):
        return passed_through(facts, stable)  # recursive: only what every recursive call passes on
    return stable


def _alias_prone(facts: SolutionFacts) -> set[str]:
    index = facts.index
    out: set[str] = set()
    for n in walk(facts.entry.node.body):
        if isinstance(n, cst.Assign) and isinstance(n.value, (cst.Name, cst.Subscript, cst.Attribute)):
            for t in n.targets:
                out |= index.writes(t.target)
            out |= {r for r in index.reads(n.value)[:1]}
        elif isinstance(n, cst.For):
            out |= index.writes(n.target)
            if isinstance(n.iter, cst.Name):
                out |= set(index.reads(n.iter))
        elif isinstance(n, cst.WithItem) and n.asname is not None:
            out |= index.writes(n.asname)
    return out


def _hoistable(facts: SolutionFacts, imports: frozenset[str]) -> set[str]:
    """Nested functions that read nothing of the entry point: they can move to module level as is."""
    index = facts.index
    hoisted: set[str] = set()
    for _ in range(len(facts.nested) + 1):
        grew = False
        for name, f in facts.nested.items():
            if name in hoisted or name in facts.module_names or not basic_ok(f):
                continue
            free = [r for r in index.reads(f.node) if r != name and r not in hoisted and r not in imports]
            if not free and set(f.decorators) <= _CACHES:
                hoisted.add(name)
                grew = True
        if not grew:
            break
    return hoisted


class _DropHidden(cst.CSTTransformer):
    """Remove hidden-bound keyword arguments from ``tools.<name>(..)`` calls."""

    def __init__(self, tools_var: str, hidden: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.tools_var, self.hidden = tools_var, hidden

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == self.tools_var
            and func.attr.value in self.hidden
        ):
            drop = self.hidden[func.attr.value]
            args = [a for a in updated_node.args if a.keyword is None or a.keyword.value not in drop]
            if args:
                args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(args=args)
        return updated_node


def _carved_tool(
    tool: PendingTool, hidden: dict[str, str], facts: SolutionFacts, schemas: dict[str, Any]
) -> CarvedTool:
    declared: dict[str, Any] = {}
    returns: dict[str, Any] | None = None
    if tool.helper is not None:
        declared = {p.name: annotation_schema(p.annotation) for p in tool.helper.params}
        returns = annotation_schema(tool.helper.returns) if not tool.changed else None
    stable = _hidden_eligible(facts, list(schemas))
    params = []
    for p in tool.params:
        if p == tool.state_param:
            params.append(CarvedParam(p, "state"))
            continue
        schema = declared.get(p)
        key = hidden.get(p)
        if schema is None and (key or (p in stable and p not in declared)):
            schema = entry_schema(schemas, key or p)
        params.append(CarvedParam(p, "hidden" if key else "agent", key, schema))
    fields = tool.returns if tool.returns and len(tool.returns) > 1 else None
    if tool.returns and len(tool.returns) == 1 and tool.returns[0] in stable:
        returns = entry_schema(schemas, tool.returns[0])
    description = tool.description
    for carved in params:
        if carved.source == "hidden":  # not an argument: say where its value comes from
            description = re.sub(
                rf"(?m)^    {re.escape(carved.name)}: .*$",
                f"    {carved.name}: not passed; the runtime binds the hidden input `{carved.hidden_key}`.",
                description,
            )
    return CarvedTool(
        name=tool.name,
        kind=tool.kind,
        description=description,
        function=tool.function,
        params=params,
        stateful=tool.state_param is not None,
        result_fields=list(fields) if fields else None,
        returns_schema=returns,
    )
