"""The task statement an agent reads: the goal in words, one worked example, how to play.

Never the hidden input's values: the goal comes from :func:`~._goal_text.goal_text` (no code
framing, no examples), then every line that shows an instance's input with its answer, or a
line of the reference solution, is removed (``_leaks``). The worked example is computed by the
reference on an input that is not an instance (``_worked_example``); when none could be made
the statement says so. When nothing of the question is left, the goal is derived from the entry
point's name and the input and output types, and the statement's notes say so.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...runtime import ITEMS_CAP, TEXT_CAP, decode, describe_schema, to_plain
from ...schemas import ObservationPolicy, ToolSpec
from ._goal_text import drop_dangling, goal_text, strip_examples
from ._leaks import HasInputAndAnswer, leaking_lines, solution_lines_in, statement_leaks
from ._worked_example import WorkedExample

__all__ = [
    "Statement",
    "batch_paragraph",
    "compose_statement",
    "redact_values",
    "strip_examples",
    "task_statement",
]

_NUMBER_WORDS = dict(
    enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"))
)
"""Boilerplate spells its numbers: digits beside a hidden value could read as an example."""

_EXAMPLE_HINT = re.compile(
    r"=>|==|->|>>>|\breturns?\b|\bshould\b|\bexamples?\b|\binput\b|\boutput\b|e\.g\.|\bgives?\b|"
    r"\bresults?\b|\bexplanation\b|\bbecomes?\b|\b\w+\s*=\s*[\[(\"'{]",
    re.IGNORECASE,
)


def _renderings(value: Any, out: set[str]) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return  # numbers and flags are everywhere in prose: not specific enough to redact
    forms = [repr(value)]
    with contextlib.suppress(TypeError, ValueError):
        forms.append(json.dumps(value))
    if isinstance(value, str) and len(value.strip()) >= 4:
        forms.append(value)
    if isinstance(value, (list, tuple)):
        forms.append(", ".join(repr(v) for v in value))
    out.update(f for f in forms if len(f) >= 4)


def redact_values(question: str, values: Iterable[Any], *, entry_point: str) -> str:
    """Drop the example lines of ``question`` that show one of ``values`` (hidden inputs, answers).

    A line goes when it contains a rendering of a value (``repr``/JSON of a list, a string of 4+
    characters) and reads like an example (``=>``, ``==``, "returns", "Input:", a call of the entry
    point...); the example's following lines (its output) go with it, up to a blank line.
    """
    forms: set[str] = set()
    for value in values:
        _renderings(value, forms)
    if not forms:
        return question
    out: list[str] = []
    in_example = False
    for line in question.splitlines():
        if not line.strip():
            in_example = False
            out.append(line)
            continue
        example_like = bool(_EXAMPLE_HINT.search(line)) or f"{entry_point}(" in line
        if example_like and any(f in line for f in forms):
            in_example = True
            continue
        if in_example and example_like:
            continue
        in_example = False
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------- words


def type_in_words(schema: dict[str, Any], *, plural: bool = False) -> str:
    """A type schema in words: ``list[int]`` -> "a list of integers" (``plural``: "lists of integers")."""
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(type_in_words(s, plural=plural) for s in schema["anyOf"]))
    kind = schema.get("type")
    simple = {
        "integer": ("an integer", "integers"),
        "number": ("a number", "numbers"),
        "string": ("a string", "strings"),
        "boolean": ("true or false", "true/false values"),
        "null": ("null", "nulls"),
    }
    if isinstance(kind, str) and kind in simple:
        return simple[kind][plural]
    if kind == "array":
        if "prefixItems" in schema:
            inner = ", ".join(type_in_words(s) for s in schema["prefixItems"])
            return (
                ("pairs" if plural else "a pair") + f" ({inner})"
                if len(schema["prefixItems"]) == 2
                else (("tuples" if plural else "a tuple") + f" ({inner})")
            )
        word = "set" if schema.get("x-python") in ("set", "frozenset") else "list"
        items = schema.get("items")
        inner = type_in_words(items, plural=True) if isinstance(items, dict) and items else "values"
        return (f"{word}s" if plural else f"a {word}") + f" of {inner}"
    if kind == "object":
        if "properties" in schema and not schema.get("additionalProperties", True):
            return (
                ("objects" if plural else "an object")
                + " with fields "
                + ", ".join(f"`{k}`" for k in schema["properties"])
            )
        keys = schema.get("x-python-keys", {"type": "string"})
        values = schema.get("additionalProperties", {})
        value_words = type_in_words(values, plural=True) if isinstance(values, dict) and values else "values"
        return (
            "mappings" if plural else "a mapping"
        ) + f" from {type_in_words(keys, plural=True)} to {value_words}"
    return "values" if plural else "a value"


def _name_in_words(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.removeprefix("codegym_"))
    return " ".join(spaced.replace("_", " ").split()).lower()


def _plain(wire: Any) -> str:
    return json.dumps(to_plain(decode(wire)), ensure_ascii=False)


def _params(input_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props = input_schema.get("properties")
    return (
        {str(k): v if isinstance(v, dict) else {} for k, v in props.items()}
        if isinstance(props, dict)
        else {}
    )


def _params_in_words(input_schema: dict[str, Any]) -> str:
    params = _params(input_schema)
    words = [f"`{k}` ({type_in_words(v)})" for k, v in params.items()]
    if not words:
        return "The hidden input has no parameters."
    if len(words) == 1:
        return f"The hidden input is one parameter: {words[0]}."
    count = _NUMBER_WORDS.get(len(words), str(len(words)))
    return f"The hidden input has {count} parameters: " + ", ".join(words[:-1]) + f" and {words[-1]}."


def _fallback_goal(
    entry_point: str, input_schema: dict[str, Any], output_schema: dict[str, Any], design: bool
) -> str:
    params = _params(input_schema)
    given = " and ".join(f"`{k}` ({type_in_words(v)})" for k, v in params.items()) or "the hidden input"
    if design:
        return (
            f"Play a sequence of operations on a `{entry_point}` data structure ({_name_in_words(entry_point)}) "
            "and report what each operation gives."
        )
    return (
        f'Work out "{_name_in_words(entry_point)}" for the hidden input: given {given}, '
        f"the answer is {type_in_words(output_schema)}."
    )


# --------------------------------------------------------------------------- the statement


@dataclass(frozen=True)
class Statement:
    """A task statement and what is worth saying about how it was made (for the summary)."""

    text: str
    notes: list[str] = field(default_factory=list)


def _clean_goal(goal: str, instances: Sequence[HasInputAndAnswer], solution: str) -> tuple[str, int]:
    """The goal minus the lines that leak an instance or a solution line; and how many lines went.

    Of a leaking span (an input line, then its answer line) the last line that shows one of the
    instance's values goes first: what is left shows no answer, and fewer of the problem's words
    are lost.
    """
    lines = goal.splitlines()
    dropped = 0
    while True:
        bad = leaking_lines("\n".join(lines), instances)
        if solution:
            code = set(solution_lines_in("\n".join(lines), solution))
            bad |= {i for i, line in enumerate(lines) if code & set(solution_lines_in(line, solution))}
        if not bad:
            break
        dropped += len(bad)
        lines = [line for i, line in enumerate(lines) if i not in bad]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(drop_dangling(lines))).strip()
    return text, dropped


def _example_text(example: WorkedExample, design: bool, answer_is_argument: str | None) -> str:
    if design:
        given = (
            f"the operations {_plain(example.input.get('operations'))} with the arguments "
            f"{_plain(example.input.get('arguments'))}"
        )
    else:
        given = " and ".join(f"`{k}` = {_plain(v)}" for k, v in example.input.items()) or "no input"
    what = f"the final `{answer_is_argument}`" if answer_is_argument else "the answer"
    return f"For {given} (not one of the hidden inputs), {what} is {_plain(example.expected)}."


def _observation_text(observe: str, observation: ObservationPolicy, tools: Sequence[ToolSpec]) -> str:
    if observation == "full":
        return f"Call `{observe}` (no arguments) to see the hidden input: the value of every parameter."
    reads = [f"`{t.name}(start, count)`" for t in tools if t.kind == "read"]
    text = (
        f"Call `{observe}` (no arguments) to see the hidden input: it shows every number, true/false or null "
        'parameter by value and, for each string, list, set or dict parameter, only its size as {"length": N}.'
    )
    if reads:
        text += (
            f" Read a collection's contents with {', '.join(reads)}: one call returns at most "
            f"{_NUMBER_WORDS.get(ITEMS_CAP, ITEMS_CAP)} items from position `start` on (of a string, at most "
            f"{_NUMBER_WORDS.get(TEXT_CAP, TEXT_CAP)} characters)."
        )
    return text


def _answer_words(design: bool, answer_is_argument: str | None) -> str:
    if design:
        return "the list of what each operation of the hidden sequence gives, in order (null for the constructor)"
    if answer_is_argument:
        return f"the final value of `{answer_is_argument}` (the problem changes it in place)"
    return "the answer for the hidden input"


def compose_statement(
    *,
    question: str,
    entry_point: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any],
    tools: Sequence[ToolSpec],
    instances: Sequence[HasInputAndAnswer] = (),
    solution: str = "",
    examples: Sequence[WorkedExample] | str = (),
    observation: ObservationPolicy = "full",
    batch_size: int = 1,
    design: bool = False,
    answer_is_argument: str | None = None,
) -> Statement:
    """The statement: the goal, one worked example, the hidden input's parameters, how to play.

    ``instances`` (inputs and answers, wire) never show in the text, nor lines of ``solution``.
    ``examples``: worked-example candidates (best first; the first that leaks nothing is shown)
    or why there are none. ``observation``/``batch_size``: the manifest's. ``design``: a class
    problem whose hidden input is a sequence of operations (LeetCode's design format).
    ``answer_is_argument``: the reference answers by changing this argument in place.
    """
    notes: list[str] = []
    goal, dropped = _clean_goal(goal_text(question, entry_point=entry_point), instances, solution)
    if dropped:
        notes.append(
            f"statement: {dropped} line(s) of the question showed an instance or solution code and went"
        )
    if len(goal.split()) < 3:
        goal = _fallback_goal(entry_point, input_schema, output_schema, design)
        notes.append(
            "statement: nothing of the question was left; the goal is derived from the entry point's name and types"
        )
    shown = _shown_example(examples, instances, design, answer_is_argument, notes)
    observe = next((t.name for t in tools if t.kind == "observe"), "observe")
    submit = next((t.name for t in tools if t.kind == "submit"), "submit")
    helpers = [f"`{t.name}`" for t in tools if t.function is not None]
    submit_text = _submit_text(submit, output_schema, batch_size, _answer_words(design, answer_is_argument))
    play = _params_in_words(input_schema) + " Its values are not in this text. "
    play += _observation_text(observe, observation, tools)
    parts = ["## Goal", "", goal, "", "## Worked example", "", shown, "", "## How to play", "", play]
    if batch_size > 1:
        parts += ["", batch_paragraph(batch_size)]
    if helpers:
        parts += ["", "Problem tools, each computing one step of a solution from values you pass it (its "]
        parts[-1] += "description says which): " + ", ".join(helpers) + "."
    parts += [
        "",
        submit_text + " Submitting ends the episode; a correct answer scores one point, anything else none.",
    ]
    text = "\n".join(parts).strip() + "\n"
    leaks = statement_leaks(text, instances)
    if leaks:
        notes.append(f"statement: the leak check still flags {len(leaks)} place(s): {leaks[0][:160]}")
    return Statement(text=text, notes=notes)


def _shown_example(
    examples: Sequence[WorkedExample] | str,
    instances: Sequence[HasInputAndAnswer],
    design: bool,
    answer_is_argument: str | None,
    notes: list[str],
) -> str:
    """The first worked example that leaks no instance, or a line saying why none is shown (noted)."""
    for example in examples if not isinstance(examples, str) else ():
        candidate = _example_text(example, design, answer_is_argument)
        if not statement_leaks(candidate, instances):
            return candidate
    why = examples if isinstance(examples, str) else "every example tried would show a hidden input"
    notes.append(f"statement: no worked example ({why})")
    return f"No worked example is shown: {why}."


def _submit_text(submit: str, output_schema: dict[str, Any], batch_size: int, answer: str) -> str:
    """How to submit: one answer, or the list of a batch's answers in case order."""
    kind = f"{type_in_words(output_schema)}; type {describe_schema(output_schema)}"
    if batch_size > 1:
        return (
            f"When you know the answers, call `{submit}` with `answer` = a list of {batch_size} answers, one per "
            f"case in case order, each {answer} ({kind})."
        )
    return f"When you know it, call `{submit}` with `answer` = {answer} ({kind})."


def task_statement(**kwargs: Any) -> str:
    """:func:`compose_statement`'s text alone (same keyword arguments)."""
    return compose_statement(**kwargs).text


# --------------------------------------------------------------------------- batched episodes


def batch_paragraph(k: int) -> str:
    """How a batched episode works (``batch_size`` K > 1): K hidden inputs, a ``case`` argument,
    one submit of K answers scored all-or-nothing. Said last, it overrides "one hidden input".

    Raises:
        ValueError: ``k`` is below 2 (an unbatched episode needs no such paragraph).
    """
    if k < 2:
        raise ValueError(f"a batched episode has at least 2 cases, got batch size {k}")
    return (
        f"This episode is a batch of {k} cases: {k} different hidden inputs of the same problem, "
        f"numbered 0 to {k - 1}. Every tool except `submit` and `task` takes an extra argument `case` "
        f"(0..{k - 1}) saying which hidden input the call works on; tools that remember state keep "
        f"a separate state for each case. Submit once, with `answer` = a list of {k} answers, the "
        f"i-th for case i. The reward is 1 only if all {k} answers are correct, else 0."
    )
