"""Rewrite the entry point's body into the oracle plan: extracted code becomes ``tools.<name>(..)``.

The walk goes statement by statement keeping the set of names surely bound so far, so a
segment is only carved when every value it reads exists at that point. Statement segments
(loop bodies, runs of simple statements), expression segments (conditions, comprehension
parts, returned expressions) and helper calls each register a :class:`PendingTool`; the
hidden binding of their parameters is decided afterwards from all call sites.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import libcst as cst

from ._analysis import FunctionFacts, SolutionFacts, walk
from ._carve_common import PendingTool
from ._carve_rules import body_key, is_run_stmt, literal_starts, nontrivial, plain_if, single_operation
from ._describe import expr_name
from ._describe_text import expr_description
from ._segments import SegmentContext, definitely_assigned, expression_interface

__all__ = ["PlanRewriter"]

_N = TypeVar("_N", bound=cst.CSTNode)
_LOOPS = (cst.For, cst.While)
_COMPS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


class PlanRewriter:
    """One pass over the entry point: new body + the tools it calls."""

    def __init__(
        self,
        facts: SolutionFacts,
        ctx: SegmentContext,
        *,
        helper_tools: dict[str, FunctionFacts],
        nested_tools: dict[str, PendingTool],
        unique: Callable[[str], str],
        claim: Callable[[str], str],
        tools_var: str,
        segments: bool,
        coarse: bool = False,
        single_ops: bool = False,
        split: bool = False,
        inlined: frozenset[str] = frozenset(),
        bodies: dict[str, PendingTool] | None = None,
    ) -> None:
        self.facts = facts
        self.ctx = ctx
        self.helper_tools = helper_tools
        self.nested_tools = nested_tools
        self.unique = unique
        self.claim = claim
        self._helpers: dict[str, PendingTool] = {}
        self.tools_var = tools_var
        self.segments = segments
        self.coarse = coarse  # whole top-level loops become tools; nothing inside a loop does
        self.single_ops = single_ops  # ``x > 0`` as a tool: only when nothing else would be one
        self.split = split  # a loop body's statements as tools of their own, not one step tool
        self.tools: dict[str, PendingTool] = {}
        self._inits: dict[str, cst.BaseExpression] | None = None  # literal starts of the next loop's values
        self.inlined = inlined  # helpers carved as plan functions: their calls stay plan code
        self._bodies = {} if bodies is None else bodies  # normalised body -> the tool that has it
        self._code = facts.module.code_for_node

    # ------------------------------------------------------------------ tool registry

    def call_tool(
        self, tool: PendingTool, args: list[tuple[str, cst.BaseExpression, str | None]]
    ) -> cst.Call:
        """``tools.<name>(p=expr, ..)``; ``args`` = (param, value, entry param it stands for).

        A generated tool whose body (parameters renamed by position) is already a tool's is not
        offered twice: the call goes to the first one.
        """
        if tool.node is not None and tool.kind == "segment" and tool.name not in self.tools:
            key = body_key(tool.node)
            same = self._bodies.get(key)
            if same is not None and len(same.params) == len(tool.params):
                by_pos = dict(zip(tool.params, same.params, strict=True))
                args = [(by_pos.get(p, p), value, hidden) for p, value, hidden in args]
                tool = same
            else:
                self._bodies.setdefault(key, tool)
        self.tools.setdefault(tool.name, tool)
        tool.sites.append({p: hidden for p, _, hidden in args})
        return cst.Call(
            func=cst.Attribute(value=cst.Name(self.tools_var), attr=cst.Name(tool.name)),
            args=[
                cst.Arg(
                    value=value,
                    keyword=cst.Name(p),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                    ),
                )
                for p, value, _ in args
            ],
        )

    def _segment_fn(self, name: str, params: list[str], body: list[cst.BaseStatement]) -> cst.FunctionDef:
        return cst.FunctionDef(
            name=cst.Name(name),
            params=cst.Parameters(params=[cst.Param(cst.Name(p)) for p in params]),
            body=cst.IndentedBlock(body=body),
        )

    def name_args(
        self, params: list[str], comp_names: Sequence[str] = ()
    ) -> list[tuple[str, cst.BaseExpression, str | None]]:
        return [(p, cst.Name(p), None if p in comp_names else p) for p in params]

    def expr_params(
        self, expr: cst.BaseExpression, bound: frozenset[str], lambda_params: Sequence[str] = ()
    ) -> list[str] | None:
        """The parameters of ``expr`` as an expression tool, or None when it should not be one.

        ``lambda_params``: the parameters of the lambda whose body ``expr`` is (read first).
        """
        if not self.segments or not nontrivial(expr) or self.calls_tool(expr):
            return None
        if any(isinstance(n, (*_COMPS, cst.Lambda)) for n in walk(expr)):
            return None
        if (single_operation(expr) and not self.single_ops) or self._calls_entry(expr):
            return None  # ``i + 1``, ``n <= 1``: plan code; a call of the entry itself answers
        params = expression_interface(self.ctx, expr, bound=bound)
        if isinstance(params, str):
            return None
        read = {n.value for n in walk(expr) if isinstance(n, cst.Name)}
        own = [p for p in lambda_params if p in read and p not in params]
        return [*own, *params]

    def expr_tool(
        self,
        expr: cst.BaseExpression,
        prefix: str,
        what: str,
        bound: frozenset[str],
        *,
        lambda_params: Sequence[str] = (),
    ) -> cst.Call | None:
        params = self.expr_params(expr, bound, lambda_params)
        if params is None:
            return None
        code = self._code(expr)
        name = self.unique(expr_name(code, prefix, params))
        fn = self._segment_fn(name, params, [cst.SimpleStatementLine([cst.Return(value=expr)])])
        desc = expr_description(code, params, check=prefix == "check")
        tool = PendingTool(name, "segment", desc, name, params, node=fn)
        local = self.facts.index.local_names
        comp = [p for p in params if p not in local or _shadowed(self.facts, expr, p)]
        return self.call_tool(tool, self.name_args(params, comp)).with_changes(lpar=expr.lpar, rpar=expr.rpar)

    def _calls_entry(self, node: cst.CSTNode) -> bool:
        entry = self.facts.entry.name
        return any(
            isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == entry
            for n in walk(node)
        )

    def calls_tool(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` calls a helper tool, or passes a key function that becomes one."""
        for n in walk(node):
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Name)
                and (self._tool_for(n.func) is not None or n.func.value in self.inlined)
            ):
                return True
            if isinstance(n, cst.Arg) and self.key_function(n) is not None:
                return True
        return False

    def fresh_name(self, base: str) -> str:
        """A plan variable name clear of the solution's names and of every tool name."""
        return self.unique(f"cg_{base}")

    def key_function(self, arg: cst.Arg) -> cst.Name | cst.Lambda | None:
        """A ``key=`` argument the plan calls as a tool per element: a helper tool passed by name
        (``key=digits_sum``), or a one-parameter lambda whose body is worth a tool (fine only)."""
        if arg.keyword is None or arg.keyword.value != "key" or not self.segments or self.coarse:
            return None
        value = arg.value
        if isinstance(value, cst.Name) and self._tool_for(value) is not None:
            return value
        if (
            isinstance(value, cst.Lambda)
            and len(value.params.params) == 1
            and value.params.params[0].default is None
            and not isinstance(value.params.star_arg, cst.Param)
            and not value.params.star_kwarg
            and not value.params.kwonly_params
            and not value.params.posonly_params
            and nontrivial(value.body)
            and not single_operation(value.body)
            and not any(isinstance(n, (*_COMPS, cst.Lambda)) for n in walk(value.body))
        ):
            return value
        return None

    def _tool_for(self, func: cst.Name) -> FunctionFacts | PendingTool | None:
        index = self.facts.index
        if func.value in self.helper_tools and func.value not in index.local_names:
            return self.helper_tools[func.value]
        if func.value in self.nested_tools and index.is_local_load(func):
            return self.nested_tools[func.value]
        return None

    # ------------------------------------------------------------------ statements

    def block(
        self, stmts: Sequence[cst.BaseStatement], bound: frozenset[str], in_loop: bool
    ) -> list[cst.BaseStatement]:
        from ._carve_steps import fused_if  # imports this module

        out: list[cst.BaseStatement] = []
        i = 0
        while i < len(stmts):
            stmt = stmts[i]
            if is_run_stmt(stmt) and not (not in_loop and self._decomposable(stmt, bound)):
                j = i
                while (
                    j < len(stmts)
                    and is_run_stmt(stmts[j])
                    and not (not in_loop and self._decomposable(stmts[j], bound))
                ):
                    j += 1
                out.extend(self._run(list(stmts[i:j]), bound, in_loop))  # type: ignore[arg-type]
                bound = bound | definitely_assigned(self.facts.index, stmts[i:j])
                i = j
                continue
            if not in_loop and isinstance(stmt, (cst.For, cst.While)):
                self._inits = literal_starts(self.facts.index, stmts[:i])
            steps = self._decomposed_return(stmt, bound) or fused_if(self, stmt, bound, in_loop)
            if steps is None and self.coarse and self.segments and isinstance(stmt, (cst.For, cst.While)):
                whole = self._statement_segment([stmt], bound, in_loop, None, whole=stmt)
                steps = [whole] if whole is not None else None
            if steps is None and in_loop and self.segments and isinstance(stmt, (cst.For, cst.While)):
                # an inner loop scans a collection for one step of the outer loop: one tool
                whole = (
                    None
                    if self.calls_tool(stmt)
                    else self._statement_segment([stmt], bound, True, None, whole=stmt)
                )
                steps = [whole] if whole is not None else None
            if steps is None and isinstance(stmt, cst.For):
                pre, new_iter = self._decomposed_iter(stmt, bound)
                steps = [*pre, self._statement(stmt, bound, in_loop, iter_override=new_iter)]
            out.extend(steps if steps is not None else [self._statement(stmt, bound, in_loop)])
            self._inits = None
            bound = bound | definitely_assigned(self.facts.index, [stmt])
            i += 1
        return out

    def _decomposed_iter(
        self, loop: cst.For, bound: frozenset[str]
    ) -> tuple[list[cst.BaseStatement], cst.BaseExpression | None]:
        from ._carve_steps import decomposed_iter  # imports this module

        return decomposed_iter(self, loop, bound)

    def _decomposed_return(
        self, stmt: cst.BaseStatement, bound: frozenset[str]
    ) -> list[cst.BaseStatement] | None:
        from ._carve_steps import decomposed_return  # imports this module

        return decomposed_return(self, stmt, bound)

    def _decomposable(self, stmt: cst.BaseStatement, bound: frozenset[str]) -> bool:
        from ._carve_steps import decomposable  # imports this module

        return decomposable(self, stmt, bound)

    def _run(
        self, run: list[cst.SimpleStatementLine], bound: frozenset[str], in_loop: bool
    ) -> list[cst.BaseStatement]:
        if self.segments and _nontrivial_run(run) and not self.calls_tool(cst.IndentedBlock(body=run)):
            made = None if self.split and len(run) > 1 else self._statement_segment(run, bound, in_loop, None)
            if made is not None:
                return [made]
            if len(run) > 1:
                out: list[cst.BaseStatement] = []
                for k, stmt in enumerate(run):
                    out.extend(
                        self._run([stmt], bound | definitely_assigned(self.facts.index, run[:k]), in_loop)
                    )
                return out
        kept: list[cst.BaseStatement] = []
        for s in run:
            kept.append(self.expressions(s, bound))
            bound = bound | definitely_assigned(self.facts.index, [s])
        return kept

    def _statement_segment(
        self,
        body: Sequence[cst.BaseStatement],
        bound: frozenset[str],
        in_loop: bool,
        loop: cst.For | cst.While | None,
        *,
        whole: cst.For | cst.While | None = None,
        inits: dict[str, cst.BaseExpression] | None = None,
    ) -> cst.SimpleStatementLine | None:
        from ._carve_segment_tools import statement_segment  # imports this module

        return statement_segment(self, body, bound, in_loop, loop, whole=whole, inits=inits)

    def _statement(
        self,
        stmt: cst.BaseStatement,
        bound: frozenset[str],
        in_loop: bool,
        *,
        iter_override: cst.BaseExpression | None = None,
    ) -> cst.BaseStatement:
        if self.coarse and self.segments and isinstance(stmt, (cst.For, cst.While)):
            self.segments = False  # coarse: the loop's inside stays as written (helper calls aside)
            try:
                return self._statement(stmt, bound, in_loop, iter_override=iter_override)
            finally:
                self.segments = True
        index = self.facts.index
        if isinstance(stmt, cst.For):
            return self._for(stmt, bound, in_loop, iter_override)
        if isinstance(stmt, cst.While):
            test = self._test(stmt.test, bound, what="Loop condition")
            body: cst.BaseSuite = stmt.body
            whole = self._loop_body(stmt, bound)
            if whole is not None:
                body = stmt.body.with_changes(body=[whole])
            elif isinstance(stmt.body, cst.IndentedBlock):
                body = stmt.body.with_changes(body=self.block(stmt.body.body, bound, True))
            return stmt.with_changes(test=test, body=body)
        if isinstance(stmt, cst.If):
            test = self._test(stmt.test, bound)
            new_body = stmt.body
            if isinstance(stmt.body, cst.IndentedBlock):
                new_body = stmt.body.with_changes(body=self.block(stmt.body.body, bound, in_loop))
            if_else: cst.If | cst.Else | None = stmt.orelse
            if isinstance(if_else, cst.If):
                new_orelse = self._statement(if_else, bound, in_loop)
                assert isinstance(new_orelse, cst.If)
                if_else = new_orelse
            elif if_else is not None and isinstance(if_else.body, cst.IndentedBlock):
                if_else = if_else.with_changes(
                    body=if_else.body.with_changes(body=self.block(if_else.body.body, bound, in_loop))
                )
            return stmt.with_changes(test=test, body=new_body, orelse=if_else)
        if isinstance(stmt, cst.With) and isinstance(stmt.body, cst.IndentedBlock):
            inner = bound | frozenset(n for i in stmt.items if i.asname for n in index.writes(i.asname))
            return stmt.with_changes(
                body=stmt.body.with_changes(body=self.block(stmt.body.body, inner, in_loop))
            )
        if isinstance(stmt, cst.SimpleStatementLine):
            return self._simple(stmt, bound, in_loop)
        if (
            isinstance(stmt, cst.FunctionDef)
            and stmt.name.value in self.facts.nested
            and stmt.name.value not in self.nested_tools
        ):
            from ._carve_exprs import HelperCalls  # imports this module

            return cast(cst.FunctionDef, stmt.visit(HelperCalls(self)))  # a nested plan function
        return stmt  # try, class, match: kept as written

    def _for(
        self, stmt: cst.For, bound: frozenset[str], in_loop: bool, iter_override: cst.BaseExpression | None
    ) -> cst.For:
        inner = bound | frozenset(self.facts.index.writes(stmt.target))
        body: cst.BaseSuite = stmt.body
        whole = self._loop_body(stmt, inner)
        if whole is not None:
            body = stmt.body.with_changes(body=[whole])
        elif isinstance(stmt.body, cst.IndentedBlock):
            body = stmt.body.with_changes(body=self.block(stmt.body.body, inner, True))
        orelse = stmt.orelse
        if orelse is not None and isinstance(orelse.body, cst.IndentedBlock):
            orelse = orelse.with_changes(
                body=orelse.body.with_changes(body=self.block(orelse.body.body, bound, in_loop))
            )
        new_iter = iter_override if iter_override is not None else self.expressions(stmt.iter, bound)
        new_for = stmt.with_changes(iter=new_iter, body=body, orelse=orelse)
        return new_for.with_changes(leading_lines=[]) if iter_override is not None else new_for

    def _loop_body(self, loop: cst.For | cst.While, bound: frozenset[str]) -> cst.SimpleStatementLine | None:
        inits, self._inits = self._inits, None  # for this loop only, not the loops inside it
        if not self.segments or self.split or not isinstance(loop.body, cst.IndentedBlock):
            return None
        body = loop.body.body
        if self.calls_tool(loop.body) or any(
            isinstance(s, cst.BaseCompoundStatement) and not plain_if(s) for s in body
        ):
            return None  # atomic pieces instead: conditions, runs, inner loops
        if not any(nontrivial(s) for s in body):
            return None
        return self._statement_segment(body, bound, True, loop, inits=inits)

    def _simple(
        self, stmt: cst.SimpleStatementLine, bound: frozenset[str], in_loop: bool
    ) -> cst.SimpleStatementLine:
        new_body: list[cst.BaseSmallStatement] = []
        for small in stmt.body:
            if isinstance(small, cst.Return) and small.value is not None:
                value = small.value
                params = {p.name for p in self.facts.entry.params}
                reads_computed = any(n not in params for n in self.facts.index.reads(value))
                tool = None
                # split: a returned ``a if c else b`` keeps only its test as a tool, so that no
                # one call returns the answer
                whole = not (self.split and isinstance(value, cst.IfExp))
                if whole and reads_computed and not any(isinstance(n, _COMPS) for n in walk(value)):
                    tool = self.expr_tool(value, "compute", "Compute", bound)
                new_body.append(small.with_changes(value=tool or self._test(value, bound, whole=False)))
            else:
                new_body.append(self.expressions(small, bound))
        return stmt.with_changes(body=new_body)

    def _test(
        self,
        expr: cst.BaseExpression,
        bound: frozenset[str],
        *,
        what: str = "Evaluate the condition",
        whole: bool = True,
    ) -> cst.BaseExpression:
        """A condition as one check tool, else its ``and``/``or`` operands as checks (short-circuit kept)."""
        tool = self.expr_tool(expr, "check", what, bound) if whole else None
        if tool is not None:
            return tool
        if isinstance(expr, cst.BooleanOperation) and self.segments and not self.coarse:
            return expr.with_changes(
                left=self._test(expr.left, bound, what=what), right=self._test(expr.right, bound, what=what)
            )
        return self.expressions(expr, bound)

    def expressions(self, node: _N, bound: frozenset[str]) -> _N:
        from ._carve_exprs import ExprRewriter  # imports this module

        return cast(_N, node.visit(ExprRewriter(self, bound)))

    # ------------------------------------------------------------------ helper calls

    def helper_call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        from ._carve_segment_tools import helper_call  # imports this module

        return helper_call(self, original, updated)


def _nontrivial_run(run: list[cst.SimpleStatementLine]) -> bool:
    return any(nontrivial(s) for s in run)


def _shadowed(facts: SolutionFacts, expr: cst.BaseExpression, name: str) -> bool:
    return any(
        isinstance(n, cst.Name) and n.value == name and not facts.index.is_local_load(n)
        for n in walk(expr)
        if isinstance(n, cst.Name)
    )
