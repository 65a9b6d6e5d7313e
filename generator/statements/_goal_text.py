"""A problem's question turned into a goal in natural language: no code framing, no examples.

Questions come as code (a HumanEval prompt, a KodCode "complete" row: a signature and a
docstring, sometimes the whole solution) or as prose with markdown (KodCode "instruct" rows,
LeetCode). :func:`goal_text` keeps the words of the goal and its constraints and drops:

- everything of the code but the entry point's docstring (and its methods' for a class);
- doctest lines (``>>>`` and their outputs), code fences, ``def`` signatures, "Function
  Signature"/"Function Name" lines and sections about performance or testing;
- example sections ("Example:", "For example:" and what follows, "Input: x = 3 / Output: 9");
- coding instructions, rewritten as goals: "Write a function `f` that takes a list and
  returns its sum" -> "Given a list, return its sum"; "write a function to find X" -> "find X";
- headers left with nothing under them.

The statement shows one worked example of its own instead (see ``_task_text``).
"""

from __future__ import annotations

import ast
import inspect
import re

__all__ = ["closing_paren", "drop_dangling", "goal_text", "strip_examples"]

_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)")


def strip_examples(question: str) -> str:
    """Drop doctest examples (``>>>`` lines and the output lines after them) from a question.

    Instance values may coincide with a docstring's examples; the agent must observe them.
    """
    out: list[str] = []
    in_example = False
    for line in question.splitlines():
        if _PROMPT.match(line):
            in_example = True
            continue
        if in_example:
            if line.strip() and not line.strip().startswith(('"""', "'''")):
                continue  # the expected output of the example
            in_example = False
        out.append(line)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- code questions

_CODE_LINE = re.compile(r"^\s*(async\s+def|def|class)\s+\w+")


def _docstrings(question: str, entry_point: str) -> str | None:
    """The entry point's docstring (a class: its own and its methods'), or None if not code."""
    try:
        tree = ast.parse(question)
    except SyntaxError:
        return _quoted_strings(question)
    target: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None = None
    defs: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    for found in defs:
        if found.name == entry_point:
            target = found
            break
    if target is None:
        classes: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = [
            n for n in tree.body if isinstance(n, ast.ClassDef)
        ]
        documented = classes[:1] or [n for n in defs if ast.get_docstring(n)]
        target = documented[0] if documented else None
    if target is None:
        return ast.get_docstring(tree) or ""
    parts = [ast.get_docstring(target) or _first_string(target)]
    if isinstance(target, ast.ClassDef):
        for node in target.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(node):
                doc = (ast.get_docstring(node) or "").strip()
                name = "constructor" if node.name == "__init__" else f"`{node.name}`"
                parts.append(f"- {name}: {doc}")
    return "\n\n".join(p for p in parts if p.strip())


