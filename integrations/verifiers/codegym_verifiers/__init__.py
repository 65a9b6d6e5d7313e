"""codegym-mcp catalogs as a verifiers environment (the Environments Hub id is this module's name).

``load_environment(catalog_url=...)`` returns a verifiers ``Env`` over a running catalog server
(``codegym-mcp serve --all --transport http``): its dataset is the catalog's instances, one row
per (gym, instance) with the statement as prompt; the model plays with the gym's MCP tools; the
reward (``codegym``) is the gym's own. The taskset and the harness are exported here, so
verifiers' loaders resolve ``--env.taskset.id codegym_verifiers`` (and its default harness) too.

Exceptions::

    RuntimeError
    +-- CatalogUnavailable    the catalog server could not be listed (raised when the taskset is read)
    +-- ServerFailure         an episode's MCP session failed; the harness re-raises it as
                              verifiers.v1.ToolsetError, a rollout error (never a reward of 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import verifiers.v1 as vf

from ._catalog import AUTH_TOKEN_ENV, CatalogUnavailable, catalog_rows, task_url
from ._episode import ServerFailure
from ._harness import REWARD_NAME, CodeGymHarness, CodeGymHarnessConfig
from ._taskset import CodeGymConfig, CodeGymData, CodeGymTask, CodeGymTaskset

__all__ = [
    "AUTH_TOKEN_ENV",
    "ENV_ID",
    "REWARD_NAME",
    "CatalogUnavailable",
    "CodeGymConfig",
    "CodeGymData",
    "CodeGymHarness",
    "CodeGymHarnessConfig",
    "CodeGymTask",
    "CodeGymTaskset",
    "ServerFailure",
    "catalog_rows",
    "load_environment",
    "task_url",
]

ENV_ID = "codegym_verifiers"


def load_environment(
    catalog_url: str = "http://127.0.0.1:8000",
    tasks: Sequence[str] | None = None,
    seed: int | None = 0,
    **kw: Any,
) -> vf.Env:
    """The verifiers environment of the catalog served at ``catalog_url``.

    Args:
        catalog_url: base URL of ``codegym-mcp serve --all --transport http``; its bearer token,
            if any, is read from ``$CODEGYM_AUTH_TOKEN``.
        tasks: only these task ids (None: every gym).
        seed: the row order's shuffle seed (the same seed, the same instance at every row);
            None keeps the server's order.
        **kw: ``instances_per_task`` (only each gym's first K instances), ``max_replies`` and
            ``mcp_timeout`` (the harness's), ``max_concurrent_agents`` and any other
            ``SingleAgentEnvConfig`` field.

    Raises:
        CatalogUnavailable: the catalog server could not be listed (when the taskset is read).
        pydantic.ValidationError: a keyword is not a field of these configs.
    """
    taskset = CodeGymConfig(
        id=ENV_ID,
        catalog_url=catalog_url,
        tasks=list(tasks) if tasks is not None else None,
        seed=seed,
        instances_per_task=kw.pop("instances_per_task", None),
    )
    harness_kw = {k: kw.pop(k) for k in ("max_replies", "mcp_timeout") if k in kw}
    agent = vf.AgentConfig(
        harness=CodeGymHarnessConfig(id=ENV_ID, **harness_kw),
        # The loop runs in-process and the tools in the catalog server's sandboxes: no box needed.
        runtime=vf.SubprocessConfig(),
    )
    config = vf.SingleAgentEnvConfig(taskset=taskset, agent=agent, **kw)
    env: vf.Env = vf.load_environment(config)
    return env
