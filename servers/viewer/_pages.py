"""The catalog page (every gym: sort, filter, search by id) and the plots page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._charts import catalog_charts, headline, policy_charts, policy_table
from ._data import CatalogData, GymRow
from ._html import esc, link, message, page, query, share, table
from ._records import RecordIndex
from ._stats import policy_stats

__all__ = ["catalog_page", "plots_page", "problems_html"]


@dataclass(frozen=True)
class _Column:
    key: str
    title: str
    value: Callable[[GymRow], object]
    numeric: bool = True


_COLUMNS = (
    _Column("id", "task id", lambda r: r.task_id, numeric=False),
    _Column("source", "source", lambda r: r.source, numeric=False),
    _Column("tools", "tools", lambda r: r.tools),
    _Column("problem_tools", "problem tools", lambda r: r.problem_tools),
    _Column("instances", "instances", lambda r: r.instances),
    _Column("batch", "batch K", lambda r: r.batch_size),
    _Column("steps_min", "oracle steps min", lambda r: r.steps_min),
    _Column("steps_mean", "mean", lambda r: r.steps_mean),
    _Column("steps_max", "max", lambda r: r.steps_max),
    _Column("findings", "honesty findings", lambda r: -1 if r.findings is None else r.findings),
    _Column("pass_rate", "pass rate", lambda r: -1.0 if r.pass_rate is None else r.pass_rate),
)
_BY_KEY = {c.key: c for c in _COLUMNS}


def problems_html(problems: list[str]) -> str:
    """Each problem as an error box."""
    return "".join(message("error", p) for p in problems)


def _cells(row: GymRow) -> list[str]:
    return [
        link(f"/gym/{row.task_id}", row.task_id),
        esc(row.source),
        str(row.tools),
        str(row.problem_tools),
        str(row.instances),
        str(row.batch_size),
        str(row.steps_min),
        f"{row.steps_mean:.1f}",
        str(row.steps_max),
        "—" if row.findings is None else str(row.findings),
        "—" if row.pass_rate is None else f"{share(row.pass_rate)} ({row.measured})",
    ]


@dataclass(frozen=True)
class _Query:
    """The catalog page's search, filters and sort, from the URL."""

    q: str
    source: str
    only_findings: bool
    column: _Column
    descending: bool

    @classmethod
    def read(cls, params: Mapping[str, str]) -> _Query:
        return cls(
            q=params.get("q", "").strip(),
            source=params.get("source", ""),
            only_findings=params.get("findings", "") == "1",
            column=_BY_KEY.get(params.get("sort", "id"), _COLUMNS[0]),
            descending=params.get("order", "asc") == "desc",
        )

    def keeps(self, r: GymRow) -> bool:
        q = self.q.lower()
        return (
            (not q or q in r.task_id.lower() or q in r.problem_id.lower())
            and (not self.source or r.source == self.source)
            and (not self.only_findings or (r.findings or 0) > 0)
        )

    def headers(self) -> list[str]:
        base: dict[str, str | int | None] = {
            "q": self.q,
            "source": self.source,
            "findings": "1" if self.only_findings else "",
        }
        out = []
        for c in _COLUMNS:
            chosen = c.key == self.column.key
            flip = "asc" if chosen and self.descending else "desc" if chosen else "asc"
            mark = (" ▼" if self.descending else " ▲") if chosen else ""
            href = query("/", {**base, "sort": c.key, "order": flip})
            out.append(f'<a href="{esc(href)}">{esc(c.title)}</a>{mark}')
        return out

    def form(self, sources: list[str]) -> str:
        options = "".join(
            f'<option value="{esc(s)}"{" selected" if s == self.source else ""}>{esc(s)}</option>'
            for s in ["", *sources]
        )
        checked = " checked" if self.only_findings else ""
        return (
            '<form class="filters" method="get" action="/">'
            f'<label>search id<input name="q" id="search" value="{esc(self.q)}" placeholder="HumanEval_1"></label>'
            f'<label>source<select name="source" id="source">{options}</select></label>'
            f'<label>only with findings<input type="checkbox" name="findings" value="1"{checked}></label>'
            f'<input type="hidden" name="sort" value="{esc(self.column.key)}"><input type="hidden" name="order" '
            f'value="{"desc" if self.descending else "asc"}"><button type="submit">apply</button></form>'
        )


def _rejections(data: CatalogData) -> str:
    if data.report is None or not data.report.rejections:
        return ""
    rejected = [
        [
            esc(r.task_id),
            esc(r.stage),
            esc(r.reason) + (f" (duplicate of {esc(r.duplicate_of)})" if r.duplicate_of else ""),
        ]
        for r in data.report.rejections
    ]
    return (
        f"<h2>Rejected problems</h2><details><summary>{len(rejected)} problems did not become a gym "
        f"(report.json)</summary>{table(['task id', 'stage', 'reason'], rejected, table_id='rejections')}</details>"
    )


def catalog_page(data: CatalogData, params: Mapping[str, str]) -> str:
    """Every gym of the catalog with its figures; ``q`` searches ids, ``source`` and ``findings`` filter."""
    asked = _Query.read(params)
    column = asked.column
    rows = [r for r in data.rows if asked.keeps(r)]
    rows.sort(key=lambda r: (column.value(r), r.task_id), reverse=asked.descending)
    body = [
        problems_html(data.problems),
        headline(data),
        asked.form(sorted({r.source for r in data.rows})),
        f'<p id="shown">{len(rows)} of {len(data.rows)} gyms shown</p>',
        table(
            asked.headers(),
            [_cells(r) for r in rows],
            numeric=range(2, 11),
            table_id="gyms",
            raw_headers=True,
        ),
    ]
    if data.broken:
        body.append("<h2>Gyms that cannot be read</h2>")
        body.append(table(["folder", "why"], [[esc(t), esc(why)] for t, why in data.broken]))
    body.append(_rejections(data))
    return page("Catalog", "".join(body), where=str(data.path))


def plots_page(data: CatalogData | None, error: str | None, records: RecordIndex) -> str:
    """Every chart: the catalog's (yield, reasons, steps, tools, pass rates) and the policies'."""
    body = []
    if data is None:
        body.append(message("error", error or "no catalog"))
    else:
        body += [problems_html(data.problems), "<h2>Catalog</h2>", catalog_charts(data)]
    stats = policy_stats((f.label, f.records) for f in records.files())
    body += ["<h2>Policies (episode records)</h2>", policy_charts(stats)]
    if stats:
        body.append(policy_table(stats))
    return page("Plots", "".join(body), where=str(data.path) if data else "")
