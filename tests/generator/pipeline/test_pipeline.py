"""The per-problem pipeline and a whole generate run: gyms or rejections, nothing lost."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest

from codegym_mcp.generator._results import Generated, GenerateSettings, Rejected
from codegym_mcp.generator.carving._carving_types import CarvedParam, CarvedTool, CarveRejected, Carving
from codegym_mcp.generator.carving._schemas_pick import input_schema_for, pick_schema
from codegym_mcp.generator.llm._llm_decompose import Proposal, ProposalRejected
from codegym_mcp.generator.pipeline import _pipeline
from codegym_mcp.generator.pipeline._catalog_write import JOURNAL_FILE, CatalogConflict, ReportBook, write_gym
from codegym_mcp.generator.pipeline._run import generate
from codegym_mcp.generator.statements._task_text import redact_values, strip_examples
from codegym_mcp.generator.verification._stages import Recorded, carve
from codegym_mcp.runtime import SandboxConfig, SandboxUnavailable, Worker
from codegym_mcp.schemas import GenerationReport, GymManifest, Instance, Problem, Rejection
from codegym_mcp.servers.cli import UsageError, main
from codegym_mcp.servers.cli._cmd_generate import select_problems

from .._pipeline_fakes import getters_carving, sandbox_worker, toy_problem

__all__ = ["sandbox_worker"]


@pytest.fixture(autouse=True)
def _getters_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pipeline, "carve", getters_carving)


def test_a_problem_becomes_a_verified_gym_with_a_budget_and_a_summary(sandbox_worker: Worker) -> None:
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(observe="full"), sandbox_worker)
    assert isinstance(result, Generated), result
    manifest = GymManifest.model_validate_json(result.files.manifest.model_dump_json())
    assert [t.name for t in manifest.tools] == ["observe", "get_nums", "get_target", "submit", "task"]
    assert manifest.n_instances == 4 == len(result.files.instances)
    steps = [i.oracle_steps for i in result.files.instances]
    assert steps == [3, 3, 3, 3]  # get_nums, get_target, submit
    # 4 instances, a constant right on more than 5% of them: batches of 2 (the cap keeping 2 episodes)
    assert manifest.batch_size == result.summary.batch_size == 2
    assert manifest.step_budget == 2 * (2 * max(steps) + 4)  # K times the per-case budget
    assert result.summary.n_problem_tools == 2
    assert result.summary.n_tools == 5
    assert result.summary.oracle_steps_max == 3
    assert manifest.output_schema == {"type": "integer"}
    assert manifest.input_schema["properties"] == {
        "nums": {"type": "array", "items": {"type": "integer"}},
        "target": {"type": "integer"},
    }


def test_the_task_text_keeps_the_question_but_no_example_values(sandbox_worker: Worker) -> None:
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(), sandbox_worker)
    assert isinstance(result, Generated)
    task = result.files.manifest.task
    assert "Count the pairs" in task
    assert ">>>" not in task
    assert "count_pairs([1, 2, 3], 4)" not in task
    assert "`observe`" in task and "`submit`" in task


def test_results_pickle_for_process_pools(sandbox_worker: Worker) -> None:
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(augment=3), sandbox_worker)
    assert pickle.loads(pickle.dumps(result)) == result


def test_augmented_instances_come_in_tiers_with_outputs_from_the_reference(sandbox_worker: Worker) -> None:
    result = _pipeline.build_gym(
        toy_problem(), GenerateSettings.unfiltered(augment=6, seed=3), sandbox_worker
    )
    assert isinstance(result, Generated)
    augmented = [i for i in result.files.instances if i.origin == "augmented"]
    assert augmented
    assert {i.tier for i in augmented} <= {"easy", "medium", "hard"}
    for inst in augmented:
        nums, target = inst.input["nums"], inst.input["target"]
        assert isinstance(nums, list) and isinstance(target, int)
        ints = [int(v) for v in nums if isinstance(v, int)]
        pairs = [(a, b) for a in range(len(ints)) for b in range(a + 1, len(ints))]
        assert inst.expected == sum(1 for a, b in pairs if ints[a] + ints[b] == target)


def test_a_problem_whose_tests_never_call_the_reference_is_rejected_at_instances(
    sandbox_worker: Worker,
) -> None:
    problem = toy_problem("toy/silent", tests="def check(candidate):\n    pass\n\ncheck(count_pairs)\n")
    result = _pipeline.build_gym(problem, GenerateSettings.unfiltered(), sandbox_worker)
    assert isinstance(result, Rejected)
    assert result.rejection.stage == "instances"
    assert "never called" in result.rejection.reason


def test_the_step_filter_drops_instances_and_then_the_gym(sandbox_worker: Worker) -> None:
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(min_steps=10), sandbox_worker)
    assert isinstance(result, Rejected)
    assert result.rejection.stage == "filter"
    assert "oracle steps < 10 (4)" in result.rejection.reason


def test_the_tool_filter_counts_distinct_tools_including_observe_and_submit(sandbox_worker: Worker) -> None:
    ok = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(min_tools=3), sandbox_worker)
    assert isinstance(ok, Generated)
    too_few = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(min_tools=4), sandbox_worker)
    assert isinstance(too_few, Rejected) and too_few.rejection.stage == "filter"


def test_the_carving_ladder_falls_back_to_a_coarser_granularity(
    sandbox_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []

    def ladder(
        problem: Problem, recorded: Recorded, granularity: str, schema: object, observation: str = "full"
    ) -> object:
        tried.append(granularity)
        if granularity != "getters":
            return Rejected(
                rejection=Rejection(
                    task_id=problem.task_id, problem_id=problem.problem_id, stage="analyse", reason="too hard"
                )
            )
        return getters_carving(problem, recorded, granularity, schema)

    monkeypatch.setattr(_pipeline, "carve", ladder)
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(), sandbox_worker)
    assert isinstance(result, Generated)
    assert tried == ["fine", "coarse", "helpers", "getters"]
    assert CarveRejected("x").reason == "x"


def _read_report(catalog: Path) -> GenerationReport:
    return GenerationReport.model_validate_json((catalog / "report.json").read_text(encoding="utf-8"))


def test_a_run_writes_every_problem_as_a_gym_or_a_rejection(tmp_path: Path) -> None:
    problems = [toy_problem("toy/a"), toy_problem("toy/b", tests="check = None\n")]
    result = generate(
        problems,
        catalog=tmp_path,
        dataset="toy",
        settings=GenerateSettings.unfiltered(),
        sandbox=SandboxConfig(isolation="nsjail"),
    )
    report = _read_report(tmp_path)
    assert report == result.report
    assert [g.task_id for g in report.gyms] == ["toy_a"]
    assert [r.task_id for r in report.rejections] == ["toy_b"]
    assert report.problems_read == 2
    gym = tmp_path / "toy_a"
    assert sorted(p.name for p in gym.iterdir()) == [
        "instances.jsonl",
        "manifest.json",
        "oracle.py",
        "problem.json",
        "tools.py",
    ]
    lines = (gym / "instances.jsonl").read_text(encoding="utf-8").splitlines()
    assert [Instance.model_validate_json(line).oracle_steps for line in lines] == [3, 3, 3, 3]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_interrupted_run_keeps_what_it_wrote_and_a_rerun_resumes(tmp_path: Path) -> None:
    problems = [toy_problem(f"toy/{i}") for i in range(3)]
    settings = GenerateSettings.unfiltered()
    sandbox = SandboxConfig(isolation="nsjail")

    def stop_after_first(done: int, total: int, result: Generated | Rejected | None) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(
            problems,
            catalog=tmp_path,
            dataset="toy",
            settings=settings,
            sandbox=sandbox,
            progress=stop_after_first,
        )
    assert [g.task_id for g in _read_report(tmp_path).gyms] == ["toy_0"]
    again = generate(problems, catalog=tmp_path, dataset="toy", settings=settings, sandbox=sandbox)
    assert (again.skipped, again.ran) == (1, 2)
    assert [g.task_id for g in again.report.gyms] == ["toy_0", "toy_1", "toy_2"]
    with pytest.raises(CatalogConflict, match="seed 0 \\(now 9\\)"):  # other settings: refused...
        generate(
            problems[:1],
            catalog=tmp_path,
            dataset="toy",
            settings=GenerateSettings.unfiltered(seed=9),
            sandbox=sandbox,
        )
    other = generate(  # ... unless asked to regenerate; the other gyms stay in the report
        problems[:1],
        catalog=tmp_path,
        dataset="toy",
        settings=GenerateSettings.unfiltered(seed=9),
        sandbox=sandbox,
        resume=False,
    )
    assert other.ran == 1
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["settings"]["seed"] == 9
    assert [g["task_id"] for g in report["gyms"]] == ["toy_0", "toy_1", "toy_2"]


def test_tasks_accept_dataset_ids_as_written_and_task_ids() -> None:
    problems = [toy_problem("toy/0"), toy_problem("toy/1"), toy_problem("toy/2")]
    chosen = select_problems(problems, ["toy/2", "toy_0"], None)
    assert [p.problem_id for p in chosen] == ["toy/0", "toy/2"]
    assert [p.problem_id for p in select_problems(problems, None, 2)] == ["toy/0", "toy/1"]
    with pytest.raises(UsageError, match="did you mean"):
        select_problems(problems, ["toy/7"], None)


PROPOSAL_SOURCE = """from typing import List


