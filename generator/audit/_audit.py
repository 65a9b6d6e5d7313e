"""``audit_catalog``: how much a catalog is worth training on (issue 10.7, honesty of issue 11.5).

The audit reads a catalog as files only (manifest.json, tools.py parsed with ``ast``,
instances.jsonl with the oracle's recorded traces, problem.json, report.json): no gym code runs,
so it measures a catalog made by any version that follows the schemas. Definitions:

Instances
    small: the input is at most 150 characters of canonical JSON and holds no list or string
    longer than 30. revealed: ONE call with no agent argument (``observe``, a zero-argument getter
    or problem tool; a batch gym's ``case`` selector does not count) returns every input value
    whole; judged by the oracle's recorded result when the oracle made that call on the
    instance, else by the manifest's observation policy (observe: full reveals everything,
    partial only scalars) or by the tool's body (returns its hidden parameters unchanged).
    "Solvable by one revealing call plus a submit" = revealed AND small. Both shares are reported.
Oracle steps per episode
    An episode of a gym with ``batch_size`` K plays instances [g*K .. g*K+K-1] (a last incomplete
    group is not played); its steps are the sum of its K traces' steps minus the K-1 extra
    submits (``_audit_measures.episode_steps``). Median, mean, share inside the paper's 10-256.
    Distinct tools: the tools (observe and submit included) the oracle calls over a gym's
    instances; the paper kept gyms with >= 4.
Tools
    Problem tools are the tools with a function in tools.py (helper, segment, method, getter).
    single operator: the body (def, return, assignments and docstring are scaffolding) holds
    exactly one operation (a binary, unary or boolean op, one comparison operator, a subscript, a
    call or an augmented assignment), no loop or comprehension, and is not collection-level: the
    carver's own rule of what is not worth a tool (``carving/_operations.py``). One operation over
    a whole collection (``sum(xs)``, ``sorted(xs)``) is the collection-level work the issue asks
    for, so it is counted apart ("one operation, whole-collection calls included").
    collection-level: the body loops or comprehends over
    something other than ``range`` of a plain number, has a while loop, or calls a whole-collection
    function (sum, sorted, min/max of one argument, len, any, all, set, Counter, join, ...).
    stateful: ``ToolSpec.stateful``. Duplicate bodies: two problem tools of one gym whose bodies
    are equal once parameters are renamed to positions. One-call-answer: a problem tool the
    oracle calls with only hidden-bound inputs or with the whole observed input, and whose result
    equals the expected answer every time.
Blind-guess payoff
    Per episode, a constant answer (False, True, 0, 1, -1, [], "", None) submitted blind, scored
    as the runtime scores (lenient coercion to the output schema, then ``values_equal``); a batch
    episode needs all K answers right. best constant: the constant right on the most episodes of
    the whole catalog (the issue's target); per gym: each gym's best constant of the list (a
    guesser that knows the answer type); memorised: each gym's most common expected answer.
Duplicate gyms
    Gyms whose problem.json holds the same reference solution and tests once comments,
    docstrings and formatting are dropped; each is listed with the first (sorted) it duplicates.
Honesty
    The checks of ``_audit_honesty`` (names, descriptions, statements, leaks, solution lines).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

from ...schemas import (
    AuditReport,
    BlindGuess,
    DuplicateGym,
    HonestyFinding,
    InstanceMeasures,
    OracleStepMeasures,
    ToolMeasures,
    ToolRef,
)
from ._audit_code import has_loop, is_collection_level, operation_count, single_operator
from ._audit_gym import GymFiles, GymUnreadable, read_gym
from ._audit_honesty import gym_honesty, numeric_suffix
from ._audit_measures import (
    CONSTANT_GUESSES,
    blind_rights,
    duplicate_bodies,
    episode_steps,
    episodes,
    is_revealed,
    is_small,
    one_call_answer_tools,
    problem_key,
)

__all__ = ["AUDIT_FILE", "NoCatalog", "audit_catalog", "read_catalog", "render_audit", "write_audit"]

AUDIT_FILE = "audit.json"
PAPER_WINDOW = (10, 256)
MISDESCRIBING = ("misdescribed_name", "misdescribed_description", "truncation_mark")


class NoCatalog(ValueError):
    """The folder holds no readable gym."""


def read_catalog(catalog: Path) -> tuple[list[GymFiles], list[str]]:
    """The catalog's gyms (sorted by folder name) and a message per unreadable gym folder.

    Raises:
        NoCatalog: the folder is missing or holds no gym folder (one with a manifest.json).
    """
    if not catalog.is_dir():
        raise NoCatalog(f"no catalog at {catalog}: build one with `codegym-mcp generate --out {catalog}`")
    folders = sorted(
        p for p in catalog.iterdir() if (p / "manifest.json").is_file() and not p.name.startswith(".")
    )
    if not folders:
        raise NoCatalog(
            f"{catalog} holds no gym folder: build one with `codegym-mcp generate --out {catalog}`"
        )
    gyms, unreadable = [], []
    for folder in folders:
        try:
            gyms.append(read_gym(folder))
        except GymUnreadable as exc:
            unreadable.append(str(exc))
    return gyms, unreadable


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _instance_measures(gyms: list[GymFiles]) -> InstanceMeasures:
    n = small = revealed = both = 0
    for gym in gyms:
        for inst in gym.instances:
            s, r = is_small(inst), is_revealed(gym, inst)
            n, small, revealed, both = n + 1, small + s, revealed + r, both + (s and r)
    return InstanceMeasures(
        instances=n,
        small=small,
        revealed=revealed,
        revealed_small=both,
        revealed_share=_share(revealed, n),
        revealed_small_share=_share(both, n),
        small_share=_share(small, n),
    )


def _step_measures(gyms: list[GymFiles]) -> OracleStepMeasures:
    steps = [episode_steps(g) for gym in gyms for g in episodes(gym.instances, gym.manifest.batch_size)]
    distinct = [len({c.tool for i in gym.instances for c in i.oracle_trace}) for gym in gyms]
    lo, hi = PAPER_WINDOW
    return OracleStepMeasures(
        episodes=len(steps),
        median=_median(steps),
        mean=statistics.fmean(steps) if steps else None,
        in_paper_window_share=_share(sum(lo <= s <= hi for s in steps), len(steps)),
        gyms_with_4_distinct_tools_share=_share(sum(d >= 4 for d in distinct), len(distinct)),
        distinct_tools_used_median=_median(distinct),
    )


def _tool_measures(gyms: list[GymFiles]) -> ToolMeasures:
    from ._audit_code import vocabulary

    total = single = one_op = zero = collection = stateful = rich_gyms = 0
    per_gym: list[int] = []
    suffixes: list[ToolRef] = []
    for gym in gyms:
        tools = gym.problem_tools()
        names = {t.name for t in gym.manifest.tools}
        per_gym.append(len(tools))
        rich = False
        for tool, func in tools:
            ops, loop = operation_count(func), has_loop(func)
            coll = is_collection_level(func)
            total += 1
            single += single_operator(func)
            one_op += ops == 1 and not loop
            zero += ops == 0 and not loop
            collection += coll
            stateful += tool.stateful
            rich = rich or coll or tool.stateful
            suffix = numeric_suffix(tool, vocabulary(func), names)
            if suffix:
                suffixes.append(ToolRef(task_id=gym.task_id, tool=tool.name, detail=f"suffix {suffix}"))
        rich_gyms += rich
    return ToolMeasures(
        problem_tools=total,
        single_operator=single,
        single_operator_share=_share(single, total),
        one_operation=one_op,
        zero_operator=zero,
        collection_level=collection,
        stateful=stateful,
        gyms_with_collection_or_stateful_share=_share(rich_gyms, len(gyms)),
        problem_tools_per_gym_median=_median(per_gym),
        duplicate_bodies=[ref for gym in gyms for ref in duplicate_bodies(gym)],
        numeric_suffix_names=suffixes,
        one_call_answer=[ref for gym in gyms for ref in one_call_answer_tools(gym)],
    )


def _blind_guess(gyms: list[GymFiles]) -> BlindGuess:
    rights = [0] * len(CONSTANT_GUESSES)
    memorised = total = typed = 0
    for gym in gyms:
        per_constant, mem, n = blind_rights(gym)
        rights = [a + b for a, b in zip(rights, per_constant, strict=True)]
        memorised, total, typed = memorised + mem, total + n, typed + max(per_constant, default=0)
    shares = {
        json.dumps(c): (r / total if total else 0.0) for c, r in zip(CONSTANT_GUESSES, rights, strict=True)
    }
    best = max(range(len(CONSTANT_GUESSES)), key=lambda i: rights[i])
    return BlindGuess(
        episodes=total,
        best_constant=CONSTANT_GUESSES[best],
        best_constant_share=_share(rights[best], total),
        constant_shares=shares,
        memorised_share=_share(memorised, total),
        per_gym_constant_share=_share(typed, total),
    )


def _duplicate_gyms(gyms: list[GymFiles]) -> list[DuplicateGym]:
    first: dict[str, str] = {}
    out = []
    for gym in gyms:
        key = problem_key(gym)
        if key is None:
            continue
        if key in first:
            out.append(DuplicateGym(task_id=gym.task_id, duplicates=first[key]))
        else:
            first[key] = gym.task_id
    return out


def _problems_read(catalog: Path) -> int | None:
    """The distinct problems report.json read: problems_read less the duplicates of another
    problem (stage ``dedup``), which become no gym by design. None without a readable report."""
    try:
        report = json.loads((catalog / "report.json").read_text(encoding="utf-8"))
        value = report.get("problems_read")
        dups = sum(
            1 for r in report.get("rejections") or [] if isinstance(r, dict) and r.get("stage") == "dedup"
        )
    except (OSError, ValueError, AttributeError):
        return None
    return value - dups if isinstance(value, int) else None


def audit_catalog(catalog: Path) -> AuditReport:
    """Measure a catalog (see the module docstring for every definition).

    Raises:
        NoCatalog: the folder is missing or holds no gym.
    """
    gyms, unreadable = read_catalog(catalog)
    read = _problems_read(catalog)
    findings: list[HonestyFinding] = [f for gym in gyms for f in gym_honesty(gym)]
    counts = Counter(f.check for f in findings)
    problem_tools = sum(len(g.problem_tools()) for g in gyms)
    misdescribing = {(f.task_id, f.tool) for f in findings if f.check in MISDESCRIBING and f.tool}
    return AuditReport(
        catalog=str(catalog),
        gyms=len(gyms),
        unreadable_gyms=unreadable,
        problems_read=read,
        kept_share=_share(len(gyms), read) if read is not None else None,
        observation=dict(Counter(g.manifest.observation for g in gyms)),
        batch_sizes={str(k): v for k, v in sorted(Counter(g.manifest.batch_size for g in gyms).items())},
        instances=_instance_measures(gyms),
        oracle_steps=_step_measures(gyms),
        tools=_tool_measures(gyms),
        blind_guess=_blind_guess(gyms),
        duplicate_gyms=_duplicate_gyms(gyms),
        gyms_without_problem_json=sum(g.problem is None for g in gyms),
        honesty=dict(sorted(counts.items())),
        misdescribing_tools_share=_share(len(misdescribing), problem_tools),
        findings=findings,
    )


def write_audit(catalog: Path, report: AuditReport) -> Path:
    """Write audit.json beside report.json; returns its path.

    Raises:
        OSError: the catalog folder cannot be written.
    """
    path = catalog / AUDIT_FILE
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _in_gyms(report: AuditReport, check: str) -> str:
    hits = [f.task_id for f in report.findings if f.check == check]
    return f"{len(hits)} / {len(set(hits))}"


def render_audit(report: AuditReport) -> str:
    """The audit as a readable table (figure, value, issue target)."""
    rows = _instance_rows(report) + _tool_rows(report)
    width = max(len(r[0]) for r in rows)
    lines = [f"audit of {report.catalog}", f"{'figure'.ljust(width)}  {'value':<24}target"]
    lines += [f"{name.ljust(width)}  {value:<24}{target}" for name, value, target in rows]
    if report.unreadable_gyms:
        lines.append(
            f"unreadable gyms ({len(report.unreadable_gyms)}): " + "; ".join(report.unreadable_gyms[:5])
        )
    return "\n".join(lines)


def _instance_rows(report: AuditReport) -> list[tuple[str, str, str]]:
    """The table's rows on gyms, instances and oracle steps."""
    i, s = report.instances, report.oracle_steps
    return [
        ("gyms / instances / episodes", f"{report.gyms} / {i.instances} / {s.episodes}", ""),
        (
            "gyms kept of the distinct problems",
            f"{_pct(report.kept_share)} of {report.problems_read}",
            ">= 80%",
        ),
        ("observation policies", ", ".join(f"{k}: {v}" for k, v in report.observation.items()), ""),
        ("batch sizes", ", ".join(f"{k}: {v}" for k, v in report.batch_sizes.items()), ""),
        ("solvable by one revealing call + submit", _pct(i.revealed_small_share), "<= 20%"),
        ("revealed by one call (any size)", _pct(i.revealed_share), ""),
        ("small instances", _pct(i.small_share), ""),
        ("oracle steps per episode: median", _num(s.median), ">= 20"),
        ("oracle steps per episode: mean", _num(s.mean), ">= 40"),
        ("episodes inside 10-256 steps", _pct(s.in_paper_window_share), ""),
        ("gyms whose oracle uses >= 4 distinct tools", _pct(s.gyms_with_4_distinct_tools_share), ""),
    ]


