"""Class-based (design) problems -> stateful tools over one object, and an oracle that replays operations.

A design problem (``CircularQueue(k)``, then ``enQueue(x)``, ``Front()``...) is recorded in
LeetCode's design format: the hidden input is ``{"operations": [ClassName, method, ...],
"arguments": [[...], ...]}`` and the expected output the list of results (None for the
constructor). The gym gets one STATEFUL tool per public method plus one for the constructor:
``tool(state, *args) -> [new_state, result]``, where the state is the object's ``__dict__``
packed by ``runtime/jail/state.py`` (deques, defaultdicts, OrderedDicts and Counters survive the
wire). The oracle observes the operations, calls each one's tool with keyword arguments, and
submits the list of results. Under the partial observation policy ``operations`` and
``arguments`` are collections like any other: ``observe`` gives their lengths and the oracle
reads both through ``read_operations``/``read_arguments`` (5 entries a call) before replaying.

A class whose objects hold values without a JSON form (node objects, functions, ``__slots__``)
is rejected with the reason the recording harness found.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from ...runtime import canonical_json, decode, encode, infer_schema, jail_source, read_tool_name
from ...schemas import ObservationPolicy, Problem
from ..instances._augment import TIERS, Mutant
from ..instances._instances import ParamInfo, RecordedInstances
from ._carving_types import CarvedParam, CarvedTool, CarveRejected, Carving, Granularity
from ._oracle_reads import read_function_source, read_kinds, read_lines

__all__ = ["DESIGN_INPUT_SCHEMA", "carve_class_problem", "mutate_operations"]

_RESERVED = frozenset({"observe", "submit", "task", "reset"})
_STATE_PARAM = "codegym_state"

DESIGN_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operations": {"type": "array", "items": {"type": "string"}},
        "arguments": {"type": "array", "items": {"type": "array"}},
    },
    "required": ["operations", "arguments"],
    "additionalProperties": False,
}
"""The hidden input of a design gym: operation names and their positional arguments."""


@cache
def _state_source() -> str:
    return jail_source("state")  # the in-jail state codec, embedded in tools.py


def _docs(solution: str, class_name: str) -> dict[str, str]:
    """First docstring line of the class (key ``""``) and of each of its methods."""
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            out = {"": _first_line(ast.get_docstring(node))}
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    out[item.name] = _first_line(ast.get_docstring(item))
            return out
    return {}


def _first_line(doc: str | None) -> str:
    if not doc:
        return ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _schemas(recorded: RecordedInstances) -> tuple[dict[tuple[str, int], Any], dict[str, Any]]:
    """Inferred type schema per (operation, argument position) and per operation's result."""
    args: dict[tuple[str, int], list[Any]] = {}
    results: dict[str, list[Any]] = {}
    for call in recorded.calls:
        ops = call.input.get("operations")
        arguments = call.input.get("arguments")
        expected = call.expected
        if not isinstance(ops, list) or not isinstance(arguments, list) or not isinstance(expected, list):
            continue
        for op, op_args, result in zip(ops, arguments, expected, strict=False):
            if not isinstance(op, str) or not isinstance(op_args, list):
                continue
            for i, value in enumerate(op_args):
                args.setdefault((op, i), []).append(decode(value))
            results.setdefault(op, []).append(decode(result))
    # Wire-decoded values always have a schema: an UnsupportedValue here is a bug, so it surfaces.
    arg_schemas = {key: infer_schema(values) for key, values in args.items()}
    result_schemas = {op: infer_schema(values) for op, values in results.items()}
    return arg_schemas, result_schemas


def _tool_name(name: str, taken: set[str]) -> str:
    candidate = name if name not in _RESERVED else f"call_{name}"
    while candidate in taken:
        candidate = f"call_{candidate}"
    taken.add(candidate)
    return candidate


def _signature_text(params: Sequence[ParamInfo]) -> str:
    return ", ".join(p.name for p in params)


