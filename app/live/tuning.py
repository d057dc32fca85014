"""The live updates' knobs (LIVE_* variables): fallback polling, safety reads, lingering, budgets."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from app.settings import SettingsError


@dataclass(frozen=True)
class LiveTuning:
    """Polling knobs, read from LIVE_* environment variables (seconds) when the app is built."""

    fast_interval: float = 0.25
    """LIVE_FAST_INTERVAL: poll interval right after a change while steps run by themselves."""
    slow_interval: float = 4.0
    """LIVE_SLOW_INTERVAL: poll interval while a step waits for approval; also the longest."""
    idle_ratio: float = 0.05
    """LIVE_IDLE_RATIO: with nothing changing, wait this fraction of the quiet time (≥ fast)."""
    burst_interval: float = 0.05
    """LIVE_BURST_INTERVAL: poll interval just after a nudge (a change made through this app)."""
    burst_window: float = 1.5
    """LIVE_BURST_WINDOW: how long a nudge keeps the burst interval."""
    linger: float = 5.0
    """LIVE_LINGER: keep polling this long after the last viewer leaves (page reloads)."""
    inbox_interval: float = 1.0
    """LIVE_INBOX_INTERVAL: how often the approvals inbox is read while someone watches it and
    PostgreSQL's notifications are not being received (the listener is reconnecting)."""
    list_interval: float = 3.0
    """LIVE_LIST_INTERVAL: how often the executions list's newest page is read while someone
    watches it and PostgreSQL's notifications are not being received (the listener is
    reconnecting); failed reads back off up to LIVE_MAX_BACKOFF."""
    list_debounce: float = 0.15
    """LIVE_LIST_DEBOUNCE: the executions list reads this long after a notification, so a burst
    of changes (many executions stepping at once) is one read."""
    safety_interval: float = 30.0
    """LIVE_SAFETY_INTERVAL: while PostgreSQL's notifications arrive (the inbox, the executions
    list), read anyway this often in case one was missed (one read per process)."""
    timeline_safety_interval: float = 300.0
    """LIVE_TIMELINE_SAFETY_INTERVAL: while Temporal's history long-poll follows a watched
    execution, query its timeline anyway this often. Rarer than the inbox's: it costs one query
    per watched execution (200 watched at 30 s were 6.7 queries/s, as many as their changes),
    and the long-poll resumes from the last event it saw, so it misses none."""
    decided_ttl: float = 30.0
    """LIVE_DECIDED_TTL: how long an inbox hides a step announced decided (by any web process)
    while the worker's records still say it waits; after it, the records' word shows again."""
    max_backoff: float = 15.0
    """LIVE_MAX_BACKOFF: longest wait between retries while Temporal or PostgreSQL is down."""
    query_timeout: float = 10.0
    """LIVE_QUERY_TIMEOUT: a query slower than this counts as failed."""
    ping: float = 15.0
    """LIVE_PING: keep-alive comment interval on idle streams (proxies close silent ones)."""
    query_budget: float = 40.0
    """LIVE_QUERY_BUDGET: most `timeline` queries per second from this process, over all watched
    executions (each query also costs the worker a query task); beyond it polls wait."""

    @classmethod
    def from_env(cls) -> LiveTuning:
        values: dict[str, float] = {}
        for spec in fields(cls):
            name = f"LIVE_{spec.name.upper()}"
            raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            values[spec.name] = value
        return cls(**values)
