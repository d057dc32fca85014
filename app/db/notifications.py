"""Data access for notification deliveries: was this notice sent, and what happened to each."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.tables import NotificationDelivery


async def was_sent(key: str) -> bool:
    """Whether the notice `key` was delivered already (a retry or a replay must not resend)."""
    row = (
        await NotificationDelivery.select(NotificationDelivery.status)
        .where(NotificationDelivery.key == key)
        .first()
        .run()
    )
    return row is not None and row["status"] == "sent"


async def record_attempt(
    key: str,
    *,
    execution_id: str,
    step_id: str,
    channel: str,
    channel_type: str,
    kind: str,
    error: str = "",
) -> None:
    """Record one delivery attempt under `key`: sent when `error` is empty, else failed with it;
    attempts counted."""
    now = datetime.now(UTC)
    status = "failed" if error else "sent"
    await NotificationDelivery.raw(
        "INSERT INTO notification_deliveries (key, execution_id, step_id, channel, channel_type,"
        " kind, status, attempts, failures, error, first_at, last_at)"
        " VALUES ({}, {}, {}, {}, {}, {}, {}, 1, {}, {}, {}, {})"
        " ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error,"
        " attempts = notification_deliveries.attempts + 1,"
        " failures = notification_deliveries.failures + EXCLUDED.failures,"
        " last_at = EXCLUDED.last_at",
        key, execution_id, step_id, channel, channel_type, kind, status, 1 if error else 0,
        error, now, now,
    )  # fmt: skip
