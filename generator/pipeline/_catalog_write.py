"""Writing a catalog: one gym folder at a time, atomically, and report.json after each problem.

A gym is written to a hidden temporary folder beside its final place, then renamed: a reader
(or an interrupted run) never sees half a gym. Each finished problem's report entry is appended
to a journal at once and report.json is rewritten (tmp file + rename) every few seconds and at
the end, so an interrupted run loses nothing already finished, the cost stays linear in the
number of problems, and a rerun skips every task id already reported (a gym whose folder
exists, or a rejection) when the report's settings match the run's.

Exceptions::

    OSError          the catalog folder cannot be written (permissions, disk full)
    CatalogConflict  (ValueError) the catalog's report.json is not a GenerationReport
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import JsonValue, ValidationError

from ...schemas import GenerationReport, GymSummary, LlmUsage, LoadIssue, Rejection
from .._results import Generated, Rejected

__all__ = ["JOURNAL_FILE", "REPORT_FILE", "CatalogConflict", "ReportBook", "write_gym"]

REPORT_FILE = "report.json"
JOURNAL_FILE = ".report-journal.jsonl"
"""Outcomes since report.json was last written, one JSON line each (appended, flushed): a run
killed between two report writes loses no entry. Folded into report.json and removed by
:meth:`ReportBook.write`."""


class CatalogConflict(ValueError):
    """The catalog's report.json exists but cannot be read as a GenerationReport."""


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_OUR_FAULT = ("internal error", "the recording harness raised", "the oracle harness failed")


def _final(rejection: Rejection) -> bool:
    """Whether a rejection is the problem's own (kept on resume) rather than the sandbox's or a
    bug of ours (``infra``, internal errors, a harness failure): those are tried again."""
    return rejection.stage != "infra" and not rejection.reason.startswith(_OUR_FAULT)


