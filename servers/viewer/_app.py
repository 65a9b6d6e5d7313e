"""The viewer as a Starlette app: catalog, gym, instance, episodes, episode and plots pages.

Every page is rendered on the server (plain HTML and inline SVG, no script). A request that names
something missing (a gym, an instance, a record) gets a page saying so with status 404; a catalog
folder that is missing or broken is said on the page itself. Nothing ever answers with a stack
trace: an unexpected failure is a 500 page naming the error and the page that failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ._data import CatalogData, CatalogReader, ViewerError
from ._episodes_page import check_record_ref, episode_page, episodes_page
from ._gym_page import gym_page, instance_page
from ._html import message, page
from ._pages import catalog_page, plots_page
from ._records import RecordIndex

__all__ = ["build_app"]

_log = logging.getLogger("codegym_mcp.viewer")


def _error_page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(page(title, message("error", text)), status_code=status)


def _guarded(render: Callable[[Request], str]) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        try:
            return HTMLResponse(render(request))
        except ViewerError as exc:
            return _error_page("Not found", str(exc), 404)
        except Exception as exc:  # a page must never show a traceback; the log keeps it
            _log.exception("viewer page %s failed", request.url.path)
            return _error_page(
                "Viewer error",
                f"the viewer failed to render {request.url.path}: {type(exc).__name__}: {exc}. "
                "The server log has the details; please report it with the files you opened.",
                500,
            )

    return endpoint


class _Views:
    """The page renderers over one catalog reader and one records index."""

    def __init__(self, catalog: Path, records: list[tuple[str, Path]]) -> None:
        self.catalog = catalog
        self.reader = CatalogReader(catalog)
        self.index = RecordIndex(records)

    def data_or_error(self) -> tuple[CatalogData | None, str | None]:
        try:
            return self.reader.read(), None
        except ViewerError as exc:
            return None, str(exc)

    def need_data(self) -> CatalogData:
        data, error = self.data_or_error()
        if data is None:
            raise ViewerError(error or f"no catalog at {self.catalog}")
        return data

    def catalog_view(self, request: Request) -> str:
        data, error = self.data_or_error()
        if data is None:
            return page("Catalog", message("error", error or "no catalog"), where=str(self.catalog))
        return catalog_page(data, request.query_params)

    def plots_view(self, request: Request) -> str:
        data, error = self.data_or_error()
        return plots_page(data, error, self.index)

    def gym_view(self, request: Request) -> str:
        return gym_page(self.need_data(), request.path_params["task_id"])

    def instance_view(self, request: Request) -> str:
        raw = request.path_params["index"]
        if not raw.isdigit():
            raise ViewerError(f"instance {raw!r} is not a number: use the links of the gym page")
        return instance_page(self.need_data(), request.path_params["task_id"], int(raw))

    def episodes_view(self, request: Request) -> str:
        return episodes_page(self.index, request.query_params)

    def episode_view(self, request: Request) -> str:
        file, line = check_record_ref(request.path_params["file"], request.path_params["line"])
        return episode_page(self.index, file, line, request.query_params)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return _error_page(
        "Not found" if status == 404 else "Error",
        f"no page at {request.url.path} (status {status}): the viewer has /, /plots, /episodes, "
        "/gym/TASK_ID, /gym/TASK_ID/instance/N and /episode/FILE/LINE",
        status,
    )


def build_app(catalog: Path, records: list[tuple[str, Path]]) -> Starlette:
    """The viewer app over one catalog folder and the given ``(policy label, records file)`` pairs.

    Nothing is read until a page asks (or the warm-up thread indexes the records at start-up): a
    missing catalog or a malformed record line shows up as a message on the page.
    """
    views = _Views(catalog, records)
    routes = [
        Route("/", _guarded(views.catalog_view)),
        Route("/plots", _guarded(views.plots_view)),
        Route("/gym/{task_id}", _guarded(views.gym_view)),
        Route("/gym/{task_id}/instance/{index}", _guarded(views.instance_view)),
        Route("/episodes", _guarded(views.episodes_view)),
        Route("/episode/{file}/{line}", _guarded(views.episode_view)),
    ]

    @asynccontextmanager
    async def warm_up(app: Starlette) -> AsyncIterator[None]:
        # Read the catalog, import the MCP server code and index the records while nobody waits:
        # the first page then answers at once (a cold import or 10,000 records take seconds).
        threading.Thread(target=_warm, args=(views,), daemon=True, name="viewer-warm-up").start()
        yield

    return Starlette(routes=routes, exception_handlers={HTTPException: _not_found}, lifespan=warm_up)


def _warm(views: _Views) -> None:
    views.data_or_error()  # parse the manifests first: the catalog page is the one opened first
    from ..mcp import _server  # noqa: F401  (the gym page's first import)

    views.index.files()
