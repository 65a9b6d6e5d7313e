"""The honesty checks of issue 11.5 over one gym's files: do names, descriptions and the statement
say what the code does, and do they leak nothing?

Per problem tool (a tool with a function in tools.py):

- ``misdescribed_name``: the name mentions what the body does not hold: an operator word of the
  carver's slugs (lt, le, gt, ge, eq, ne, mod, plus, minus, times, div, pow) whose operator is not
  in the body, a number that is not a constant of the body, or a reference-solution identifier
  that is not a body identifier. A name written as an expression slug (it holds an operator word
  or a number and every word after the first is a code word) must also not drop any operator or
  number of the body (``check_arr_i_lt_arr_i`` for ``arr[i] < arr[i-1]`` drops ``minus 1``), nor
  end in an operator word.
- ``misdescribed_description``: code the description mentions (backtick spans, ``name(`` calls,
  snake_case words that are reference-solution identifiers) holds an identifier, operator or number
  that is not in the body.
- ``truncation_mark``: ``...``, ``…`` or "and what follows" in the name or description.
- ``numeric_suffix``: the name ends in ``_N`` where N is neither a constant of the body nor the
  operand of an operator word (``n_minus_2``), or another tool of the gym has the same stem
  (``compute_min_evens`` / ``compute_min_evens_2``). (``compute_min_evens`` / ``compute_min_evens_2``).

Per text the agent reads (the task statement; each tool description):

- ``statement_code_framing``: "write a (python) function" and the like, a ``def `` signature, ``>>>``;
- ``statement_empty`` and ``statement_dangling_header`` (a header such as ``Example:`` with nothing
  after it but another header, a closing docstring quote, the play instructions, or the end);
- ``instance_leak``: an instance's input together with its answer (``_leaks.statement_leaks``, the composer's detector);
- ``solution_line``: a code line of the reference solution (``_leaks.solution_lines_in``),
  a tool's own line included: a description says in words what the tool computes (issue 11.1).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import keyword
import re

from ...schemas import HonestyCheck, HonestyFinding, ToolSpec
from ..carving._describe import constant_words
from ..carving._describe_text import truncation_marks
from ..statements._leaks import solution_lines_in, statement_leaks
from ._audit_code import OP_WORDS, SLUG_OP_WORDS, Vocabulary, vocabulary
from ._audit_gym import GymFiles

__all__ = [
    "description_problems",
    "gym_honesty",
    "name_problems",
    "numeric_suffix",
    "statement_problems",
    "truncation_marks",
]

_FRAMING = [
    re.compile(
        r"\b(?:write|implement|complete|create|define)\s+(?:a|an|the)\s+(?:\w+\s+){0,2}?"
        r"(?:function|method|class|program|script)\b",
        re.IGNORECASE,
    ),
    re.compile(r"(?<![\w.])def\s+\w+\s*\("),
    re.compile(r">>>"),
]
_HEADER = re.compile(
    r"^(?:#+\s*\w.*|\*\*[^*]+\*\*:?|(?:for\s+)?(?:examples?|input|output|constraints?|notes?|explanation|"
    r"example\s*\d+)\s*:?)$",
    re.IGNORECASE,
)
_PLAY = re.compile(r"^how this task works\b", re.IGNORECASE)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_KEYWORDS = frozenset(keyword.kwlist) | {"true", "false", "none"}
_BUILTINS = frozenset(dir(builtins))


def _identifiers(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_]\w*", source))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            out.add(node.name)
    return out


def _body_words(vocab: Vocabulary, own: str | None) -> set[str]:
    """Body identifiers and their snake_case parts; the function's own name does not vouch for itself."""
    names = vocab.names - {own}
    return names | {part for name in names for part in name.split("_") if part}


def numeric_suffix(tool: ToolSpec, vocab: Vocabulary, names: set[str]) -> str | None:
    """The numeric suffix of a tool name that stands in for meaning, or None."""
    m = re.fullmatch(r"(.+?)_(\d+)", tool.name)
    if m is None:
        return None
    stem, number = m.groups()
    twins = {n for n in names - {tool.name} if n == stem or re.fullmatch(re.escape(stem) + r"_\d+", n)}
    if stem.rsplit("_", 1)[-1] in SLUG_OP_WORDS:  # `n_minus_2`: the 2 is an operand, not a suffix
        return None
    if stem.endswith(
        ("_point", "eminus", "eplus")
    ):  # `2_point_0`, `1eminus_10`: a float constant spelled out
        return None
    if twins or number not in vocab.constants:
        return f"_{number}"
    return None


_SPELLED = "<constant>"
"""Stands for a body constant the name spells the carver's way (``empty_str``, ``space``)."""
_SPELLED_NUMBER = "<number>"
"""Stands for a number the name spells the carver's way (``1_point_0``, ``1eminus_10``): a slug's word."""


