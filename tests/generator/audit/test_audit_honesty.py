"""The honesty checks (issue 11.5) catch crafted bad gyms and pass honest ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegym_mcp.generator.audit._audit_gym import read_gym
from codegym_mcp.generator.audit._audit_honesty import gym_honesty, statement_problems, truncation_marks
from codegym_mcp.generator.audit._check import honesty_problems
from codegym_mcp.generator.statements._leaks import solution_lines_in, statement_leaks
from codegym_mcp.schemas import HonestyFinding

from .._audit_fakes import FakeGym, instance, tool

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"


def _findings(gym: FakeGym, tmp_path: Path) -> list[HonestyFinding]:
    return gym_honesty(read_gym(gym.write(tmp_path)))


def _checks(gym: FakeGym, tmp_path: Path) -> set[str]:
    return {f.check for f in _findings(gym, tmp_path)}


def test_the_hand_written_fixture_gyms_are_honest() -> None:
    for folder in sorted(FIXTURES.iterdir()):
        assert gym_honesty(read_gym(folder)) == [], folder.name


def test_the_default_fake_gym_is_honest(tmp_path: Path) -> None:
    assert _findings(FakeGym(), tmp_path) == []


def test_a_name_cut_before_a_clause_is_misdescribing(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def check_i_mod_4_eq_0(i):\n    return i % 4 == 0 and i % 3 != 0\n",
        tools=[tool("check_i_mod_4_eq_0", "Whether i is a multiple of 4 but not of 3.", [("i", "agent")])],
    )
    found = [f for f in _findings(gym, tmp_path) if f.check == "misdescribed_name"]
    assert len(found) == 1
    assert found[0].tool == "check_i_mod_4_eq_0"
    assert "drops and, ne, 3" in found[0].message and "Fake_0" in found[0].message


def test_a_name_ending_in_an_operator_word_is_truncated(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def check_a_lt(a, b):\n    return a < b\n",
        tools=[tool("check_a_lt", "Whether a is below b.", [("a", "agent"), ("b", "agent")])],
    )
    assert "misdescribed_name" in _checks(gym, tmp_path)


def test_a_name_saying_an_operator_the_body_lacks_is_misdescribing(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def compute_a_times_b(a, b):\n    return a + b\n",
        tools=[tool("compute_a_times_b", "Adds a and b.", [("a", "agent"), ("b", "agent")])],
    )
    found = [f.message for f in _findings(gym, tmp_path) if f.check == "misdescribed_name"]
    assert found and "'times'" in found[0]


def test_a_description_mentioning_an_identifier_not_in_the_body_is_misdescribing(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def compute_len(values):\n    return len(values)\n",
        tools=[tool("compute_len", "Compute `len([x for x in lst if x > 0])`.", [("values", "agent")])],
    )
    found = [f for f in _findings(gym, tmp_path) if f.check == "misdescribed_description"]
    assert len(found) == 1
    assert "lst" in found[0].message and "x" in found[0].message and found[0].tool == "compute_len"


def test_truncation_marks_are_caught(tmp_path: Path) -> None:
    for text in ("Run `total = a + b` and what follows.", "Compute `a + b ...`", "Adds a and b…"):
        gym = FakeGym(tools=[tool("add", text, [("a", "agent"), ("b", "agent")])], task_id=f"T_{len(text)}")
        assert "truncation_mark" in _checks(gym, tmp_path), text


def test_numeric_suffixes_are_caught_but_operands_are_not(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py=(
            "def compute_total(a, b):\n    return a + b\n\n"
            "def compute_total_2(a, b):\n    return a * b\n\n"
            "def update_grade_13(a):\n    return a\n\n"
            "def compute_n_minus_2(n):\n    return n - 2\n"
        ),
        tools=[
            tool("compute_total", "Adds a and b.", [("a", "agent"), ("b", "agent")]),
            tool("compute_total_2", "Multiplies a by b.", [("a", "agent"), ("b", "agent")]),
            tool("update_grade_13", "Returns a.", [("a", "agent")]),
            tool("compute_n_minus_2", "n minus two.", [("n", "agent")]),
        ],
    )
    suffixed = {f.tool for f in _findings(gym, tmp_path) if f.check == "numeric_suffix"}
    assert suffixed == {"compute_total_2", "update_grade_13"}


@pytest.mark.parametrize(
    "text",
    [
        "For lst = [1,2,3] the output should be 6",
        "f([1, 2, 3]) == 6",
        "Input: nums = (1, 2, 3)\nOutput: 6",
        ">>> f([1,2,3])\n6",
    ],
)
def test_an_example_showing_an_instance_and_its_answer_is_a_leak(text: str) -> None:
    assert not statement_leaks(text, [instance({"nums": [5]}, 5)])
    [message] = statement_leaks(text, [instance({"nums": [1, 2, 3]}, 6), instance({"nums": [5]}, 5)])
    assert 'input {"nums":[1,2,3]} with its answer 6' in message


def test_strings_booleans_and_numbers_leak_in_any_quoting() -> None:
    word = instance({"s": "abc", "k": 2}, True)
    assert statement_leaks("f('abc', 2) -> True", [word])
    assert statement_leaks('f("abc", 2) returns true', [word])
    assert not statement_leaks('f("abc", 2) returns false', [word])
    assert not statement_leaks("f('abcd', 2) -> True", [word])


def test_an_input_far_from_its_answer_is_not_a_leak() -> None:
    inst = instance({"nums": [1, 2, 3]}, 6)
    assert not statement_leaks("Given [1,2,3]" + " filler" * 40 + " the answer 6", [inst])
    assert not statement_leaks("For lst = [1,2,3] the output should be 7", [inst])


def test_a_leaking_statement_and_tool_description_fail_the_gym(tmp_path: Path) -> None:
    gym = FakeGym(
        task="Sum the even numbers. For lst = [1,2,3,4] the output should be 6",
        tools=[tool("add", "Adds a and b, as in [1, 2, 3, 4] -> 6.", [("a", "agent"), ("b", "agent")])],
    )
    leaks = [f for f in _findings(gym, tmp_path) if f.check == "instance_leak"]
    assert {f.tool for f in leaks} == {None, "add"}
    assert '{"nums":[1,2,3,4]}' in leaks[0].message


def test_solution_lines_in_text_are_caught() -> None:
    solution = (
        "def f(nums):\n"
        '    """Sum the even ones: total += x."""\n'
        "    total = 0  # start\n"
        "    for x in nums:\n"
        "        if x % 2 == 0 and x > 0:\n"
        "            total += x\n"
        "    return total\n"
    )
    text = "Hint: the code does `if x % 2 == 0  and x > 0:` then adds."
    assert solution_lines_in(text, solution) == ["if x % 2 == 0 and x > 0:"]
    assert solution_lines_in("Sum the even ones: total += x.", solution) == []  # docstring text is not code


def test_a_solution_line_in_the_statement_fails_the_gym(tmp_path: Path) -> None:
    gym = FakeGym(task="Sum the even numbers, i.e. return sum(x for x in nums if x % 2 == 0)")
    found = [f for f in _findings(gym, tmp_path) if f.check == "solution_line"]
    assert [f.text for f in found] == ["return sum(x for x in nums if x % 2 == 0)"]


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("Write a python function to sum the even numbers.", "statement_code_framing"),
        ("Create a function which sums the even numbers.", "statement_code_framing"),
        ("Sum them.\ndef f(nums):\n    pass", "statement_code_framing"),
        ("Sum them.\n>>> f([2])\n2", "statement_code_framing"),
        ("   \n", "statement_empty"),
        ("Sum the even numbers.\n\nExample:\n", "statement_dangling_header"),
        ('Sum the even numbers.\nExamples\n"""\n', "statement_dangling_header"),
        (
            "Sum the even numbers.\nExample:\n\nHow this task works: call observe.",
            "statement_dangling_header",
        ),
    ],
)
def test_bad_statements_are_caught(text: str, check: str) -> None:
    assert check in {c for c, _, _ in statement_problems(text)}


