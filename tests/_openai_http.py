"""The reply side shared by the test suite's local OpenAI-compatible servers."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def send_json(
    handler: BaseHTTPRequestHandler, status: int, payload: object, headers: dict[str, str] | None = None
) -> None:
    """Answer with ``payload`` as JSON (a str goes as is) and any extra ``headers``; a 429 says to
    retry at once."""
    data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if status == 429:
        handler.send_header("retry-after", "0")
    handler.end_headers()
    handler.wfile.write(data)