def carve_class_problem(
    problem: Problem,
    recorded: RecordedInstances,
    *,
    input_schema: Mapping[str, Any] | None = None,
    granularity: Granularity = "fine",
    observation: ObservationPolicy = "full",
) -> Carving | CarveRejected:
    """Tools (one stateful tool per public method + the constructor) and the operations oracle.

    Returns :class:`CarveRejected` when the target is not a class, when the object's state has
    no JSON form (the recording harness says which attribute holds what), or when a method takes
    ``*args``/``**kwargs`` and the tests call it. Every granularity gives the same carving.
    """
    target = recorded.target
    if target.kind != "class":
        return CarveRejected(reason=f"{target.name} is a function, not a class: use carve_function_problem")
    if recorded.state_issues:
        return _stateless(target.name, recorded.state_issues)
    cls = target.name
    docs = _docs(problem.solution, cls)
    arg_schemas, result_schemas = _schemas(recorded)
    schema = dict(input_schema) if input_schema else dict(DESIGN_INPUT_SCHEMA)
    kinds = read_kinds(["operations", "arguments"], schema.get("properties") or {}, observation)
    taken: set[str] = {read_tool_name(p) for p in kinds}  # the generic read tools own these names
    made = _MethodTools(cls, taken, arg_schemas, result_schemas)
    add, operations, tools, functions = made.add, made.operations, made.tools, made.functions

    summary = docs.get("", "")
    add(
        cls,
        recorded.params,
        "codegym_new",
        f"Create a new {cls}({_signature_text(recorded.params)}) and make it the current object "
        "(replaces any earlier one); returns null." + (f" {cls}: {summary}" if summary else ""),
        f"    obj = {cls}({{args}})\n    result = None\n",
    )
    for method, params in recorded.methods.items():
        doc = docs.get(method, "")
        add(
            method,
            params,
            f"codegym_{method}",
            f"Call {method}({_signature_text(params)}) on the current {cls} object and return its result."
            + (f" {doc}" if doc else ""),
            f"    obj = _codegym_object({_STATE_PARAM})\n    result = obj.{method}({{args}})\n",
        )
    unplayable = _unplayable(recorded, cls, operations)
    if unplayable is not None:
        return unplayable
    return Carving(
        tools_source=_tools_source(problem, cls, functions, operations),
        oracle_source=_oracle_source(problem, cls, operations, kinds),
        tools=tools,
        entry_point=cls,
        granularity=granularity,
        input_schema=schema,
        output_schema=None,
    )


def _unplayable(
    recorded: RecordedInstances, cls: str, operations: Mapping[str, tuple[str, list[str]]]
) -> CarveRejected | None:
    """Why no oracle can replay the recorded operations (None: it can)."""
    if not recorded.calls:
        return CarveRejected(reason=f"no recorded operation sequence of {cls} to build an oracle from")
    used = {op for c in recorded.calls for op in _ops(c.input)}
    missing = sorted(used - set(operations))
    if missing:
        return CarveRejected(
            reason=f"operations {missing} of {cls} take *args/**kwargs: no tool can stand for them"
        )
    return None


