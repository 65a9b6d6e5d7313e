"""Calibration: each episode's pass rate for a model, measured through the real MCP path.

K samples per episode (an instance, or a batched gym's batch) are played by the OpenAI policy
against a catalog server, exactly as ``rollout --policy openai`` plays them. Every finished
sample is appended to the journal ``CATALOG/calibration.journal.jsonl`` as it ends (flushed), keyed
by (model, temperature, task, episode index, sample index, the gym's content hash): a rerun
skips every key already scored, so an interrupted run loses nothing it finished and a finished one
asks the model nothing; a gym whose files changed gets a new hash and is measured again. Samples
lost to infrastructure (server, sandbox, endpoint after its retries) are journalled as such, not
counted in the pass rate, and asked again by the next run. ``calibration.json`` (schema:
:class:`~codegym_mcp.schemas.Calibration`) is rebuilt from the journal at the end of every run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

from ...runtime import Catalog, Gym, episode_count, episode_instance_id, episode_instances, gym_sha256
from ...schemas import CALIBRATION_FILE, Calibration, EndReason, EpisodeRecord, InstanceCalibration
from ._policies import OpenAIPolicy
from ._rollout import Connector, EpisodeSpec, play_in_new_session
from ._tool_use import (
    EpisodeToolUse,
    ProblemTools,
    aggregate_tool_use,
    episode_tool_use,
    format_tool_use,
    problem_tools_of,
)

__all__ = [
    "JOURNAL_FILE",
    "CalibrationPlan",
    "CalibrationRun",
    "Journal",
    "JournalEntry",
    "build_calibration",
    "format_calibration",
    "plan_calibration",
    "rate_label",
    "run_calibration",
    "write_calibration",
]

JOURNAL_FILE = "calibration.journal.jsonl"


class JournalEntry(BaseModel):
    """One finished sample (a line of the journal)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    temperature: float
    task_id: str
    instance: int
    sample: int
    gym_sha256: str
    instance_id: str
    reward: int | None
    end_reason: EndReason
    calls: int
    problem_calls: int
    tool_errors: int
    detail: str | None = None
    ended_at: float

    def key(self) -> tuple[str, float, str, int, int, str]:
        """What names a sample: a rerun with the same key asks the model nothing."""
        return (self.model, self.temperature, self.task_id, self.instance, self.sample, self.gym_sha256)


class Journal:
    """The append-only journal of finished samples; the last line of a key wins.

    A torn last line (a run killed mid-write) is ignored.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[tuple[str, float, str, int, int, str], JournalEntry] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = JournalEntry.model_validate_json(line)
                except ValidationError:
                    continue
                self.entries[entry.key()] = entry

    def scored(self, key: tuple[str, float, str, int, int, str]) -> bool:
        """Whether this sample is already measured (an infrastructure failure is not)."""
        entry = self.entries.get(key)
        return entry is not None and entry.reward is not None

    def append(self, entry: JournalEntry) -> None:
        """Write one line and flush it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(entry.model_dump_json() + "\n")
            out.flush()
        self.entries[entry.key()] = entry


@dataclass
class CalibrationRun:
    """What one ``calibrate`` run did: samples asked and found in the journal, model requests."""

    planned: int = 0
    cached: int = 0
    played: int = 0
    solved: int = 0
    infra_errors: int = 0
    lost: int = 0
    """Samples whose session ended without a record (not journalled: the next run asks them again)."""
    requests: int = 0
    wall_seconds: float = 0.0
    infra_details: list[str] = field(default_factory=list)


def _gym_hashes(catalog: Catalog, task_ids: Iterable[str]) -> dict[str, tuple[Gym, str]]:
    out = {}
    for task_id in task_ids:
        gym = catalog.load(task_id)
        out[task_id] = (gym, gym_sha256(gym))
    return out


@dataclass
class CalibrationPlan:
    """The samples a run still has to play (the rest are in the journal)."""

    run: CalibrationRun
    todo: list[tuple[EpisodeSpec, str]]
    gyms: dict[str, tuple[Gym, str]]


