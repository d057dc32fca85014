"""What `/live/stats` answers: this web process's live-update counters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WatcherStats:
    """One watched execution: its viewers in this process and the queries its watcher made."""

    subscribers: int
    queries: int


@dataclass
class LiveStats:
    timeline_queries: int
    timeline_query_errors: int
    watched_executions: int
    timeline_subscribers: int
    inbox_polls: int
    inbox_subscribers: int
    inbox_listening: bool = False
    """Whether PostgreSQL's inbox notifications are being received (LISTEN connected)."""
    inbox_notifications: int = 0
    inbox_decided_notices: int = 0
    """Steps announced decided (by this or another web process) and dropped from the inbox at
    once, before the worker's records said so (app/live/decided.py)."""
    history_long_polls: int = 0
    """Temporal history long-poll requests sent (each answers new events or ~20 s of none)."""
    executions: dict[str, WatcherStats] = field(default_factory=dict)
    executions_list_reads: int = 0
    """Reads of the executions list's newest page for its live streams (one per filter set per
    notified change, plus safety reads)."""
    executions_list_subscribers: int = 0
    executions_list_notifications: int = 0