def _first_string(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """A docstring placed after a statement (``import math`` first) is still the problem's text."""
    for stmt in node.body:
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            return inspect.cleandoc(stmt.value.value)
    return ""


def _is_code(question: str) -> bool:
    first = next((line for line in question.splitlines() if line.strip()), "")
    if _CODE_LINE.match(first):
        return True
    try:
        tree = ast.parse(question)
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def _quoted_strings(question: str) -> str:
    """Triple-quoted strings of code that does not parse (e.g. ``def MyStack:``)."""
    found = re.findall(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', question, flags=re.S)
    docs = [inspect.cleandoc(a or b) for a, b in found]
    return "\n\n".join(d for d in docs if d.strip())


# --------------------------------------------------------------------------- prose clean-up

_FENCE = re.compile(r"^\s*(```|~~~)")
_EXAMPLE_HEAD = re.compile(
    r"^\W*(for\s+(example|instance)|examples?(\s*\d+)?|sample(\s+(input|output|test|case)s?)?(\s*\d+)?|"
    r"usage|e\.g\.)\W*(:|$)",
    re.I,
)
_IO_LINE = re.compile(
    r"^\W*(input|output|explanation|result|returns?)\W*(\s*\d+)?\s*:\W*([\[\d\"'(-]|\w+\s*=|true\b|false\b|none\b)",
    re.I,
)
_HEADER_LIKE = re.compile(r"^\s*(#{1,6}\s+\S.*|\*\*[^*]+\*\*\s*:?.*|[A-Z][\w /()-]{0,40}:\s*)$")
_DROP_SECTION = re.compile(
    r"(function\s+(signature|name|definition)|signature|performance|complexit|implementation|"
    r"test(s|ing)?\b|code\b|solution|hints?\b|template|starter|analysis)",
    re.I,
)
_SIGNATURE_LINE = re.compile(
    r"(\bdef\s+\w+\s*\(|function\s+(signature|name)\b|^\s*pass\s*$|your\s+code\s+here)", re.I
)
_NOT_GOAL = re.compile(
    r"\b(time|space)\s+complexity\b|\bO\(\s*\w|\bperformance\b|\boptimi[sz]|"
    r"\byour\s+(code|solution|function|implementation)\b|\bthe\s+(provided|given|current)\s+(code|function|"
    r"implementation)\b|\bunit\s+tests?\b|\btest\s+cases?\b|\bcode\s+snippets?\b|"
    r"\bprovided\s+code\b|\bpython\s+(function|code)\b|\bthis\s+function\b|"
    r"\b(the|this)\s+(function|method)\s+(should|must|will|can)\s+(handle|raise|be|run|not|use|work|print)\b",
    re.I,
)


def _drop_fences(lines: list[str]) -> list[str]:
    out: list[str] = []
    inside = False
    for n, line in enumerate(lines):
        if _FENCE.match(line):
            if not inside and not any(_FENCE.match(rest) for rest in lines[n + 1 :]):
                continue  # an unclosed fence: drop the marker only
            inside = not inside
            continue
        if not inside:
            out.append(line)
    return out


def _is_header(line: str) -> bool:
    return bool(_HEADER_LIKE.match(line)) and "`" not in line.split(":")[0]


def _example_like(line: str, entry_point: str) -> bool:
    return bool(
        f"{entry_point}(" in line
        or _IO_LINE.match(line)
        or re.search(r"=>|==|->|→|➞|\bshould\s+(return|be|output)\b|[\[\d\"']", line)
    )


def _drop_sections(lines: list[str], entry_point: str) -> list[str]:
    """Example sections, and sections about signatures, performance or tests, go whole."""
    out: list[str] = []
    mode: str | None = None  # "example": in an example section; "section": a section to drop
    after_blank = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            after_blank = True
            if mode is None:
                out.append(line)
            continue
        if _EXAMPLE_HEAD.match(stripped):
            mode, after_blank = "example", False
            continue
        if _is_header(stripped):
            in_example = mode == "example" and re.match(r"^\W*(input|output|explanation)\b", stripped, re.I)
            if not in_example:
                if _DROP_SECTION.search(stripped.split(":")[0]):
                    mode, after_blank = "section", False
                    continue
                mode = None
        if mode == "example" and after_blank and not _example_like(stripped, entry_point):
            mode = None
        if mode is not None:
            after_blank = False
            continue
        after_blank = False
        if not _IO_LINE.match(stripped):  # "Input: nums = [1, 2]" outside a section is an example too
            out.append(line)
    return out


_VERBS = r"(?:write|implement|create|complete|define|design|develop|build|code|provide)"
_KIND = r"(?:function|method|program|script|routine|procedure)"
_LEAD = (
    r"(?:(?:your\s+(?:task|job)\s+is|you\s+(?:need|are\s+(?:required|asked|tasked))|you\s+have(?:\s+been\s+tasked)?|you\s+will|please)\s+"
    r"(?:to\s+|with\s+)?)?"
)
_NAME = r"(?:\s*(?:named|called))?(?:\s*`[^`]*`|\s+[a-z_]\w*(?:\([^)]*\))?(?=\s+(?:that|which|to)\b))?"
_TAIL = r"(?:\s+in\s+python)?\s*,?"
_FUNC_INSTRUCTION = re.compile(
    _LEAD
    + _VERBS
    + r"(?:ing)?\s+(?:a|an|the|this)\s+(?:[\w-]+\s+){0,2}?"
    + _KIND
    + _NAME
    + _TAIL
    + "|"
    + _LEAD
    + _VERBS
    + r"(?:ing)?\s+(?:a|an|the|this)\s+`[^`]*`\s+"
    + _KIND
    + _TAIL,
    re.I,
)
_CLASS_INSTRUCTION = re.compile(
    _LEAD + _VERBS + r"\s+(?:a|an|the)\s+(?:class\s+`?(\w+)`?|`?(\w+)`?\s+class)(?:\s+in\s+python)?", re.I
)
_FUNCTION_RETURNS = re.compile(
    r"\b(?:the|this|your)\s+function\s+(?:(?:should|must|will)\s+return|returns)\b", re.I
)
_FUNCTION_TAKES = re.compile(r"\b(?:the|this|your)\s+function\s+(?:takes|accepts|receives)\b", re.I)
_GIVEN_FUNCTION = re.compile(
    r"\byou\s+are\s+given\s+(?:a|an|the)\s+(?:python\s+)?(?:function|method)\s+`[^`]*`\s*,?\s*"
    r"(?:that|which)\s+",
    re.I,
)


def _base_verb(word: str) -> str:
    lower = word.lower()
    if lower in {"takes", "accepts", "receives"}:
        return "given"
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith("ss") and len(lower) > 3:
        return word[:-1]
    return word


_VERBS_3RD = (
    r"returns|counts|determines|deletes|checks|computes|finds|calculates|removes|sorts|outputs|prints|"
    r"converts|produces|generates|gives|creates|filters|replaces|evaluates|validates|decides|tells|"
    r"reports|builds|joins|splits|merges|encodes|decodes|reverses|rounds|compares"
)


def _as_goal(rest: str) -> str:
    """ "takes a list and returns its sum" -> "given a list, return its sum"; "finds X" -> "find X"."""
    m = re.match(r"(\w+)(.*)", rest, re.S)
    if not m:
        return rest
    first, tail = m.group(1), m.group(2)
    if first.lower() in {"will", "can", "should", "must", "shall"}:
        return _as_goal(tail.lstrip())
    verb = _base_verb(first)
    if verb == "given":
        tail = re.sub(
            r"(?:\s+as\s+(?:an?\s+)?(?:input|arguments?|parameters?))?(?:,\s*(?:and\s+)?|\s+and\s+)("
            + _VERBS_3RD
            + r")\b",
            lambda g: ", " + _base_verb(g.group(1)),
            tail,
            count=1,
        )
    elif verb != first:
        tail = re.sub(
            r"\s+and\s+(returns|outputs|prints)\s+",
            lambda g: f" and {_base_verb(g.group(1))} ",
            tail,
            count=1,
        )
    return verb + tail


def _rewrite_instructions(line: str) -> str:
    """Coding instructions in ``line`` rewritten as goals (see the module docstring)."""
    original = line
    line = _CLASS_INSTRUCTION.sub(lambda m: f"consider a data structure `{m.group(1) or m.group(2)}`", line)
    line = _FUNCTION_RETURNS.sub("the answer is", line)
    takes = _FUNCTION_TAKES.search(line)
    if takes:  # "This function takes a list and returns its sum" -> "Given a list, return its sum"
        goal = _as_goal("takes" + line[takes.end() :])
        at_start = not line[: takes.start()].strip() or line[: takes.start()].rstrip().endswith((".", ":"))
        line = line[: takes.start()] + (goal[:1].upper() + goal[1:] if at_start else goal)
    given = _GIVEN_FUNCTION.search(line)
    if given:
        line = line[: given.start()] + "The goal: " + _as_goal(line[given.end() :])
    m = _FUNC_INSTRUCTION.search(line)
    if m is not None:
        before, rest = line[: m.start()], line[m.end() :].lstrip(" ,")
        rest = re.sub(r"^(?:that|which|so\s+that|in\s+order\s+to|to|for)\s+(?:can\s+)?", "", rest, flags=re.I)
        goal = _as_goal(rest) if rest.strip(" .:;") else ""
        if not goal and not before.strip(" -*+"):
            return ""
        line = (before + goal).rstrip()
    return line if line == original else _capitalize_sentences(line)


def _capitalize_sentences(line: str) -> str:
    line = _capitalize_start(line)
    return re.sub(r"([.!?]\s+)([a-z])", lambda g: g.group(1) + g.group(2).upper(), line)


def _capitalize_start(line: str) -> str:
    marker = re.match(r"^\s*(?:[-*+]|\d+[.)])?\s*", line)
    lead = marker.group(0) if marker else ""
    stripped = line[len(lead) :]
    if stripped[:1].islower() and not stripped.startswith(("`", "e.g.", "i.e.")):
        return lead + stripped[:1].upper() + stripped[1:]
    return line


def _drop_non_goal_sentences(line: str) -> str:
    """Sentences about code (performance, "your function", "the provided code") go."""
    if not _NOT_GOAL.search(line):
        return line
    indent = line[: len(line) - len(line.lstrip())]
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`*(])", line.strip())
    kept = [s for s in sentences if not _NOT_GOAL.search(s)]
    if not kept:
        return ""
    return indent + " ".join(kept)


def closing_paren(text: str, open_at: int, *, limit: int | None = None) -> int | None:
    """The index of the ``)`` that closes the ``(`` at ``open_at``, or None if it is not closed
    (within ``limit`` characters of it, when given)."""
    depth = 0
    stop = len(text) if limit is None else min(len(text), open_at + 1 + limit)
    for i in range(open_at, stop):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None


def _literal_call(line: str, entry_point: str) -> bool:
    """``f(3, [1, 2]) == 5``-like lines: an example of the entry point on literal arguments.

    ``f(0) -> 0`` lines stay: problems define sequences that way (HumanEval's fib4).
    """
    if not entry_point:
        return False
    for m in re.finditer(re.escape(entry_point) + r"\s*\(", line):
        end = closing_paren(line, m.end() - 1)
        if end is None:
            continue
        try:
            call = ast.parse(line[m.start() : end + 1], mode="eval").body
            if not isinstance(call, ast.Call):
                continue
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                ast.literal_eval(arg)
        except (SyntaxError, ValueError, TypeError):
            continue
        if re.search(
            r"==|=>|➞|→|\bshould\b|\breturns?\b|\bis\b|\bgives\b|(?<![=<>!-])=(?!=)|#", line[end + 1 :]
        ):
            return True
    return False


def _unwrap(lines: list[str]) -> list[str]:
    """Hard-wrapped sentences joined: a line that starts in lower case continues the one before."""
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        if (
            out
            and out[-1].strip()
            and re.match(r"[a-z]+[\s,.;:]", stripped) is not None
            and not _is_header(out[-1].strip())
            and not out[-1].rstrip().endswith(":")
        ):
            out[-1] = out[-1].rstrip() + " " + stripped
        else:
            out.append(line)
    return out


def drop_dangling(lines: list[str]) -> list[str]:
    """``lines`` without headers that have nothing under them (another header of the same or a
    higher level follows, or the end). Changes and returns ``lines``."""
    changed = True
    while changed:
        changed = False
        filled = [i for i, line in enumerate(lines) if line.strip()]
        for k, i in enumerate(filled):
            if not _is_header(lines[i].strip()) or _has_content(lines[i]):
                continue
            nxt = lines[filled[k + 1]].strip() if k + 1 < len(filled) else None
            if nxt is None or (_is_header(nxt) and not _has_content(nxt) and _level(nxt) <= _level(lines[i])):
                del lines[i]
                changed = True
                break
    return lines


def _has_content(line: str) -> bool:
    stripped = line.strip()
    if stripped.startswith("#"):
        return False
    m = re.match(r"^\*\*[^*]+\*\*\s*:?\s*(.*)$", stripped)
    if m:
        return bool(m.group(1).strip())
    return not stripped.endswith(":")


def _level(line: str) -> int:
    stripped = line.strip()
    if stripped.startswith("#"):
        return len(stripped) - len(stripped.lstrip("#"))
    return 7


def goal_text(question: str, *, entry_point: str) -> str:
    """The goal of ``question`` in natural language: no code framing, no examples (may be empty).

    A question written as code keeps only the entry point's docstring (a class: its own and its
    methods' docstrings); prose keeps its words minus what the module docstring lists.
    """
    text = re.sub(r"<\|[^|>\n]*\|>", "", question.replace("\r\n", "\n"))  # chat-template tokens
    if _is_code(text):
        docs = _docstrings(text, entry_point)
        if docs is not None:
            text = docs
    text = inspect.cleandoc(text) if text.strip() else ""
    lines = _drop_fences(text.splitlines())
    lines = strip_examples("\n".join(lines)).splitlines()
    lines = _drop_sections(lines, entry_point)
    lines = [
        line
        for line in lines
        if not _SIGNATURE_LINE.search(line)
        and not _CODE_LINE.match(line)
        and not _literal_call(line, entry_point)
        and not re.fullmatch(r"\s*[\"'`]+\s*", line)  # a stray quote: `""""` opened the docstring
    ]
    lines = _unwrap(lines)
    lines = [
        _drop_non_goal_sentences(_rewrite_instructions(line)) if line.strip() else line for line in lines
    ]
    lines = [
        line.rstrip() for line in lines if not re.fullmatch(r"\s*(?:[-*+]|\d+[.)])\s*", line) or not line
    ]
    lines = drop_dangling(lines)
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()
