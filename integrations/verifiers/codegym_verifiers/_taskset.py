"""The taskset: one verifiers task per (gym, instance) of a running catalog server."""

from __future__ import annotations

from collections.abc import Iterator

import verifiers.v1 as vf

from ._catalog import catalog_rows

__all__ = ["CodeGymConfig", "CodeGymData", "CodeGymTask", "CodeGymTaskset"]


class CodeGymData(vf.TaskData):  # type: ignore[misc]
    """One row: which gym and instance the episode plays, and where (``prompt`` is the statement)."""

    catalog_url: str
    task_id: str
    instance: int


class CodeGymConfig(vf.TasksetConfig):  # type: ignore[misc]
    """Which rows: the catalog server, optionally some of its gyms and the first K instances of each."""

    catalog_url: str = "http://127.0.0.1:8000"
    """The catalog server's base URL (``codegym-mcp serve --all --transport http``)."""
    tasks: list[str] | None = None
    """Only these task ids; None: every gym the server serves."""
    instances_per_task: int | None = None
    """Only each gym's first K instances; None: all of them."""
    seed: int | None = 0
    """Row order: shuffled by this seed (the same seed, the same order); None: the server's order."""


class CodeGymTask(vf.Task[CodeGymData]):  # type: ignore[misc]
    """A codegym episode; its reward is recorded by :class:`~codegym_verifiers.CodeGymHarness`."""

    @property
    def key(self) -> str:
        """The row's durable identity: the gym and the instance index."""
        return f"{self.data.task_id}#{self.data.instance}"


class CodeGymTaskset(vf.Taskset[CodeGymTask, CodeGymConfig]):  # type: ignore[misc]
    """Every (gym, instance) of the catalog server at ``config.catalog_url`` (listed once, lazily)."""

    def load(self) -> Iterator[CodeGymTask]:
        """Yield one task per row (see :func:`~codegym_verifiers._catalog.catalog_rows`).

        Raises:
            CatalogUnavailable: the server could not be listed.
            ValueError: ``tasks`` names a gym the server does not serve.
        """
        config = self.config
        for row in catalog_rows(
            config.catalog_url,
            tasks=config.tasks,
            instances_per_task=config.instances_per_task,
            seed=config.seed,
        ):
            data = CodeGymData(
                id=f"{row.task_id}#{row.instance}",
                name=row.problem_id,
                prompt=row.statement,
                catalog_url=config.catalog_url,
                task_id=row.task_id,
                instance=row.instance,
            )
            yield CodeGymTask(data, config.task)