def _spellings(constants: set[str]) -> list[tuple[str, ...]]:
    """The token runs the carver's namer writes for the body's constants, longest first: a float
    ``1.0`` -> ``1 point 0``, ``1e-10`` -> ``1eminus 10``, a string ``""`` -> ``empty str``, ``"b"``
    -> ``b str`` (``str`` there marks a string, not the builtin)."""
    out: set[tuple[str, ...]] = set()
    for text in constants:
        values: list[object] = [text]
        with contextlib.suppress(ValueError):
            values.append(float(text))
        for value in values:
            words = tuple(t for w in constant_words(value) for t in w.split("_") if t)
            if words and not (len(words) == 1 and words[0].isdigit()):
                out.add(words)
    return sorted(out, key=lambda ws: (-len(ws), ws))


def _collapse(tokens: list[str], spellings: list[tuple[str, ...]]) -> list[str]:
    """``tokens`` with every run spelling a body constant replaced by :data:`_SPELLED_NUMBER` (a
    number) or :data:`_SPELLED` (a string)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        run = next((sp for sp in spellings if tuple(tokens[i : i + len(sp)]) == sp), None)
        out.append((_SPELLED_NUMBER if run[0][:1].isdigit() else _SPELLED) if run else tokens[i])
        i += len(run) if run else 1
    return out


def name_problems(tool: ToolSpec, vocab: Vocabulary, solution_ids: set[str], suffix: str | None) -> list[str]:
    """What the tool's name mentions that the body does not hold, or what a slug name drops.

    A run of words spelling a body constant the carver's way (``2_point_0``, ``empty_str``) is that
    constant, not a number 0 or the builtin ``str``; an operator word that is a body identifier
    (a variable ``times``) names the variable, not the operator.
    """
    name = tool.name[: -len(suffix)] if suffix else tool.name
    if name.startswith(("loop_step_over_", "loop_step_while_")):
        return []  # names the loop the step belongs to (its header is context, not the body's work)
    tokens = [t for t in name.split("_") if t]
    words = _body_words(vocab, tool.function)
    rest = _collapse(tokens[1:], _spellings(vocab.constants))
    found = []
    for tok in rest:
        if tok in words or tok in (_SPELLED, _SPELLED_NUMBER):
            continue  # a word of a body identifier (`interval1_1`, a parameter `n_minus_2`)
        if tok in SLUG_OP_WORDS and tok not in vocab.op_words:
            found.append(f"operator word {tok!r} but the body has no such operator")
        elif tok.isdigit() and tok not in vocab.constants:
            found.append(f"number {tok} but the body has no such constant")
        elif tok in solution_ids and tok not in _KEYWORDS:
            found.append(f"identifier {tok!r} of the solution but the body does not use it")
    code_words = words | SLUG_OP_WORDS | _KEYWORDS | solution_ids | {_SPELLED, _SPELLED_NUMBER}
    is_slug = any(
        (t in SLUG_OP_WORDS and t not in words) or t.isdigit() or t == _SPELLED_NUMBER for t in rest
    ) and all(t in code_words or t.isdigit() for t in rest)
    if is_slug and not found:
        ops = {w for w in vocab.op_words if w in SLUG_OP_WORDS | {"and", "or", "not"}}
        ops &= {OP_WORDS[k][0] for k in OP_WORDS}
        missing = sorted(ops - set(tokens)) + sorted(
            c for c in vocab.constants if c.isdigit() and c not in tokens
        )
        if missing:
            found.append(f"expression name drops {', '.join(missing)} of the body")
        elif tokens[-1] in SLUG_OP_WORDS:
            found.append(f"name ends in the operator word {tokens[-1]!r}")
    return found


_LOOP_CONTEXT = re.compile(
    r"^One step of the loop (?:over .*? with [A-Za-z_]\w*(?:, [A-Za-z_]\w*)*|while .*?):", re.M
)
"""The carver's opening clause naming the loop a step belongs to: context, not what the body computes."""


def _code_spans(text: str, solution_ids: set[str]) -> list[str]:
    text = _LOOP_CONTEXT.sub(" ", text)
    spans = re.findall(r"`([^`]+)`", text)
    prose = re.sub(r"`[^`]*`", " ", text)
    calls = re.finditer(r"\b([A-Za-z_]\w*)\([^()]*\)", prose)  # `len(x)`; not English "value(s)"
    spans += [m.group(0) for m in calls if m.group(1) in solution_ids or m.group(1) in _BUILTINS]
    spans += [w for w in re.findall(r"\b[a-z]\w*_\w+\b", prose) if w in solution_ids]
    return spans


