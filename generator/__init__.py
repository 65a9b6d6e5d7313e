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
from .llm._llm_client import (
    LlmClient,
    LlmError,
    LlmNotInstalled,
    LlmRequestFailed,
    LlmSettings,
    LlmTimeout,
    add_llm_arguments,
    llm_settings_from_args,
)
from .llm._llm_decompose import Proposal, ProposalRejected, decompose, decompose_all
from .loaders._loaders import DatasetError, LoadResult, load_dataset
from .pipeline._catalog_write import CatalogConflict
from .pipeline._pipeline import build_gym
from .pipeline._run import RunResult, generate

__all__ = [
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
    "RecordedInstances",
    "RecordingFailed",
    "Rejected",
    "RunResult",
    "add_llm_arguments",
    "audit_catalog",
    "build_gym",
    "carve_class_problem",
    "carve_function_problem",
    "check_gym",
    "compute_outputs",
    "decompose",
    "decompose_all",
    "generate",
    "llm_settings_from_args",
    "load_dataset",
    "record_instances",
    "render_audit",
    "write_audit",
]