def write_gym(catalog: Path, generated: Generated) -> Path:
    """Write one gym's files under ``catalog/<task_id>/`` atomically; returns the folder.

    An existing folder of the same task id is replaced as a whole.

    Raises:
        OSError: the folder cannot be written.
    """
    files = generated.files
    task_id = files.manifest.task_id
    catalog.mkdir(parents=True, exist_ok=True)
    final = catalog / task_id
    tmp = catalog / f".tmp-{task_id}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    (tmp / files.manifest.tools_module).write_text(files.tools_source, encoding="utf-8")
    (tmp / files.manifest.oracle.module).write_text(files.oracle_source, encoding="utf-8")
    lines = "".join(inst.model_dump_json() + "\n" for inst in files.instances)
    (tmp / files.manifest.instances_file).write_text(lines, encoding="utf-8")
    if files.llm_reply is not None:
        (tmp / "llm_reply.md").write_text(files.llm_reply, encoding="utf-8")
    (tmp / "problem.json").write_text(files.problem.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (tmp / "manifest.json").write_text(files.manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if final.exists():
        old = catalog / f".old-{task_id}-{os.getpid()}"
        final.replace(old)
        tmp.replace(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.replace(final)
    return final


@dataclass(kw_only=True)
class ReportBook:
    """The report being built: earlier entries (resume) merged with this run's, by task id."""

    catalog: Path
    dataset: str
    settings: dict[str, JsonValue]
    gyms: dict[str, GymSummary] = field(default_factory=dict)
    rejections: dict[str, Rejection] = field(default_factory=dict)
    load_issues: list[LoadIssue] = field(default_factory=list)
    llm_usage: LlmUsage | None = None
    _journal_open: bool = False

    @classmethod
    def open(
        cls, catalog: Path, *, dataset: str, settings: dict[str, JsonValue], replace_settings: bool = False
    ) -> ReportBook:
        """Start a report that keeps every entry the catalog's report (and journal) already holds.

        A catalog holds one set of settings; several datasets may share it (their task ids
        differ). Dropped on the way: gyms whose folder is gone, and rejections that were not the
        problem's fault (sandbox failures, internal errors): a rerun tries those again.

        Raises:
            CatalogConflict: report.json is not a GenerationReport, or it was written with other
                settings and ``replace_settings`` is False (the message says what to do).
        """
        book = cls(catalog=catalog, dataset=dataset, settings=settings)
        path = catalog / REPORT_FILE
        if path.exists():
            book._resume_report(path, replace_settings=replace_settings)
        if book._resume_journal(replace_settings=replace_settings):
            book.write(seconds=0.0)  # fold another run's journal in before ours replaces it
        return book

    def _resume_report(self, path: Path, *, replace_settings: bool) -> None:
        try:
            old = GenerationReport.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            raise CatalogConflict(
                f"{path} is not a codegym-mcp report ({str(exc).splitlines()[0]}): "
                "choose another --out folder or remove the file"
            ) from None
        self._check_settings(old.settings, replace_settings=replace_settings, has_entries=bool(old.gyms))
        if old.dataset != self.dataset and self.dataset not in old.dataset.split(" + "):
            self.dataset = f"{old.dataset} + {self.dataset}"
        elif old.dataset != self.dataset:
            self.dataset = old.dataset
        self.gyms = {g.task_id: g for g in old.gyms if self._on_disk(g.task_id)}
        self.rejections = {r.task_id: r for r in old.rejections if r.task_id not in self.gyms and _final(r)}

    def _check_settings(self, old: JsonValue, *, replace_settings: bool, has_entries: bool) -> None:
        if old == self.settings or replace_settings or not has_entries:
            return
        differ = [
            f"{k} {old.get(k)!r} (now {v!r})"
            for k, v in self.settings.items()
            if isinstance(old, dict) and old.get(k) != v
        ]
        raise CatalogConflict(
            f"catalog {self.catalog} was generated with other settings: {', '.join(differ) or old}; "
            "use another --out, or --no-resume to regenerate the selected problems with the new settings"
        )

    def _on_disk(self, task_id: str) -> bool:
        return (self.catalog / task_id / "manifest.json").exists()

    def _header(self) -> dict[str, JsonValue]:  # the journal's first line
        return {"dataset": self.dataset, "settings": self.settings}

    def _resume_journal(self, *, replace_settings: bool) -> bool:
        """Fold the journal of an interrupted run in; True when it held entries."""
        path = self.catalog / JOURNAL_FILE
        if not path.exists():
            return False
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]).get("header", {}) if lines else {}
        except ValueError:
            return False
        self._check_settings(
            header.get("settings"), replace_settings=replace_settings, has_entries=len(lines) > 1
        )
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                if "gym" in entry:
                    gym = GymSummary.model_validate(entry["gym"])
                    if self._on_disk(gym.task_id):
                        self.rejections.pop(gym.task_id, None)
                        self.gyms[gym.task_id] = gym
                elif "rejection" in entry:
                    rejection = Rejection.model_validate(entry["rejection"])
                    self.gyms.pop(rejection.task_id, None)
                    if _final(rejection):
                        self.rejections[rejection.task_id] = rejection
            except (ValueError, ValidationError):
                continue  # a line torn by a kill: that problem is simply done again
        return len(lines) > 1

    def done(self, task_id: str) -> bool:
        """Whether the report already holds this task id (a gym on disk, or a rejection)."""
        return task_id in self.gyms or task_id in self.rejections

    def add(self, result: Generated | Rejected) -> None:
        """Record one problem's outcome (replacing an earlier entry of the same task id).

        The entry is appended to the journal at once (flushed); report.json follows at the next
        :meth:`write`.

        Raises:
            OSError: the journal cannot be written.
        """
        if isinstance(result, Generated):
            self.rejections.pop(result.task_id, None)
            self.gyms[result.task_id] = result.summary
            entry = {"gym": result.summary.model_dump(mode="json")}
        else:
            self.gyms.pop(result.task_id, None)
            self.rejections[result.task_id] = result.rejection
            entry = {"rejection": result.rejection.model_dump(mode="json")}
        self.catalog.mkdir(parents=True, exist_ok=True)
        path = self.catalog / JOURNAL_FILE
        mode = "a" if self._journal_open and path.exists() else "w"
        with path.open(mode, encoding="utf-8") as f:
            if mode == "w":
                f.write(json.dumps({"header": self._header()}) + "\n")
            f.write(json.dumps(entry) + "\n")
        self._journal_open = True

    def report(self, *, seconds: float) -> GenerationReport:
        """The report as it stands, entries sorted by task id (deterministic)."""
        return GenerationReport(
            dataset=self.dataset,
            settings=self.settings,
            problems_read=len(self.gyms) + len(self.rejections),
            load_issues=self.load_issues,
            gyms_verified=len(self.gyms),
            gyms=[self.gyms[k] for k in sorted(self.gyms)],
            rejections=[self.rejections[k] for k in sorted(self.rejections)],
            llm_usage=self.llm_usage,
            seconds=round(seconds, 3),
        )

    def write(self, *, seconds: float) -> GenerationReport:
        """Write report.json atomically, then drop the journal it now covers; returns the report.

        Raises:
            OSError: the file cannot be written.
        """
        report = self.report(seconds=seconds)
        self.catalog.mkdir(parents=True, exist_ok=True)
        _write_text(self.catalog / REPORT_FILE, report.model_dump_json(indent=2) + "\n")
        (self.catalog / JOURNAL_FILE).unlink(missing_ok=True)
        self._journal_open = False
        return report
