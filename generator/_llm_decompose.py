"""LLM-assisted decomposition: ask a model to split a reference solution into typed helpers.

Most reference solutions are one monolithic function, from which libcst alone carves few
meaningful tools. This stage asks a model (through :class:`~._llm_client.LlmClient`) to
rewrite the solution as small, pure, typed helper functions plus an entry point with the
same name and signature that only orchestrates them. The reply's fenced python block is
read and checked statically with libcst (it parses; helpers are fully typed, free of I/O,
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

import ast
import builtins
import re
import symtable
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import libcst as cst

from ..schemas import Problem
from ._llm_client import ChatMessage, LlmClient, LlmRequestFailed

__all__ = [
    "PROMPT_VERSION",
    "Proposal",
    "ProposalRejected",
    "build_messages",
    "check_proposal",
    "decompose",
    "decompose_all",
    "extract_python_block",
]

PROMPT_VERSION = 1
"""Bumped whenever the prompt text changes (it is part of every cache key through the prompt)."""

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
_CACHE_DECORATORS = frozenset({"cache", "lru_cache", "functools.cache", "functools.lru_cache"})

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
5. Keep the imports the code needs at the top of the module. Define every name you use.
6. Reply with one fenced ```python block holding the complete module.
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
    user = (
        _INSTRUCTIONS.format(entry=problem.entry_point)
        + f"\nProblem {problem.problem_id}:\n{problem.question.strip()}\n\n"
        + f"Reference solution (entry point `{problem.entry_point}`):\n"
        + f"```python\n{problem.solution.strip()}\n```\n"
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def extract_python_block(reply: str) -> str | None:
    """The code of the reply's fenced python block, or None when there is none.

    With several blocks, the last one tagged ``python`` wins (models tend to show fragments
    first and the complete module last); untagged blocks count only if none is tagged.
    """
    blocks = [(m.group(1), m.group(2)) for m in _FENCE.finditer(reply)]
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
        return ProposalRejected(reason="the reply has no fenced ```python code block", reply=reply.text)
    checked = check_proposal(code, entry_point=problem.entry_point, reference=problem.solution)
    if isinstance(checked, str):
        return ProposalRejected(reason=checked, reply=reply.text)
    return Proposal(source=code, reply=reply.text, entry_point=problem.entry_point, helpers=checked)


def decompose_all(problems: Sequence[Problem], client: LlmClient) -> dict[str, Proposal | ProposalRejected]:
    """:func:`decompose` for many problems, ``client.settings.max_concurrency`` at a time.

    Returns a dict keyed by ``problem.task_id`` in the order of ``problems``. Run it in the
    parent process before fanning problems out to workers: proposals are picklable values,
    the client is not.
    """
    with ThreadPoolExecutor(max_workers=client.settings.max_concurrency) as pool:
        results = list(pool.map(lambda p: decompose(p, client), problems))
    return {p.task_id: r for p, r in zip(problems, results, strict=True)}


# --- static checks -------------------------------------------------------------------------


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
            return f"function `{name}` is defined twice"
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
    return f"unexpected module-level statement `{module.code_for_node(small).strip()[:80]}`"


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
            return f"helper `{name}` has decorator `@{module.code_for_node(deco.decorator)}`"
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
        return f"helper(s) {', '.join(unused)} are never used by `{entry.name.value}`"
    return None