def test_a_goal_statement_with_a_worked_example_passes() -> None:
    text = "A list of integers is hidden. Submit the sum of its even numbers.\n\nExample:\n[4, 5] gives 4."
    assert statement_problems(text) == []


def test_check_reports_honesty_failures_naming_gym_tool_and_text(tmp_path: Path) -> None:
    gym = FakeGym(tools=[tool("add", "Compute `a + b + c`.", [("a", "agent"), ("b", "agent")])])
    messages = honesty_problems(gym.write(tmp_path))
    assert messages == [
        "honesty [misdescribed_description] Fake_0: tool add: description mentions c in `a + b + c` "
        "but the body does not"
    ]


def test_a_negative_number_or_a_quote_run_is_not_the_value_it_contains() -> None:
    floats = instance({"x": 2.2, "y": 2.2, "z": 2.2}, False)
    assert not statement_leaks("any_int(3.6, -2.2, 2) -> False", [floats])
    assert statement_leaks("any_int(2.2, 2.2, 2.2) -> False", [floats])
    empty = instance({"s": ""}, [])
    assert not statement_leaks('def f(s):\n    """Split s; returns []."""', [empty])
    assert statement_leaks('f("") == []', [empty])


def test_a_description_in_words_with_a_call_passes_and_a_wrong_call_fails(tmp_path: Path) -> None:
    honest = FakeGym(
        task_id="Words",
        tools_py="def count_items(values):\n    return len(values)\n",
        tools=[tool("count_items", "How many item(s) values holds: len(values).", [("values", "agent")])],
    )
    assert _findings(honest, tmp_path) == []
    wrong = FakeGym(
        task_id="Wrong",
        tools_py="def count_items(values):\n    return len(values)\n",
        tools=[tool("count_items", "How many items: sum(values).", [("values", "agent")])],
    )
    assert {f.check for f in _findings(wrong, tmp_path)} == {"misdescribed_description"}


