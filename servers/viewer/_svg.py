"""Charts as inline SVG, drawn here (no plotting library, nothing fetched).

Two kinds: horizontal bars (labelled categories: stages, reasons, policies) and columns (the bins
of a histogram). Each bar carries its value in ``data-value`` and a ``<title>`` tooltip, so the
browser tests can read the numbers a chart shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._html import esc

__all__ = ["bar_chart", "column_chart"]

_BAR = "#457b9d"
_FONT = 'font-family="system-ui,sans-serif" font-size="12"'


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Callable[[float], str] = _count,
    max_value: float | None = None,
    chart_id: str = "",
    width: int = 470,
) -> str:
    """Horizontal bars, one per ``(label, value)``; ``max_value`` fixes the scale (1.0 for shares)."""
    label_w = min(260, 12 + 7 * max((len(label) for label, _ in items), default=4))
    row = 22
    height = 34 + row * max(1, len(items)) + 8
    top = max([max_value or 0.0, *(v for _, v in items)]) or 1.0
    span = width - label_w - 80
    parts = [_open(title, width, height, chart_id)]
    if not items:
        parts.append(f'<text x="10" y="50" {_FONT} fill="#6b7580">nothing to show</text>')
    for i, (label, value) in enumerate(items):
        y = 30 + i * row
        w = max(0.0, value) / top * span
        shown = label if len(label) <= 38 else label[:37] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {_FONT}>{esc(shown)}</text>'
            f'<rect class="bar" data-label="{esc(label)}" data-value="{value}" x="{label_w}" y="{y + 2}" '
            f'width="{w:.1f}" height="{row - 6}" fill="{_BAR}"><title>{esc(label)}: {esc(fmt(value))}</title></rect>'
            f'<text x="{label_w + w + 5:.1f}" y="{y + 14}" {_FONT}>{esc(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    x_label: str,
    y_label: str = "count",
    chart_id: str = "",
    width: int = 470,
    height: int = 260,
) -> str:
    """Vertical columns (a histogram's bins), labelled under each column, counts above them."""
    left, bottom, top_pad = 46, 46, 46
    plot_h = height - bottom - top_pad
    top = max((v for _, v in items), default=0.0) or 1.0
    n = max(1, len(items))
    col = (width - left - 12) / n
    parts = [_open(title, width, height, chart_id)]
    base = top_pad + plot_h
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{width - 8}" y2="{base}" stroke="#8a949e"/>'
        f'<text x="12" y="{top_pad + plot_h / 2:.0f}" {_FONT} fill="#56616d" '
        f'transform="rotate(-90 12 {top_pad + plot_h / 2:.0f})" text-anchor="middle">{esc(y_label)}</text>'
        f'<text x="{left + (width - left) / 2:.0f}" y="{height - 6}" {_FONT} fill="#56616d" '
        f'text-anchor="middle">{esc(x_label)}</text>'
    )
    for i, (label, value) in enumerate(items):
        h = max(0.0, value) / top * plot_h
        x = left + i * col
        cx = x + col / 2
        parts.append(
            f'<rect class="bar" data-label="{esc(label)}" data-value="{value}" x="{x + 2:.1f}" '
            f'y="{base - h:.1f}" width="{max(1.0, col - 4):.1f}" height="{h:.1f}" fill="{_BAR}">'
            f"<title>{esc(label)}: {esc(_count(value))}</title></rect>"
            f'<text x="{cx:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" {_FONT}>{esc(_count(value))}</text>'
            f'<text x="{cx:.1f}" y="{base + 15}" text-anchor="middle" font-family="system-ui,sans-serif" '
            f'font-size="{11 if len(label) > 5 else 12}" fill="#56616d">{esc(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str, width: int, height: int, chart_id: str) -> str:
    ident = f' id="{esc(chart_id)}"' if chart_id else ""
    return (
        f'<svg{ident} xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">'
        f'<text x="10" y="20" font-family="system-ui,sans-serif" font-size="14" font-weight="600">'
        f"{esc(title)}</text>"
    )
