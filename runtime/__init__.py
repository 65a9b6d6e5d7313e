"""placeholder"""

from ._catalog import BrokenGym, Catalog, CatalogError, CatalogNotFound, Gym, UnknownTask, default_catalog_dir
from ._config import Isolation, SandboxConfig, default_isolation, module_name_for, warn_no_sandbox
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
from ._worker import Worker

__all__: list[str] = [
    "BrokenGym",
    "CallFailed",
    "CallTimeout",
    "Catalog",
    "CatalogError",
    "CatalogNotFound",
    "Gym",
    "Isolation",
    "KilledBySignal",
    "LeasedWorker",
    "MemoryLimitExceeded",
    "OutputTooLarge",
    "SandboxConfig",
    "SandboxError",
    "SandboxUnavailable",
    "UnknownTask",
    "Worker",
    "WorkerCrashed",
    "WorkerPool",
    "default_catalog_dir",
    "default_isolation",
    "module_name_for",
    "warn_no_sandbox",
]