def plan_calibration(
    catalog: Catalog,
    task_ids: Sequence[str],
    *,
    model: str,
    temperature: float,
    samples: int,
    journal: Journal,
) -> CalibrationPlan:
    """Every sample of every episode of ``task_ids`` not yet scored in the journal.

    Raises:
        ValueError: samples below 1.
        CatalogError: a gym cannot be loaded.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    gyms = _gym_hashes(catalog, task_ids)
    run = CalibrationRun()
    todo: list[tuple[EpisodeSpec, str]] = []
    for task_id, (gym, digest) in gyms.items():
        for episode in range(episode_count(gym)):
            for sample in range(samples):
                run.planned += 1
                if journal.scored((model, temperature, task_id, episode, sample, digest)):
                    run.cached += 1
                    continue
                spec = EpisodeSpec(index=len(todo), task_id=task_id, instance=episode, seed=sample)
                todo.append((spec, digest))
    return CalibrationPlan(run=run, todo=todo, gyms=gyms)


async def run_calibration(
    plan: CalibrationPlan,
    *,
    policy: OpenAIPolicy,
    connect: Connector,
    journal: Journal,
    concurrency: int = 8,
    progress: Callable[[CalibrationRun, int], None] | None = None,
) -> CalibrationRun:
    """Play the plan's samples (``concurrency`` at a time), journalling each as it ends.

    ``progress(run, total)`` is called once before the first sample and after each one.

    Raises:
        ValueError: concurrency below 1.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    run, todo, gyms = plan.run, plan.todo, plan.gyms
    is_problem_tool = problem_tools_of({t: g for t, (g, _) in gyms.items()})
    requests_before = policy.requests
    queue = iter(todo)
    started = time.perf_counter()
    if progress is not None:
        progress(run, len(todo))

    async def play(spec: EpisodeSpec, digest: str) -> None:
        gym = gyms[spec.task_id][0]
        record = await play_in_new_session(spec, connect=connect, policy=policy, gym=gym)
        journal.append(_entry(policy, spec, digest, gym, record, is_problem_tool))
        run.played += 1
        run.solved += record.reward == 1
        if record.reward is None:
            run.infra_errors += 1
            if len(run.infra_details) < 3:
                failed = next((s.error for s in reversed(record.steps) if s.error), None)
                run.infra_details.append(f"{spec.task_id}#{spec.instance}: {failed or record.detail}")

    async def worker() -> None:
        for spec, digest in queue:
            played = run.played
            # Each sample in a task of its own: a cancellation leaking out of a broken MCP session
            # (its task group lives in the session's exit stack) ends that task only, silently;
            # it is counted here as lost instead of ending this worker and its remaining samples.
            async with anyio.create_task_group() as tg:
                tg.start_soon(play, spec, digest)
            if run.played == played:
                run.lost += 1
                if len(run.infra_details) < 3:
                    run.infra_details.append(
                        f"{spec.task_id}#{spec.instance}: the MCP session ended without a record"
                    )
            if progress is not None:
                progress(run, len(todo))

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(todo))):
            tg.start_soon(worker)
    run.wall_seconds = time.perf_counter() - started
    run.requests = policy.requests - requests_before
    return run


def _entry(
    policy: OpenAIPolicy,
    spec: EpisodeSpec,
    digest: str,
    gym: Gym,
    record: EpisodeRecord,
    is_problem_tool: ProblemTools,
) -> JournalEntry:
    use = episode_tool_use(record, is_problem_tool)
    return JournalEntry(
        model=policy.model,
        temperature=policy.temperature,
        task_id=spec.task_id,
        instance=spec.instance,
        sample=spec.seed,
        gym_sha256=digest,
        instance_id=record.instance_id or episode_instance_id(episode_instances(gym, spec.instance)),
        reward=record.reward,
        end_reason=record.end_reason,
        calls=len(record.steps),
        problem_calls=use.problem_calls if use is not None else 0,
        tool_errors=use.errors if use is not None else 0,
        detail=record.detail,
        ended_at=record.ended_at,
    )


def rate_label(rate: float | None) -> str:
    """A pass rate as the histogram writes it ('0.25'; 'unscored' when no sample was scored)."""
    return "unscored" if rate is None else f"{rate:.3g}"


