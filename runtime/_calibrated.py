"""The hardness filter: a catalog seen through its calibration.json, keeping episodes in a pass-rate range.

:class:`CalibratedCatalog` is a :class:`Catalog` whose gyms hold only the episodes whose measured
pass rate lies in ``[min_rate, max_rate]``; episodes without a usable measurement (none taken,
or taken on a gym whose files changed since) are kept and counted apart. A gym left with no
episode is not served. The kept episodes are numbered again from 0 in their original order, so
a filtered catalog served directly and the same one written to disk (``calibrate
--write-filtered``) number their episodes alike. A batched gym (``batch_size`` K) is filtered by
whole episodes: each kept batch keeps its K instances together, in order.

Exceptions::

    CatalogError (runtime._catalog)
     +-- BadCalibration  (also ValueError)  calibration.json is missing, unreadable or invalid
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..schemas import CALIBRATION_FILE, Calibration, InstanceCalibration
from ._batch import episode_count
from ._catalog import Catalog, CatalogError, Gym

__all__ = [
    "BadCalibration",
    "CalibratedCatalog",
    "FilterCounts",
    "PassRateRange",
    "filtered_gym",
    "gym_sha256",
    "read_calibration",
]


class BadCalibration(CatalogError, ValueError):
    """The catalog's calibration.json is missing or does not validate."""


def gym_sha256(gym: Gym) -> str:
    """sha256 of what makes a gym: its manifest, tools module and instances (a changed gym gets a new one)."""
    digest = hashlib.sha256()
    digest.update(gym.manifest.model_dump_json().encode("utf-8"))
    digest.update(b"\0" + gym.tools_source.encode("utf-8"))
    for inst in gym.instances:
        digest.update(b"\0" + inst.model_dump_json().encode("utf-8"))
    return digest.hexdigest()


def read_calibration(catalog: Path) -> Calibration:
    """The catalog's calibration.json.

    Raises:
        BadCalibration: the file is missing, unreadable or invalid.
    """
    from pydantic import ValidationError

    path = catalog / CALIBRATION_FILE
    try:
        return Calibration.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadCalibration(
            f"no {CALIBRATION_FILE} in {catalog}: measure the catalog first with "
            f"`codegym-mcp calibrate --catalog {catalog} --llm-model M --samples K`"
        ) from exc
    except OSError as exc:
        raise BadCalibration(f"cannot read {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise BadCalibration(
            f"{path} is not a valid calibration ({exc.error_count()} errors, first: "
            f"{exc.errors()[0]['msg']}); run `codegym-mcp calibrate` again"
        ) from exc


@dataclass(frozen=True, slots=True)
class PassRateRange:
    """Keep episodes whose pass rate p has ``min_rate <= p <= max_rate``.

    Raises:
        ValueError: a bound is outside [0, 1], or min_rate > max_rate.
    """

    min_rate: float = 0.0
    max_rate: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("min", self.min_rate), ("max", self.max_rate)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"--{name}-pass-rate must be between 0 and 1, got {value}")
        if self.min_rate > self.max_rate:
            raise ValueError(
                f"--min-pass-rate {self.min_rate} is above --max-pass-rate {self.max_rate}: nothing would be kept"
            )

    def admits(self, rate: float) -> bool:
        """Whether a measured pass rate is in range (a tiny tolerance absorbs float rounding)."""
        return self.min_rate - 1e-9 <= rate <= self.max_rate + 1e-9

    def describe(self) -> str:
        """``[min, max]`` as a human reads it."""
        return f"pass rate in [{self.min_rate:g}, {self.max_rate:g}]"


@dataclass
class FilterCounts:
    """What a filter kept and dropped, in episodes (a batched gym's episode is K instances)."""

    kept: int = 0
    dropped: int = 0
    unmeasured: int = 0
    stale: int = 0
    gyms_kept: int = 0
    gyms_dropped: int = 0

    def format(self, rates: PassRateRange) -> str:
        """One line for a summary."""
        total = self.kept + self.dropped
        return (
            f"pass-rate filter ({rates.describe()}): kept {self.kept} of {total} episodes in "
            f"{self.gyms_kept} gyms ({self.gyms_dropped} gyms left empty); {self.unmeasured} kept "
            "without a measurement"
            + (f" ({self.stale} measured on an older version of their gym)" if self.stale else "")
        )


