"""What a running catalog server serves: its gyms, their episode counts and statements, and their URLs.

The server's protocol (codegym-mcp ``serve --all``): ``GET /tasks?detail=1`` lists every gym with
its episode count and the statement a session is told first; ``BASE/<task_id>/mcp?instance=K``
(or ``?seed=S``) is one episode's MCP endpoint. ``$CODEGYM_AUTH_TOKEN`` is sent as a bearer token
when set (``serve --auth-token``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx

__all__ = ["AUTH_TOKEN_ENV", "CatalogUnavailable", "Row", "auth_headers", "catalog_rows", "task_url"]

AUTH_TOKEN_ENV = "CODEGYM_AUTH_TOKEN"


class CatalogUnavailable(RuntimeError):
    """The catalog server could not be listed (unreachable, refused, or an unexpected answer)."""


@dataclass(frozen=True)
class Row:
    """One dataset row: one instance (episode index) of one gym, with the statement as its prompt."""

    task_id: str
    problem_id: str
    instance: int
    statement: str


def auth_headers() -> dict[str, str]:
    """``Authorization: Bearer $CODEGYM_AUTH_TOKEN`` when the variable is set, else nothing."""
    token = os.environ.get(AUTH_TOKEN_ENV)
    return {"authorization": f"Bearer {token}"} if token else {}


def task_url(base_url: str, task_id: str, *, instance: int | None = None, seed: int | None = None) -> str:
    """The MCP URL of one gym of a catalog server: ``BASE/<task_id>/mcp[?instance=K|?seed=S]``."""
    url = f"{base_url.rstrip('/')}/{quote(task_id, safe='/')}/mcp"
    query = {k: v for k, v in (("instance", instance), ("seed", seed)) if v is not None}
    return f"{url}?{urlencode(query)}" if query else url


def _listing(catalog_url: str, timeout: float) -> list[dict[str, Any]]:
    url = f"{catalog_url.rstrip('/')}/tasks?detail=1"
    try:
        response = httpx.get(url, headers=auth_headers(), timeout=timeout)
    except httpx.HTTPError as exc:
        raise CatalogUnavailable(
            f"could not list the catalog at {url}: {type(exc).__name__}: {exc}; "
            "start it with `codegym-mcp serve --all --catalog DIR --transport http` and check the URL"
        ) from exc
    if response.status_code == 401:
        raise CatalogUnavailable(f"{url} answered 401: set ${AUTH_TOKEN_ENV} to the server's --auth-token")
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    gyms = body.get("gyms") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(gyms, list):
        raise CatalogUnavailable(
            f"{url} answered {response.status_code} without a gym listing ({response.text[:200]!r}); "
            "the server must be codegym-mcp with GET /tasks?detail=1 (update codegym-mcp)"
        )
    return gyms


def catalog_rows(
    catalog_url: str,
    *,
    tasks: Sequence[str] | None = None,
    instances_per_task: int | None = None,
    seed: int | None = 0,
    timeout: float = 300.0,
) -> list[Row]:
    """Every (gym, instance) row the server serves, optionally restricted, in a seeded order.

    Args:
        catalog_url: the catalog server's base URL (``http://HOST:PORT``).
        tasks: only these task ids (in the server's order); None: every gym.
        instances_per_task: only each gym's first K instances; None: all of them.
        seed: rows are shuffled by ``random.Random(seed)`` (the same seed, the same row order,
            so row i is always the same instance); None keeps the server's order.
        timeout: seconds to wait for the listing (the server loads every gym for it the first time).

    Raises:
        CatalogUnavailable: the server could not be listed.
        ValueError: a task id of ``tasks`` is not served, or ``instances_per_task`` is below 1.
    """
    if instances_per_task is not None and instances_per_task < 1:
        raise ValueError(f"instances_per_task must be at least 1, got {instances_per_task}")
    gyms = _listing(catalog_url, timeout)
    served = {str(g["task_id"]): g for g in gyms}
    if tasks is not None:
        unknown = [t for t in tasks if t not in served]
        if unknown:
            raise ValueError(
                f"tasks {unknown} are not served by {catalog_url} (it serves {len(served)} gyms, "
                f"e.g. {sorted(served)[:5]}); pass task ids from GET {catalog_url}/tasks"
            )
        wanted = set(tasks)
        gyms = [g for g in gyms if str(g["task_id"]) in wanted]
    rows: list[Row] = []
    for gym in gyms:
        count = int(gym["episodes"])
        if instances_per_task is not None:
            count = min(count, instances_per_task)
        rows += [
            Row(str(gym["task_id"]), str(gym["problem_id"]), k, str(gym["statement"])) for k in range(count)
        ]
    if seed is not None:
        random.Random(seed).shuffle(rows)
    return rows