def is_pair(a: int, b: int, target: int) -> bool:
    return a + b == target


def count_pairs(nums: List[int], target: int) -> int:
    total = 0
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            if is_pair(nums[i], nums[j], target):
                total += 1
    return total
"""


def test_a_verified_llm_proposal_becomes_the_gym(
    sandbox_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "carve", carve)
    proposal = Proposal(
        source=PROPOSAL_SOURCE, reply="the reply", entry_point="count_pairs", helpers=("is_pair",)
    )
    result = _pipeline.build_gym(
        toy_problem(), GenerateSettings.unfiltered(llm_model="m"), sandbox_worker, proposal=proposal
    )
    assert isinstance(result, Generated), result
    assert result.summary.llm is True
    assert result.files.manifest.llm_model == "m"
    assert result.files.llm_reply == "the reply"
    assert "is_pair" in [t.name for t in result.files.manifest.tools]


def test_a_wrong_llm_proposal_falls_back_with_its_reason(sandbox_worker: Worker) -> None:
    wrong = PROPOSAL_SOURCE.replace("a + b == target", "a + b != target")
    proposal = Proposal(source=wrong, reply="bad", entry_point="count_pairs", helpers=("is_pair",))
    result = _pipeline.build_gym(
        toy_problem(), GenerateSettings.unfiltered(), sandbox_worker, proposal=proposal
    )
    assert isinstance(result, Generated)
    assert result.summary.llm is False
    assert result.summary.llm_fallback_reason is not None
    rejected = _pipeline.build_gym(
        toy_problem(),
        GenerateSettings.unfiltered(),
        sandbox_worker,
        proposal=ProposalRejected(reason="no code block", reply="hi"),
    )
    assert isinstance(rejected, Generated)
    assert rejected.summary.llm_fallback_reason == "no code block"
    assert rejected.files.llm_reply == "hi"


def test_the_generate_and_check_commands_run_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = toy_problem()
    row = {
        "id": "toy/cli",
        "question": problem.question,
        "solution": problem.solution,
        "tests": problem.tests,
        "entry_point": "count_pairs",
        "test_style": "humaneval",
    }
    data = tmp_path / "toy.jsonl"
    data.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "catalog"
    old = ["--augment", "0", "--no-filters"]  # the toy is too short for the paper's filters
    assert main(["generate", "--dataset", f"jsonl:{data}", "--out", str(out), "--workers", "1", *old]) == 0
    printed = capsys.readouterr().out
    assert "gyms verified: 1 of 1 (100.0%)" in printed
    assert "batches: 1 gyms with K > 1 (K=2: 1)" in printed  # 4 instances: batches of 2 against blind guesses
    # the honesty checks have their own tests (tests/generator/audit/test_audit_honesty.py)
    assert main(["check", "--catalog", str(out), "--no-honesty"]) == 0
    assert "1 pass, 0 fail" in capsys.readouterr().out
    assert main(["generate", "--dataset", f"jsonl:{data}", "--out", str(out), "--tasks", "toy/nope"]) == 2
    assert "its ids look like toy/cli" in capsys.readouterr().err
    assert (
        main(["generate", "--dataset", f"jsonl:{data}", "--out", str(out), "--tasks", "toy/cli", *old]) == 0
    )
    assert "problems: 1 selected (0 this run, 1 already done)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["generate", "--dataset", f"jsonl:{data}", "--limit", "0"])
    assert "expected a number >= 1" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert main(["generate", "--dataset", f"jsonl:{empty}", "--out", str(tmp_path / "c2")]) == 1
    assert "no problem could be read" in capsys.readouterr().err
    assert main(["generate", "--dataset", f"jsonl:{data}", "--out", str(out), "--seed", "3"]) == 2
    assert "--no-resume" in capsys.readouterr().err
    assert main(["generate", "--dataset", f"jsonl:{data}", "--out", str(data)]) == 2  # a file, not a folder
    assert "cannot use" in capsys.readouterr().err
    (tmp_path / "nothing").mkdir()
    assert main(["check", "--catalog", str(tmp_path / "nothing")]) == 2
    assert "holds no gym" in capsys.readouterr().err


def test_example_lines_showing_a_hidden_value_are_redacted_but_the_prose_stays() -> None:
    question = (
        "Sum the list.\n"
        "For example:\n"
        "    nums = [4, 5, 6]\n"
        "    -> returns 15\n"
        "\n"
        ">>> total([1, 2])\n"
        "3\n"
        "\n"
        "Words are 'three' or 'four'.\n"
    )
    text = redact_values(strip_examples(question), [[4, 5, 6], 15, "three"], entry_point="total")
    assert "[4, 5, 6]" not in text and "15" not in text and ">>>" not in text
    assert "Sum the list." in text and "Words are 'three' or 'four'." in text


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sandbox_that_cannot_start_stops_the_run_instead_of_rejecting_everything(
    tmp_path: Path, workers: int
) -> None:
    broken = SandboxConfig(isolation="nsjail", nsjail_path=str(tmp_path / "no-nsjail"))
    problems = [toy_problem("toy/a"), toy_problem("toy/b")]
    with pytest.raises(SandboxUnavailable):
        generate(
            problems,
            catalog=tmp_path / "c",
            dataset="toy",
            settings=GenerateSettings.unfiltered(),
            sandbox=broken,
            workers=workers,
        )
    assert (
        GenerationReport.model_validate_json(
            (tmp_path / "c" / "report.json").read_text(encoding="utf-8")
        ).problems_read
        == 0
    )


def test_a_run_killed_between_report_writes_resumes_from_the_journal(
    sandbox_worker: Worker, tmp_path: Path
) -> None:
    settings = GenerateSettings.unfiltered()
    gym = _pipeline.build_gym(toy_problem("toy/k"), settings, sandbox_worker)
    assert isinstance(gym, Generated)
    book = ReportBook.open(tmp_path, dataset="toy", settings=settings.as_report())
    write_gym(tmp_path, gym)
    book.add(gym)
    book.add(
        Rejected(rejection=Rejection(task_id="toy_r", problem_id="toy/r", stage="instances", reason="no"))
    )
    assert not (tmp_path / "report.json").exists()  # "killed" before any report write
    again = ReportBook.open(tmp_path, dataset="toy", settings=settings.as_report())
    assert again.done("toy_k") and again.done("toy_r")
    with pytest.raises(CatalogConflict):
        ReportBook.open(tmp_path, dataset="toy", settings=GenerateSettings.unfiltered(seed=1).as_report())
    again.write(seconds=1.0)
    assert not (tmp_path / JOURNAL_FILE).exists()
    assert [g.task_id for g in _read_report(tmp_path).gyms] == ["toy_k"]


def test_a_rerun_retries_problems_rejected_by_the_sandbox_or_our_bugs(tmp_path: Path) -> None:
    settings = GenerateSettings.unfiltered()
    book = ReportBook.open(tmp_path, dataset="toy", settings=settings.as_report())
    for task, stage, reason in [
        ("t_infra", "infra", "the sandbox failed: timeout"),
        ("t_bug", "analyse", "internal error: KeyError: 'x'"),
        ("t_own", "instances", "the tests never called the reference"),
    ]:
        book.add(Rejected(rejection=Rejection(task_id=task, problem_id=task, stage=stage, reason=reason)))  # type: ignore[arg-type]
    book.write(seconds=0.0)
    again = ReportBook.open(tmp_path, dataset="toy", settings=settings.as_report())
    assert [again.done(t) for t in ("t_infra", "t_bug", "t_own")] == [False, False, True]


def test_a_verified_proposal_with_fewer_tools_loses_to_the_deterministic_carving(
    sandbox_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pipeline, "carve", carve)
    lumped = (
        "from typing import List\n\n\n"
        "def pairs_summing_to(nums: List[int], target: int) -> int:\n"
        "    return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] + nums[j] == target)\n\n\n"
        "def count_pairs(nums: List[int], target: int) -> int:\n"
        "    return pairs_summing_to(nums, target)\n"
    )
    proposal = Proposal(
        source=lumped, reply="one helper", entry_point="count_pairs", helpers=("pairs_summing_to",)
    )
    result = _pipeline.build_gym(
        toy_problem(), GenerateSettings.unfiltered(), sandbox_worker, proposal=proposal
    )
    assert isinstance(result, Generated)
    assert result.summary.llm is False
    # the lumped helper is also the whole answer in one call: refused before the tool count is compared
    assert (result.summary.llm_fallback_reason or "").startswith(
        (
            "deterministic carving had more tools",
            "verify: tool pairs_summing_to returns the answer in one call",
        )
    )


def test_an_annotation_is_kept_only_when_every_recorded_value_survives_it() -> None:
    ints = {"type": "array", "items": {"type": "integer"}}
    assert pick_schema(ints, [[1, 2], []]) == ints
    tuples = pick_schema(ints, [(1, 2)])  # tuples would come back as lists: inferred instead
    assert tuples["x-python"] == "tuple"
    mixed = pick_schema({"type": "number"}, [1, 2.5])  # ints would come back as floats
    assert mixed != {"type": "number"}
    schema = input_schema_for(["a", "b"], {"properties": {"a": {"type": "string"}}}, [{"a": "x", "b": 1}])
    assert schema["properties"] == {"a": {"type": "string"}, "b": {"type": "integer"}}
    assert schema["required"] == ["a", "b"]


def test_a_problem_tool_the_oracle_never_calls_is_not_offered(
    sandbox_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_unused(
        problem: Problem, recorded: Recorded, granularity: str, schema: object, observation: str = "full"
    ) -> object:
        carving = getters_carving(problem, recorded, granularity, schema)
        assert isinstance(carving, Carving)
        unused = CarvedTool(
            name="never", kind="helper", description="never called", function="never",
            params=[CarvedParam(name="x", source="agent")],
        )  # fmt: skip
        return replace(
            carving,
            tools_source=carving.tools_source + "def never(x):\n    return x\n",
            tools=[*carving.tools, unused],
        )

    monkeypatch.setattr(_pipeline, "carve", with_unused)
    result = _pipeline.build_gym(toy_problem(), GenerateSettings.unfiltered(), sandbox_worker)
    assert isinstance(result, Generated)
    assert "never" not in [t.name for t in result.files.manifest.tools]
