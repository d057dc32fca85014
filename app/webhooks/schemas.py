"""What the webhook endpoint answers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WebhookResponse:
    """202: `status` is "started" (with `execution_id`; `duplicate` true when this event had
    already started it: no second execution) or "ignored" (with `reason`, from the trigger's
    `events:` filter)."""

    status: str
    execution_id: str = ""
    duplicate: bool = False
    reason: str = ""
    timeline_url: str = ""