def _stateless(cls: str, state_issues: Mapping[str, int]) -> CarveRejected:
    """The rejection of a class whose object state has no JSON form."""
    first = sorted(state_issues.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return CarveRejected(
        reason=f"{first}: a stateful tool keeps the object's attributes as JSON, so {cls} cannot be one",
        detail="; ".join(f"{k} (x{v})" for k, v in sorted(state_issues.items())),
    )


class _MethodTools:
    """The stateful tools of a class problem, one per operation, as they are added."""

    def __init__(
        self,
        cls: str,
        taken: set[str],
        arg_schemas: dict[tuple[str, int], Any],
        result_schemas: dict[str, Any],
    ) -> None:
        self.cls = cls
        self.taken = taken
        self.arg_schemas = arg_schemas
        self.result_schemas = result_schemas
        self.operations: dict[str, tuple[str, list[str]]] = {}
        self.tools: list[CarvedTool] = []
        self.functions: list[str] = []

    def add(self, op: str, params: Sequence[ParamInfo], function: str, description: str, call: str) -> None:
        """One stateful tool for operation ``op`` (none when it takes ``*args``/``**kwargs``)."""
        if any(p.kind in ("VAR_POSITIONAL", "VAR_KEYWORD") for p in params):
            return
        name = _tool_name(op, self.taken)
        names = [p.name for p in params]
        self.operations[op] = (name, names)
        carved_params = [CarvedParam(name=_STATE_PARAM, source="state")]
        carved_params += [
            CarvedParam(name=p, source="agent", type_schema=self.arg_schemas.get((op, i)))
            for i, p in enumerate(names)
        ]
        self.tools.append(
            CarvedTool(
                name=name,
                kind="method",
                description=description,
                function=function,
                params=carved_params,
                stateful=True,
                returns_schema={"type": "null"} if op == self.cls else self.result_schemas.get(op),
            )
        )
        arglist = ", ".join([_STATE_PARAM, *names])
        self.functions.append(
            f"def {function}({arglist}):\n"
            f"    {description!r}\n"
            f"{call.format(args=', '.join(names))}"
            f"    return [_codegym_state_of(obj), result]\n"
        )


def _ops(wire_input: Mapping[str, Any]) -> list[str]:
    ops = wire_input.get("operations")
    return [o for o in ops if isinstance(o, str)] if isinstance(ops, list) else []


def _tools_source(problem: Problem, cls: str, functions: list[str], operations: Mapping[str, Any]) -> str:
    ctor = operations[cls][0]
    header = (
        f"\n\n# ---- codegym: stateful tools over one {cls} object (generated for {problem.task_id}) ----\n"
        "# The state is the object's __dict__, packed so that it survives the wire codec.\n"
        "import types as _codegym_types\n\n"
        f"_CODEGYM_STATE_SOURCE = {_state_source()!r}\n"
        '_codegym_state = _codegym_types.ModuleType("_codegym_state")\n'
        'exec(compile(_CODEGYM_STATE_SOURCE, "<codegym_state>", "exec"), _codegym_state.__dict__)\n\n\n'
        f"def _codegym_object({_STATE_PARAM}):\n"
        f"    if {_STATE_PARAM} is None:\n"
        f'        raise RuntimeError("there is no {cls} object yet: call the {ctor} tool first")\n'
        f"    return _codegym_state.restore_object({cls}, {_STATE_PARAM})\n\n\n"
        "def _codegym_state_of(obj):\n"
        "    return _codegym_state.pack_state(dict(vars(obj)))\n\n\n"
    )
    return problem.solution.rstrip() + "\n" + header + "\n\n".join(functions)


def _oracle_source(
    problem: Problem, cls: str, operations: Mapping[str, tuple[str, list[str]]], kinds: dict[str, str]
) -> str:
    reads = "".join(
        f"    {line}\n" for line in read_lines(kinds, reader="read_whole", tools_var="tools", in_var="_in")
    )
    table = (
        "{\n"
        + "".join(f"    {op!r}: ({tool!r}, {names!r}),\n" for op, (tool, names) in operations.items())
        + "}"
    )
    return (
        f'"""Oracle of {problem.task_id}: replay the hidden operations on one {cls} object through the tools."""\n\n'
        f"_TOOLS = {table}\n\n\n"
        + (read_function_source("read_whole") + "\n\n" if kinds else "")
        + "def oracle(tools):\n"
        "    _in = tools.observe()\n" + reads + "    results = []\n"
        '    for op, args in zip(_in["operations"], _in["arguments"]):\n'
        "        tool, names = _TOOLS[op]\n"
        "        results.append(getattr(tools, tool)(**dict(zip(names, args))))\n"
        "    return tools.submit(answer=results)\n"
    )


_MAX_OPERATIONS = 60


def mutate_operations(recorded: RecordedInstances, *, n: int, rng: random.Random) -> list[Mutant]:
    """Up to ``n`` new operation sequences for a design class, tiers round-robin (augmentation).

    Each starts with the constructor (arguments drawn from the recorded ones) and continues
    with operations the tests used, each with arguments drawn from that operation's recorded
    ones, integers sometimes moved by a small step. Lengths: *easy* up to the shortest
    recorded sequence, *medium* about the longest, *hard* about twice that (capped at 60).
    The expected outputs come from the reference (``compute_outputs``); a sequence the
    reference rejects (an exception) is dropped there. Deterministic in ``rng``.
    """
    if recorded.target.kind != "class" or n <= 0:
        return []
    cls = recorded.target.name
    ctor_args: list[list[object]] = []
    op_args: dict[str, list[list[object]]] = {}
    lengths: list[int] = []
    seen: set[str] = set()
    for call in recorded.calls:
        ops = call.input.get("operations")
        arguments = call.input.get("arguments")
        if not isinstance(ops, list) or not isinstance(arguments, list) or len(ops) != len(arguments):
            continue
        seen.add(canonical_json(call.input))
        lengths.append(len(ops) - 1)
        for op, args in zip(ops, arguments, strict=True):
            values = decode(args)
            if op == cls:
                ctor_args.append(values)
            elif isinstance(op, str) and isinstance(values, list):
                op_args.setdefault(op, []).append(values)
    if not ctor_args or not op_args:
        return []
    names = sorted(op_args)
    low, high = max(1, min(lengths)), max(lengths)
    span = {
        "easy": (1, low),
        "medium": (max(1, high // 2), high),
        "hard": (high, min(2 * high, _MAX_OPERATIONS)),
    }
    out: list[Mutant] = []
    for _ in range(n * 8):
        if len(out) >= n:
            break
        tier = TIERS[len(out) % len(TIERS)]
        lo, hi = span[tier]
        count = rng.randint(lo, max(lo, hi))
        new_ops: list[str] = [cls]
        new_args: list[list[object]] = [_nudge(rng.choice(ctor_args), rng)]
        for _step in range(count):
            op = names[rng.randrange(len(names))]
            new_ops.append(op)
            new_args.append(_nudge(rng.choice(op_args[op]), rng))
        candidate: dict[str, object] = {"operations": new_ops, "arguments": new_args}
        key = canonical_json(encode(candidate))
        if key in seen:
            continue
        seen.add(key)
        out.append(Mutant(input=dict(candidate), tier=tier))
    return out


def _nudge(args: list[object], rng: random.Random) -> list[object]:
    """A copy of ``args`` whose integers move by -2..2 a third of the time."""
    out: list[object] = []
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 1 / 3:
            out.append(value + rng.randint(-2, 2))
        else:
            out.append(value)
    return out
