"""The episodes page (records of ``serve --record`` / ``rollout --out``: filter, page) and one episode.

A list page shows at most ``per`` records (default 50, at most 200) and a record page at most 200
steps, each argument and result cut to 1,500 characters: no page grows with the number of records,
and none passes 2 MB however long the run was.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...schemas import EpisodeRecord, StepRecord
from ._data import ViewerError
from ._html import esc, json_block, link, message, page, query, table
from ._records import RecordFile, RecordIndex, RecordSummary

__all__ = ["MAX_PER_PAGE", "STEPS_PER_PAGE", "episode_page", "episodes_page"]

MAX_PER_PAGE = 200
STEPS_PER_PAGE = 200
_OUTCOMES = ("", "solved", "failed", "unscored")


def _int(params: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    try:
        value = int(params.get(key, default))
    except ValueError:
        value = default
    return min(high, max(low, value))


def _filter_form(labels: list[str], task: str, policy: str, outcome: str, per: int) -> str:
    def options(values: list[str], chosen: str) -> str:
        return "".join(
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(v or "any")}</option>'
            for v in values
        )

    return (
        '<form class="filters" method="get" action="/episodes">'
        f'<label>task id<input name="task" id="task" value="{esc(task)}" placeholder="HumanEval_0"></label>'
        f'<label>policy<select name="policy" id="policy">{options(["", *labels], policy)}</select></label>'
        f'<label>outcome<select name="outcome" id="outcome">{options(list(_OUTCOMES), outcome)}</select></label>'
        f'<label>per page<input name="per" type="number" min="1" max="{MAX_PER_PAGE}" value="{per}"></label>'
        '<button type="submit">apply</button></form>'
    )


def episodes_page(records: RecordIndex, params: Mapping[str, str]) -> str:
    """A page of records matching the filters (task id substring, policy, outcome)."""
    if not records.given:
        note = message(
            "note",
            "no records file given: start the viewer with --records FILE (written by "
            "`codegym-mcp rollout --out FILE` or `codegym-mcp serve --record FILE`)",
        )
        return page("Episodes", note)
    files = records.files()
    labels = list(dict.fromkeys(f.label for f in files))
    task = params.get("task", "").strip()
    policy = params.get("policy", "")
    outcome = params.get("outcome", "")
    per = _int(params, "per", 50, 1, MAX_PER_PAGE)
    chosen = _matching(files, task.lower(), policy, outcome)
    pages = max(1, -(-len(chosen) // per))
    number = _int(params, "page", 1, 1, pages)
    shown = chosen[(number - 1) * per : number * per]
    body = _file_problems(files)
    total = sum(len(f.records) for f in files)
    body += [
        _filter_form(labels, task, policy, outcome, per),
        f'<p id="matching">{len(chosen):,} of {total:,} records match; page {number} of {pages}</p>',
        _pager(params, number, pages),
        table(
            [
                "file:line",
                "policy",
                "task",
                "reward",
                "end reason",
                "steps",
                "problem-tool calls",
                "tool errors",
                "seconds",
                "instance",
            ],
            [_row(r, files[r.file].label) for r in shown],
            numeric=(3, 5, 6, 7, 8),
            table_id="episodes",
        ),
        _pager(params, number, pages),
    ]
    return page("Episodes", "".join(body))


def _matching(files: list[RecordFile], task: str, policy: str, outcome: str) -> list[RecordSummary]:
    return [
        r
        for f in files
        if not policy or f.label == policy
        for r in f.records
        if (not task or task in r.task_id.lower()) and (not outcome or r.outcome == outcome)
    ]


def _file_problems(files: list[RecordFile]) -> list[str]:
    shown: list[str] = [message("error", f.error) for f in files if f.error]
    problems = [p for f in files for p in f.problems]
    if problems:
        listed = "; ".join(problems[:5]) + (" …" if len(problems) > 5 else "")
        shown.append(
            message("error", f"{len(problems)} line(s) are not episode records and are left out: {listed}")
        )
    return shown


def _row(r: RecordSummary, label: str) -> list[str]:
    reward = "null" if r.reward is None else str(r.reward)
    klass = "ok" if r.reward == 1 else "bad" if r.reward == 0 else "muted"
    instance = r.instance_id if len(r.instance_id) <= 27 else r.instance_id[:26] + "…"
    return [
        link(f"/episode/{r.file}/{r.line}", f"{r.file}:{r.line}"),
        esc(label),
        link(f"/gym/{r.task_id}", r.task_id),
        f'<span class="{klass}">{reward}</span>',
        esc(r.end_reason),
        str(r.steps),
        str(r.problem_calls),
        str(r.errors),
        f"{r.seconds:.2f}",
        f'<span title="{esc(r.instance_id)}">{esc(instance)}</span>',
    ]


def _pager(params: Mapping[str, str], number: int, pages: int) -> str:
    keep: dict[str, str | int | None] = {k: v for k, v in params.items() if k != "page"}
    parts = []
    if number > 1:
        parts.append(link(query("/episodes", {**keep, "page": 1}), "« first"))
        parts.append(
            f'<a rel="prev" href="{esc(query("/episodes", {**keep, "page": number - 1}))}">‹ previous</a>'
        )
    parts.append(f"<span>page {number} / {pages}</span>")
    if number < pages:
        parts.append(
            f'<a rel="next" href="{esc(query("/episodes", {**keep, "page": number + 1}))}">next ›</a>'
        )
        parts.append(link(query("/episodes", {**keep, "page": pages}), "last »"))
    return f'<div class="pager">{"".join(parts)}</div>'


def episode_page(records: RecordIndex, file: int, line: int, params: Mapping[str, str]) -> str:
    """One record: its outcome, then each step's call, result, error and latency (paged).

    Raises:
        ViewerError: no such record, or its line does not validate.
    """
    entry, record = records.load(file, line)
    pages = max(1, -(-len(record.steps) // STEPS_PER_PAGE))
    number = _int(params, "page", 1, 1, pages)
    steps = record.steps[(number - 1) * STEPS_PER_PAGE : number * STEPS_PER_PAGE]
    rows = [_step_row(s) for s in steps]
    facts = _facts(entry, record)
    pager = ""
    if pages > 1:
        nav = [
            link(f"/episode/{file}/{line}?page={n}", str(n)) if n != number else f"<span>{n}</span>"
            for n in range(1, pages + 1)
        ]
        pager = f'<div class="pager">steps page: {"".join(nav)}</div>'
    body = [
        f"<p>{link('/episodes', '← all episodes')} · {esc(entry.path.name)} line {line}</p>",
        facts,
        f"<p>detail: {esc(record.detail)}</p>" if record.detail else "",
        "<details><summary>submission and expected answer</summary>"
        f"<h3>submitted</h3>{json_block(record.submission, limit=5000)}"
        f"<h3>expected</h3>{json_block(record.expected, limit=5000)}</details>",
        f"<h2>Steps ({len(record.steps)})</h2>",
        pager,
        table(
            ["#", "tool", "arguments", "result", "error", "latency ms"],
            rows,
            numeric=(0, 5),
            table_id="steps",
        ),
        pager,
    ]
    return page(f"Episode {record.episode_id}", "".join(body))


def _step_row(s: StepRecord) -> list[str]:
    return [
        str(s.index),
        f"<code>{esc(s.tool)}</code>",
        json_block(s.arguments, limit=1500, compact=True),
        "" if s.result is None else json_block(s.result, limit=1500, compact=True),
        "" if s.error is None else f'<span class="bad">{esc(s.error[:1500])}</span>',
        f"{s.latency_ms:.1f}",
    ]


def _facts(entry: RecordFile, record: EpisodeRecord) -> str:
    reward = "null (unscored)" if record.reward is None else str(record.reward)
    cells = [
        esc(entry.label),
        link(f"/gym/{record.task_id}", record.task_id),
        esc(record.instance_id),
        esc(record.episode_id),
        esc(record.end_reason),
        f'<span id="reward">{esc(reward)}</span>',
        str(len(record.steps)),
        f"{record.ended_at - record.started_at:.2f}",
    ]
    headers = ["policy", "task", "instance", "episode", "end reason", "reward", "steps", "seconds"]
    return table(headers, [cells], table_id="facts")


def check_record_ref(file: str, line: str) -> tuple[int, int]:
    """``/episode/FILE/LINE`` as numbers.

    Raises:
        ViewerError: either is not a number.
    """
    try:
        return int(file), int(line)
    except ValueError:
        raise ViewerError(
            f"/episode/{file}/{line} is not a record: use the links of the episodes page"
        ) from None