def build_calibration(
    catalog: Catalog,
    journal: Journal,
    *,
    model: str,
    base_url: str | None,
    samples: int,
    temperature: float,
    max_turns: int,
) -> Calibration:
    """The calibration of every gym of the catalog the journal has samples of (for this model,
    temperature and the gyms' current files), samples 0..``samples``-1.

    Raises:
        CatalogError: a gym cannot be loaded.
    """
    by_episode: dict[tuple[str, int], list[JournalEntry]] = {}
    for entry in journal.entries.values():
        if entry.model == model and entry.temperature == temperature and entry.sample < samples:
            by_episode.setdefault((entry.task_id, entry.instance), []).append(entry)
    measured_tasks = sorted({task for task, _ in by_episode})
    present = set(catalog.task_ids())
    hashes = _gym_hashes(catalog, [t for t in measured_tasks if t in present])
    rows: list[InstanceCalibration] = []
    uses: list[EpisodeToolUse] = []
    infra = 0
    for (task_id, episode), entries in sorted(by_episode.items()):
        if task_id not in hashes:
            continue
        gym, digest = hashes[task_id]
        current = [e for e in entries if e.gym_sha256 == digest]
        if not current or episode >= episode_count(gym):
            continue
        scored = [e for e in current if e.reward is not None]
        passes = sum(1 for e in scored if e.reward == 1)
        infra += len(current) - len(scored)
        uses += [
            EpisodeToolUse(e.reward, e.calls, e.problem_calls, e.tool_errors)
            for e in scored
            if e.reward is not None
        ]
        rows.append(
            InstanceCalibration(
                task_id=task_id,
                instance=episode,
                instance_id=current[0].instance_id,
                gym_sha256=digest,
                passes=passes,
                samples=len(scored),
                pass_rate=passes / len(scored) if scored else None,
                infra_errors=len(current) - len(scored),
            )
        )
    histogram: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: (r.pass_rate is None, r.pass_rate or 0.0)):
        label = rate_label(row.pass_rate)
        histogram[label] = histogram.get(label, 0) + 1
    return Calibration(
        model=model,
        base_url=base_url,
        samples=samples,
        temperature=temperature,
        max_turns=max_turns,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        instances=rows,
        histogram=histogram,
        tool_use=aggregate_tool_use(uses),
        infra_errors=infra,
    )


def write_calibration(catalog: Path, calibration: Calibration) -> Path:
    """Write ``CATALOG/calibration.json`` (write, then rename: never a torn file)."""
    path = catalog / CALIBRATION_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(calibration.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def format_calibration(calibration: Calibration, run: CalibrationRun | None = None) -> str:
    """The summary: what was asked, the pass-rate histogram, tool use."""
    rows = calibration.instances
    lines = [
        f"calibration of {calibration.model} ({calibration.base_url or 'OpenAI'}): {len(rows)} episodes of "
        f"{len({r.task_id for r in rows})} gyms, {calibration.samples} samples each, temperature "
        f"{calibration.temperature:g}, up to {calibration.max_turns} model calls per episode",
    ]
    if run is not None:
        lines.append(
            f"  this run: {run.played} samples played ({run.solved} solved) in {run.wall_seconds:.1f}s, "
            f"{run.cached} from the journal, {run.requests} model requests"
            + (f"; {run.lost} lost with their session (a rerun plays them)" if run.lost else "")
        )
    if calibration.infra_errors:
        lines.append(
            f"  infrastructure errors: {calibration.infra_errors} samples not counted (a rerun asks them again)"
        )
    rated = [r.pass_rate for r in rows if r.pass_rate is not None]
    if rated:
        lines.append(f"  mean pass rate  {sum(rated) / len(rated):.3f}")
    lines.append("  pass rate  episodes")
    top = max(calibration.histogram.values(), default=0)
    for label, count in calibration.histogram.items():
        bar = "#" * max(1, math.ceil(30 * count / top)) if top else ""
        lines.append(f"  {label:>9}  {count:6d}  {bar}")
    for threshold, name in ((0.25, "the paper's filter"), (0.125, "its hard set")):
        kept = sum(1 for r in rated if r <= threshold + 1e-9)
        lines.append(f"  pass rate <= {threshold:g} ({name}): {kept} of {len(rated)} measured episodes")
    if calibration.tool_use is not None and calibration.tool_use.episodes:
        lines += format_tool_use(calibration.tool_use)
        lines.append(f"  tool-error rate {calibration.tool_use.tool_error_rate:6.1%}")
    return "\n".join(lines)
