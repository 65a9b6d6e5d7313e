"""The generator: dataset rows -> verified gyms in a catalog.

Stages (DESIGN.md, "The data path"): load (``load_dataset``), record instances in the sandbox
(``record_instances``), carve tools with libcst (``carve_function_problem``,
``carve_class_problem``), optionally decompose with an LLM (``decompose``), render and verify
(``build_gym``), and run many problems in parallel into a catalog (``generate``), checked by
``check_gym``. Every per-problem result is a value: ``Generated | Rejected(stage, reason)``.
"""

from ._results import Generated, GenerateSettings, Rejected
from .audit._audit import NoCatalog, audit_catalog, render_audit, write_audit
from .audit._check import check_gym
from .carving._carve import carve_function_problem
from .carving._carving_types import CarvedParam, CarvedTool, CarveRejected, Carving
from .carving._classes import carve_class_problem
from .instances._instances import RecordedInstances, RecordingFailed, compute_outputs, record_instances
from .llm._llm_client import _INSTALL_HINT as LLM_INSTALL_HINT
from .llm._llm_client import API_KEY_ENV as LLM_API_KEY_ENV
from .llm._llm_client import (
    LlmClient,
    LlmError,
    LlmNotInstalled,
    LlmRequestFailed,
    LlmSettings,
    LlmTimeout,
    default_llm_cache_dir,
)
from .llm._llm_decompose import Proposal, ProposalRejected, decompose, decompose_all
from .loaders._loaders import DatasetError, LoadResult, load_dataset
from .pipeline._catalog_write import CatalogConflict
from .pipeline._pipeline import build_gym
from .pipeline._ray_run import RayNotInstalled, join_cluster, ray_executor
from .pipeline._run import RunResult, generate

__all__ = [
    "LLM_API_KEY_ENV",
    "LLM_INSTALL_HINT",
    "CarveRejected",
    "CarvedParam",
    "CarvedTool",
    "Carving",
    "CatalogConflict",
    "DatasetError",
    "GenerateSettings",
    "Generated",
    "LlmClient",
    "LlmError",
    "LlmNotInstalled",
    "LlmRequestFailed",
    "LlmSettings",
    "LlmTimeout",
    "LoadResult",
    "NoCatalog",
    "Proposal",
    "ProposalRejected",
    "RayNotInstalled",
    "RecordedInstances",
    "RecordingFailed",
    "Rejected",
    "RunResult",
    "audit_catalog",
    "build_gym",
    "carve_class_problem",
    "carve_function_problem",
    "check_gym",
    "compute_outputs",
    "decompose",
    "decompose_all",
    "default_llm_cache_dir",
    "generate",
    "join_cluster",
    "load_dataset",
    "ray_executor",
    "record_instances",
    "render_audit",
    "write_audit",
]
