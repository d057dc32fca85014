"""What the Workers page and `GET /api/workers` show: the pollers Temporal reports per queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Poller:
    """A worker's poller as Temporal last saw it on one queue."""

    identity: str
    """The worker's identity (the SDK's default: `<pid>@<host>`)."""
    last_access_time: datetime | None
    """When it last polled (UTC, ISO 8601 with offset); null if Temporal does not say."""
    seconds_ago: float | None
    """Seconds between its last poll and `checked_at`."""
    last_access_ago: str
    """The same in words: "3 s ago", "2 min 5 s ago" ("unknown" without a time)."""
    rate_per_second: float | None = None
    """The poller's rate limit of tasks per second, when the worker set one."""


@dataclass(frozen=True)
class QueuePollers:
    """One of the task queue's two kinds: `workflow` (workflow tasks) or `activity`."""

    kind: str
    pollers: list[Poller] = field(default_factory=list)


@dataclass(frozen=True)
class WorkersReport:
    """The app's task queue as Temporal describes it, and whether a worker polls it: some
    poller reached it within `stale_after_seconds` of `checked_at`."""

    namespace: str
    task_queue: str
    checked_at: datetime
    stale_after_seconds: float
    polling: bool
    queues: list[QueuePollers] = field(default_factory=list)
    last_poll_seconds_ago: float | None = None
    """Seconds since any poller last reached the task queue (null: none ever did)."""