def test_code_read_aloud_counts_its_operator_words_as_operators(tmp_path: Path) -> None:
    description = "Set distance to abs(elem minus elem2)."
    params = [("elem", "agent"), ("elem2", "agent")]
    honest = FakeGym(
        task_id="Aloud",
        tools_py="def dist(elem, elem2):\n    return abs(elem - elem2)\n",
        tools=[tool("dist", description, params)],
    )
    assert _findings(honest, tmp_path) == []
    wrong = FakeGym(
        task_id="AloudWrong",
        tools_py="def dist(elem, elem2):\n    return abs(elem + elem2)\n",
        tools=[tool("dist", description, params)],
    )
    assert {f.check for f in _findings(wrong, tmp_path)} == {"misdescribed_description"}


def test_a_loop_step_named_and_described_by_its_loop_header_is_not_misdescribing(tmp_path: Path) -> None:
    gym = FakeGym(
        task_id="Loop",
        tools_py="def loop_step_while_i_lt_len_of_arr(i):\n    i += 1\n    return i\n",
        tools=[
            tool(
                "loop_step_while_i_lt_len_of_arr",
                "One step of the loop while i is less than len(arr): add 1 to i.",
                [("i", "agent")],
            )
        ],
    )
    assert _findings(gym, tmp_path) == []


def test_a_spelled_out_float_constant_is_not_a_numeric_suffix(tmp_path: Path) -> None:
    gym = FakeGym(
        task_id="Float",
        tools_py="def set_center_to_half_point_0(x):\n    return x / 2.0\n",
        tools=[tool("set_center_to_half_point_0", "Set center to x divided by 2.0.", [("x", "agent")])],
    )
    assert "numeric_suffix" not in {f.check for f in _findings(gym, tmp_path)}


def test_tiny_numbers_scattered_in_prose_are_no_leak_but_written_as_an_example_they_are() -> None:
    tiny = instance({"a": 0, "b": 1}, 0)
    prose = (
        "For `a` = 8 and `b` = 8 (not one of the hidden inputs), the answer is 64.\n\n"
        "This episode is a batch of 3 cases, numbered 0 to 2; pass `case` (0..2) and 1 answer per case, "
        "0 based."
    )
    assert statement_leaks(prose, [tiny]) == []
    assert statement_leaks("For `a` = 0 and `b` = 1, the answer is 0.", [tiny])
    assert statement_leaks("f(0, 1) == 0", [tiny])
    assert statement_leaks(">>> f(0, 1)\n0", [tiny])
    assert statement_leaks("Input: 0, 1\n\n\n\nOutput: 0", [tiny])  # ordered rule: lines apart