def _span_vocabulary(span: str, solution_ids: set[str]) -> Vocabulary:
    try:
        tree = ast.parse(span.strip(), mode="exec")
    except SyntaxError:
        # code read aloud, `abs(elem minus elem2)`, `len(item 0 of lst)`: operator words stand for
        # operators, and of the other words only the solution's identifiers and builtins are code
        words = set(re.findall(r"[A-Za-z_]\w*", span)) - _KEYWORDS
        spoken = {w for ws in OP_WORDS.values() for w in ws}
        code = {w for w in words - spoken if w in solution_ids or w in _BUILTINS}
        return Vocabulary(names=code, op_words=words & spoken)
    func = ast.FunctionDef(
        name="_", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=tree.body, decorator_list=[], type_params=[],
    )  # fmt: skip
    vocab = vocabulary(func)
    vocab.names.discard("_")
    return vocab


def description_problems(tool: ToolSpec, vocab: Vocabulary, solution_ids: set[str]) -> list[str]:
    """What code the description mentions that the body does not hold."""
    found = []
    for span in _code_spans(tool.description, solution_ids):
        said = _span_vocabulary(span, solution_ids)
        extra = sorted(said.names - vocab.names)
        extra += sorted(
            w
            for w in said.op_words - vocab.op_words
            if OP_WORDS_FIRST.get(w) and w in SLUG_OP_WORDS | {"and", "or", "not"}
        )
        extra += sorted(c for c in said.constants if _NUMBER.match(c) and c not in vocab.constants)
        if extra:
            found.append(
                f"mentions {', '.join(dict.fromkeys(extra))} in `{span.strip()[:80]}` but the body does not"
            )
    return found


OP_WORDS_FIRST = {words[0]: op for op, words in OP_WORDS.items()}


def statement_problems(text: str) -> list[tuple[HonestyCheck, str, str]]:
    """(check, offending text, message) for code framing, an empty statement, a dangling header."""
    if not text.strip():
        return [("statement_empty", "", "the task statement is empty")]
    found: list[tuple[HonestyCheck, str, str]] = []
    for pattern in _FRAMING:
        m = pattern.search(text)
        if m:
            found.append(("statement_code_framing", m.group(0), f"code framing {m.group(0)!r}"))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if not _HEADER.match(line):
            continue
        after = lines[i + 1] if i + 1 < len(lines) else None
        if after is not None and _HEADER.match(after) and _md_level(after) > _md_level(line):
            continue  # "## Goal" then "### Scenario": a section opening with its first subsection
        if after is None or _HEADER.match(after) or after in ('"""', "'''") or _PLAY.match(after):
            found.append(("statement_dangling_header", line, f"header {line!r} has nothing under it"))
    return found


def _md_level(header: str) -> int:
    """A markdown header's level (``###`` -> 3); 7 for any other header ("Example:", "**Input**")."""
    hashes = len(header) - len(header.lstrip("#"))
    return hashes if hashes else 7


def _finding(check: HonestyCheck, gym: GymFiles, tool: str | None, text: str, message: str) -> HonestyFinding:
    where = f"tool {tool}" if tool else "task statement"
    return HonestyFinding(
        check=check,
        task_id=gym.task_id,
        tool=tool,
        text=text[:200],
        message=f"{gym.task_id}: {where}: {message}",
    )


def gym_honesty(gym: GymFiles) -> list[HonestyFinding]:
    """Every failed honesty check of one gym (empty: an honest gym)."""
    solution = gym.problem.solution if gym.problem else ""
    solution_ids = _identifiers(solution) if solution else set()
    names = {t.name for t in gym.manifest.tools}
    out: list[HonestyFinding] = []
    for tool, func in gym.problem_tools():
        vocab = vocabulary(func)
        suffix = numeric_suffix(tool, vocab, names)
        if suffix:
            out.append(
                _finding("numeric_suffix", gym, tool.name, tool.name, f"numeric suffix {suffix} in the name")
            )
        for why in name_problems(tool, vocab, solution_ids, suffix):
            out.append(_finding("misdescribed_name", gym, tool.name, tool.name, f"name {tool.name!r}: {why}"))
        for why in description_problems(tool, vocab, solution_ids):
            out.append(
                _finding("misdescribed_description", gym, tool.name, tool.description, f"description {why}")
            )
        for mark in truncation_marks(f"{tool.name}\n{tool.description}"):
            out.append(
                _finding("truncation_mark", gym, tool.name, tool.description, f"truncation mark {mark!r}")
            )
    for check, text, message in statement_problems(gym.manifest.task):
        out.append(_finding(check, gym, None, text, message))
    texts: list[tuple[str | None, str]] = [(None, gym.manifest.task)]
    texts += [(t.name, t.description) for t in gym.manifest.tools]
    for tool_name, text in texts:
        for message in statement_leaks(text, gym.instances):
            out.append(_finding("instance_leak", gym, tool_name, text, message))
        for line in solution_lines_in(text, solution) if solution else []:
            out.append(_finding("solution_line", gym, tool_name, line, f"holds the solution line {line!r}"))
    return out
