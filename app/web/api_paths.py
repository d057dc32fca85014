"""Which paths are the JSON API: `/api/...` and the seeds' start outside it
(`POST /executions/workflows/{workflow_id}/execute`). API paths authenticate by header (token,
dev user, proxy), never by cookie, so they need no CSRF token, and their errors are JSON."""

from __future__ import annotations

import re

# Regular expressions, as Litestar's CSRF `exclude` takes them.
API_PATH_PATTERNS = ["^/api/", r"^/executions/workflows/[^/]+/execute/?$"]
_API_PATH = re.compile("|".join(API_PATH_PATTERNS))


def is_api_path(path: str) -> bool:
    """`path` (without PATH_PREFIX, as routed) belongs to the JSON API."""
    return _API_PATH.match(path) is not None
