"""report.html: the plots of a catalog (and of a rollout's episodes) in one self-contained file.

Written by ``generate``, ``audit`` and ``rollout`` when given ``--report-html PATH``: the same
headline figures and charts as the viewer's plots page, inline CSS and SVG only, so the file
opens anywhere with no network and no server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ...schemas import EpisodeRecord
from ._charts import catalog_charts, headline, policy_charts, policy_table
from ._data import CatalogReader, ViewerError
from ._html import esc, message, page
from ._pages import problems_html
from ._records import RecordSummary, summarize
from ._stats import policy_stats

__all__ = ["render_report", "write_report_html"]


def render_report(
    catalog: Path,
    *,
    records: Sequence[tuple[str, Sequence[EpisodeRecord]]] = (),
    title: str = "codegym-mcp report",
) -> str:
    """The report page: catalog figures and charts, then per-policy ones for ``(label, records)``."""
    body = [f'<p class="muted">catalog {esc(catalog)} · written {time.strftime("%Y-%m-%d %H:%M:%S %Z")}</p>']
    try:
        data = CatalogReader(catalog).read()
    except ViewerError as exc:
        body.append(message("error", str(exc)))
    else:
        body += [problems_html(data.problems), headline(data), "<h2>Catalog</h2>", catalog_charts(data)]
    if records:
        summaries: list[tuple[str, list[RecordSummary]]] = [
            (label, [summarize(r) for r in recs]) for label, recs in records
        ]
        stats = policy_stats(summaries)
        body += ["<h2>Episodes</h2>", policy_charts(stats), policy_table(stats)]
    return page(title, "".join(body), nav=False)


def write_report_html(
    path: Path, catalog: Path, *, records: Sequence[tuple[str, Sequence[EpisodeRecord]]] = ()
) -> Path:
    """Write :func:`render_report` to ``path`` (parent folders made); returns ``path``.

    Raises:
        OSError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(catalog, records=records), encoding="utf-8")
    return path
