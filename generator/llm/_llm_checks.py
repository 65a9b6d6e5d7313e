"""Static checks of an LLM's proposed decomposition (libcst + the compiler's symbol table).

Nothing here executes the proposal: the checks read it. They reject what can never become a
good gym (syntax errors, untyped helpers, I/O, globals, module-level state, undefined names,
an entry point that changed its parameters or does not orchestrate helpers) with a reason a
person can act on. Behaviour is not checked here: the pipeline replays the oracle plan in the
sandbox for that.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from collections.abc import Iterable

import libcst as cst
import libcst.matchers as m

__all__ = ["check_proposal", "strip_main_guard"]

_MIN_HELPER_CALLS = 2

# Pure standard-library modules a helper may import; anything else (os, sys, subprocess,
# socket, random, time, ...) is I/O, nondeterminism or escape hatches.
_ALLOWED_MODULES = frozenset(
    {
        "__future__",
        "array",
        "bisect",
        "cmath",
        "collections",
        "copy",
        "dataclasses",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "hashlib",
        "heapq",
        "itertools",
        "math",
        "numbers",
        "operator",
        "re",
        "statistics",
        "string",
        "textwrap",
        "typing",
        "unicodedata",
    }
)
_BANNED_CALLS = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "exit",
        "globals",
        "help",
        "input",
        "locals",
        "open",
        "print",
        "quit",
        "setattr",
        "vars",
    }
)
_RESERVED_NAMES = frozenset({"observe", "submit", "task", "reset", "oracle", "tools"})
_CACHE_DECORATORS = frozenset({"cache", "lru_cache", "functools.cache", "functools.lru_cache"})

_MAIN_GUARD = m.If(
    test=m.Comparison(
        left=m.Name("__name__"),
        comparisons=[m.ComparisonTarget(operator=m.Equal(), comparator=m.SimpleString())],
    )
)


def strip_main_guard(source: str) -> str:
    """``source`` without its top-level ``if __name__ == "__main__":`` blocks.

    Models like to end a module with a demo or a doctest run under that guard; it never runs
    when the module is imported (as gyms do), and its prints would fail the purity check.
    Source that does not parse is returned unchanged (the checks report it).
    """
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return source
    body = [stmt for stmt in module.body if not m.matches(stmt, _MAIN_GUARD)]
    if len(body) == len(module.body):
        return source
    return module.with_changes(body=body).code.rstrip("\n") + "\n"


def check_proposal(source: str, *, entry_point: str, reference: str) -> tuple[str, ...] | str:
    """Check a proposed module; return its helper names, or the first reason it is unusable.

    ``reference`` is the original solution, whose entry point's parameters the proposal must
    keep (names, kinds, defaults) and whose class names it may reuse.
    """
    try:
        ast.parse(source)  # CPython's parser gives the clearest message ("expected ':'")
        module = cst.parse_module(source)
    except SyntaxError as exc:
        return f"the proposed code does not parse: line {exc.lineno}: {exc.msg}"
    except cst.ParserSyntaxError as exc:
        return f"the proposed code does not parse: line {exc.raw_line}: {exc.message}"
    functions: dict[str, cst.FunctionDef] = {}
    reference_classes, reference_entry = _reference_facts(reference, entry_point)
    for stmt in module.body:
        problem = _check_top_level(module, stmt, functions, reference_classes)
        if problem:
            return problem
    entry = functions.get(entry_point)
    if entry is None:
        return f"the proposal does not define the entry point `{entry_point}` at module level"
    helpers = tuple(name for name in functions if name != entry_point)
    reserved = sorted(_RESERVED_NAMES.intersection(helpers))
    if reserved:
        return f"helper name(s) {', '.join(reserved)} are reserved for the gym's generic tools: rename them"
    checks = (
        _check_purity(module),
        _check_signature(module, entry, reference_entry),
        *(_check_helper(module, functions[name]) for name in helpers),
        _check_undefined(source),
        _check_orchestration(entry, helpers, functions),
    )
    for problem in checks:
        if problem:
            return problem
    return helpers


def _reference_facts(reference: str, entry_point: str) -> tuple[frozenset[str], cst.FunctionDef | None]:
    try:
        ref = cst.parse_module(reference)
    except cst.ParserSyntaxError:
        return frozenset(), None
    classes = frozenset(s.name.value for s in ref.body if isinstance(s, cst.ClassDef))
    entries = [s for s in ref.body if isinstance(s, cst.FunctionDef) and s.name.value == entry_point]
    return classes, (entries[-1] if entries else None)


def _check_top_level(
    module: cst.Module,
    stmt: cst.BaseStatement,
    functions: dict[str, cst.FunctionDef],
    reference_classes: frozenset[str],
) -> str | None:
    if isinstance(stmt, cst.FunctionDef):
        name = stmt.name.value
        if name in functions:
            return f"function `{name}` is defined twice: keep one definition"
        if stmt.asynchronous is not None:
            return f"`{name}` is async: helpers must be plain functions"
        functions[name] = stmt
        return None
    if isinstance(stmt, cst.ClassDef):
        if stmt.name.value in reference_classes:
            return None
        return f"class `{stmt.name.value}` is new: a decomposition defines functions only"
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            problem = _check_small_top_level(module, small)
            if problem:
                return problem
        return None
    code = module.code_for_node(stmt).strip().splitlines()[0]
    return f"unexpected module-level statement `{code}`: only imports, constants and functions"


def _check_small_top_level(module: cst.Module, small: cst.BaseSmallStatement) -> str | None:
    if isinstance(small, cst.Import | cst.ImportFrom):
        return None  # the module allowlist is checked everywhere by _check_purity
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString | cst.ConcatenatedString):
        return None  # a docstring
    if isinstance(small, cst.Assign | cst.AnnAssign):
        value = small.value
        if value is not None and not _is_immutable(value):
            return (
                "module-level mutable state: "
                f"`{module.code_for_node(small).strip()[:80]}`; keep state inside the functions"
            )
        return None
    return (
        f"unexpected module-level statement `{module.code_for_node(small).strip()[:80]}`: "
        "only imports, constants and functions"
    )


def _is_immutable(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Integer | cst.Float | cst.Imaginary | cst.SimpleString | cst.ConcatenatedString):
        return True
    if isinstance(node, cst.Name | cst.Attribute | cst.Subscript):
        return True  # a constant alias or a type alias (List[int]); calls are what create state
    if isinstance(node, cst.UnaryOperation):
        return _is_immutable(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return _is_immutable(node.left) and _is_immutable(node.right)
    if isinstance(node, cst.Tuple):
        return all(isinstance(e, cst.Element) and _is_immutable(e.value) for e in node.elements)
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "frozenset"


class _PurityVisitor(cst.CSTVisitor):
    """Gathers the first impurity: a banned call, import, global or nonlocal statement."""

    def __init__(self) -> None:
        self.problem: str | None = None

    def _flag(self, message: str) -> None:
        if self.problem is None:
            self.problem = message

    def visit_Global(self, node: cst.Global) -> None:
        self._flag(f"`global {', '.join(n.name.value for n in node.names)}`: helpers must not use globals")

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        names = ", ".join(n.name.value for n in node.names)
        self._flag(f"`nonlocal {names}`: helpers must not rebind outer variables")

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._check_module(_dotted(alias.name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative:
            self._flag("relative import: the proposal must be a self-contained module")
        elif node.module is not None:
            self._check_module(_dotted(node.module))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in _BANNED_CALLS:
            self._flag(f"calls `{node.func.value}(...)`: helpers must be pure (no I/O, no exec)")

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__builtins__":
            self._flag("uses `__builtins__`: helpers must be pure")

    def _check_module(self, name: str) -> None:
        if name.split(".")[0] not in _ALLOWED_MODULES:
            allowed = ", ".join(sorted(_ALLOWED_MODULES - {"__future__"}))
            self._flag(f"imports `{name}`: only pure standard-library modules are allowed ({allowed})")


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return "?"


def _check_purity(module: cst.Module) -> str | None:
    visitor = _PurityVisitor()
    module.visit(visitor)
    return visitor.problem


def _all_params(params: cst.Parameters) -> list[tuple[str, cst.Param]]:
    out = [("positional-only", p) for p in params.posonly_params]
    out += [("positional", p) for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        out.append(("*args", params.star_arg))
    out += [("keyword-only", p) for p in params.kwonly_params]
    if params.star_kwarg is not None:
        out.append(("**kwargs", params.star_kwarg))
    return out


def _check_helper(module: cst.Module, fn: cst.FunctionDef) -> str | None:
    name = fn.name.value
    for deco in fn.decorators:
        target = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        if _dotted(target) not in _CACHE_DECORATORS:
            return (
                f"helper `{name}` has decorator `@{module.code_for_node(deco.decorator)}`: "
                "only @cache / @lru_cache may decorate a helper"
            )
    untyped = [p.name.value for _, p in _all_params(fn.params) if p.annotation is None]
    if untyped:
        return f"helper `{name}` is not fully typed: parameter(s) {', '.join(untyped)} lack annotations"
    if fn.returns is None:
        return f"helper `{name}` is not fully typed: no return annotation"
    if _yields(fn):
        return f"helper `{name}` is a generator: helpers must return plain data"
    return None


class _YieldFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested generator is the helper's own business

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _yields(fn: cst.FunctionDef) -> bool:
    finder = _YieldFinder()
    fn.body.visit(finder)
    return finder.found


def _signature(module: cst.Module, fn: cst.FunctionDef) -> list[tuple[str, str, str | None]]:
    return [
        (kind, p.name.value, None if p.default is None else module.code_for_node(p.default).strip())
        for kind, p in _all_params(fn.params)
    ]


def _check_signature(
    module: cst.Module, entry: cst.FunctionDef, reference: cst.FunctionDef | None
) -> str | None:
    if reference is None:
        return None  # nothing to compare with; verification still decides
    ref_module = cst.Module(body=[])
    want = _signature(ref_module, reference)
    got = _signature(module, entry)
    if want != got:

        def show(sig: Iterable[tuple[str, str, str | None]]) -> str:
            return ", ".join(n if d is None else f"{n}={d}" for _, n, d in sig)

        return (
            f"the entry point `{entry.name.value}` changed its parameters: "
            f"({show(got)}) instead of ({show(want)})"
        )
    return None


def _check_undefined(source: str) -> str | None:
    # The compiler's own symbol tables (no execution): libcst's scope provider misreads
    # comprehensions with several ``for`` clauses.
    try:
        top = symtable.symtable(source, "<proposal>", "exec")
    except SyntaxError as exc:
        return f"the proposed code does not compile: line {exc.lineno}: {exc.msg}"
    defined = {
        s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    defined |= set(dir(builtins))
    missing: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        for sym in table.get_symbols():
            if not sym.is_referenced() or sym.get_name() in defined:
                continue
            if table is top or sym.is_global():
                missing.add(sym.get_name())
    if missing:
        return (
            f"uses undefined name(s) {', '.join(sorted(missing))}: the module must define everything it uses"
        )
    return None


class _CallGatherer(cst.CSTVisitor):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.called: list[str] = []
        self.referenced: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name) and func.value in self.names and func.value not in self.called:
            self.called.append(func.value)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.referenced.add(node.value)


def _check_orchestration(
    entry: cst.FunctionDef, helpers: tuple[str, ...], functions: dict[str, cst.FunctionDef]
) -> str | None:
    names = frozenset(helpers)
    direct = _CallGatherer(names)
    entry.body.visit(direct)
    if len(direct.called) < _MIN_HELPER_CALLS:
        return (
            f"the entry point `{entry.name.value}` calls {len(direct.called)} helper(s) "
            f"({', '.join(direct.called) or 'none'}); it must orchestrate at least {_MIN_HELPER_CALLS}"
        )
    reached = set(direct.referenced)
    frontier = list(reached)
    while frontier:
        inner = _CallGatherer(names)
        functions[frontier.pop()].body.visit(inner)
        for name in inner.referenced - reached:
            reached.add(name)
            frontier.append(name)
    unused = [h for h in helpers if h not in reached]
    if unused:
        return (
            f"helper(s) {', '.join(unused)} are never used by `{entry.name.value}`: "
            "call them from the entry point or drop them"
        )
    return None
