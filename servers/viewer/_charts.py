"""The plots and headline figures, as HTML fragments shared by the plots page and report.html."""

from __future__ import annotations

from collections.abc import Sequence

from ._data import CatalogData
from ._html import esc, message, share, table
from ._stats import (
    STEP_EDGES,
    PolicyStats,
    histogram,
    oracle_steps,
    pass_rate_histogram,
    rejection_reasons,
    tools_per_gym,
    yield_by_stage,
)
from ._svg import bar_chart, column_chart

__all__ = ["catalog_charts", "headline", "policy_charts", "policy_table"]


def _fig(value: str, label: str, ident: str) -> str:
    return f'<div class="fig" id="fig-{esc(ident)}"><b>{esc(value)}</b><span>{esc(label)}</span></div>'


def headline(data: CatalogData) -> str:
    """Boxes with the catalog's main figures (report.json, audit.json, calibration.json)."""
    figs = [
        _fig(str(len(data.rows)), "gyms in the folder", "gyms"),
        _fig(f"{sum(r.instances for r in data.rows):,}", "instances", "instances"),
    ]
    if data.report is not None:
        report = data.report
        figs += [
            _fig(str(report.problems_read), "problems read", "problems-read"),
            _fig(str(report.gyms_verified), "gyms verified (report.json)", "gyms-verified"),
            _fig(str(len(report.rejections)), "rejections", "rejections"),
            _fig(f"{report.seconds:.1f} s", "generate time", "seconds"),
        ]
    if data.audit is not None:
        audit = data.audit
        median = audit.oracle_steps.median
        figs += [
            _fig(share(audit.kept_share), "kept of distinct problems", "kept-share"),
            _fig("—" if median is None else f"{median:g}", "median oracle steps per episode", "median-steps"),
            _fig(
                share(audit.instances.revealed_small_share),
                "solvable by one revealing call",
                "revealed-small",
            ),
            _fig(share(audit.blind_guess.best_constant_share), "best blind constant", "blind-guess"),
            _fig(str(len(audit.findings)), "honesty findings", "findings"),
        ]
    if data.calibration is not None:
        cal = data.calibration
        rates = list(cal.rates.values())
        figs += [
            _fig(f"{len(rates):,}", f"instances calibrated ({cal.model or 'model ?'})", "calibrated"),
            _fig(share(sum(rates) / len(rates)), "mean pass rate", "mean-pass-rate"),
        ]
    return f'<div class="figs">{"".join(figs)}</div>'


def catalog_charts(data: CatalogData) -> str:
    """Yield by stage, rejection reasons, oracle steps histogram, tools per gym, pass rates."""
    charts: list[str] = []
    notes: list[str] = []
    if data.report is not None:
        charts.append(bar_chart("Yield by stage", yield_by_stage(data.report), chart_id="chart-yield"))
        reasons = rejection_reasons(data.report)
        if reasons:
            charts.append(bar_chart("Rejection reasons (most frequent)", reasons, chart_id="chart-reasons"))
        steps = oracle_steps(data)
        charts.append(
            column_chart(
                "Oracle steps per instance",
                histogram(steps, STEP_EDGES),
                x_label=f"oracle tool calls ({len(steps):,} instances)",
                chart_id="chart-steps",
            )
        )
    else:
        notes.append(message("note", f"no report.json in {data.path}: yield and oracle-step plots need it"))
    charts.append(
        column_chart(
            "Tools per gym",
            tools_per_gym(data),
            x_label="tools (generic ones included)",
            chart_id="chart-tools",
        )
    )
    if data.calibration is not None:
        charts.append(
            column_chart(
                "Pass rate per instance (calibration)",
                pass_rate_histogram(data),
                x_label=f"pass rate over {data.calibration.samples or '?'} samples",
                chart_id="chart-pass-rate",
            )
        )
    else:
        notes.append(
            message("note", "no calibration.json: run `codegym-mcp calibrate` for a pass-rate histogram")
        )
    return f'<div class="charts">{"".join(charts)}</div>' + "".join(notes)


def policy_table(stats: Sequence[PolicyStats]) -> str:
    """One row per policy: episodes, success, tool use, steps, tool errors, unscored."""
    rows = [
        [
            esc(s.policy),
            f"{s.episodes:,}",
            f"{s.solved:,}",
            share(s.success_rate),
            share(s.tool_use_rate),
            "—" if s.mean_steps is None else f"{s.mean_steps:.2f}",
            share(s.tool_error_rate),
            f"{s.unscored:,}",
        ]
        for s in stats
    ]
    headers = [
        "policy",
        "episodes",
        "solved",
        "success rate",
        "tool use",
        "mean steps",
        "tool-error rate",
        "unscored",
    ]
    return table(headers, rows, numeric=range(1, 8), table_id="policy-table")


def policy_charts(stats: Sequence[PolicyStats]) -> str:
    """Success rate and tool-use rate per policy (bars on a 0-100% scale)."""
    if not stats:
        return message("note", "no episode records: start the viewer with --records FILE (rollout --out)")
    pct = "{:.1%}".format
    success = [(s.policy, s.success_rate or 0.0) for s in stats]
    tool_use = [(s.policy, s.tool_use_rate or 0.0) for s in stats]
    return (
        '<div class="charts">'
        + bar_chart("Success rate per policy", success, fmt=pct, max_value=1.0, chart_id="chart-success")
        + bar_chart(
            "Tool use per policy (episodes calling a problem tool)",
            tool_use,
            fmt=pct,
            max_value=1.0,
            chart_id="chart-tool-use",
        )
        + "</div>"
    )
