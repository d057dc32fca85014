"""Signed webhooks, the pure part: the HMAC-SHA256 signature, the timestamp's tolerance, the
event id and type a payload carries, and the execution id an event id stands for."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.domain.templating import render_value

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"
EVENT_ID_HEADER = "x-event-id"
EVENT_TYPE_HEADER = "x-event-type"


def sign(secret: str, body: bytes, timestamp: str = "") -> str:
    """The hex HMAC-SHA256 a sender puts in X-Signature: of the raw `body`, or of
    `<timestamp>.<body>` when `timestamp` is given (binds the timestamp as Stripe and Slack do)."""
    message = f"{timestamp}.".encode() + body if timestamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str, timestamp: str = "") -> bool:
    """Whether `header` (hex, with or without `sha256=`) is the HMAC-SHA256 of the raw body, or
    of `<timestamp>.<body>`, with `secret`; compared in constant time."""
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[len("sha256=") :]
    given = given.lower()
    if not given:
        return False
    candidates = [sign(secret, body)] + ([sign(secret, body, timestamp)] if timestamp else [])
    # Every candidate is compared (no early exit), each in constant time.
    matches = [hmac.compare_digest(given, candidate) for candidate in candidates]
    return any(matches)


def timestamp_seconds(raw: str) -> float | None:
    """A timestamp header as unix seconds: seconds (or milliseconds, 13 digits) since the epoch,
    or ISO 8601 with a zone; None when it is none of these."""
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo else None
    return value / 1000 if value > 1e11 else value


def within_tolerance(sent_at: float, now: float, tolerance_seconds: float) -> bool:
    """Whether a request sent at `sent_at` may be taken at `now` (both unix seconds): not older
    and not further in the future than `tolerance_seconds`."""
    return abs(now - sent_at) <= tolerance_seconds


def event_id_of(headers: Mapping[str, str], payload: Mapping[str, Any], body: bytes) -> str:
    """The event's idempotency key: header X-Event-Id, else the payload's `id` or `event_id`,
    else a digest of the raw body (a redelivery of the same bytes is the same event)."""
    for candidate in (headers.get(EVENT_ID_HEADER), payload.get("id"), payload.get("event_id")):
        if candidate not in (None, ""):
            return str(candidate)
    return "body-" + hashlib.sha256(body).hexdigest()


def event_type_of(headers: Mapping[str, str], payload: Mapping[str, Any]) -> str:
    """The event's type: the payload's `type` or `event`, else header X-Event-Type; "" if none."""
    for candidate in (payload.get("type"), payload.get("event"), headers.get(EVENT_TYPE_HEADER)):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def ignored_because(events: list[str], event_type: str) -> str:
    """Why an event is ignored by a trigger's `events:` filter; "" when it is taken."""
    if not events or event_type in events:
        return ""
    shown = repr(event_type) if event_type else "(none)"
    return f"event {shown} is not one of {', '.join(events)}"


def execution_id_for(workflow_id: str, event_id: str) -> str:
    """The execution an event starts: `<workflow_id>-evt-<16 hex of sha256(event id)>`, the same
    for every delivery of the event, so Temporal refuses a second start."""
    return f"{workflow_id}-evt-{hashlib.sha256(event_id.encode()).hexdigest()[:16]}"


def webhook_input(
    mapping: Mapping[str, Any], data: Mapping[str, Any], input_names: list[str]
) -> dict[str, Any]:
    """The workflow input for trigger `data`: the trigger's `input:` mapping rendered with
    `{{ trigger.* }}`, or without one, the keys of `data` that are input fields. Raises
    templating's TemplateProblem for a mapping that does not render."""
    if mapping:
        rendered = render_value(dict(mapping), {"trigger": dict(data)})
        return dict(rendered)
    return {name: data[name] for name in input_names if name in data}
