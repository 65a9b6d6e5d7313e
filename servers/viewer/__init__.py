"""The local web viewer (``codegym-mcp view``) and the self-contained report.html.

Pages are rendered on the server from a catalog's files (manifests, report.json, audit.json,
calibration.json) and from episode record files, with charts as inline SVG: no script, nothing
fetched, so a page or a report opens with no network.
"""

from ._app import build_app
from ._data import ViewerError
from ._records import parse_records_arg
from ._report import render_report, write_report_html
from ._serve import running_viewer, serve_viewer

__all__ = [
    "ViewerError",
    "build_app",
    "parse_records_arg",
    "render_report",
    "running_viewer",
    "serve_viewer",
    "write_report_html",
]
