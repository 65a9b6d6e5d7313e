"""The sandbox runtime: nsjail workers and pools, catalogs of gyms, episodes and their scoring, batches, records."""

from ._batch import (
    BATCH_ID_SEPARATOR,
    CASE_ARG,
    episode_count,
    episode_expected,
    episode_instance_id,
    episode_instances,
    published_tools,
)
from ._catalog import BrokenGym, Catalog, CatalogError, CatalogNotFound, Gym, UnknownTask, default_catalog_dir
from ._config import Isolation, SandboxConfig, default_isolation, module_name_for, warn_no_sandbox
from ._doctor import Check, DoctorReport, diagnose, isolation_summary
from ._errors import (
    CallFailed,
    CallTimeout,
    KilledBySignal,
    MemoryLimitExceeded,
    OutputTooLarge,
    SandboxError,
    SandboxUnavailable,
    WorkerCrashed,
)
from ._pool import LeasedWorker, WorkerPool
from ._recorder import Recorder
from ._session import (
    EPISODE_META_KEY,
    BadReset,
    EpisodeStatus,
    InstancePicker,
    Session,
    StepOutcome,
    ToolFailed,
    ToolOk,
    ToolRunner,
)
from ._worker import Worker

__all__: list[str] = [
    "BATCH_ID_SEPARATOR",
    "CASE_ARG",
    "EPISODE_META_KEY",
    "BadReset",
    "BrokenGym",
    "CallFailed",
    "CallTimeout",
    "Catalog",
    "CatalogError",
    "CatalogNotFound",
    "Check",
    "DoctorReport",
    "EpisodeStatus",
    "Gym",
    "InstancePicker",
    "Isolation",
    "KilledBySignal",
    "LeasedWorker",
    "MemoryLimitExceeded",
    "OutputTooLarge",
    "Recorder",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "Session",
    "StepOutcome",
    "ToolFailed",
    "ToolOk",
    "ToolRunner",
    "UnknownTask",
    "Worker",
    "WorkerCrashed",
    "WorkerPool",
    "default_catalog_dir",
    "default_isolation",
    "diagnose",
    "episode_count",
    "episode_expected",
    "episode_instance_id",
    "episode_instances",
    "isolation_summary",
    "module_name_for",
    "published_tools",
    "warn_no_sandbox",
]
