"""``audit``: each measure over crafted gyms, and the command over a small catalog built here."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from codegym_mcp.generator.audit._audit import AUDIT_FILE, NoCatalog, audit_catalog
from codegym_mcp.generator.audit._audit_code import has_loop, is_collection_level, operation_count
from codegym_mcp.generator.audit._audit_gym import read_gym
from codegym_mcp.generator.audit._audit_measures import (
    blind_rights,
    duplicate_bodies,
    episode_steps,
    episodes,
    is_revealed,
    is_small,
    one_call_answer_tools,
)
from codegym_mcp.schemas import AuditReport
from codegym_mcp.servers.cli import main

from .._audit_fakes import BOOL, FakeGym, call, instance, tool

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "catalog"


def _func(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


@pytest.mark.parametrize(
    ("source", "ops"),
    [
        ("def f(n):\n    return n <= 1\n", 1),
        ("def f(i):\n    j = i + 1\n    return j\n", 1),
        ("def f(lst):\n    return lst[0]\n", 1),
        ("def f(n):\n    return n\n", 0),
        ("def f(i):\n    return i % 2 == 0\n", 2),
        ("def f(a, b):\n    return 0 <= a < b\n", 2),
        ("def f(x, y):\n    return x % 2 == 0 and y % 2 == 1\n", 5),
    ],
)
def test_operations_are_counted_without_the_scaffolding(source: str, ops: int) -> None:
    assert operation_count(_func(source)) == ops


def test_whole_collection_work_is_told_from_scalar_work() -> None:
    assert is_collection_level(_func("def f(xs):\n    return sum(xs)\n"))
    assert is_collection_level(_func("def f(xs):\n    return [x for x in xs if x > 0]\n"))
    assert is_collection_level(_func("def f(xs):\n    for x in xs:\n        print(x)\n"))
    assert is_collection_level(_func("def f(xs):\n    for i in range(len(xs)):\n        xs[i] += 1\n"))
    assert not is_collection_level(_func("def f(a, b):\n    return max(a, b)\n"))
    assert not is_collection_level(_func("def f(n):\n    for i in range(n):\n        n += i\n    return n\n"))
    assert has_loop(_func("def f(n):\n    for i in range(n):\n        n += i\n    return n\n"))


def test_small_inputs_are_told_from_large_ones() -> None:
    assert is_small(instance({"nums": list(range(30))}, 0))
    assert not is_small(instance({"nums": list(range(31))}, 0))
    assert not is_small(instance({"s": "x" * 31}, 0))
    assert not is_small(instance({"a": 10**150}, 0))


def test_a_full_observe_reveals_and_a_partial_one_does_not(tmp_path: Path) -> None:
    full = read_gym(FakeGym(task_id="Full").write(tmp_path))
    assert is_revealed(full, full.instances[0])
    sized = instance({"nums": [1, 2, 3, 4]}, 6)
    sized = sized.model_copy(
        update={"oracle_trace": [call("observe", {"nums": {"length": 4}}), *sized.oracle_trace[1:]]}
    )
    partial = read_gym(FakeGym(task_id="Partial", observation="partial", instances=[sized]).write(tmp_path))
    assert not is_revealed(partial, partial.instances[0])


def test_a_zero_argument_getter_returning_the_input_reveals_it(tmp_path: Path) -> None:
    sized = instance({"nums": [1, 2, 3, 4]}, 6)
    sized = sized.model_copy(update={"oracle_trace": [call("observe", {"nums": {"length": 4}})]})
    gym = FakeGym(
        observation="partial",
        instances=[sized],
        tools_py="def get_nums(nums):\n    return list(nums)\n",
        tools=[tool("get_nums", "The hidden numbers.", [("nums", "hidden")], kind="getter")],
    )
    read = read_gym(gym.write(tmp_path))
    assert is_revealed(read, read.instances[0])


def test_a_batch_episode_sums_its_traces_minus_the_extra_submits(tmp_path: Path) -> None:
    insts = [instance({"nums": [n]}, n, [call("add", {"result": n}, a=n, b=0)] * n) for n in (1, 2, 3, 4, 5)]
    gym = read_gym(FakeGym(instances=insts, batch_size=2).write(tmp_path))
    groups = episodes(gym.instances, 2)
    assert [len(g) for g in groups] == [2, 2]  # the fifth instance makes no whole episode
    assert [episode_steps(g) for g in groups] == [(3 + 4) - 1, (5 + 6) - 1]


def test_a_bool_gym_whose_answers_are_mostly_false_pays_a_blind_guess(tmp_path: Path) -> None:
    answers = [False, False, False, True]
    insts = [instance({"nums": [i]}, a) for i, a in enumerate(answers)]
    gym = read_gym(FakeGym(instances=insts, answer_schema=dict(BOOL)).write(tmp_path))
    rights, memorised, n = blind_rights(gym)
    assert (rights[0], rights[1], memorised, n) == (3, 1, 3, 4)  # False, True, memorised False
    report = audit_catalog(tmp_path)
    assert report.blind_guess.best_constant is False
    assert report.blind_guess.best_constant_share == 0.75
    batched = read_gym(
        FakeGym(task_id="Batched", instances=insts, answer_schema=dict(BOOL), batch_size=2).write(tmp_path)
    )
    rights, memorised, n = blind_rights(batched)
    assert (rights[0], memorised, n) == (1, 1, 2)  # [False, False] is right on the first episode only


def test_two_tools_with_one_body_under_other_names_are_duplicates(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def add(a, b):\n    return a + b\n\ndef total(x, y):\n    '''Sum.'''\n    return x + y\n",
        tools=[
            tool("add", "Adds a and b.", [("a", "agent"), ("b", "agent")]),
            tool("total", "Adds x and y.", [("x", "agent"), ("y", "agent")]),
        ],
    )
    refs = duplicate_bodies(read_gym(gym.write(tmp_path)))
    assert [(r.tool, r.detail) for r in refs] == [("total", "same body as add")]


def test_a_tool_answering_in_one_call_on_the_hidden_input_is_listed(tmp_path: Path) -> None:
    insts = [
        instance({"nums": [1, 2]}, 2, [call("sum_evens", {"result": 2})]),
        instance({"nums": [4, 6]}, 10, [call("sum_evens", {"result": 10})]),
    ]
    gym = FakeGym(
        instances=insts,
        tools_py="def sum_evens(nums):\n    return sum(x for x in nums if x % 2 == 0)\n",
        tools=[tool("sum_evens", "Sum of the even hidden numbers.", [("nums", "hidden")], kind="helper")],
    )
    refs = one_call_answer_tools(read_gym(gym.write(tmp_path)))
    assert [r.tool for r in refs] == ["sum_evens"]


def test_a_tool_fed_the_whole_observed_input_that_returns_the_answer_is_listed(tmp_path: Path) -> None:
    insts = [instance({"n": n}, n * 2, [call("double", {"result": n * 2}, n=n)]) for n in (3, 4)]
    insts.append(instance({"n": 5}, 10, [call("double", {"result": 8}, n=4)]))  # on part of it: fine
    gym = FakeGym(
        instances=insts,
        tools_py="def double(n):\n    return 2 * n\n",
        tools=[tool("double", "Twice n.", [("n", "agent")])],
    )
    refs = one_call_answer_tools(read_gym(gym.write(tmp_path)))
    assert [r.tool for r in refs] == ["double"]


def test_gyms_with_one_solution_and_tests_are_duplicates(tmp_path: Path) -> None:
    FakeGym(task_id="P_C").write(tmp_path)
    FakeGym(
        task_id="P_I", solution="def f(nums):  # same\n    return sum(x for x in nums if x % 2 == 0)\n"
    ).write(tmp_path)
    FakeGym(task_id="Q_C", solution="def f(nums):\n    return sum(nums)\n").write(tmp_path)
    report = audit_catalog(tmp_path)
    assert [(d.task_id, d.duplicates) for d in report.duplicate_gyms] == [("P_I", "P_C")]


def _fixture_catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURES, catalog)
    return catalog


def test_the_audit_of_the_fixture_catalog_measures_every_figure(tmp_path: Path) -> None:
    report = audit_catalog(_fixture_catalog(tmp_path))
    assert (report.gyms, report.instances.instances, report.oracle_steps.episodes) == (2, 7, 7)
    assert report.instances.revealed == 7  # observe shows the whole input (full observation)
    assert report.tools.problem_tools == 7
    assert report.tools.stateful == 1  # track_best
    assert report.tools.gyms_with_collection_or_stateful_share == 1.0
    assert report.findings == [] and report.duplicate_gyms == []
    steps = sorted(
        json.loads(line)["oracle_steps"]
        for gym in ("Fixture_maxsub", "Fixture_vowels")
        for line in (FIXTURES / gym / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    )
    assert report.oracle_steps.median == float(steps[3])
    assert report.oracle_steps.mean == pytest.approx(sum(steps) / 7)


def test_the_audit_command_prints_the_table_and_writes_audit_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _fixture_catalog(tmp_path)
    assert main(["audit", "--catalog", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert "solvable by one revealing call + submit" in out and "100.0%" in out
    written = AuditReport.model_validate_json((catalog / AUDIT_FILE).read_text(encoding="utf-8"))
    assert written.gyms == 2
    assert main(["audit", "--catalog", str(catalog), "--json"]) == 0
    assert AuditReport.model_validate_json(capsys.readouterr().out) == written


def test_the_audit_of_a_missing_catalog_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(NoCatalog):
        audit_catalog(tmp_path / "nothing")
    assert main(["audit", "--catalog", str(tmp_path)]) == 2
    assert "holds no gym folder" in capsys.readouterr().err


def test_check_fails_a_gym_on_honesty_and_passes_it_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = _fixture_catalog(tmp_path)
    manifest = catalog / "Fixture_vowels" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["task"] = "Write a function that counts the vowels of a word."
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert main(["check", "--catalog", str(catalog), "--tasks", "Fixture_vowels"]) == 1
    out = capsys.readouterr().out
    assert "honesty [statement_code_framing] Fixture_vowels: task statement: code framing" in out
    main(["check", "--catalog", str(catalog), "--tasks", "Fixture_vowels", "--no-honesty"])
    assert "honesty [" not in capsys.readouterr().out


def test_a_whole_collection_call_is_one_operation_but_not_a_single_operator(tmp_path: Path) -> None:
    gym = FakeGym(
        tools_py="def total(xs):\n    return sum(xs)\n\ndef step(i):\n    return i + 1\n",
        tools=[
            tool("total", "Sum of xs: sum(xs).", [("xs", "agent")]),
            tool("step", "i plus one: i + 1.", [("i", "agent")]),
        ],
    )
    gym.write(tmp_path / "cat")
    tools = audit_catalog(tmp_path / "cat").tools
    assert (tools.problem_tools, tools.single_operator, tools.one_operation) == (2, 1, 2)
    assert tools.collection_level == 1