def _tool_rows(report: AuditReport) -> list[tuple[str, str, str]]:
    """The table's rows on tools, blind guesses, duplicates and honesty."""
    t, b, h = report.tools, report.blind_guess, report.honesty
    return [
        ("single-operator problem tools", f"{_pct(t.single_operator_share)} of {t.problem_tools}", "<= 35%"),
        (
            "one operation, whole-collection calls included",
            f"{_pct(_share(t.one_operation, t.problem_tools))} of {t.problem_tools}",
            "",
        ),
        ("zero-operator problem tools (return an input)", str(t.zero_operator), ""),
        ("problem tools per gym: median", _num(t.problem_tools_per_gym_median), ""),
        (
            "gyms with a collection-level or stateful tool",
            _pct(t.gyms_with_collection_or_stateful_share),
            ">= 60%",
        ),
        ("collection-level / stateful problem tools", f"{t.collection_level} / {t.stateful}", ""),
        (
            "blind-guess payoff: best constant",
            f"{_pct(b.best_constant_share)} ({json.dumps(b.best_constant)})",
            "<= 5%",
        ),
        ("blind-guess payoff: each gym's best constant", _pct(b.per_gym_constant_share), ""),
        ("blind-guess payoff: memorised answer", _pct(b.memorised_share), ""),
        ("duplicate gyms", str(len(report.duplicate_gyms)), "0"),
        ("duplicate tool bodies", str(len(t.duplicate_bodies)), "0"),
        ("one-call-answer tools", str(len(t.one_call_answer)), "0"),
        ("numeric-suffix names", str(len(t.numeric_suffix_names)), "0"),
        ("misdescribing tools (name/description)", _pct(report.misdescribing_tools_share), "0"),
        (
            "statements with code framing",
            str(len({f.task_id for f in report.findings if f.check == "statement_code_framing"})),
            "0",
        ),
        (
            "statements empty / with a dangling header",
            f"{h.get('statement_empty', 0)} / {h.get('statement_dangling_header', 0)}",
            "0",
        ),
        ("texts leaking an instance: findings / gyms", _in_gyms(report, "instance_leak"), "0"),
        ("solution lines in text: findings / gyms", _in_gyms(report, "solution_line"), "0"),
    ]
