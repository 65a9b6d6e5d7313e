"""The expression pass of the plan rewrite: helper calls and comprehension parts become tool calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst

if TYPE_CHECKING:
    from ._carve_plan import PlanRewriter

__all__ = ["ExprRewriter", "HelperCalls"]


class ExprRewriter(cst.CSTTransformer):
    """Helper calls -> tool calls; comprehension elements and filters -> expression segments."""

    def __init__(self, plan: PlanRewriter, bound: frozenset[str]) -> None:
        super().__init__()
        self.plan = plan
        self.bound = bound
        self._lambda = 0
        self._comp = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        return True

    def leave_IfExp(self, original_node: cst.IfExp, updated_node: cst.IfExp) -> cst.BaseExpression:
        if self._lambda or self._comp or self.plan.coarse:
            return updated_node  # inside a comprehension its element or filter is the tool
        tool = self.plan.expr_tool(original_node.test, "check", "Evaluate the condition", self.bound)
        return updated_node.with_changes(test=tool) if tool is not None else updated_node

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            self._comp += 1
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        if isinstance(original_node, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
            self._comp -= 1
        return super().on_leave(original_node, updated_node)

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self._lambda += 1
        return True

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.BaseExpression:
        self._lambda -= 1
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if isinstance(original_node.func, cst.Name):
            return self.plan.helper_call(original_node, updated_node)
        return updated_node

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        """``key=helper`` -> ``key=lambda v: tools.helper(n=v)``; ``key=lambda x: <expr>`` ->
        ``key=lambda x: tools.compute_<expr>(x=x)``: the agent computes each element's key with
        the tool, the ordering itself stays plan code."""
        key = self.plan.key_function(original_node)
        if isinstance(key, cst.Name):
            item = self.plan.fresh_name("item")
            call = cst.Call(func=key, args=[cst.Arg(cst.Name(item))])
            tool_call = self.plan.helper_call(call, call)
            if tool_call is call:
                return updated_node
            lam = cst.Lambda(params=cst.Parameters(params=[cst.Param(cst.Name(item))]), body=tool_call)
            return updated_node.with_changes(value=lam)
        if isinstance(key, cst.Lambda) and isinstance(updated_node.value, cst.Lambda):
            own = [p.name.value for p in key.params.params]
            what = "Compute the key of one element:"
            tool = self.plan.expr_tool(key.body, "compute", what, self.bound, lambda_params=own)
            if tool is not None:
                return updated_node.with_changes(value=updated_node.value.with_changes(body=tool))
        return updated_node

    def _comp_for(self, original: cst.CompFor, updated: cst.CompFor) -> cst.CompFor:
        ifs = []
        for o, u in zip(original.ifs, updated.ifs, strict=True):
            tool = (
                self.plan.expr_tool(o.test, "check", "Test one element:", self.bound)
                if not (self._lambda or self.plan.coarse)
                else None
            )
            ifs.append(u.with_changes(test=tool) if tool is not None else u)
        inner = updated.inner_for_in
        if original.inner_for_in is not None and inner is not None:
            inner = self._comp_for(original.inner_for_in, inner)
        return updated.with_changes(ifs=ifs, inner_for_in=inner)

    def _elt(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> cst.BaseExpression:
        if self._lambda or self.plan.coarse:  # coarse: one call per element is what it avoids
            return updated
        return self.plan.expr_tool(original, "compute", "Compute for one element:", self.bound) or updated

    def leave_ListComp(self, original_node: cst.ListComp, updated_node: cst.ListComp) -> cst.BaseExpression:
        return updated_node.with_changes(
            elt=self._elt(original_node.elt, updated_node.elt),
            for_in=self._comp_for(original_node.for_in, updated_node.for_in),
        )

    def leave_SetComp(self, original_node: cst.SetComp, updated_node: cst.SetComp) -> cst.BaseExpression:
        return updated_node.with_changes(
            elt=self._elt(original_node.elt, updated_node.elt),
            for_in=self._comp_for(original_node.for_in, updated_node.for_in),
        )

    def leave_GeneratorExp(
        self, original_node: cst.GeneratorExp, updated_node: cst.GeneratorExp
    ) -> cst.BaseExpression:
        return updated_node.with_changes(
            elt=self._elt(original_node.elt, updated_node.elt),
            for_in=self._comp_for(original_node.for_in, updated_node.for_in),
        )

    def leave_DictComp(self, original_node: cst.DictComp, updated_node: cst.DictComp) -> cst.BaseExpression:
        return updated_node.with_changes(
            value=self._elt(original_node.value, updated_node.value),
            for_in=self._comp_for(original_node.for_in, updated_node.for_in),
        )


class HelperCalls(cst.CSTTransformer):
    """Only helper calls -> tool calls: the body of a nested function the plan keeps as code."""

    def __init__(self, plan: PlanRewriter) -> None:
        super().__init__()
        self.plan = plan

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if isinstance(original_node.func, cst.Name):
            return self.plan.helper_call(original_node, updated_node)
        return updated_node
