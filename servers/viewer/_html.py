"""HTML building blocks of the viewer and the report: the page shell, escaping, tables, messages.

Everything is inline (one stylesheet in the page, no script from elsewhere): a page or a
report.html opens with no network.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Literal
from urllib.parse import urlencode

__all__ = [
    "NAV",
    "cut",
    "esc",
    "json_block",
    "link",
    "message",
    "page",
    "query",
    "share",
    "table",
]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d232a;background:#fafbfc}
header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;align-items:baseline}
header a{color:#fff;text-decoration:none;font-weight:600}header .where{opacity:.75;font-size:.9em}
main{padding:1em 1.4em;max-width:1400px}h1{font-size:1.45em;margin:.3em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;background:#fff;margin:.4em 0 1em}th,td{border:1px solid #dde2e8;padding:.25em .55em;
text-align:left;vertical-align:top}th{background:#eef2f6;white-space:nowrap}td.n,th.n{text-align:right}
th a{color:inherit}tr:nth-child(even) td{background:#f8fafc}
pre{background:#f3f5f8;border:1px solid #dde2e8;padding:.5em .7em;overflow-x:auto;white-space:pre-wrap;margin:.2em 0;
max-height:28em;overflow-y:auto}
.msg{padding:.7em 1em;border-radius:4px;margin:.6em 0}.error{background:#fdecea;border:1px solid #f5c2c0}
.note{background:#eef6ff;border:1px solid #c7ddf5}.figs{display:flex;flex-wrap:wrap;gap:.6em;margin:.5em 0 1em}
.fig{background:#fff;border:1px solid #dde2e8;border-radius:4px;padding:.45em .8em;min-width:8em}
.fig b{display:block;font-size:1.3em}.fig span{color:#56616d;font-size:.85em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts svg{background:#fff;border:1px solid #dde2e8;border-radius:4px}
form.filters{display:flex;flex-wrap:wrap;gap:.8em;align-items:end;margin:.4em 0 .8em}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:#56616d}
.pager{margin:.5em 0}.pager a,.pager span{margin-right:.8em}.muted{color:#6b7580}
details summary{cursor:pointer;color:#1d5fa8}.ok{color:#18794e;font-weight:600}.bad{color:#b42318;font-weight:600}
"""

NAV = (("Catalog", "/"), ("Plots", "/plots"), ("Episodes", "/episodes"))


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit:,} more characters not shown)"


def json_block(value: object, *, limit: int = 2000, compact: bool = False) -> str:
    """A ``<pre>`` with ``value`` as JSON (indented, or on wrapped lines if ``compact``), cut to ``limit``."""
    text = json.dumps(value, indent=None if compact else 1, ensure_ascii=False)
    return f"<pre>{esc(cut(text, limit))}</pre>"


def share(value: float | None, *, digits: int = 1) -> str:
    """A fraction as a percentage; an em dash when there is nothing to divide by."""
    return "—" if value is None else f"{value:.{digits}%}"


def link(href: str, text: str) -> str:
    """An ``<a>`` (both escaped)."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def query(path: str, params: dict[str, str | int | None]) -> str:
    """``path?params`` without the empty ones."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def message(kind: Literal["error", "note"], text: str) -> str:
    """A message box; ``text`` is plain text (escaped here)."""
    return f'<div class="msg {kind}" role="{"alert" if kind == "error" else "note"}">{esc(text)}</div>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    table_id: str | None = None,
    raw_headers: bool = False,
) -> str:
    """A table; cells are HTML already (escape them first), headers are text unless ``raw_headers``."""
    num = set(numeric)
    head = "".join(
        f"<th{' class=n' if i in num else ''}>{h if raw_headers else esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in num else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, *, where: str = "", nav: bool = True) -> str:
    """A whole HTML page: title, the navigation bar (when served), ``body`` (HTML)."""
    links = "".join(link(href, text) for text, href in NAV) if nav else ""
    bar = f'<header>{links}<span class="where">{esc(where)}</span></header>' if nav or where else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><link rel=icon href='data:,'><style>{CSS}</style></head>"
        f"<body>{bar}<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )
