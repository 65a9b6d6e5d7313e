"""Task statements: goals in words, one worked example off the instances, no leaks, no framing."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from codegym_mcp.generator._results import Generated, GenerateSettings
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.generator.pipeline import _pipeline
from codegym_mcp.generator.statements._goal_text import goal_text
from codegym_mcp.generator.statements._leaks import (
    code_framing_in,
    dangling_headers_in,
    solution_lines_in,
    statement_leaks,
)
from codegym_mcp.generator.statements._task_text import compose_statement, type_in_words
from codegym_mcp.generator.statements._worked_example import WorkedExample
from codegym_mcp.runtime import Worker, encode
from codegym_mcp.schemas import Problem, ToolSpec

from .._pipeline_fakes import getters_carving, sandbox_worker, toy_problem

__all__ = ["sandbox_worker"]

INTS: dict[str, Any] = {"type": "array", "items": {"type": "integer"}}
INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {"nums": INTS},
    "required": ["nums"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Case:
    """An instance as the checks see it: wire input by parameter, wire answer."""

    input: dict[str, Any]
    expected: Any


def case(expected: Any, **inputs: Any) -> Case:
    return Case(input={k: encode(v) for k, v in inputs.items()}, expected=encode(expected))


def tool(name: str, kind: Any = "helper") -> ToolSpec:
    return ToolSpec(
        name=name,
        kind=kind,
        description=f"{name} does one step.",
        function=name if kind == "helper" else None,
        input_schema={"type": "object", "properties": {}},
        output_schema={},
    )


TOOLS = [tool("observe", "observe"), tool("add_pair"), tool("submit", "submit"), tool("task", "task")]


def statement(question: str, **kwargs: Any) -> str:
    args: dict[str, Any] = {
        "question": question,
        "entry_point": "total",
        "input_schema": INPUT,
        "output_schema": {"type": "integer"},
        "tools": TOOLS,
    } | kwargs
    return compose_statement(**args).text


def test_a_coding_task_becomes_a_goal_without_signature_doctests_or_instruction() -> None:
    question = (
        "from typing import List\n\n"
        "def total(nums: List[int]) -> int:\n"
        '    """Write a function that takes a list of integers and returns their sum.\n'
        "    >>> total([4, 5])\n"
        "    9\n"
        '    """\n'
    )
    text = statement(question)
    assert "Given a list of integers, return their sum." in text
    assert code_framing_in(text) == []
    for framing in ("def ", ">>>", "Write a function", "List[int]"):
        assert framing not in text


def test_prose_drops_fences_signature_sections_and_rewrites_the_instruction() -> None:
    question = (
        "Implement a function `total` that finds the sum of `nums`.\n\n"
        "**Function Signature**: `def total(nums: list[int]) -> int:`\n\n"
        "**Constraints**:\n- `nums` has at most 100 items.\n\n"
        "**Example**:\n```python\nassert total([1, 2]) == 3\n```\n\n"
        "**Performance Requirement**:\n- Your function should run in O(n).\n"
    )
    goal = goal_text(question, entry_point="total")
    assert goal.startswith("Find the sum of `nums`.")
    assert "- `nums` has at most 100 items." in goal
    assert code_framing_in(goal) == [] and dangling_headers_in(goal) == []
    assert "Example" not in goal and "O(n)" not in goal


def test_a_stray_quote_opening_the_docstring_does_not_start_the_goal() -> None:
    question = 'def total(lst):\n    """"\n    Return the sum of all entries.\n    """\n'
    assert goal_text(question, entry_point="total") == "Return the sum of all entries."


def test_a_header_left_empty_by_the_clean_up_goes_too() -> None:
    question = "Sum the numbers.\n\nExample:\n    total([1, 2]) == 3\n\nNotes:\n"
    goal = goal_text(question, entry_point="total")
    assert goal == "Sum the numbers."
    assert dangling_headers_in("Sum the numbers.\n\nExample:\n") == [
        "a header with nothing under it: 'Example:'"
    ]


def test_an_empty_goal_falls_back_to_the_name_and_types_and_says_so() -> None:
    out = compose_statement(
        question='def total(nums):\n    """>>> total([1])\n    1\n    """\n',
        entry_point="total",
        input_schema=INPUT,
        output_schema={"type": "integer"},
        tools=TOOLS,
    )
    assert 'Work out "total" for the hidden input: given `nums` (a list of integers)' in out.text
    assert any("derived from the entry point" in note for note in out.notes)
    assert dangling_headers_in(out.text) == []


@pytest.mark.parametrize("shown", ["[1,2,3]", "[1, 2, 3]", "(1, 2, 3)", "[ 1,2 , 3 ]"])
def test_a_compact_list_example_of_an_instance_is_detected_and_removed(shown: str) -> None:
    instances = [case(6, nums=[1, 2, 3])]
    question = f"Sum the numbers.\nFor instance total({shown}) = 6 and nothing else.\nKeep this line.\n"
    assert statement_leaks(question, instances)
    text = statement(question, instances=instances)
    assert statement_leaks(text, instances) == []
    assert "Sum the numbers." in text and "Keep this line." in text


def test_numbers_and_flags_leak_beside_an_example_hint_only() -> None:
    instances = [case(True, n=7)]
    assert statement_leaks("Input: n = 7\nOutput: True", instances)
    assert statement_leaks("is_prime(7) ==> true", instances)
    assert statement_leaks("Return True when n is prime, such as 7.", instances) == []


def test_a_quoted_string_leaks_in_either_quote_but_a_word_inside_a_longer_string_does_not() -> None:
    instances = [case("cba", s="abc")]
    assert statement_leaks("reverse('abc') gives 'cba'", instances)
    assert statement_leaks('s = "abc" -> "cba"', instances)
    assert statement_leaks('for "abc def" the answer is "cba fed"', instances) == []


