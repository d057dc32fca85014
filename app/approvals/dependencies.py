"""Dependencies shared by the approvals controllers: the inbox's filters and the bulk service."""

from __future__ import annotations

from litestar.di import NamedDependency
from litestar.exceptions import ValidationException

from app.approvals.bulk import BulkApproval
from app.approvals.inbox import InboxCursor, InboxFilter, InboxFilterError
from app.approvals.service import DecisionService
from app.domain.definitions import WorkflowDefinition
from app.live.updates import LiveUpdates


def inbox_filter(workflow_id: str | None, impact: str | None) -> InboxFilter:
    """The inbox's filters from query parameters; 400 naming the field when one is unknown."""
    try:
        return InboxFilter.parse(workflow_id, impact)
    except InboxFilterError as exc:
        raise ValidationException(exc.message, extra={"errors": {exc.field: exc.message}}) from None


def inbox_cursor(name: str, text: str | None) -> InboxCursor | None:
    """The inbox cursor in query parameter `name` (`after` / `before`); 400 naming it when it
    is not one the inbox gave out."""
    try:
        return InboxCursor.parse(text)
    except ValueError as exc:
        message = f"{name} is not an inbox cursor ({exc})"
        raise ValidationException(message, extra={"errors": {name: message}}) from None


def provide_bulk(
    definitions: NamedDependency[dict[str, WorkflowDefinition]],
    decisions: NamedDependency[DecisionService],
    live: NamedDependency[LiveUpdates],
) -> BulkApproval:
    """The bulk approval service for one request (also used by the pages)."""
    return BulkApproval(definitions, decisions, live.timelines.snapshot)
