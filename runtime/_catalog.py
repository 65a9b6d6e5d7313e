"""A catalog of generated gyms on disk, and where the default one lives.

Layout (written by the generator, read here)::

    CATALOG/<task_id>/manifest.json     GymManifest
    CATALOG/<task_id>/tools.py          the gym's tool functions
    CATALOG/<task_id>/instances.jsonl   one Instance per line

A task is named by its task id (``HumanEval_0``) or by the dataset's id as written
(``HumanEval/0``): :func:`codegym_mcp.schemas.task_id_for` maps one to the other.

Exceptions::

    Exception
     +-- CatalogError
          +-- CatalogNotFound   (also FileNotFoundError)  the catalog folder does not exist
          +-- UnknownTask       (also LookupError)        no gym by that name; carries the nearest ids
          +-- BrokenGym         (also ValueError)         a gym's files are missing or do not validate
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..schemas import GymManifest, Instance, task_id_for

__all__ = [
    "BrokenGym",
    "Catalog",
    "CatalogError",
    "CatalogNotFound",
    "Gym",
    "UnknownTask",
    "default_catalog_dir",
]

CATALOG_ENV = "CODEGYM_CATALOG"


def default_catalog_dir() -> Path:
    """The catalog used when none is given: ``$CODEGYM_CATALOG``, else the user's data dir.

    The fallback is ``platformdirs.user_data_dir("codegym-mcp")/catalog`` (on Linux
    ``~/.local/share/codegym-mcp/catalog``). Nothing is created here.
    """
    env = os.environ.get(CATALOG_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs  # deferred: only needed when no catalog is named

    return Path(platformdirs.user_data_dir("codegym-mcp")) / "catalog"


class CatalogError(Exception):
    """A catalog or one of its gyms cannot be used."""


class CatalogNotFound(CatalogError, FileNotFoundError):
    """The catalog folder does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no catalog at {path}: build one with `codegym-mcp generate --out {path}` "
            f"or point --catalog (or ${CATALOG_ENV}) at an existing one"
        )
        self.path = path


class UnknownTask(CatalogError, LookupError):
    """No gym of that name in the catalog; ``suggestions`` holds the nearest task ids."""

    def __init__(self, name: str, catalog: Path, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no gym {name!r} in catalog {catalog}{hint}")
        self.name = name
        self.catalog = catalog
        self.suggestions = suggestions


class BrokenGym(CatalogError, ValueError):
    """A gym's files are missing or invalid."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"gym at {path} cannot be loaded: {reason}; regenerate it with `codegym-mcp generate` "
            "(or remove the folder from the catalog)"
        )
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Gym:
    """One gym, loaded: its manifest, the source of its tools module and its instances."""

    path: Path
    manifest: GymManifest
    tools_source: str
    instances: tuple[Instance, ...] = field(repr=False)

    @property
    def task_id(self) -> str:
        """The gym's task id (its folder name in the catalog)."""
        return self.manifest.task_id


class Catalog:
    """Read-only view of a catalog folder; loaded gyms are cached."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._gyms: dict[str, Gym] = {}

    def task_ids(self) -> list[str]:
        """Every task id with a manifest, sorted.

        Raises:
            CatalogNotFound: the folder does not exist.
        """
        if not self.path.is_dir():
            raise CatalogNotFound(self.path)
        return sorted(p.parent.name for p in self.path.glob("*/manifest.json"))

    def resolve(self, name: str) -> str:
        """The task id for a task id or a dataset id as written (``HumanEval/0``).

        Raises:
            CatalogNotFound: the folder does not exist.
            UnknownTask: no such gym; the error lists the nearest task ids.
        """
        if not self.path.is_dir():
            raise CatalogNotFound(self.path)
        for candidate in (name, task_id_for(name)):
            if "/" not in candidate and (self.path / candidate / "manifest.json").is_file():
                return candidate
        ids = self.task_ids()
        near = difflib.get_close_matches(task_id_for(name), ids, n=5, cutoff=0.6)
        if not near:
            lowered = name.lower()
            near = [t for t in ids if lowered in t.lower()][:5]
        raise UnknownTask(name, self.path, near)

    def load(self, name: str) -> Gym:
        """The gym named by a task id or dataset id, loaded and validated once.

        Raises:
            CatalogNotFound: the folder does not exist.
            UnknownTask: no such gym.
            BrokenGym: the manifest, tools module or instances are missing or invalid.
        """
        task_id = self.resolve(name)
        gym = self._gyms.get(task_id)
        if gym is None:
            gym = load_gym(self.path / task_id)
            self._gyms[task_id] = gym
        return gym


def load_gym(folder: Path) -> Gym:
    """Load one gym folder.

    Raises:
        BrokenGym: a file is missing, or the manifest or an instance line does not validate.
    """
    from pydantic import ValidationError

    try:
        manifest = GymManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
    except OSError as exc:
        raise BrokenGym(folder, f"manifest.json unreadable ({exc.strerror})") from exc
    except ValidationError as exc:
        raise BrokenGym(folder, f"manifest.json invalid: {_first_error(exc)}") from exc
    try:
        source = (folder / manifest.tools_module).read_text(encoding="utf-8")
        lines = (folder / manifest.instances_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BrokenGym(folder, f"{Path(exc.filename or '?').name} unreadable ({exc.strerror})") from exc
    instances: list[Instance] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            instances.append(Instance.model_validate_json(line))
        except ValidationError as exc:
            raise BrokenGym(folder, f"{manifest.instances_file} line {number}: {_first_error(exc)}") from exc
    if not instances:
        raise BrokenGym(folder, f"{manifest.instances_file} holds no instance")
    if len(instances) < manifest.batch_size:
        raise BrokenGym(
            folder, f"batch_size {manifest.batch_size} is above its {len(instances)} instances (no episode)"
        )
    return Gym(path=folder, manifest=manifest, tools_source=source, instances=tuple(instances))


def _first_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "$"
        return f"{where}: {err['msg']}"
    return str(exc)