def test_a_line_of_the_reference_solution_is_detected_but_not_its_docstring() -> None:
    solution = (
        "def total(nums):\n"
        '    """Sum the numbers of nums."""\n'
        "    acc = 0  # start\n"
        "    for value in nums:\n"
        "        acc = acc + value\n"
        "    return acc\n"
    )
    assert solution_lines_in("Sum the numbers of nums.", solution) == []
    found = solution_lines_in("Hint:\n  for value in nums:\n  acc = acc + value", solution)
    assert found == ["for value in nums:", "acc = acc + value"]
    text = statement("Sum the numbers.\nfor value in nums:\n", solution=solution)
    assert solution_lines_in(text, solution) == []
    late_docstring = 'def total(nums):\n    import math\n    """Sum the numbers (each = a value)."""\n'
    assert solution_lines_in("Sum the numbers (each = a value).", late_docstring) == []


def test_the_worked_example_shown_is_the_first_that_leaks_nothing() -> None:
    instances = [case(3, nums=[1, 2])]
    leaky = WorkedExample(input={"nums": [1, 2]}, expected=3, origin="question")
    fine = WorkedExample(input={"nums": [2, 2]}, expected=4, origin="derived")
    text = statement("Sum the numbers.", instances=instances, examples=[leaky, fine])
    assert "For `nums` = [2, 2] (not one of the hidden inputs), the answer is 4." in text
    assert statement_leaks(text, instances) == []


def test_without_a_worked_example_the_statement_says_so_plainly() -> None:
    out = compose_statement(
        question="Sum the numbers.",
        entry_point="total",
        input_schema=INPUT,
        output_schema={"type": "integer"},
        tools=TOOLS,
        examples="the reference rejected every example input tried",
    )
    assert "No worked example is shown: the reference rejected every example input tried." in out.text
    assert any("no worked example" in note for note in out.notes)


def test_how_to_play_names_the_parameters_the_policy_the_tools_and_the_answer_type() -> None:
    reads = [*TOOLS[:2], tool("read_nums", "read"), *TOOLS[2:]]
    partial = statement("Sum the numbers.", tools=reads, observation="partial")
    assert "The hidden input is one parameter: `nums` (a list of integers)." in partial
    assert '{"length": N}' in partial and "`read_nums(start, count)`" in partial
    assert "at most five items" in partial and "ten characters" in partial
    assert "`add_pair`" in partial and "`submit`" in partial
    assert "(an integer; type int)" in partial
    full = statement("Sum the numbers.")
    assert "the value of every parameter" in full and "read_" not in full
    batched = statement("Sum the numbers.", batch_size=3)
    assert "a list of 3 answers, one per case" in batched


def test_types_read_in_words() -> None:
    assert type_in_words({"type": "array", "items": INTS}) == "a list of lists of integers"
    assert type_in_words({"type": "boolean"}) == "true or false"
    assert type_in_words({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "a string or null"
    pair = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}
    assert type_in_words(pair) == "a pair (an integer, a string)"


# --------------------------------------------------------------------------- over HumanEval


def _literal_asserts(problem: Problem) -> Iterator[Case]:
    """``assert candidate(<literals>) == <literal>`` of a HumanEval test, read with ``ast`` (never run)."""
    params = [
        a.arg
        for f in ast.walk(ast.parse(problem.solution))
        if isinstance(f, ast.FunctionDef) and f.name == problem.entry_point
        for a in f.args.args
    ]
    for node in ast.walk(ast.parse(problem.tests)):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        call, right = node.test.left, node.test.comparators[0]
        if not (
            isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "candidate"
        ):
            continue
        try:
            args = [ast.literal_eval(a) for a in call.args]
            expected = ast.literal_eval(right)
        except ValueError:
            continue
        if len(args) == len(params):
            yield case(expected, **dict(zip(params, args, strict=True)))


def test_every_humaneval_goal_is_framing_free_non_empty_and_complete() -> None:
    problems = load_dataset("humaneval").problems
    assert len(problems) == 164
    framed, empty, dangling, leaking = [], [], [], []
    for problem in problems:
        instances = list(_literal_asserts(problem))
        text = statement(
            problem.question,
            entry_point=problem.entry_point or "",
            instances=instances,
            solution=problem.solution,
        )
        goal = text.split("## Worked example")[0]
        framed += [problem.task_id] if code_framing_in(text) else []
        empty += [problem.task_id] if len(goal.removeprefix("## Goal").split()) < 3 else []
        dangling += [problem.task_id] if dangling_headers_in(text) else []
        leaking += [problem.task_id] if statement_leaks(text, instances) else []
    assert (framed, empty, dangling, leaking) == ([], [], [], [])


# --------------------------------------------------------------------------- in the pipeline


def test_a_built_gym_shows_a_worked_example_off_its_instances_answered_by_the_reference(
    sandbox_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "carve", getters_carving)
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(), sandbox_worker)
    assert isinstance(result, Generated), result
    task = result.files.manifest.task
    m = re.search(
        r"For `nums` = (\[.*?\]) and `target` = (-?\d+) \(not one of the hidden inputs\), the answer is (\d+)\.",
        task,
    )
    assert m, task
    nums, target, answer = json.loads(m.group(1)), int(m.group(2)), int(m.group(3))
    assert {"nums": nums, "target": target} not in [i.input for i in result.files.instances]
    pairs = [(a, b) for a in range(len(nums)) for b in range(a + 1, len(nums)) if nums[a] + nums[b] == target]
    assert answer == len(pairs)
    assert statement_leaks(task, result.files.instances) == []
    assert code_framing_in(task) == [] and dangling_headers_in(task) == []
