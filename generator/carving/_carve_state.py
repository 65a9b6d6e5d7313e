"""Stateful loop steps: a loop's carried values kept in the episode state instead of passed back and forth.

``total = 0; for x in xs: total += x * x`` gives ``add_x_times_x_to_total(x)``: the tool reads
``total`` from the episode state (``0`` on the first call), runs one step and stores the new value;
it also returns it, so the plan (and the agent) still see it. Only for a loop that runs once per
episode whose carried values all start from a literal just before it (see ``PlanRewriter``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import libcst as cst

from ._carve_common import PendingTool
from ._carve_rules import read_code
from ._describe_text import segment_description

if TYPE_CHECKING:
    from ._carve_plan import PlanRewriter

__all__ = ["stateful_step"]


def stateful_step(
    plan: PlanRewriter,
    name: str,
    body: Sequence[cst.BaseStatement],
    params: list[str],
    rets: list[str],
    kept: dict[str, cst.BaseExpression],
    loop: cst.For | cst.While | None,
) -> tuple[PendingTool, list[tuple[str, cst.BaseExpression, str | None]]]:
    """The tool (its first parameter is the state) and the plan's arguments of its call."""
    taken = plan.facts.all_names
    state = next(n for n in ("state", "_cg_state", "_cg_episode_state") if n not in taken)
    own = next(n for n in ("_cg_own", "_cg_own_values") if n not in taken)
    code = plan.facts.module.code_for_node
    agent = [p for p in params if p not in kept]
    reads = [cst.parse_statement(f"{r} = {own}.get({r!r}, {code(start)})") for r, start in kept.items()]
    stored = ", ".join(f"{r!r}: {r}" for r in rets)
    result = rets[0] if len(rets) == 1 else "(" + ", ".join(rets) + ")"
    fn = cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in [state, *agent]]),
        body=cst.IndentedBlock(
            body=[
                cst.parse_statement(f"{state} = {state} if isinstance({state}, dict) else {{}}"),
                cst.parse_statement(f"{own} = {state}.get({name!r}, {{}})"),
                *reads,
                *body,
                cst.parse_statement(f"return [{{**{state}, {name!r}: {{{stored}}}}}, {result}]"),
            ]
        ),
    )
    starts = ", ".join(f"{r} from {code(v)}" for r, v in kept.items())
    if isinstance(loop, cst.For):
        head = f"one step of the loop over {read_code(code(loop.iter))} with {code(loop.target)}"
    elif isinstance(loop, cst.While):
        head = f"one step of the loop while {read_code(code(loop.test))}"
    else:
        head = f"update {', '.join(rets)}"
    step_only = cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in agent]),
        body=cst.IndentedBlock(body=[*body, cst.parse_statement(f"return {result}")]),
    )
    items = plan.facts.index.writes(loop.target) if isinstance(loop, cst.For) else set()
    desc = segment_description(cst.Module(body=[step_only]).code, agent, rets, head, items=sorted(items))
    desc = desc.replace(
        "\n\nReturns:",
        f"\n\nState:\n    keeps {', '.join(rets)} between calls (starting {starts} in each episode)."
        "\n\nReturns:",
        1,
    )
    tool = PendingTool(name, "segment", desc, name, [state, *agent], rets, node=fn, state_param=state)
    return tool, plan.name_args(agent)
