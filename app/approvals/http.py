"""What the pages and the JSON API share about decisions: how a refusal reads over HTTP, and
telling live viewers that this app just changed an execution."""

from __future__ import annotations

from typing import Any

from litestar import Request

from app.domain.approvals import RefusalKind

REFUSAL_STATUS: dict[RefusalKind, int] = {
    RefusalKind.NOT_WAITING: 409,  # stale or duplicate: the step is no longer waiting
    RefusalKind.FORBIDDEN: 403,  # not an approver, or four eyes
    RefusalKind.INCOMPLETE: 422,  # confirmations, phrase or reason missing
    RefusalKind.UNKNOWN_STEP: 404,
}


def nudge_live(request: Request[Any, Any, Any], execution_id: str) -> None:
    """Viewers of this execution (and open inboxes) see the change now, not at the next poll."""
    live = getattr(request.app.state, "live", None)
    if live is not None:
        live.nudge(execution_id)