def filtered_gym(gym: Gym, episodes: list[int]) -> Gym:
    """The gym holding only the given episodes (indices into its episodes), renumbered from 0.

    Raises:
        ValueError: no episode given, or an index is not an episode of the gym.
    """
    if not episodes:
        raise ValueError(f"{gym.task_id}: a gym needs at least one episode")
    k = gym.manifest.batch_size
    n = episode_count(gym)
    bad = [e for e in episodes if not 0 <= e < n]
    if bad:
        raise ValueError(f"{gym.task_id}: episodes {bad} do not exist (it has 0..{n - 1})")
    instances = tuple(inst for e in episodes for inst in gym.instances[e * k : e * k + k])
    if len(instances) == len(gym.instances):
        return gym
    steps = [inst.oracle_steps for inst in instances]
    oracle = gym.manifest.oracle.model_copy(
        update={"steps_min": min(steps), "steps_max": max(steps), "steps_mean": sum(steps) / len(steps)}
    )
    manifest = gym.manifest.model_copy(update={"n_instances": len(instances), "oracle": oracle})
    return Gym(path=gym.path, manifest=manifest, tools_source=gym.tools_source, instances=instances)


class CalibratedCatalog(Catalog):
    """A catalog whose gyms keep only the episodes in a pass-rate range (see the module docstring).

    Raises:
        BadCalibration: at construction, when calibration.json is missing or invalid.
    """

    def __init__(self, path: Path, rates: PassRateRange) -> None:
        super().__init__(path)
        self.rates = rates
        self.calibration = read_calibration(self.path)
        self._by_task: dict[str, dict[int, InstanceCalibration]] = {}
        for entry in self.calibration.instances:
            self._by_task.setdefault(entry.task_id, {})[entry.instance] = entry
        self._kept: dict[str, list[int]] = {}
        self._counted: dict[str, FilterCounts] = {}
        self._filtered: dict[str, Gym] = {}

    def kept_episodes(self, task_id: str) -> list[int]:
        """The original indices of the gym's episodes in range (or unmeasured).

        Raises:
            CatalogError: the gym cannot be loaded.
        """
        kept = self._kept.get(task_id)
        if kept is None:
            gym = super().load(task_id)
            counts = FilterCounts()
            measured = self._by_task.get(gym.task_id, {})
            digest = gym_sha256(gym) if measured else ""
            kept = []
            for episode in range(episode_count(gym)):
                entry = measured.get(episode)
                usable = entry is not None and entry.gym_sha256 == digest and entry.pass_rate is not None
                if entry is not None and entry.gym_sha256 != digest:
                    counts.stale += 1
                if not usable:
                    counts.unmeasured += 1
                    kept.append(episode)
                elif entry is not None and entry.pass_rate is not None and self.rates.admits(entry.pass_rate):
                    kept.append(episode)
            counts.kept = len(kept)
            counts.dropped = episode_count(gym) - len(kept)
            counts.gyms_kept, counts.gyms_dropped = (1, 0) if kept else (0, 1)
            self._kept[task_id] = kept
            self._counted[task_id] = counts
        return kept

    def task_ids(self) -> list[str]:
        """The gyms with at least one episode kept.

        Raises:
            CatalogNotFound: the folder does not exist.
            CatalogError: a gym cannot be loaded.
        """
        return [t for t in super().task_ids() if self.kept_episodes(t)]

    def load(self, name: str) -> Gym:
        """The gym with only its kept episodes, renumbered from 0.

        Raises:
            CatalogNotFound: the folder does not exist.
            UnknownTask: no such gym, or none of its episodes is in range (the message says so).
            BrokenGym: the gym's files are invalid.
        """
        from ._catalog import UnknownTask

        task_id = self.resolve(name)
        kept = self.kept_episodes(task_id)
        if not kept:
            error = UnknownTask(name, self.path, [])
            error.args = (f"gym {task_id} has no episode with a {self.rates.describe()} in {self.path}",)
            raise error
        gym = self._filtered.get(task_id)
        if gym is None:
            gym = self._filtered[task_id] = filtered_gym(super().load(task_id), kept)
        return gym

    def counts(self) -> FilterCounts:
        """Totals over every gym of the catalog (loads them all).

        Raises:
            CatalogError: a gym cannot be loaded.
        """
        total = FilterCounts()
        for task_id in super().task_ids():
            self.kept_episodes(task_id)
            c = self._counted[task_id]
            total.kept += c.kept
            total.dropped += c.dropped
            total.unmeasured += c.unmeasured
            total.stale += c.stale
            total.gyms_kept += c.gyms_kept
            total.gyms_dropped += c.gyms_dropped
        return total