def test_a_short_solution_line_inside_a_sentence_is_caught() -> None:
    solution = "def f(s):\n    max_depth = len(s)\n    return max_depth\n"
    assert solution_lines_in("Count, then return max_depth.", solution) == ["return max_depth"]
    assert solution_lines_in("Count; the result is max_depth.", solution) == []


def test_constants_spelled_the_carvers_way_and_a_variable_named_like_an_operator_are_no_misdescription(
    tmp_path: Path,
) -> None:
    bodies = {
        "set_center_to_begin_plus_end_div_2_point_0": "(begin, end):\n    return (begin + end) / 2.0\n",
        "check_end_minus_begin_gt_1eminus_10": "(begin, end):\n    return end - begin > 1e-10\n",
        "compute_join_empty_str_with_items": "(items):\n    return ''.join(items)\n",
        "compute_round_of_a_pow_1_point_0_div_3": "(a):\n    return round(a ** (1.0 / 3))\n",
        "update_times": "(times, x):\n    if x == 1:\n        times += 1\n    return times\n",
        "compute_x_div_2_point_5": "(x):\n    return x / 2.0\n",  # says 2.5: misdescribing
    }
    gym = FakeGym(
        task_id="Spelled",
        tools_py="".join(f"def {name}{body}\n\n" for name, body in bodies.items()),
        tools=[tool(name, "Compute it.", [("x", "agent")]) for name in bodies],
        solution="def f(items):\n    return str(''.join(items))\n",
    )
    named = {f.tool for f in _findings(gym, tmp_path) if f.check == "misdescribed_name"}
    assert named == {"compute_x_div_2_point_5"}


def test_three_dots_writing_a_range_are_no_truncation_but_dots_ending_a_cut_text_are(tmp_path: Path) -> None:
    ok = FakeGym(
        tools=[tool("add", "The count of a in arr[left...right].", [("a", "agent"), ("b", "agent")])]
    )
    assert "truncation_mark" not in _checks(ok, tmp_path)
    for text in ("The count of a in arr[left...", "The count of a in arr[left... right]", "Count a..."):
        assert truncation_marks(text), text


def test_a_section_header_followed_by_its_first_subsection_is_not_dangling() -> None:
    assert statement_problems("## Goal\n\n### Scenario\n\nAdd the numbers.") == []
    assert {
        c for c, _, _ in statement_problems("## Goal\n\n## Worked example\n\nFor 1 the answer is 1.")
    } == {"statement_dangling_header"}
    assert {c for c, _, _ in statement_problems("### Scenario\n\n## Goal\n\nAdd them.")} == {
        "statement_dangling_header"
    }


def test_a_state_name_that_is_also_a_string_constant_of_the_body_is_no_expression_slug(
    tmp_path: Path,
) -> None:
    body = "(state, x):\n    total = state.get('total', 0)\n    if x % 2 == 0:\n        total += x\n    return total\n"
    gym = FakeGym(
        task_id="State",
        tools_py=f"def update_total{body}",
        tools=[tool("update_total", "Add x to total when x is even.", [("x", "agent")])],
    )
    assert "misdescribed_name" not in _checks(gym, tmp_path)


def test_numbers_in_play_instructions_beside_the_word_inputs_are_no_leak() -> None:
    tiny = instance({"a": 0, "b": 1}, 0)
    play = (
        "This episode is a batch of 3 cases: 3 different hidden inputs of the same problem, numbered 0 to 2. "
        "Every tool takes an extra argument `case` (0..2); submit 1 list."
    )
    assert statement_leaks(play, [tiny]) == []
    assert statement_leaks("Input: a = 0, b = 1\nOutput: 0", [tiny])
    assert statement_leaks("It gives 0 for a = 0, b = 1.", [tiny])
