"""The optional LLM stage against a local OpenAI-compatible server replaying recorded replies.

The replies under tests/fixtures/llm/ are hand-written stand-ins for model output ("recorded"
fixtures), one per HumanEval problem or fixture problem (tests/fixtures/datasets); no test reaches
the network.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

from codegym_mcp.generator.llm._llm_checks import check_proposal
from codegym_mcp.generator.llm._llm_client import (
    LlmClient,
    LlmNotInstalled,
    LlmSettings,
)
from codegym_mcp.generator.llm._llm_decompose import (
    Proposal,
    ProposalRejected,
    build_messages,
    decompose,
    decompose_all,
    extract_python_block,
)
from codegym_mcp.generator.loaders._loaders import load_dataset
from codegym_mcp.schemas import GenerationReport, Problem

from .._recording import KODCODE
from ..llm_replay import FIXTURES, Scripted, replay_server


@functools.cache
def _problems() -> dict[str, Problem]:
    found = {p.task_id: p for p in load_dataset("humaneval").problems}
    found.update({p.task_id: p for p in load_dataset(f"kodcode:{KODCODE}").problems})
    return found


def problem(task_id: str) -> Problem:
    return _problems()[task_id]


def settings(url: str, tmp_path: Path, **overrides: float | int) -> LlmSettings:
    base = LlmSettings(
        model="recorded",
        base_url=url,
        timeout=10.0,
        max_retries=2,
        max_concurrency=2,
        cache_dir=tmp_path / "cache",
    )
    return LlmSettings(**{**base.__dict__, **overrides})


def test_good_decomposition_is_accepted_with_its_typed_helpers(tmp_path: Path) -> None:
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_0"), client)
        usage = client.usage
    assert isinstance(result, Proposal), result
    assert result.entry_point == "has_close_elements"
    assert result.helpers == ("pairwise_distances", "count_below", "any_found")
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in result.source
    assert result.reply == (FIXTURES / "HumanEval_0.md").read_text(encoding="utf-8")
    assert server.requests == ["HumanEval_0"]
    assert (usage.requests, usage.cache_hits, usage.failures) == (1, 0, 0)
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_reply_without_a_code_block_is_rejected_and_keeps_the_reply(tmp_path: Path) -> None:
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_95"), client)
    assert isinstance(result, ProposalRejected)
    assert "no fenced ```python code block" in result.reason
    assert result.reply is not None and "def check_dict_case(dict):" in result.reply


def test_syntactically_broken_reply_is_rejected_with_the_line(tmp_path: Path) -> None:
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_130"), client)
    assert isinstance(result, ProposalRejected)
    assert result.reason == "the proposed code does not parse: line 11: expected ':'"
    assert result.reply is not None


def test_behaviour_change_passes_the_static_checks(tmp_path: Path) -> None:
    # HumanEval/12's recorded reply returns the LAST longest string: only the replay can tell.
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_12"), client)
    assert isinstance(result, Proposal)
    assert "pick_with_length" in result.helpers


def test_rate_limited_request_is_retried_then_succeeds(tmp_path: Path) -> None:
    script = {"HumanEval_37": [Scripted(status=429)]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_37"), client)
        usage = client.usage
    assert isinstance(result, Proposal), result
    assert server.requests == ["HumanEval_37", "HumanEval_37"]
    assert (usage.requests, usage.failures) == (2, 0)


def test_server_errors_beyond_the_retry_budget_become_a_rejection(tmp_path: Path) -> None:
    script = {"HumanEval_37": [Scripted(status=503)] * 3}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_37"), client)
        usage = client.usage
    assert isinstance(result, ProposalRejected)
    assert "HTTP 503 after 3 attempt(s)" in result.reason and result.reply is None
    assert len(server.requests) == 3 and usage.failures == 1


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    script = {"HumanEval_37": [Scripted(status=400)]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_37"), client)
    assert isinstance(result, ProposalRejected) and "HTTP 400 after 1 attempt(s)" in result.reason
    assert len(server.requests) == 1


def test_hanging_server_times_out_into_a_rejection(tmp_path: Path) -> None:
    script = {"HumanEval_0": [Scripted(hang=True)] * 3}
    with (
        replay_server(script=script) as server,
        LlmClient(settings(server.url, tmp_path, timeout=0.3)) as client,
    ):
        result = decompose(problem("HumanEval_0"), client)
        usage = client.usage
    assert isinstance(result, ProposalRejected)
    assert "did not answer within 0.3s" in result.reason
    # the openai client retries a timeout like any transient failure: max_retries=2 -> 3 attempts
    assert usage.failures == 1 and server.requests == ["HumanEval_0"] * 3


def test_rerun_is_served_from_the_cache_without_requests(tmp_path: Path) -> None:
    with replay_server() as server:
        with LlmClient(settings(server.url, tmp_path)) as client:
            first = decompose(problem("HumanEval_87"), client)
        with LlmClient(settings(server.url, tmp_path)) as client:
            second = decompose(problem("HumanEval_87"), client)
            usage = client.usage
    assert isinstance(first, Proposal) and first == second
    assert server.requests == ["HumanEval_87"]
    assert (usage.requests, usage.cache_hits, usage.prompt_tokens) == (0, 1, 0)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_another_model_or_prompt_misses_the_cache(tmp_path: Path) -> None:
    with replay_server() as server:
        with LlmClient(settings(server.url, tmp_path)) as client:
            decompose(problem("HumanEval_87"), client)
        other = LlmSettings(**{**settings(server.url, tmp_path).__dict__, "model": "other"})
        with LlmClient(other) as client:
            decompose(problem("HumanEval_87"), client)
    assert server.requests == ["HumanEval_87", "HumanEval_87"]


def test_decompose_all_keeps_at_most_max_concurrency_requests_in_flight(tmp_path: Path) -> None:
    ids = ["HumanEval_0", "HumanEval_20", "HumanEval_37", "HumanEval_70", "HumanEval_87", "HumanEval_109"]
    with (
        replay_server(hold_until_in_flight=2) as server,
        LlmClient(settings(server.url, tmp_path, max_concurrency=2)) as client,
    ):
        results = decompose_all([problem(i) for i in ids], client)
    assert list(results) == ids
    assert all(isinstance(r, Proposal) for r in results.values())
    assert server.max_in_flight == 2


def test_unreachable_server_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    with replay_server() as server:
        url = server.url  # closed when the block ends: nothing listens there any more
    with LlmClient(settings(url, tmp_path, max_retries=1)) as client:
        result = decompose(problem("HumanEval_0"), client)
    assert isinstance(result, ProposalRejected) and "cannot reach" in result.reason


def test_class_based_problems_are_skipped_without_a_request(tmp_path: Path) -> None:
    cls_problem = problem("HumanEval_0").model_copy(update={"entry_point": None})
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(cls_problem, client)
    assert isinstance(result, ProposalRejected) and "class-based" in result.reason
    assert server.requests == []


def test_missing_openai_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(LlmNotInstalled, match=r"pip install 'codegym-mcp\[llm\]'"):
        LlmClient(LlmSettings(model="m", cache_dir=None))
    assert issubclass(LlmNotInstalled, ImportError)


def test_prompt_names_the_problem_and_keeps_the_reference() -> None:
    p = problem("FX_Leetcode_006")
    system, user = build_messages(p)
    assert system["role"] == "system" and user["role"] == "user"
    assert "Problem FX_Leetcode_006:" in user["content"]
    assert p.solution.strip() in user["content"]
    assert "`distinct_in_windows`" in user["content"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("no code here", None),
        ("```python\n\n```", None),
        ("```\nx = 1\n```", "x = 1\n"),
        ("```py\nfirst = 1\n```\ntext\n```python\nsecond = 2\n```", "second = 2\n"),
        ("```python\nx = 1\n```\n```\nnot this\n```", "x = 1\n"),
    ],
)
def test_extract_python_block_prefers_the_last_tagged_block(reply: str, expected: str | None) -> None:
    assert extract_python_block(reply) == expected


_HELPERS = "def a(x: int) -> int:\n    return x + 1\n\n\ndef b(x: int) -> int:\n    return x * 2\n\n\n"
_ENTRY = "def f(n, k=1):\n    return a(n) + b(k)\n"
_REFERENCE = "def f(n, k=1):\n    return n + 1 + 2 * k\n"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import os\n" + _HELPERS + _ENTRY, "imports `os`"),
        (_HELPERS.replace("return x + 1", "print(x)\n    return x") + _ENTRY, "calls `print(...)`"),
        (_HELPERS.replace("return x + 1", "global C\n    return x") + _ENTRY, "`global C`"),
        ("CACHE = {}\n" + _HELPERS + _ENTRY, "module-level mutable state: `CACHE = {}`"),
        (_HELPERS.replace("a(x: int)", "a(x)") + _ENTRY, "helper `a` is not fully typed: parameter(s) x"),
        (
            _HELPERS.replace("a(x: int) -> int", "a(x: int)") + _ENTRY,
            "helper `a` is not fully typed: no return",
        ),
        (_HELPERS + _ENTRY.replace("k=1", "k=2"), "changed its parameters: (n, k=2) instead of (n, k=1)"),
        (_HELPERS, "does not define the entry point `f`"),
        (_HELPERS + "def f(n, k=1):\n    return a(n) + k\n", "calls 1 helper(s) (a)"),
        (_HELPERS + "def c(x: int) -> int:\n    return x\n\n\n" + _ENTRY, "helper(s) c are never used"),
        (_HELPERS + _ENTRY.replace("b(k)", "b(k) + missing"), "uses undefined name(s) missing"),
        (_HELPERS + "class K:\n    pass\n\n\n" + _ENTRY, "class `K` is new"),
        ("if True:\n    pass\n" + _HELPERS + _ENTRY, "unexpected module-level statement `if True:`"),
    ],
)
def test_static_checks_name_what_is_wrong(source: str, reason: str) -> None:
    result = check_proposal(source, entry_point="f", reference=_REFERENCE)
    assert isinstance(result, str) and reason in result, result


def test_static_checks_accept_pure_typed_helpers_and_constants() -> None:
    source = (
        "from functools import lru_cache\nimport math\nLIMIT = 10\nPAIR = (1, -2)\n\n\n"
        "@lru_cache(maxsize=None)\n" + _HELPERS + _ENTRY.replace("b(k)", "b(k) + LIMIT + math.floor(1.5)")
    )
    assert check_proposal(source, entry_point="f", reference=_REFERENCE) == ("a", "b")


def test_generators_are_not_helpers() -> None:
    source = _HELPERS.replace("-> int:\n    return x + 1", "-> list[int]:\n    yield x") + _ENTRY
    result = check_proposal(source, entry_point="f", reference=_REFERENCE)
    assert isinstance(result, str) and "is a generator" in result


@pytest.mark.parametrize(
    "raw",
    [
        "this is not json",
        '{"object": "chat.completion", "id": "x"}',
        '{"choices": []}',
        '{"choices": [{"index": 0, "message": {"role": "assistant", "content": null}, "finish_reason": "stop"}]}',
    ],
)
def test_a_body_that_is_not_a_chat_completion_is_a_rejection(tmp_path: Path, raw: str) -> None:
    script = {"HumanEval_0": [Scripted(raw=raw)]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_0"), client)
        usage = client.usage
    assert isinstance(result, ProposalRejected) and result.reason.startswith("request failed: "), result
    assert usage.failures == 1


def test_a_reply_cut_at_max_tokens_says_so(tmp_path: Path) -> None:
    cut = "Here is the refactor:\n\n```python\ndef is_even(i: int) -> bool:\n    return i %"
    script = {"HumanEval_130": [Scripted(reply=cut, finish_reason="length")]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_130"), client)
    assert isinstance(result, ProposalRejected)
    assert result.reason.startswith("the reply was cut off at max_tokens (4096)") and result.reply == cut


def test_decompose_all_reports_progress_per_answer(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    ids = ["HumanEval_0", "HumanEval_95"]
    with replay_server() as server, LlmClient(settings(server.url, tmp_path)) as client:
        results = decompose_all([problem(i) for i in ids], client, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 2), (1, 2), (2, 2)]
    assert isinstance(results["HumanEval_0"], Proposal) and isinstance(
        results["HumanEval_95"], ProposalRejected
    )


def test_a_humaneval_prompt_states_the_problem_once() -> None:
    p = problem("HumanEval_0")
    user = build_messages(p)[1]["content"]
    assert user.count("Check if in given list of numbers") == 1


def test_helpers_may_not_take_the_generic_tools_names() -> None:
    source = _HELPERS.replace("def b(", "def submit(") + _ENTRY.replace("b(k)", "submit(k)")
    result = check_proposal(source, entry_point="f", reference=_REFERENCE)
    assert result == "helper name(s) submit are reserved for the gym's generic tools: rename them"


def _run(catalog: Path, ids: list[str], llm: LlmSettings) -> GenerationReport:
    from codegym_mcp.generator._results import GenerateSettings
    from codegym_mcp.generator.pipeline._run import generate
    from codegym_mcp.runtime import SandboxConfig

    result = generate(
        [problem(i) for i in ids],
        catalog=catalog,
        dataset="humaneval",
        settings=GenerateSettings.unfiltered(llm_model=llm.model),
        sandbox=SandboxConfig(isolation="nsjail"),
        workers=1,
        llm=llm,
    )
    return result.report


@pytest.mark.slow
def test_pipeline_keeps_verified_proposals_and_falls_back_with_the_reason(tmp_path: Path) -> None:
    ids = ["HumanEval_12", "HumanEval_70", "HumanEval_95"]
    with replay_server() as server:
        report = _run(tmp_path / "cat", ids, settings(server.url, tmp_path))
    gyms = {g.task_id: g for g in report.gyms}
    assert sorted(gyms) == ids and report.rejections == []
    # accepted: the helpers are the tools, the rewritten entry point is the oracle plan
    assert gyms["HumanEval_70"].llm and gyms["HumanEval_70"].llm_fallback_reason is None
    assert gyms["HumanEval_70"].n_problem_tools == 3
    oracle = (tmp_path / "cat" / "HumanEval_70" / "oracle.py").read_text(encoding="utf-8")
    assert "tools.pick_next(" in oracle and "tools.remove_one(" in oracle
    # passes every static check but returns the LAST longest string: the replay rejects it
    assert not gyms["HumanEval_12"].llm
    assert (gyms["HumanEval_12"].llm_fallback_reason or "").startswith("verify: ")
    assert not gyms["HumanEval_95"].llm
    assert "no fenced ```python code block" in (gyms["HumanEval_95"].llm_fallback_reason or "")
    for task_id in ids:  # the model's reply is kept beside every gym it was asked about
        kept = (tmp_path / "cat" / task_id / "llm_reply.md").read_text(encoding="utf-8")
        assert kept == (FIXTURES / f"{task_id}.md").read_text(encoding="utf-8")
    assert report.llm_usage is not None and report.llm_usage.requests == 3


@pytest.mark.slow
def test_pipeline_rerun_uses_the_cache_and_writes_the_same_gyms(tmp_path: Path) -> None:
    ids = ["HumanEval_12", "HumanEval_87"]
    with replay_server() as server:
        first = _run(tmp_path / "a", ids, settings(server.url, tmp_path))
    dead = settings(server.url, tmp_path, max_retries=0)  # nothing listens there any more
    second = _run(tmp_path / "b", ids, dead)
    assert second.llm_usage is not None
    assert (second.llm_usage.requests, second.llm_usage.cache_hits) == (0, 2)
    assert [g.model_dump() for g in first.gyms] == [g.model_dump() for g in second.gyms]
    for task_id in ids:
        for name in ("manifest.json", "tools.py", "oracle.py", "instances.jsonl", "llm_reply.md"):
            a = (tmp_path / "a" / task_id / name).read_bytes()
            assert a == (tmp_path / "b" / task_id / name).read_bytes(), (task_id, name)


def test_an_unknown_model_is_asked_once_not_per_problem(tmp_path: Path) -> None:
    script = {"HumanEval_0": [Scripted(status=404)]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        first = decompose(problem("HumanEval_0"), client)
        second = decompose(problem("HumanEval_37"), client)
        usage = client.usage
    assert isinstance(first, ProposalRejected) and "HTTP 404" in first.reason
    assert (
        isinstance(second, ProposalRejected)
        and "not sent: an earlier request got this answer" in second.reason
    )
    assert server.requests == ["HumanEval_0"] and usage.failures == 2


def test_a_demo_under_the_main_guard_is_dropped_not_rejected(tmp_path: Path) -> None:
    good = (FIXTURES / "HumanEval_0.md").read_text(encoding="utf-8")
    demo = 'if __name__ == "__main__":\n    print(has_close_elements([1.0, 2.0], 0.5))\n```'
    reply = good.replace("    return any_found(close)\n```", "    return any_found(close)\n\n\n" + demo)
    assert reply != good
    script = {"HumanEval_0": [Scripted(reply=reply)]}
    with replay_server(script=script) as server, LlmClient(settings(server.url, tmp_path)) as client:
        result = decompose(problem("HumanEval_0"), client)
    assert isinstance(result, Proposal), result
    assert "__main__" not in result.source and "print" not in result.source
    assert result.source.endswith("    return any_found(close)\n")
