"""Query parameters shared by the executions controllers (the page and the JSON API)."""

from __future__ import annotations

from litestar.exceptions import ValidationException

from app.executions.listing import Cursor


def cursor_param(name: str, text: str) -> Cursor | None:
    """The `before` / `after` query parameter (page or API) as a cursor; 400 naming it when
    malformed."""
    try:
        return Cursor.parse(text)
    except ValueError:
        problem = f"{name} must be '<started_at ISO 8601 with zone>,<id>' as the list's links give"
        raise ValidationException(problem, extra={"errors": {name: problem}}) from None
