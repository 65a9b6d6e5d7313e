"""``calibrate --write-filtered OUT``: the catalog of the episodes in a pass-rate range, on disk.

Each gym with an episode in range (or without a measurement) is copied whole (tools, oracle,
problem, LLM reply) with instances.jsonl holding only the kept episodes' instances, in their
order, and manifest.json's ``n_instances`` and oracle step summary updated; a batched gym keeps
whole batches of K instances, so its kept episodes are the same batches, numbered from 0. The
copy gets its own calibration.json: the kept measurements, renumbered, with the new gyms'
hashes, so that ``serve --max-pass-rate`` on the copy keeps them all. The result is what
``serve --min-pass-rate/--max-pass-rate`` serves from the original, and ``check`` accepts it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ...runtime import CalibratedCatalog, PassRateRange, gym_sha256
from ...schemas import CALIBRATION_FILE, InstanceCalibration

__all__ = ["write_filtered"]


def write_filtered(source: Path, out: Path, rates: PassRateRange) -> str:
    """Write the filtered catalog of ``source`` into ``out``; return a one-line summary.

    Raises:
        BadCalibration: ``source`` has no valid calibration.json.
        CatalogError: a gym cannot be loaded.
        ValueError: ``out`` is ``source``, or exists and is not empty.
        OSError: a file cannot be written.
    """
    if out.resolve() == source.resolve():
        raise ValueError(f"--write-filtered {out} is the catalog itself: name a new folder")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--write-filtered {out} exists and is not empty: name a new folder or remove it")
    view = CalibratedCatalog(source, rates)
    counts = view.counts()
    calibration = view.calibration
    old = {(e.task_id, e.instance): e for e in calibration.instances}
    rows: list[InstanceCalibration] = []
    out.mkdir(parents=True, exist_ok=True)
    for task_id in view.task_ids():
        gym = view.load(task_id)
        target = out / task_id
        shutil.copytree(source / task_id, target)
        manifest = gym.manifest
        (target / manifest.instances_file).write_text(
            "".join(inst.model_dump_json() + "\n" for inst in gym.instances), encoding="utf-8"
        )
        (target / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        digest = gym_sha256(gym)
        for new_index, old_index in enumerate(view.kept_episodes(task_id)):
            entry = old.get((task_id, old_index))
            if entry is not None and entry.pass_rate is not None and rates.admits(entry.pass_rate):
                rows.append(entry.model_copy(update={"instance": new_index, "gym_sha256": digest}))
    kept = calibration.model_copy(update={"instances": rows, "histogram": _histogram(rows)})
    (out / CALIBRATION_FILE).write_text(kept.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return f"wrote {out}: {counts.format(rates)}"


def _histogram(rows: list[InstanceCalibration]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r.pass_rate or 0.0):
        label = "unscored" if row.pass_rate is None else f"{row.pass_rate:.3g}"
        out[label] = out.get(label, 0) + 1
    return out
